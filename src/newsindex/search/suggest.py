"""Did you mean: the query with its misspelled words replaced by the likeliest words of the index.

A noisy-channel choice over the index vocabulary (Norvig's corrector, Kernighan, Church and Gale's
channel). For a word the user typed, each candidate word of the index one or two edits away (a swap of
neighbours is one edit: Damerau) is weighed by how many stories have it (the prior: frequent words are
likelier meant) times the chance of mistyping it so: for one edit, by its kind (a letter left out, two
swapped or a letter doubled: 1; a letter typed in or typed for another, one of several near keys: 0.2),
for two `CHANNEL[2]`, and less when the first letter differs. The word as typed is weighed by its own
frequency times `KEEP` (a word the index has was most likely meant), or by `UNSEEN` when no story has it
(it may be a real word the archive lacks). The heaviest wins; the query is rewritten only where a
candidate beat the word as typed.

Only queries where it can change the answer are looked at: a word no story has, or, when few stories
matched, a rare one (in at most RARE stories). Common words (stop words) are not indexed and never
corrected; a word in more than RARE stories never is either. A word of the index in any field counts (one
only in a tag, topic or org, say, is a word of the index), and one of them is corrected only when it is
rare, MIN_KNOWN_LETTERS long or more (shorter ones are mostly abbreviations and tickers, as Lucene's and
Elasticsearch's spell checkers leave words under 4 letters alone) and not written as a name by its
stories. Names are corrected to names only: a short word typed in capitals (an acronym, a ticker: HNZ) to
a word the stories write in capitals and common enough (SHAPED_UNSEEN), a word capitalised inside a query
in lower case (a name) to one they write capitalised; a query's first word says nothing by its case.

Words are indexed folded and stemmed ("Attacks" → "attack"), so candidates come two ways: the typed word's
one-edit variants analysed as the index analyses text ("risng" → "rising" → "rise"), which also gives the
spelling to show, and the index words near the typed word's own index form: the form and its one-letter
deletions, each also with any letter inserted anywhere, are looked up (every word one edit away, and those
two edits away that are one letter longer or shorter or have two letters changed or swapped; not two
letters added or two dropped), and kept when within two Damerau edits (one for words under
TWO_EDITS_LETTERS). The words are looked up in sets read once per segment and field from its word list and
cached (segments never change, so a commit costs only the new segment's sets); story counts are read for
the candidates found.

The correction is shown as the user would write it: a spelling of the chosen word found in stories that
contain it (the first SAMPLE_STORIES, searched further for the typed word's variants when none is there),
the likeliest by the same channel ("attaks" → "attacks", not "attack"), in the user's case ("Irna" →
"Iran", "ALBNIA" → "ALBANIA"). Everything else of the query (fields, quotes, operators, dates) is kept as
written.
"""

from __future__ import annotations

import re
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
from newsindex.search.query import MAX_FUZZY_LETTERS, QueryPlan, one_edit, parse_tree
from newsindex.store.schema import (
    _WORD,
    NAME_FIELDS,
    TAG_FIELDS,
    TEXT_FIELDS,
    NewsAnalyzer,
    _index_form,
    fold,
    story_from_stored,
)

FEW = 5  # below this many matching stories, rare words are worth a second look
RARE = 2  # a word in at most this many stories is rare (a typo in the archive, likely); above, it is kept
MIN_LETTERS = 3  # shorter words are left as they are: too many words are one edit away
TWO_EDITS_LETTERS = 5  # words this long or longer may be two edits off; shorter ones one edit only
# The noisy channel: the weight of a candidate is its story count times the chance of that many edits;
# the word as typed weighs its story count times KEEP, or UNSEEN when no story has it.
CHANNEL = {1: 1.0, 2: 0.01}
# One edit, by its kind (Kernighan, Church and Gale's channel with flat confusion tables): a letter left
# out or two letters swapped can be done one way, a letter typed in or typed for another is one of
# several near keys, so any given one is less likely (a doubled letter is as likely as one left out).
LEFT_OUT = SWAPPED = DOUBLED = 1.0
TYPED_IN = TYPED_FOR = 0.2
KEEP = 100.0  # a rare word of the index is kept unless a one-edit neighbour is 100 times as common
PRIOR = 1.0  # the prior: story count to this power
FIRST_LETTER = 0.3  # a word's first letter is more rarely the one mistyped
UNSEEN = 0.1  # an unknown word gives way to any one-edit neighbour, to a two-edit one in 11 stories or more
SAMPLE_STORIES = 30  # stories read to find how a corrected word is spelled
SCAN_STORIES = 300  # stories searched further for the typed word's variants when the sample has none
SAMPLE_CHARS = 50_000  # of each, at most this much is read (a 9 MB story is not scanned for one word)
VERIFIED = 4  # the heaviest candidates whose spellings in stories are read and weighed again
MAX_CORRECTED = 5  # words looked at for a correction, at most (a pasted text may have hundreds of unknown words)
CACHED_TABLES = 256  # (segment, field) word tables kept, least recently used dropped
# Words that look like names are corrected only to words the archive writes the same way (strong support).
ACRONYM_LETTERS = 5  # a word typed in capitals this long or shorter is read as an acronym or a ticker
SHAPED = 0.5  # a word is written so (in capitals, or capitalised) when this share of its occurrences is
SHAPED_UNSEEN = 10.0  # an acronym gives way to a neighbour written so in more than 10 stories (one edit)
MIN_KNOWN_LETTERS = 5  # a word of the index shorter than this is never corrected (abbreviations, tickers)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_CORRECTED_FIELDS = frozenset(TEXT_FIELDS) | frozenset(NAME_FIELDS)
_NAMES = NewsAnalyzer(stemming=False)
_LETTERS = re.compile(r"[^\W\d_]+")
_TEXT = NewsAnalyzer()


@dataclass(frozen=True, slots=True)
class _Word:
    """One word the user typed: where in the text, as typed, as indexed, and the fields it was searched in."""

    start: int
    end: int
    typed: str
    term: str
    fields: frozenset[str]
    shape: str = ""  # "acronym" (typed in capitals, short), "name" (capitalised inside a lower-case query)
    elsewhere: int = 0  # stories having the word in a field not searched here (a tag: topic, org …)


@dataclass(frozen=True, slots=True)
class _Seen:
    """How stories write an index word: its spellings (lower case) and the case of its occurrences."""

    forms: Counter[str]
    capitals: int = 0  # occurrences in capitals (OPEC, HOGN)
    capitalised: int = 0  # capitalised and not the first word of a sentence (Lukman)
    cased: int = 0  # occurrences whose case says something (not a sentence's first word, not a capitals line)

    def written(self, shape: str) -> bool:
        """True when the word is mostly written as an acronym ("acronym") or as a name ("name")."""
        upper = self.capitals + (self.capitalised if shape == "name" else 0)
        return self.cased > 0 and upper >= SHAPED * self.cased


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
        word = replace(word, elsewhere=_elsewhere(reader, word))
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


def _elsewhere(reader: Any, word: _Word) -> int:
    """Stories having `word` in a tag field it was not searched in: a word of the index all the same."""
    tags = [field for field in TAG_FIELDS if field not in word.fields and field in reader.schema]
    term = next((token.text for token in _NAMES(word.typed)), "")
    return max((reader.doc_frequency(field, term) for field in tags), default=0) if term else 0


def best_candidate(
    vocabulary: _Vocabulary, word: _Word, spellings: Callable[[str, tuple[str, ...]], _Seen]
) -> _Candidate | None:
    """The index word the user most likely meant by `word`, if it is likelier than `word` itself, with the
    spelling to show. `spellings(term, variants)` tells how stories write an index word (a sample of
    them, searched further for `variants` when the sample has none of them).

    Candidates are weighed first by the edits from the typed word's variant or index form; the heaviest
    VERIFIED are then weighed again by the edits from the typed word to their spellings in stories (a
    variant the stemmer maps to a word of the index, "agined" → "agained" → "again", is no word).
    A word of the index (in any field) is corrected only when rare, long enough not to be an abbreviation,
    and not written as a name; a word typed as an acronym or a name only to a word written so.
    """
    own = vocabulary.frequency(word.term) + word.elsewhere
    if own > RARE:
        return None  # a word of the index, frequent enough: never corrected
    if own and (len(word.typed) < MIN_KNOWN_LETTERS or _names_itself(word, spellings)):
        return None  # a short word of the index (an abbreviation, a ticker) or a name the archive writes
    kept = own**PRIOR * KEEP if own else UNSEEN
    if word.shape == "acronym":
        kept = max(kept, SHAPED_UNSEEN)  # typed as an acronym: likelier a ticker the archive lacks
    typed = word.typed.lower()
    analyse = _TEXT if word.fields & frozenset(TEXT_FIELDS) else _NAMES
    candidates: dict[str, _Candidate] = {}

    def weigh(term: str, intended: str, typo: str) -> float:
        return float(vocabulary.frequency(term) ** PRIOR * _channel(intended, typo))

    def consider(term: str, edits: int, spelling: str | None) -> None:
        if term == word.term or not term or not vocabulary.frequency(term):
            return
        weight = weigh(term, spelling, typed) if spelling else weigh(term, term, word.term)
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
        seen = spellings(candidate.term, candidate.variants)
        found = seen.forms
        if word.shape and not seen.written(word.shape):
            continue  # typed as an acronym or a name: only a word the archive writes so
        if not found:  # in no story read (a headline-only word, say): as weighed
            verified.append(replace(candidate, spelling=candidate.spelling or candidate.term))
            continue
        spelled = [variant for variant in candidate.variants if variant in found]  # a variant stories spell
        if spelled:  # of the typed word's variants stories spell, the likeliest ("passd": passed, not pass)
            chosen = max(spelled, key=lambda variant: (found[variant] * _channel(variant, typed), variant))
            verified.append(replace(candidate, spelling=chosen, weight=weigh(candidate.term, chosen, typed)))
            continue
        edits, spelling = min((damerau_levenshtein(form, typed), form) for form in found)
        if edits <= (max(CHANNEL) if two else 1):  # a short word is one edit off at most
            verified.append(_Candidate(candidate.term, edits, weigh(candidate.term, spelling, typed), spelling))
    # Fewer edits first, then weight: as Lucene's DirectSpellChecker and Elasticsearch's term suggester
    # sort (a word a month's name is two edits from, "macth", meant "match", not "march").
    best = max(verified, key=lambda found: (-found.edits, found.weight, found.term), default=None)
    if best is None or best.weight <= kept:
        return None
    return best


def _names_itself(word: _Word, spellings: Callable[[str, tuple[str, ...]], _Seen]) -> bool:
    """True when the stories having the typed word write it in capitals or capitalised (a name, a ticker)."""
    return spellings(word.term, ()).written("name")


def _channel(intended: str, typed: str) -> float:
    """The chance, up to a constant, that a user meaning `intended` types `typed` (see LEFT_OUT …)."""
    edits = damerau_levenshtein(intended, typed)
    if edits == 1:
        if len(intended) > len(typed):
            chance = LEFT_OUT
        elif len(intended) < len(typed):
            doubled = any(
                typed[cut] == typed[cut + 1] and typed[:cut] + typed[cut + 1 :] == intended
                for cut in range(len(typed) - 1)
            )
            chance = DOUBLED if doubled else TYPED_IN
        else:
            chance = SWAPPED if sorted(intended) == sorted(typed) else TYPED_FOR
    else:
        chance = CHANNEL.get(edits, 0.0)
    return chance * (FIRST_LETTER if intended[:1] != typed[:1] else 1.0)


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
    lower_case = any(found[:1].islower() for found in _LETTERS.findall(plan.text))
    for (start, end), fields in spans.items():
        fieldname = min(fields)  # the fields of one span are all text fields or one name field
        for match in _WORD.finditer(plan.text, start, end):
            typed = match.group()
            term = _indexed(typed, fieldname)  # "" for a common word
            if MIN_LETTERS <= len(typed) <= MAX_FUZZY_LETTERS and term and typed.isalpha():
                first = _LETTERS.search(plan.text, 0, match.start()) is None
                yield _Word(
                    match.start(), match.end(), typed, term, frozenset(fields), _shape(typed, first, lower_case)
                )


def _shape(typed: str, first: bool, lower_case: bool) -> str:
    """ "acronym" for a short word typed in capitals; "name" for one capitalised after the query's first
    word in a query with a word in lower case (the case says nothing in a query all in capitals)."""
    if typed.isupper() and len(typed) <= ACRONYM_LETTERS:
        return "acronym"
    if typed[:1].isupper() and typed[1:].islower() and not first and lower_case:
        return "name"
    return ""


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


def _spellings(searcher: Any, word: _Word, term: str, variants: tuple[str, ...] = ()) -> _Seen:
    """How stories write the index word `term`, from the first SAMPLE_STORIES having it; when none of the
    typed word's `variants` is among the spellings found, up to SCAN_STORIES are searched for them."""
    spellings: Counter[str] = Counter()
    capitals = capitalised = cased = 0
    reader = searcher.reader()
    deadline = current()
    wanted = set(variants)  # emptied when one of them is found: then only the sample is read
    for fieldname in sorted(word.fields):
        if (fieldname, term) not in reader:
            continue
        docnums = islice(reader.postings(fieldname, term).all_ids(), SCAN_STORIES if wanted else SAMPLE_STORIES)
        for read, docnum in enumerate(docnums):
            if deadline.expired() or (read >= SAMPLE_STORIES and not wanted):
                break  # the spellings read so far
            story = story_from_stored(searcher.stored_fields(docnum))
            if fieldname in TEXT_FIELDS:
                headline = story.headline or ""
                texts = [headline if any(c.islower() for c in headline) else "", story.body[:SAMPLE_CHARS]]
                uncased = [] if texts[0] else [headline]  # a headline all in capitals says nothing of case
            else:
                texts, uncased = [" ".join([*story.bylines, story.location or "", story.source or ""])], []
            if read >= SAMPLE_STORIES and not any(variant in text.lower() for text in texts for variant in wanted):
                continue  # past the sample, only the variants are looked for
            form = _index_form if fieldname in TEXT_FIELDS else fold
            head = term[:2]  # an index word begins as its spellings do ("attack": attacks, attacked)
            for text in texts:
                for match in _WORD.finditer(text):
                    written = match.group()
                    lower = written.lower()
                    if not lower.startswith(head) or form(lower) != term:
                        continue
                    spellings[lower] += 1
                    if lower in wanted:
                        wanted.clear()
                    if written.isupper() and len(written) > 1:
                        capitals += 1
                        cased += 1
                    elif not _starts_sentence(text, match.start()):
                        capitalised += written[:1].isupper()
                        cased += 1
            spellings.update(
                lower
                for text in uncased
                for lower in map(str.lower, _WORD.findall(text))
                if lower.startswith(head) and form(lower) == term
            )
        if spellings:
            break
    return _Seen(spellings, capitals, capitalised, cased)


def _starts_sentence(text: str, start: int) -> bool:
    """True when the word at `start` is the first of a sentence, a line or a quotation (capitalised anyway)."""
    cut = start - 1
    while cut >= 0 and text[cut] in " \t":
        cut -= 1
    return cut < 0 or text[cut] in '.!?:;\n"(-'


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
