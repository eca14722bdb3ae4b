"""More like this: the stories most like a given one, by the key terms of its text.

The key terms are the story's most informative words as Whoosh's Bo1 expansion model weighs them
against the whole index (`Searcher.key_terms_from_text`); the query is those terms, each weighted,
in the headline and the body. The story itself and its duplicate group are left out (a copy is not a
"similar story"), and the other groups are folded to their best story, as search folds them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whoosh import query as query_module

from newsindex.search.collapsing import Folded, story_groups

KEY_TERMS = 20  # Whoosh's more_like takes 5; a news story needs more to say what it is about
KEY_TERMS_CHARS = 100_000  # key terms come from this much of a story at most (a 9 MB one says what it is early)


def key_terms(searcher: Any, text: str, *, count: int = KEY_TERMS) -> list[tuple[str, float]]:
    """The `count` most informative body terms of `text`, with their weights, heaviest first."""
    return list(searcher.key_terms_from_text("body", text, numterms=count, normalize=True))


def more_like(
    searcher: Any,
    docnum: int,
    terms: list[tuple[str, float]],
    limit: int,
    *,
    all_versions: bool = False,
    search: Callable[[Any, int, set[int]], list[tuple[int, float]]] | None = None,
) -> list[Folded]:
    """The best `limit` stories matching story `docnum`'s key `terms`, its own group left out.

    `search(query, depth, left_out)` gives the best `depth` (docnum, score) of a query, `left_out` masked
    (by default Whoosh's search; the index passes its own, held to the request's deadline).
    """
    if not terms:
        return []
    clauses = [
        query_module.Term(field, term, boost=weight * field_weight)
        for term, weight in terms
        for field, field_weight in (("body", 1.0), ("headline", 2.0))
    ]
    query = query_module.Or(clauses)
    groups = story_groups(searcher)
    left_out = {docnum, *(groups.members(docnum) if groups else ())}

    def rank(depth: int) -> list[tuple[int, float]]:
        if search is not None:
            return search(query, depth, left_out)
        found = searcher.search(query, limit=depth, mask=left_out)
        return [(hit.docnum, float(hit.score)) for hit in found]

    if groups is None or all_versions:
        return [Folded(docnum, score) for docnum, score in rank(limit)]
    return groups.fold(rank, limit)
