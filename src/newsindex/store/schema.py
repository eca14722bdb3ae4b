"""Whoosh fields and analysis, and the conversion of stories to index documents and back.

Whoosh pickles the schema into the index by class name. The five classes it names keep the names indexes
have always written, `newsindex.schema.NewsAnalyzer` and the like (`PICKLED_AS`, below): the module
`newsindex.schema` re-exports them, so every index, old or new, opens whatever this module is called.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

import Stemmer
from whoosh import columns, fields
from whoosh.analysis import Analyzer, Token
from whoosh.analysis.filters import STOP_WORDS
from whoosh.support.charset import accent_map

from newsindex.models import Credit, Story, lead_span
from newsindex.store.codec import PackedPositions
from newsindex.text.dates import parse_published, to_seconds

# The index format version, recorded in each index's manifest (CONTRIBUTING.md, "The index format").
# Bump it when an index written by this code would be misread by the last release, add the new number to
# READABLE_VERSIONS, commit a golden index of it under tests/data/, and say so in CHANGELOG.md:
#   1  0.1.0: packed posting blocks, stories compressed in blocks, one checksum record (newsindex.sums.json)
#   2  a CRC-32 in every posting block and stored block, a checksum record per Whoosh index, the region
#      and tag fields (region, topic, place, org, person) and `revises`; new indexes use analysis 2 (below);
#      version-1 indexes read as before
SCHEMA_VERSION = 2
READABLE_VERSIONS = frozenset({1, 2})
# How the words of headlines and bodies are cut and normalised: 1 for indexes built before news tokens (the
# analyzers pickled into them lack the attribute), 2 with news tokens (`NewsAnalyzer`), 3 for new ones:
# news tokens, and a stop word left out still takes its place, so that the phrase "debt moratorium" does
# not match "debts. The moratorium" and "Bank of England" matches only with a word between (Lucene's
# StopFilter keeps such gaps too).
ANALYSIS_VERSION = 3
# Analysis 3: the term standing for a stop word in `index_terms` (a place, and no posting).
GAP = ""

# Words are runs of letters and digits, with inner dots kept ("U.S", "3.5"); hyphens and apostrophes split.
_WORD = re.compile(r"\w+(?:\.?\w+)*")
# Analysis 2: the same words, and before them the strings of wire copy that are not words: URLs, Reuters'
# tickers, AT&T, C++, numbers with thousands separators or a per cent sign.
_NEWS_TOKEN = re.compile(
    r"""(?:https?://|www\.)[^\s<>"'()\[\]]*[^\s<>"'()\[\].,;:!?]  # a URL: its host is the term
    | <[A-Z0-9][A-Z0-9.&/-]{0,11}>  # a ticker in Reuters' brackets: <IBM>, <BP.L>, <C>
    | \w+(?:&\w+)+  # AT&T, S&P, Texas A&M
    | (?<![\w+\#])[A-Za-z](?:\+\+|\#)(?![\w+\#])  # C++, C#
    | \d{1,3}(?:,\d{3})+(?:\.\d+)?%?(?![\d,]*\d)  # 1,000 and 2,500.5
    | \d+(?:\.\d+)*%  # 5%, 5.5%
    | \w+(?:\.?\w+)*  # words, as analysis 1 has them""",
    re.VERBOSE,
)
_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]\.?")  # u.s, u.s.a (folded)
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d+)?)([a-z]{2,})")  # 10mln, 50km (folded)
_ORDINALS = frozenset({"st", "nd", "rd", "th"})
_PERCENT = frozenset({"%", "pct", "percent"})  # one term, "pct", as Reuters writes it
_STOP_WORDS = frozenset(STOP_WORDS)
_ACCENTS = accent_map
_stemmers = threading.local()  # PyStemmer objects are not thread-safe: one per thread


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word ("attacks" → "attack", "running" → "run")."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english", 0)  # no cache of its own: `stem` is one
    return str(stemmer.stemWord(word))


@lru_cache(maxsize=500_000)
def index_term(word: str) -> str:
    """The term a word of text is indexed as: folded and stemmed ("Attacks" → "attack")."""
    return stem(fold(word))


@lru_cache(maxsize=500_000)
def _index_form(word: str) -> str | None:
    """The term a word of text is indexed as by a stemming field, or None for a word it leaves out."""
    word = fold(word)
    if word in _STOP_WORDS or len(word) < 2:
        return None
    return stem(word)


# Analysis 2 checks stop words after stemming too ("its" → it, "being" → be), but not the stems that content
# words share with modal verbs ("willing" → will, "cans" → can).
_STOP_STEMS = frozenset(stem(word) for word in _STOP_WORDS) - {"will", "can", "may"}


def _is_stop(word: str) -> bool:
    return word in _STOP_WORDS or stem(word) in _STOP_STEMS


@lru_cache(maxsize=500_000)
def _news_forms(token: str, capitals: bool = False) -> tuple[str, ...]:
    """The terms a token of analysis 2 is indexed as by a stemming field (none for a stop word).

    `capitals` says the text is set in capitals (a wire headline): there "US" is the word "us", while
    in ordinary text a word in capitals that would be a stop word is an acronym ("US", "IT").
    """
    if not token:  # what is left of "www.%" once the host's "www." and the per cent sign are taken off
        return ()
    first = token[0]
    if first == "<":  # a ticker: kept even when one letter (<C>, <F>), as the word it spells
        inner = fold(token[1:-1])
        return _news_forms(inner, False) or (inner,)
    if "://" in token or token[:4].lower() == "www.":
        host = re.split(r"[/?#:]", token.split("://", 1)[-1], maxsplit=1)[0]
        host = host[4:] if host[:4].lower() == "www." else host  # shorter each time: the recursion ends
        return _news_forms(host, False) if host else ()
    if "&" in token or "+" in token or "#" in token:
        return (fold(token),)
    if token[-1] == "%":
        return (*_news_forms(token[:-1], False), "pct")
    word = fold(token)
    if "," in word:  # 1,000
        return (word.replace(",", ""),)
    if _ACRONYM.fullmatch(word):  # U.S., u.s, U.K. → us (or u.s where "us" is a stop word), uk
        joined = word.replace(".", "")
        return (word.rstrip(".") if _is_stop(joined) else stem(joined),)
    if word.startswith("www."):
        word = word[4:]
    if word in _PERCENT:
        return ("pct",)
    if len(word) < 2:
        return ()
    if not capitals and token.isupper() and len(token) == 2 and _is_stop(word) and word != "or":  # US, IT → u.s
        return (f"{word[0]}.{word[1]}",)
    if _is_stop(word):
        return ()
    number_unit = _NUMBER_UNIT.fullmatch(word) if word[0].isdigit() else None
    if number_unit and number_unit.group(2) not in _ORDINALS:  # 10mln → 10 mln, as "10 mln" is
        return (number_unit.group(1), *_news_forms(number_unit.group(2), False))
    return (stem(word),)


@lru_cache(maxsize=100_000)
def _news_forms_in_capitals(token: str) -> tuple[str, ...]:
    """`_news_forms` of a token of a text set in capitals (a cache of one argument is the faster one)."""
    return _news_forms(token, True)


def _takes_a_place(token: str) -> bool:
    """Whether a token with no terms is a stop word, which keeps its place under analysis 3 (a lone
    letter, such as the "s" of "Nam's", does not)."""
    return _is_stop(fold(token))


@lru_cache(maxsize=500_000)
def _gapped_forms(token: str) -> tuple[str, ...]:
    """`_news_forms` for analysis 3: a stop word as (GAP,)."""
    return _news_forms(token) or ((GAP,) if _takes_a_place(token) else ())


@lru_cache(maxsize=100_000)
def _gapped_forms_in_capitals(token: str) -> tuple[str, ...]:
    return _news_forms(token, True) or ((GAP,) if _takes_a_place(token) else ())


def _in_capitals(value: str) -> bool:
    """Whether `value` is set in capitals: four words or more and no lower-case letter."""
    return value.isupper() and value.count(" ") >= 3


class _ChunkTerms(dict[str, tuple[str, ...]]):
    """The terms of each run of text between white space ("said,", "(Reuters)", "U.S.-Japan"), as analysis 2
    indexes it: a cache filled as chunks are met, emptied when it holds `limit` of them.

    No token of `_NEWS_TOKEN` holds white space, and none of its look-arounds sees past it, so the tokens of
    a text are those of its chunks end to end, and a text's terms are its chunks' terms joined: one
    dictionary lookup a chunk, made in C (`map` over `__getitem__`), instead of a regex match and a cache
    lookup a token.
    """

    def __init__(self, capitals: bool, limit: int = 100_000, gaps: bool = False) -> None:
        super().__init__()
        self._capitals = capitals
        self._limit = limit
        self._gaps = gaps

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        if self._gaps:  # analysis 3
            forms_of = _gapped_forms_in_capitals if self._capitals else _gapped_forms
        else:
            forms_of = _news_forms_in_capitals if self._capitals else _news_forms  # as `__call__` caches them
        tokens = _NEWS_TOKEN.findall(chunk)
        terms = forms_of(tokens[0]) if len(tokens) == 1 else tuple(chain.from_iterable(map(forms_of, tokens)))
        if len(self) >= self._limit:
            self.clear()
        self[chunk] = terms
        return terms


_CHUNK_TERMS = _ChunkTerms(capitals=False)
_CHUNK_TERMS_IN_CAPITALS = _ChunkTerms(capitals=True)
_GAPPED_CHUNK_TERMS = _ChunkTerms(capitals=False, gaps=True)
_GAPPED_CHUNK_TERMS_IN_CAPITALS = _ChunkTerms(capitals=True, gaps=True)


def clear_analysis_caches() -> None:
    """Empty the caches of stems and index terms (a worker process does between batches)."""
    for cached in (stem, index_term, _index_form, _news_forms, _news_forms_in_capitals):
        cached.cache_clear()
    for cache in (_CHUNK_TERMS, _CHUNK_TERMS_IN_CAPITALS, _GAPPED_CHUNK_TERMS, _GAPPED_CHUNK_TERMS_IN_CAPITALS):
        cache.clear()


def index_words(text: str, analyzer: Any = None) -> Iterator[tuple[int, int, str]]:
    """(start, end, term) for every word of `text`, common words included: for marking matches. Words are
    cut as `analyzer` (the index's, a NewsAnalyzer) cuts them; a token indexed as two terms ("10mln")
    is marked for the first; under analysis 3 a stop word's term is GAP (the index keeps its place)."""
    if getattr(analyzer, "news_tokens", False):
        capitals = _in_capitals(text)
        gaps = getattr(analyzer, "gaps", False)
        for match in _NEWS_TOKEN.finditer(text):
            forms = _news_forms(match.group(), capitals)
            if not forms and gaps and _takes_a_place(match.group()):
                forms = (GAP,)  # a stop word's place (analysis 3)
            yield match.start(), match.end(), forms[0] if forms else index_term(match.group())
        return
    for match in _WORD.finditer(text):
        yield match.start(), match.end(), index_term(match.group())


def matched_words(
    text: str, terms: set[str], analyzer: Any = None, *, limit: int | None = None
) -> Iterator[tuple[int, int, str]]:
    """The words of `index_words(text, analyzer)` whose term is one of `terms` and that start in the first
    `limit` characters, in order: all a snippet without phrases looks at.

    Only the words around a place where one of the terms could stand are cut: a word indexed as a
    term of letters holds the term's first letters but the last two (the Snowball stem of a word is
    the word but for its last two letters at most: "dying" → "die", "early" → "earli"), or its first
    letter and a dot (an acronym, "N.A.S.A." → "nasa"). Cutting may start after any space, as no token
    holds one. Texts that are not ASCII (folding changes their letters) and other terms ("pct" of "5%",
    numbers) are read word by word, as `index_words` reads them.
    """
    end = len(text) if limit is None else min(limit, len(text))
    hints = _term_hints(terms)
    reach = end + 64  # a hint stands at most a few letters into its word (<IBM>, https://www.ibm.com)
    lowered = text[:reach].lower() if hints is not None and text.isascii() else ""
    # where hints stand more often than once in 15 characters, cutting every word costs less
    if hints is None or not lowered or sum(map(lowered.count, hints)) * 15 > len(lowered):
        for word in index_words(text, analyzer):
            if word[0] >= end:
                return
            if word[2] in terms:
                yield word
        return
    news = getattr(analyzer, "news_tokens", False)
    tokens = _NEWS_TOKEN if news else _WORD
    capitals = news and _in_capitals(text)
    found: dict[int, tuple[int, int, str]] = {}
    for hint in hints:
        # Where cutting may restart: the text's start, after a space, or where a word cut from such a
        # place ended. It only moves on, so each hint reads the text once at most, whatever the text.
        safe = 0
        place = lowered.find(hint)
        while 0 <= place < reach:
            space = max(text.rfind(" ", safe, place), text.rfind("\n", safe, place))
            for match in tokens.finditer(text, space + 1 if space >= 0 else safe):
                if match.start() > place:
                    break
                safe = match.end()
                if safe > place:  # the word holding the hint (a hint starts with a letter: always in a word)
                    if match.start() not in found and match.start() < end:
                        token = match.group()
                        forms = _news_forms(token, capitals) if news else ()
                        term = forms[0] if forms else index_term(token)
                        if term in terms:
                            found[match.start()] = (match.start(), match.end(), term)
                    break
            place = lowered.find(hint, max(place + 1, safe))
    yield from (found[start] for start in sorted(found))


def _term_hints(terms: set[str]) -> list[str] | None:
    """What a word of one of these terms holds (see `matched_words`); None when a term is not all letters."""
    if any(not (term.isascii() and term.isalpha()) or term == "pct" for term in terms):
        return None
    hints = {term[: max(1, len(term) - 2)] for term in terms} | {f"{term[0]}." for term in terms}
    # one hint that is the start of another finds its places too
    return [hint for hint in hints if not any(other != hint and hint.startswith(other) for other in hints)]


def fold(word: str) -> str:
    """Lower-case `word` and strip its accents ("Rajavi" → "rajavi", "Tiranë" → "tirane")."""
    word = word.lower()
    return word if word.isascii() else word.translate(_ACCENTS)


class NewsAnalyzer(Analyzer):  # type: ignore[misc]
    """Tokenise, fold case and accents, drop stop words, stem: one pass, one regex, cached stems.

    Whoosh's usual chain (RegexTokenizer | LowercaseFilter | StopFilter | StemFilter) is a stack of
    generators doing the same work; this is the whole chain in one loop. With `stemming=False` it
    keeps every word whole, for names (bylines, places, agencies). With a `lead_boost`, words of the
    lead sentence count that many times when indexed: the lead weighs more in ranking without the
    cost of a field of its own.
    """

    lead_boost = 1.0  # class default: analyzers pickled into older indexes lack the attribute
    analysis = 1  # likewise: an analyzer pickled before ANALYSIS_VERSION 2 keeps cutting words as it did

    def __init__(self, stemming: bool = True, lead_boost: float = 1.0, analysis: int | None = None) -> None:
        self.stemming = stemming
        self.lead_boost = lead_boost
        self.analysis = ANALYSIS_VERSION if analysis is None else analysis  # what new indexes get

    @property
    def news_tokens(self) -> bool:
        """Whether this analyzer reads news tokens (analysis 2; stemming fields only: names stay whole words)."""
        return self.analysis >= 2 and self.stemming

    @property
    def gaps(self) -> bool:
        """Whether a stop word left out keeps its place (analysis 3; stemming fields only)."""
        return self.analysis >= 3 and self.stemming

    def __call__(  # type: ignore[no-untyped-def]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if self.news_tokens and tokenize:
            yield from self._news_tokens(
                token, value, positions, chars, keeporiginal, removestops, start_pos, start_char
            )
            return
        stops = _STOP_WORDS if self.stemming else frozenset()
        stemming = self.stemming
        lead_end = lead_span(value)[1] if self.lead_boost != 1.0 and mode == "index" else -1
        pos = start_pos
        matches = _WORD.finditer(value) if tokenize else [re.match(r"(?s).+", value)]
        for match in matches:
            if match is None:
                continue
            word = fold(match.group())
            stopped = word in stops or (stemming and len(word) < 2)
            if stopped and removestops:
                continue
            token.text = stem(word) if stemming else word
            token.stopped = stopped
            token.boost = self.lead_boost if match.start() < lead_end else 1.0
            if keeporiginal:
                token.original = match.group()
            if positions:
                token.pos = pos
                pos += 1
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token

    def index_terms(self, value: str) -> tuple[list[str], int]:
        """The terms `value` is indexed under, in order (a term's position is its place in the list), and
        how many of the first ones are words of the lead (0 without a lead boost).

        The same terms and positions as indexing through `__call__` (a test checks), with no Python
        code run per word: `newsindex.store.writer` turns them into postings for a whole batch at once.
        """
        if self.news_tokens:
            return self._news_index_terms(value)
        form = _index_form if self.stemming else fold
        forms = list(map(form, _WORD.findall(value)))
        terms = [term for term in forms if term is not None]
        if self.lead_boost == 1.0:
            return terms, 0
        # A word straddling the end of the lead starts in it, and a regex cut there still finds it once.
        in_lead = len(_WORD.findall(value, 0, lead_span(value)[1]))
        return terms, in_lead - forms[:in_lead].count(None)

    def _news_tokens(  # type: ignore[no-untyped-def]
        self,
        token,
        value: str,
        positions: bool,
        chars: bool,
        keeporiginal: bool,
        removestops: bool,
        pos: int,
        start_char: int,
    ) -> Iterator[Token]:
        """`__call__` for analysis 2: each token of _NEWS_TOKEN as its terms (a stop word as none, or as
        itself marked stopped when stop words are kept)."""
        capitals = _in_capitals(value)
        lead_end = lead_span(value)[1] if self.lead_boost != 1.0 and token.mode == "index" else -1
        gaps = self.gaps
        for match in _NEWS_TOKEN.finditer(value):
            forms = _news_forms(match.group(), capitals)
            stopped = not forms
            if stopped:
                if gaps and _takes_a_place(match.group()):
                    if removestops:
                        pos += 1  # left out, its place kept
                        continue
                elif removestops:
                    continue
                forms = (fold(match.group()),)
            for form in forms:
                token.text = form
                token.stopped = stopped
                token.boost = self.lead_boost if match.start() < lead_end else 1.0
                if keeporiginal:
                    token.original = match.group()
                if positions:
                    token.pos = pos
                    pos += 1
                if chars:
                    token.startchar = start_char + match.start()
                    token.endchar = start_char + match.end()
                yield token

    def _news_index_terms(self, value: str) -> tuple[list[str], int]:
        """`index_terms` for analysis 2: the terms of each chunk of text between white space (`_ChunkTerms`)."""
        capitals = _in_capitals(value)
        if self.gaps:
            terms_of = (_GAPPED_CHUNK_TERMS_IN_CAPITALS if capitals else _GAPPED_CHUNK_TERMS).__getitem__
        else:
            terms_of = (_CHUNK_TERMS_IN_CAPITALS if capitals else _CHUNK_TERMS).__getitem__
        chunks = value.split()
        terms = list(chain.from_iterable(map(terms_of, chunks)))
        if self.lead_boost == 1.0:
            return terms, 0
        # The lead ends at white space (`lead_span`), so its terms are those of its chunks; were it to end inside
        # a chunk, its terms are counted as `__call__` boosts them: those of the tokens that start before the cut.
        lead_end = lead_span(value)[1]
        lead = value[:lead_end].split()
        if lead and lead[-1] != chunks[len(lead) - 1]:  # as `__call__` boosts: a token starting in the lead
            forms_of = _news_forms_in_capitals if capitals else _news_forms
            if self.gaps:
                forms_of = _gapped_forms_in_capitals if capitals else _gapped_forms
            return terms, sum(
                len(forms_of(match.group())) for match in _NEWS_TOKEN.finditer(value) if match.start() < lead_end
            )
        return terms, sum(map(len, map(terms_of, chunks[: len(lead)])))

    def index_postings(self, value: str) -> dict[str, tuple[list[int], float]]:
        """Each term `value` is indexed under, with its positions and weight (a lead word counts
        `lead_boost` times): what Whoosh's own writer asks of a field, from `index_terms`."""
        terms, in_lead = self.index_terms(value)
        positions: dict[str, list[int]] = {}
        for pos, term in enumerate(terms):
            if term != GAP:  # a stop word's place (analysis 3): no posting
                positions.setdefault(term, []).append(pos)
        extra = self.lead_boost - 1.0
        return {
            term: (found, len(found) + extra * sum(1 for pos in found if pos < in_lead))
            for term, found in positions.items()
        }


class PublishedField(fields.FieldType):  # type: ignore[misc]
    """Story dates as seconds since 1970 in a column, with no terms in the index.

    Whoosh's DATETIME field answers a range by expanding it term by term; newsindex answers from this
    column instead (see `newsindex.store.dateindex`), so the field needs no postings at all.
    """

    MISSING = -(2**63)  # the column value of a story without a date
    indexed = False
    stored = False

    def __init__(self) -> None:
        self.column_type = columns.NumericColumn("q", default=self.MISSING)

    def to_column_value(self, value: int) -> int:
        return value

    def from_column_value(self, value: int) -> int:
        return value

    def self_parsing(self) -> bool:
        return True

    def parse_query(self, fieldname: str, qstring: str, boost: float = 1.0) -> Any:
        """`date:2019-10` means the whole period."""
        from newsindex.store.dateindex import PublishedRange

        return PublishedRange.from_text(fieldname, qstring, qstring)

    def parse_range(  # type: ignore[no-untyped-def]
        self, fieldname: str, start, end, startexcl: bool, endexcl: bool, boost: float = 1.0
    ) -> Any:
        """`date:[2019-01 TO 2019-06]`, open ends allowed, `>`/`<` exclusive of the whole period."""
        from newsindex.store.dateindex import PublishedRange

        return PublishedRange.from_text(fieldname, start, end, start_exclusive=startexcl, end_exclusive=endexcl)


class ColumnField(fields.FieldType):  # type: ignore[misc]
    """A per-story string kept in a column only: fast to read for every story, not searchable."""

    indexed = False
    stored = False

    def __init__(self) -> None:
        self.column_type = columns.VarBytesColumn()

    def to_column_value(self, value: str) -> bytes:
        return value.encode("utf-8")

    def from_column_value(self, value: bytes) -> str:
        return value.decode("utf-8")


class BytesColumnField(fields.FieldType):  # type: ignore[misc]
    """Per-story bytes kept in a column only (a story's duplicate band hashes): not searchable."""

    indexed = False
    stored = False

    def __init__(self) -> None:
        self.column_type = columns.VarBytesColumn()

    def to_column_value(self, value: bytes) -> bytes:
        return value

    def from_column_value(self, value: bytes) -> bytes:
        return value


def _text(stemming: bool = True, lead_boost: float = 1.0) -> fields.TEXT:
    field = fields.TEXT(analyzer=NewsAnalyzer(stemming, lead_boost), phrase=True)
    field.format = PackedPositions(field_boost=field.format.field_boost)  # positions as varints, not pickles
    return field


def build_schema() -> fields.Schema:
    """The fields of a newsindex index."""
    return fields.Schema(
        id=fields.ID(unique=True, stored=True, sortable=True),
        headline=_text(),
        body=_text(lead_boost=LEAD_BOOST),
        published=PublishedField(),
        byline=_text(stemming=False),
        location=_text(stemming=False),
        source=_text(stemming=False),
        byline_exact=_tab_keyword(),
        location_exact=_tab_keyword(),
        source_exact=_tab_keyword(),
        digest=ColumnField(),
        stamp=ColumnField(),
        path=ColumnField(),
        story=fields.STORED(),
        # Duplicate groups (newsindex.store.duplicates): the LSH band hashes and the group label.
        dupbands=BytesColumnField(),
        dupgroup=ColumnField(),
        # The dateline's state or country, and the source's tags: name words, and exact values for facets.
        **{field: _text(stemming=False) for field in TAG_FIELDS},
        **{f"{field}_exact": _tab_keyword() for field in TAG_FIELDS},
        # The id of the story this one updates (a copy with other figures); stored only when there is one.
        revises=fields.STORED(),
    )


def with_new_fields(schema: fields.Schema) -> fields.Schema:
    """`schema` (as pickled into an index) with the fields of `build_schema` it lacks, for reading queries:
    on an index built before them, `topic:grain` is a field that no story has, not an unknown one."""
    missing = [(name, field) for name, field in build_schema().items() if name not in schema]
    if not missing:
        return schema
    schema = schema.copy()
    for name, field in missing:
        schema.add(name, field)
    return schema


class TabSplitAnalyzer(Analyzer):  # type: ignore[misc]
    """Whole values separated by tabs, case kept: "Benet Koleka\tDavid Holmes" → two terms."""

    def __call__(  # type: ignore[no-untyped-def]
        self, value: str, positions: bool = False, chars: bool = False, mode: str = "", **kwargs
    ) -> Iterator[Token]:
        token = Token(positions, chars, mode=mode, **kwargs)
        for pos, part in enumerate(part for part in value.split("\t") if part.strip()):
            token.text = part.strip()
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = pos
            yield token


def _tab_keyword() -> fields.KEYWORD:
    # Exact values with their case, for filters, facets and stats; several per story, tab-separated.
    field = fields.KEYWORD(scorable=False, lowercase=False)
    field.analyzer = TabSplitAnalyzer()
    return field


# Fields searched by words when a query names none, with the weight of a match in each.
TEXT_FIELDS = {"headline": 1.0, "body": 1.0}  # tuned with BM25's idf: see newsindex.search.ranking, benchmarks/EVAL.md
LEAD_BOOST = 2.0  # a word of the lead sentence counts twice in the body
# Names users may write before a colon, and the field each one means.
FIELD_ALIASES = {
    "headline": "headline",
    "title": "headline",
    "body": "body",
    "text": "body",
    "byline": "byline",
    "bylines": "byline",
    "by": "byline",
    "author": "byline",
    "location": "location",
    "dateline": "location",
    "region": "region",
    "state": "region",
    "source": "source",
    "agency": "source",
    "date": "published",
    "published": "published",
    "id": "id",
    "topic": "topic",
    "topics": "topic",
    "subject": "topic",
    "place": "place",
    "places": "place",
    "country": "place",
    "org": "org",
    "orgs": "org",
    "organisation": "org",
    "organization": "org",
    "person": "person",
    "people": "person",
}
# Fields an index built before them lacks (`with_new_fields`), each filled from one Story attribute.
TAG_FIELDS = {"region": "region", "topic": "topics", "place": "places", "org": "orgs", "person": "people"}
# The name fields, each with its exact-value twin.
NAME_FIELDS = {
    "byline": "byline_exact",
    "location": "location_exact",
    "source": "source_exact",
    **{field: f"{field}_exact" for field in TAG_FIELDS},
}


def story_record(story: Story) -> bytes:
    """The stored form of a story: the JSON of everything indexed about it, keys sorted."""
    return json.dumps(_story_data(story), sort_keys=True, ensure_ascii=False).encode("utf-8")


def record_digest(record: bytes) -> str:
    """A hash of a story's record, to tell a changed story from an unchanged one."""
    import hashlib

    return hashlib.blake2b(record, digest_size=16).hexdigest()


def story_digest(story: Story) -> str:
    """A hash of everything indexed about a story, to tell a changed story from an unchanged one."""
    return record_digest(story_record(story))


def story_to_document(story: Story, *, digest: str, stamp: str | None, record: bytes | None = None) -> dict[str, Any]:
    """The Whoosh document for a story: searchable fields plus the story itself (`record`, when made already)."""
    document: dict[str, Any] = {
        "id": story.id,
        "body": story.body,
        "digest": digest,
        # Plain JSON: the codec compresses stories sixteen at a time (`newsindex.store.codec.StoryBlocksColumn`)
        "story": story_record(story) if record is None else record,
    }
    if story.headline:
        document["headline"] = story.headline
    if story.published is not None:
        document["published"] = to_seconds(story.published)
    for field, values in (
        ("byline", story.bylines),
        ("location", (story.location,) if story.location else ()),
        ("source", (story.source,) if story.source else ()),
        ("region", (story.region,) if story.region else ()),
        ("topic", story.topics),
        ("place", story.places),
        ("org", story.orgs),
        ("person", story.people),
    ):
        if values:
            document[field] = "\n".join(values)
            document[NAME_FIELDS[field]] = "\t".join(values)
    if stamp:
        document["stamp"] = stamp
    if story.path:
        document["path"] = story.path
    return document


def story_from_stored(stored: dict[str, Any]) -> Story:
    """Rebuild a Story from the stored fields of its Whoosh document."""
    blob = stored["story"]
    # Indexes built before the packed codec hold each story zlib-compressed (it starts with 0x78, JSON with "{")
    data = json.loads(zlib.decompress(blob) if blob[:1] == b"x" else blob)
    published = data.get("published")
    return Story(
        id=stored["id"],
        body=data["body"],
        headline=data.get("headline"),
        published=parse_published(published) if published else None,
        bylines=tuple(data.get("bylines", ())),
        location=data.get("location"),
        region=data.get("region"),
        source=data.get("source"),
        credits=tuple(Credit(role, tuple(names)) for role, names in data.get("credits", ())),
        path=data.get("path"),
        topics=tuple(data.get("topics", ())),
        places=tuple(data.get("places", data.get("countries", ()))),  # "countries" in indexes built before
        orgs=tuple(data.get("orgs", ())),
        people=tuple(data.get("people", ())),
    )


def _story_data(story: Story) -> dict[str, Any]:
    published: date | datetime | None = story.published
    data: dict[str, Any] = {
        "body": story.body,
        "headline": story.headline,
        "published": published.isoformat() if published else None,
        "bylines": list(story.bylines),
        "location": story.location,
        "source": story.source,
        "credits": [[credit.role, list(credit.names)] for credit in story.credits],
        "path": story.path,
    }
    # Only when present, so that the stories of formats without them keep their digests.
    if story.region:
        data["region"] = story.region
    for name in TAG_FIELDS.values():
        values = getattr(story, name)
        if values and name != "region":
            data[name] = list(values)
    return data


# The module name every index pickles these classes under, since before this module moved to the store:
# pickle records `__module__`, and `newsindex/schema.py` re-exports them under that name.
PICKLED_AS = "newsindex.schema"
for _pickled in (NewsAnalyzer, PublishedField, ColumnField, BytesColumnField, TabSplitAnalyzer):
    _pickled.__module__ = PICKLED_AS
