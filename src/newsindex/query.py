"""User text → a query plan: what must match, what ranks first, and the date range to filter by."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from whoosh import qparser, query
from whoosh.fields import Schema

from newsindex.dateindex import PublishedRange
from newsindex.errors import NewsIndexError, QueryError, QueryRejectedError
from newsindex.schema import FIELD_ALIASES, NAME_FIELDS, TEXT_FIELDS, NewsAnalyzer, fold

# What one query may cost (the query guard): Whoosh obeys whatever it is given, `*` alone took 28 s
# on 5,000 stories, and deep nesting overflows its recursive parser.
MAX_QUERY_CHARS = 2_000
MAX_NESTING = 10
MAX_CLAUSES = 200
MAX_EXPANSION = 2_000  # index terms a wildcard or prefix may stand for (all of them together)
SEARCH_SECONDS = 5.0

# Field names start with a letter, so "10:30" stays a time and is searched as words.
_FIELD_PREFIX = r"(?P<text>[A-Za-z_]\w*|[*]):"
_FILTER_FIELDS = frozenset(NAME_FIELDS) | {"published", "id"}
_NAMES = NewsAnalyzer(stemming=False)


@dataclass(frozen=True)
class QueryPlan:
    """How to run one search.

    `query` is what a story must match; `ranked_first`, when set, is the stricter query (every word)
    whose matches rank above the rest; `filters` must all match and add nothing to the score;
    `start`/`end` (seconds since 1970, inclusive) is the date range, answered from the date column.
    """

    text: str
    query: Any
    ranked_first: Any | None
    filters: tuple[Any, ...]
    start: int | None
    end: int | None
    has_words: bool

    def terms(self) -> set[str]:
        """The searched words (stemmed as indexed), for highlighting."""
        words: set[str] = set()
        for fieldname, text in self.query.iter_all_terms():
            if fieldname in TEXT_FIELDS:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return words


def parse_query(
    text: str,
    schema: Schema,
    *,
    require_all: bool = False,
    start: int | None = None,
    end: int | None = None,
    bylines: Iterable[str] = (),
    location: str | None = None,
    source: str | None = None,
) -> QueryPlan:
    """Read the user's query text and keyword filters into a QueryPlan.

    QueryError when the text is unreadable, QueryRejectedError when it would cost too much.
    """
    _check_size(text)
    _check_balanced(text)
    parsed = _parse(text, schema) if text.strip() else query.NullQuery
    _raise_first_error(parsed, schema)
    parsed = _guarded(parsed)

    words: list[Any] = []
    required: list[Any] = []
    for clause in _top_level_clauses(parsed):
        if isinstance(clause, PublishedRange):
            start, end = _narrow(start, end, clause)
        elif isinstance(clause, query.Not) or _is_filter(clause):
            required.append(clause)
        else:
            words.append(clause)

    filters = list(_name_filters(bylines, location, source))
    for clause in required:  # negations and field filters written in the text filter too
        filters.append(clause)
    words = [clause.normalize() for clause in words]
    words = [clause for clause in words if clause is not query.NullQuery]
    if not words and not filters and start is None and end is None:
        raise QueryError(f"nothing to search for in {text!r}: give some words, a phrase or a filter")

    every_word = query.And(words).normalize() if words else None
    any_word = query.Or(words).normalize() if words else None
    main = every_word if require_all or len(words) < 2 else any_word
    ranked_first = None if main is every_word else every_word
    return QueryPlan(
        text=text,
        query=main if main is not None else query.Every(),
        ranked_first=ranked_first,
        filters=tuple(filters),
        start=start,
        end=end,
        has_words=bool(words),
    )


def check_expansion(plan: QueryPlan, reader: Any) -> None:
    """Reject a plan whose wildcards and prefixes stand for too many index terms (counted, not guessed)."""
    budget = MAX_EXPANSION
    for leaf in plan.query.leaves():
        if isinstance(leaf, (query.Prefix, query.Wildcard)):
            budget -= sum(1 for _ in islice(leaf._btexts(reader), budget + 1))  # Whoosh's own expansion
            if budget < 0:
                raise QueryRejectedError(
                    f"{leaf.text}{'*' if isinstance(leaf, query.Prefix) else ''} and the other patterns match more "
                    f"than {MAX_EXPANSION:,} words: make them longer or more specific"
                )


def _check_size(text: str) -> None:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRejectedError(f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    depth = deepest = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise QueryRejectedError(f"the query nests parentheses {deepest} deep; the limit is {MAX_NESTING}")


def _guarded(node: Any) -> Any:
    """The parsed query with its patterns folded like indexed words; QueryRejectedError for what would
    cost too much: a bare *, a pattern starting with a wildcard, a word range, too many clauses."""
    leaves = [node] if node.is_leaf() else list(node.leaves())
    if len(leaves) > MAX_CLAUSES:
        raise QueryRejectedError(f"the query has {len(leaves):,} clauses; the limit is {MAX_CLAUSES:,}")
    for leaf in leaves:
        is_pattern = isinstance(leaf, (query.Prefix, query.Wildcard))
        if isinstance(leaf, query.Every) or (is_pattern and not leaf.text.strip("*?")):
            raise QueryRejectedError(
                "a bare * would list every story: search for words, or give only filters (--from, --byline …)"
            )
        if isinstance(leaf, query.TermRange):
            raise QueryRejectedError(f"ranges work on dates only (date:[2019-01 TO 2019-06]), not on {leaf.fieldname}")
        if is_pattern:
            if leaf.text[0] in "*?":
                raise QueryRejectedError(
                    f"{leaf.text!r} starts with a wildcard, which means reading every word of the index: "
                    "start with at least one letter"
                )
            leaf.text = fold(leaf.text)
    return node


def _parse(text: str, schema: Schema) -> Any:
    try:
        return _parser(schema).parse(text, normalize=False)
    except NewsIndexError:
        raise
    except Exception as error:  # Whoosh's parser trips over some inputs ("<0") with IndexError and the like
        raise QueryError(
            f"cannot read the query {text[:80]!r} ({type(error).__name__}): check its quotes, brackets and operators"
        ) from None


def _parser(schema: Schema) -> qparser.QueryParser:
    parser = qparser.MultifieldParser(list(TEXT_FIELDS), schema, fieldboosts=TEXT_FIELDS, group=qparser.AndGroup)
    parser.remove_plugin_class(qparser.FieldsPlugin)
    parser.add_plugin(qparser.FieldsPlugin(expr=_FIELD_PREFIX, remove_unknown=False))
    # "-word" excludes, "+word" requires, but only at the start of a word: "2019-10" and "al-Qaeda" stay whole
    parser.add_plugin(qparser.PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+", minusexpr=r"(?<![^\s(])-"))
    parser.add_plugin(qparser.GtLtPlugin())
    aliases: dict[str, list[str]] = {}
    for alias, fieldname in FIELD_ALIASES.items():
        if alias != fieldname:
            aliases.setdefault(fieldname, []).append(alias)
    parser.add_plugin(qparser.FieldAliasPlugin(aliases))
    return parser


def _check_balanced(text: str) -> None:
    if text.count('"') % 2:
        raise QueryError(f'unbalanced quote in {text!r}: close the phrase with another "')
    depth = 0
    for char in re.sub(r'"[^"]*"', "", text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth:
        raise QueryError(f"unbalanced parenthesis in {text!r}: every ( needs a )")


def _raise_first_error(node: Any, schema: Schema) -> None:
    """Whoosh turns a bad clause into an empty one with an `error` note; we turn it into an error."""
    error = getattr(node, "error", None)
    if error:
        raise QueryError(f"{error}") from None
    fieldname = getattr(node, "fieldname", None)
    if fieldname and fieldname not in schema.names():
        known = ", ".join(sorted({alias for alias in FIELD_ALIASES if alias in set(FIELD_ALIASES.values())}))
        raise QueryError(f"unknown field {fieldname!r}: use one of {known}, or put the words in quotes")
    for child in node.children() if hasattr(node, "children") else ():
        _raise_first_error(child, schema)


def _top_level_clauses(parsed: Any) -> Iterator[Any]:
    """The clauses of the implicit top-level AND (Whoosh nests single groups: unwrap them)."""
    if isinstance(parsed, query.And):
        for child in parsed.subqueries:
            yield from _top_level_clauses(child) if isinstance(child, (query.And, query.AndNot)) else (child,)
    elif isinstance(parsed, query.AndNot):  # "-word" clauses gathered by Whoosh's plus/minus plugin
        yield from _top_level_clauses(parsed.a)
        yield query.Not(parsed.b)
    elif parsed is not query.NullQuery:
        yield parsed


def _is_filter(clause: Any) -> bool:
    """A clause made only of field clauses (byline:, location:, source:, date:, id:) filters, not ranks."""
    leaves = [clause] if clause.is_leaf() else list(clause.leaves())
    return bool(leaves) and all(getattr(leaf, "fieldname", None) in _FILTER_FIELDS for leaf in leaves)


def _narrow(start: int | None, end: int | None, clause: PublishedRange) -> tuple[int | None, int | None]:
    if clause.start is not None:
        start = clause.start if start is None else max(start, clause.start)
    if clause.end is not None:
        end = clause.end if end is None else min(end, clause.end)
    return start, end


def _name_filters(bylines: Iterable[str], location: str | None, source: str | None) -> Iterator[Any]:
    """One filter per option: any of the given bylines, the location, the source (as name words)."""
    names = [name for name in bylines if name.strip()]
    if names:
        yield query.Or([_name_query("byline", name) for name in names])
    if location:
        yield _name_query("location", location)
    if source:
        yield _name_query("source", source)


def _name_query(fieldname: str, name: str) -> Any:
    words = [token.text for token in _NAMES(name)]
    if not words:
        raise QueryError(f"no words in the {fieldname} filter {name!r}")
    return query.Term(fieldname, words[0]) if len(words) == 1 else query.Phrase(fieldname, words)
