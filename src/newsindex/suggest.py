"""Did you mean: the query with its unknown words replaced by the closest words of the index.

Words are indexed folded and stemmed ("Attacks" → "attack"), so a misspelled word is corrected stem to
stem (Whoosh's `terms_within`, an automaton over each segment's word list), then shown as the user
would write it: the corrected stem's spelling in stories that contain it, the one nearest to what the
user typed ("attaks" → "attacks", not "attack"), in the user's case ("Irna" → "Iran", "irna" → "iran").
Everything else of the query (fields, quotes, operators, dates) is kept as written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from whoosh import query
from whoosh.support.levenshtein import damerau_levenshtein

from newsindex.errors import NewsIndexError
from newsindex.query import MAX_FUZZY_LETTERS, QueryPlan, one_edit, parse_tree
from newsindex.schema import _WORD, NAME_FIELDS, TEXT_FIELDS, NewsAnalyzer, story_from_stored

FEW = 5  # below this many matching stories, rare words are worth a second look
RARE = 2  # a word in at most this many stories is rare (a typo in the corpus, likely)
MIN_LETTERS = 3  # shorter words are left as they are: too many words are one edit away
SAMPLE_STORIES = 3  # stories read to find how a corrected word is spelled
MAX_CORRECTED = 5  # words looked at for a correction, at most (a pasted text may have hundreds of unknown words)
_CORRECTED_FIELDS = frozenset(TEXT_FIELDS) | frozenset(NAME_FIELDS)
_NAMES = NewsAnalyzer(stemming=False)
_TEXT = NewsAnalyzer()


@dataclass(frozen=True, slots=True)
class _Word:
    """One word the user typed: where in the text, as typed, as indexed, and the fields it was searched in."""

    start: int
    end: int
    typed: str
    term: str
    fields: frozenset[str]


def suggest(searcher: Any, plan: QueryPlan, total: int) -> str | None:
    """The query with its misspelled words corrected, or None when none needs it.

    A word is corrected when no story has it, or when fewer than FEW stories matched and it is rare while
    a word one or two edits away is at least ten times as common.
    """
    reader = searcher.reader()
    if not any(_is_suspect(reader, fields, term, total) for fields, term in _searched_terms(plan)):
        return None  # the common case, decided without parsing the text again
    fixes: dict[tuple[int, int], str] = {}
    suspects = (
        word for word in _typed_words(plan, searcher.schema) if _is_suspect(reader, word.fields, word.term, total)
    )
    for word in islice(suspects, MAX_CORRECTED):
        better = _closest(reader, word, _frequency(reader, word.fields, word.term))
        if better is not None:
            fixes[word.start, word.end] = _spelled(searcher, word, better)
    if not fixes:
        return None
    text = plan.text
    for (start, end), replacement in sorted(fixes.items(), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text if text != plan.text else None


def _is_suspect(reader: Any, fields: frozenset[str], term: str, total: int) -> bool:
    """True for a word no story has, or a rare one when few stories matched."""
    frequency = _frequency(reader, fields, term)
    return not frequency or (total < FEW and frequency <= RARE)


def _searched_terms(plan: QueryPlan) -> Iterator[tuple[frozenset[str], str]]:
    """(fields, index word) of each word the plan searches for (excluded ones left out)."""
    fields: dict[str, set[str]] = {}
    for part in (plan.query, *plan.filters):
        for leaf in _searched_leaves(part, fuzzy=True):
            if leaf.fieldname in _CORRECTED_FIELDS:
                for term in leaf.words if isinstance(leaf, query.Phrase) else [leaf.text]:
                    fields.setdefault(term, set()).add(leaf.fieldname)
    for term, names in fields.items():
        yield frozenset(names), term


def _typed_words(plan: QueryPlan, schema: Any) -> Iterator[_Word]:
    """The words of the query worth checking: searched for (not excluded, not patterns), no digits."""
    if plan.plain:
        spans: dict[tuple[int, int], set[str]] = {(0, len(plan.text)): set(TEXT_FIELDS)}
    else:
        try:
            parsed = parse_tree(plan.text, schema)
        except NewsIndexError:
            return
        spans = {}
        for leaf in _searched_leaves(parsed):
            if getattr(leaf, "startchar", None) is not None and leaf.fieldname in _CORRECTED_FIELDS:
                spans.setdefault((leaf.startchar, leaf.endchar), set()).add(leaf.fieldname)
    for (start, end), fields in spans.items():
        fieldname = min(fields)  # the fields of one span are all text fields or one name field
        for match in _WORD.finditer(plan.text, start, end):
            typed = match.group()
            term = _indexed(typed, fieldname)  # "" for a common word
            if MIN_LETTERS <= len(typed) <= MAX_FUZZY_LETTERS and term and not any(char.isdigit() for char in typed):
                yield _Word(match.start(), match.end(), typed, term, frozenset(fields))


def _searched_leaves(node: Any, *, fuzzy: bool = False) -> Iterator[Any]:
    """Word and phrase leaves (and fuzzy words, with `fuzzy`) outside NOT and the excluded side of `-word`."""
    if isinstance(node, query.Not):
        return
    if isinstance(node, query.AndNot):
        yield from _searched_leaves(node.a, fuzzy=fuzzy)
    elif type(node) in (query.Term, query.Phrase) or (fuzzy and type(node) is query.FuzzyTerm):
        yield node
    elif not node.is_leaf():
        for child in node.children():
            yield from _searched_leaves(child, fuzzy=fuzzy)


def _frequency(reader: Any, fields: frozenset[str], term: str) -> int:
    # A field the index was built before (topic, place …) has no words in it.
    return sum(reader.doc_frequency(fieldname, term) for fieldname in fields if fieldname in reader.schema)


def _closest(reader: Any, word: _Word, frequency: int) -> str | None:
    """The most common index word one edit from `word` (a swap of neighbours is one: "irna" → "iran"), if
    it is much more common than `word`.

    One edit only: its few hundred candidates are looked up in the word list (a few ms at 100,000 stories);
    Whoosh's automaton for two edits walks the whole word list (about a second per segment there).
    """
    found = [
        (_frequency(reader, word.fields, candidate), candidate)
        for candidate in sorted(one_edit(word.term))
        if any((fieldname, candidate) in reader for fieldname in word.fields)
    ]
    best = max(found, default=None)
    if best is not None and best[0] >= max(1, 10 * frequency):
        return best[1]
    return None


def _spelled(searcher: Any, word: _Word, term: str) -> str:
    """How stories spell the index word `term`, nearest to what the user typed, in the user's case."""
    spellings: Counter[str] = Counter()
    reader = searcher.reader()
    for fieldname in sorted(word.fields):
        if (fieldname, term) not in reader:
            continue
        docnums = islice(reader.postings(fieldname, term).all_ids(), SAMPLE_STORIES)
        for docnum in docnums:
            story = story_from_stored(searcher.stored_fields(docnum))
            text = (
                f"{story.headline or ''}\n{story.body}"
                if fieldname in TEXT_FIELDS
                else " ".join([*story.bylines, story.location or "", story.source or ""])
            )
            spellings.update(
                match.group() for match in _WORD.finditer(text) if _indexed(match.group(), fieldname) == term
            )
        if spellings:
            break
    typed = word.typed.lower()
    spelling = min(
        spellings, key=lambda found: (damerau_levenshtein(found.lower(), typed), -spellings[found]), default=term
    )
    if word.typed.isupper() and len(word.typed) > 1:
        return spelling.upper()
    if word.typed[:1].isupper():
        return spelling[:1].upper() + spelling[1:]
    return spelling.lower() if word.typed.islower() else spelling


def _indexed(word: str, fieldname: str) -> str:
    """`word` as the field indexes it; "" for a common word, which is not indexed."""
    return next((token.text for token in (_TEXT if fieldname in TEXT_FIELDS else _NAMES)(word)), "")
