"""Did you mean: the query with its misspelled words replaced by the likeliest words of the index.

A noisy-channel choice over the index vocabulary. For a word the user typed, each candidate word of the
index one or two edits away (a swap of neighbours is one edit: Damerau) is weighed by how many stories
have it (the prior: frequent words are likelier meant) times the chance of mistyping it so
(`CHANNEL[edits]`); the word as typed is weighed by its own frequency times `KEEP` (a word the index has
was most likely meant), or by `UNSEEN` when no story has it (it may be a real word the archive lacks).
The heaviest wins; the query is rewritten only where a candidate beat the word as typed.

Only queries where it can change the answer are looked at: a word no story has, or, when few stories
matched, a rare one (in at most RARE stories). Common words (stop words) are not indexed and never
corrected; a word in more than RARE stories never is either.

Words are indexed folded and stemmed ("Attacks" → "attack"), so candidates come two ways: the typed word's
one-edit variants analysed as the index analyses text ("risng" → "rising" → "rise"), which also gives the
spelling to show, and the index words near the typed word's own index form: the form and its one-letter
deletions, each also with any letter inserted anywhere, are looked up (every word one edit away, and those
two edits away that are one letter longer or shorter or have two letters changed or swapped; not two
letters added or two dropped), and kept when within two Damerau edits. The words are looked up in sets read
once per segment and field from its word list and cached (segments never change, so a commit costs only
the new segment's sets); story counts are read for the candidates found.

The correction is shown as the user would write it: a spelling of the chosen word found in stories that
contain it, nearest to what was typed ("attaks" → "attacks", not "attack"), in the user's case
("Irna" → "Iran", "IRNA" → "IRAN"). Everything else of the query (fields, quotes, operators, dates) is
kept as written.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from itertools import islice
from typing import Any

from whoosh import query
from whoosh.support.levenshtein import damerau_levenshtein

from newsindex.deadline import current
from newsindex.errors import NewsIndexError
from newsindex.query import MAX_FUZZY_LETTERS, QueryPlan, one_edit, parse_tree
from newsindex.schema import _WORD, NAME_FIELDS, TEXT_FIELDS, NewsAnalyzer, _index_form, fold, story_from_stored

FEW = 5  # below this many matching stories, rare words are worth a second look
RARE = 2  # a word in at most this many stories is rare (a typo in the archive, likely); above, it is kept
MIN_LETTERS = 3  # shorter words are left as they are: too many words are one edit away
TWO_EDITS_LETTERS = 5  # words this long or longer may be two edits off; shorter ones one edit only
# The noisy channel: the weight of a candidate is its story count times the chance of that many edits;
# the word as typed weighs its story count times KEEP, or UNSEEN when no story has it.
CHANNEL = {1: 1.0, 2: 0.05}
KEEP = 100.0  # a rare word of the index is kept unless a one-edit neighbour is 100 times as common
PRIOR = 1.0  # the prior: story count to this power
FIRST_LETTER = 0.3  # a word's first letter is more rarely the one mistyped
UNSEEN = 0.5  # an unknown word gives way to any one-edit neighbour, to a two-edit one in 11 stories or more
SAMPLE_STORIES = 30  # stories read to find how a corrected word is spelled
SAMPLE_CHARS = 50_000  # of each, at most this much is read (a 9 MB story is not scanned for one word)
VERIFIED = 4  # the heaviest candidates whose spellings in stories are read and weighed again
MAX_CORRECTED = 5  # words looked at for a correction, at most (a pasted text may have hundreds of unknown words)
CACHED_TABLES = 256  # (segment, field) word tables kept, least recently used dropped
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
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


@dataclass(frozen=True, slots=True)
class _Candidate:
    term: str
    edits: int
    weight: float
    spelling: str | None  # the spelling to show: the typed word's variant, or a spelling found in stories
    variants: tuple[str, ...] = ()  # the typed word's one-edit variants the index analyses as `term`


# -- the vocabulary ------------------------------------------------------------------------------------


_tables: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
_tables_lock = threading.Lock()
built_tables = 0  # how many tables were built since start (a test checks they are cached)


def _segment_words(segment_reader: Any, fieldname: str) -> frozenset[str] | None:
    """The cached words (letters only) of one field of one segment, read from its word list on first use
    (the list alone: decoding each word's counts would take twice as long); None for an empty index."""
    global built_tables
    segment = segment_reader.segment() if hasattr(segment_reader, "segment") else None
    if segment is None:
        return None
    key = (segment.segment_id(), fieldname)
    with _tables_lock:
        words = _tables.get(key)
        if words is not None:
            _tables.move_to_end(key)
            return words
    words = frozenset()
    if fieldname in segment_reader.schema and segment_reader.field_length(fieldname):
        texts = (
            term.decode("utf-8") if isinstance(term, bytes) else term for term in segment_reader.lexicon(fieldname)
        )
        words = frozenset(text for text in texts if text.isalpha() and text.isascii())
    with _tables_lock:
        built_tables += 1
        _tables[key] = words
        while len(_tables) > CACHED_TABLES:
            _tables.popitem(last=False)
    return words


class _Vocabulary:
    """The words of some fields over every segment of a reader, and their story counts (summed over the
    fields, looked up for the words found)."""

    def __init__(self, reader: Any, fields: frozenset[str]) -> None:
        self._reader = reader
        self._fields = sorted(fields)
        self._counts: dict[str, int] = {}
        self._tables = [
            words
            for segment_reader, _ in reader.leaf_readers()
            for fieldname in sorted(fields)
            if (words := _segment_words(segment_reader, fieldname)) is not None
        ]

    def frequency(self, term: str) -> int:
        count = self._counts.get(term)
        if count is None:
            known = any(term in table for table in self._tables)
            count = _frequency(self._reader, frozenset(self._fields), term) if known else 0
            self._counts[term] = count
        return count

    def within_two(self, term: str) -> set[str]:
        """Index words at most two edits from `term`: `term` and its one-letter deletions, each also with
        a letter inserted anywhere, looked up (two letters added or dropped are not found)."""
        shorter = _deletions(term)
        found = {
            longer
            for variant in shorter
            for longer in (variant, *_insertions(variant))
            if any(longer in table for table in self._tables)
        }
        found.discard(term)
        return {word for word in found if damerau_levenshtein(word, term) <= 2}


def _deletions(word: str) -> set[str]:
    """`word` and every string one letter shorter."""
    return {word} | {word[:cut] + word[cut + 1 :] for cut in range(len(word))}


def _insertions(word: str) -> set[str]:
    """Every string one letter (a-z) longer than `word`."""
    return {word[:cut] + letter + word[cut:] for cut in range(len(word) + 1) for letter in _ALPHABET}


# -- the suggestion ------------------------------------------------------------------------------------


def suggest(searcher: Any, plan: QueryPlan, total: int) -> str | None:
    """The query with its misspelled words corrected, or None when none needs it (see the module's notes)."""
    reader = searcher.reader()
    if not any(_is_suspect(reader, fields, term, total) for fields, term in _searched_terms(plan)):
        return None  # the common case, decided from the index's own counts, no table built
    fixes: dict[tuple[int, int], str] = {}
    suspects = (
        word for word in _typed_words(plan, searcher.schema) if _is_suspect(reader, word.fields, word.term, total)
    )
    vocabularies: dict[frozenset[str], _Vocabulary] = {}
    for word in islice(suspects, MAX_CORRECTED):
        if current().expired():
            break  # the request's time is up: what was corrected so far
        vocabulary = vocabularies.get(word.fields)
        if vocabulary is None:
            vocabulary = vocabularies[word.fields] = _Vocabulary(reader, word.fields)
        better = best_candidate(vocabulary, word, partial(_spellings, searcher, word))
        if better is not None and better.spelling is not None:
            fixes[word.start, word.end] = _in_case(word.typed, better.spelling)
    if not fixes:
        return None
    text = plan.text
    for (start, end), replacement in sorted(fixes.items(), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text if text.lower() != plan.text.lower() else None


def _is_suspect(reader: Any, fields: frozenset[str], term: str, total: int) -> bool:
    """True for a word no story has, or a rare one when few stories matched."""
    frequency = _frequency(reader, fields, term)
    return not frequency or (total < FEW and frequency <= RARE)


def best_candidate(vocabulary: _Vocabulary, word: _Word, spellings: Callable[[str], Counter[str]]) -> _Candidate | None:
    """The index word the user most likely meant by `word`, if it is likelier than `word` itself, with the
    spelling to show. `spellings(term)` counts how stories spell an index word (a sample of them).

    Candidates are weighed first by the edits from the typed word's variant or index form; the heaviest
    VERIFIED are then weighed again by the edits from the typed word to their spellings in stories (a
    variant the stemmer maps to a word of the index, "agined" → "agained" → "again", is no word).
    """
    own = vocabulary.frequency(word.term)
    if own > RARE:
        return None  # a word of the index, frequent enough: never corrected
    kept = own**PRIOR * KEEP if own else UNSEEN
    typed = word.typed.lower()
    analyse = _TEXT if word.fields & frozenset(TEXT_FIELDS) else _NAMES
    candidates: dict[str, _Candidate] = {}

    def weigh(term: str, edits: int, spelling: str) -> float:
        changed = spelling[:1] != typed[:1]
        return float(vocabulary.frequency(term) ** PRIOR * CHANNEL[edits] * (FIRST_LETTER if changed else 1.0))

    def consider(term: str, edits: int, spelling: str | None) -> None:
        if term == word.term or not term or not vocabulary.frequency(term):
            return
        weight = weigh(term, edits, spelling or term)
        known = candidates.get(term)
        variants = () if known is None else known.variants
        variants = (*variants, spelling) if spelling else variants
        if known is None or weight > known.weight:
            candidates[term] = _Candidate(term, edits, weight, spelling, variants)
        elif variants != known.variants:
            candidates[term] = replace(known, variants=variants)

    for variant in sorted(one_edit(typed)):
        consider(next((token.text for token in analyse(variant)), ""), 1, variant)
    two = len(word.term) >= TWO_EDITS_LETTERS
    for term in vocabulary.within_two(word.term) if two else ():
        consider(term, damerau_levenshtein(term, word.term), None)
    if not two:  # short words: the index form's own one-edit neighbours, looked up
        for term in one_edit(word.term):
            consider(term, 1, None)
    ranked = sorted(candidates.values(), key=lambda found: (-found.weight, found.edits, found.term))
    verified = []
    for candidate in ranked[:VERIFIED]:
        found = spellings(candidate.term)
        if not found:  # in no story read (a headline-only word, say): as weighed
            verified.append(replace(candidate, spelling=candidate.spelling or candidate.term))
            continue
        # a variant is a word when a story spells it, or spells it without the plural's s (a sample of
        # stories of "support" may lack "supports")
        spelled = [variant for variant in candidate.variants if variant in found or _plural_of(variant, found)]
        if spelled:  # of the typed word's variants stories spell, the commonest ("passd": passed, not pass)
            verified.append(
                replace(
                    candidate, spelling=max(spelled, key=lambda variant: (found[variant], found[variant[:-1]], variant))
                )
            )
            continue
        edits, spelling = min((damerau_levenshtein(form, typed), form) for form in found)
        if edits <= max(CHANNEL):
            verified.append(_Candidate(candidate.term, edits, weigh(candidate.term, edits, spelling), spelling))
    best = max(verified, key=lambda found: (found.weight, -found.edits, found.term), default=None)
    if best is None or best.weight <= kept:
        return None
    return best


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
            if MIN_LETTERS <= len(typed) <= MAX_FUZZY_LETTERS and term and typed.isalpha():
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


def _spellings(searcher: Any, word: _Word, term: str) -> Counter[str]:
    """How stories spell the index word `term` (lower case), from the first SAMPLE_STORIES having it."""
    spellings: Counter[str] = Counter()
    reader = searcher.reader()
    deadline = current()
    for fieldname in sorted(word.fields):
        if (fieldname, term) not in reader:
            continue
        docnums = islice(reader.postings(fieldname, term).all_ids(), SAMPLE_STORIES)
        for docnum in docnums:
            if deadline.expired():
                break  # the spellings read so far
            story = story_from_stored(searcher.stored_fields(docnum))
            text = (
                f"{story.headline or ''}\n{story.body[:SAMPLE_CHARS]}"
                if fieldname in TEXT_FIELDS
                else " ".join([*story.bylines, story.location or "", story.source or ""])
            )
            form = _index_form if fieldname in TEXT_FIELDS else fold
            head = term[:2]  # an index word begins as its spellings do ("attack": attacks, attacked)
            spellings.update(
                word for word in map(str.lower, _WORD.findall(text)) if word.startswith(head) and form(word) == term
            )
        if spellings:
            break
    return spellings


def _plural_of(variant: str, found: Counter[str]) -> bool:
    return variant.endswith("s") and found[variant[:-1]] > 0


def _in_case(typed: str, spelling: str) -> str:
    """`spelling` in the case the user typed: IRAN for IRNA, Iran for Irna, iran for irna."""
    if typed.isupper() and len(typed) > 1:
        return spelling.upper()
    if typed[:1].isupper():
        return spelling[:1].upper() + spelling[1:]
    return spelling


def _indexed(word: str, fieldname: str) -> str:
    """`word` as the field indexes it; "" for a common word, which is not indexed."""
    return next((token.text for token in (_TEXT if fieldname in TEXT_FIELDS else _NAMES)(word)), "")
