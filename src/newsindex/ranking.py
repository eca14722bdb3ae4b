"""Relevance at search time: BM25F's parameters and the recency decay.

Everything here applies when a search runs, not when stories are indexed, so an index built by an
older version ranks the same way as a fresh one. (The field weights are query boosts, in
`schema.TEXT_FIELDS`; only the lead boost is written into the index, by the analyzer.)
"""

from __future__ import annotations

import math
from typing import Any

from whoosh.collectors import TopCollector
from whoosh.matching.combo import ArrayUnionMatcher
from whoosh.query.wrappers import WrappingQuery
from whoosh.scoring import BM25F, BM25FScorer

from newsindex.dateindex import date_span
from newsindex.errors import UsageError
from newsindex.schema import PublishedField

# BM25's term-frequency saturation and length normalisation, tuned on Cranfield, CISI and Medline and
# tried again with BM25's idf on those and two Reuters collections (benchmarks/EVAL.md: no pair was better
# on all five); Whoosh's defaults are 1.2 and 0.75.
BM25_K1 = 1.6
BM25_B = 0.75
# The inverse document frequency of a word found in n of N stories (see `idf`): "lucene", "robertson" or
# "whoosh" (Whoosh's own, kept for measuring against).
IDF = "lucene"
ROBERTSON_FLOOR = 0.01
# BM25+ (Lv and Zhai, 2011): each matched word adds DELTA × its idf whatever the story's length, so a long
# story is not scored below one that lacks the word. 0: plain BM25.
BM25_DELTA = 0.0  # Robertson's idf is negative for words in over half the stories: floored here
# Plain words (`plain=True`, `newsindex batch`): how a word repeated in the query counts ("none": once;
# "linear": as often as it is repeated, as BM25's query-term frequency, FTS5 and Tantivy do; "log":
# 1 + ln(repeats)). "linear": CISI +0.041 MAP, Cranfield -0.007, Medline -0.009 (benchmarks/EVAL.md).
QUERY_TF = "linear"
# Words left out of plain-words queries (as the index stems them), besides the stop words. Empty: the
# Snowball English stop list measured no gain with BM25's idf and cost 0.006 on Reuters known-item
# (benchmarks/EVAL.md, "Ablation").
FUNCTION_WORDS: frozenset[str] = frozenset()
DEFAULT_HALF_LIFE = 30.0  # days: `--recent` without a half-life of its own
_DAY = 86_400


def weighting() -> Any:
    """The scoring model of every newsindex searcher."""
    return NewsBM25F(B=BM25_B, K1=BM25_K1, idf_formula=IDF, delta=BM25_DELTA)


def idf(stories: int, having: int, formula: str = "lucene") -> float:
    """How much a word found in `having` of `stories` stories weighs in BM25.

    - "lucene": ln(1 + (N - n + 0.5) / (n + 0.5)), Lucene's and Tantivy's: always above 0, near 0 for
      a word in nearly every story;
    - "robertson": ln((N - n + 0.5) / (n + 0.5)), the Robertson-Sparck Jones weight, floored at
      ROBERTSON_FLOOR (it falls below 0 for words in over half the stories);
    - "whoosh": ln(N / (n + 1)) + 1, Whoosh's default, which still gives a word in every story 1.
    """
    if formula == "lucene":
        return math.log(1 + (stories - having + 0.5) / (having + 0.5))
    if formula == "robertson":
        return max(ROBERTSON_FLOOR, math.log((stories - having + 0.5) / (having + 0.5)))
    if formula == "whoosh":
        return math.log(stories / (having + 1)) + 1
    raise ValueError(f"unknown idf formula {formula!r}")


class NewsBM25F(BM25F):  # type: ignore[misc]
    """Whoosh's BM25F with a proper idf (see `idf`) in place of Whoosh's ln(N/(n+1)) + 1.

    Whoosh's floor of 1 lets a word found in most stories ("which", "their", "country") weigh a
    third of a rare one: long stories matching several such words of a verbose query outrank the
    short story with its one rare key word. BM25's idf gives such words next to nothing.
    """

    def __init__(self, B: float = 0.75, K1: float = 1.2, idf_formula: str = "lucene", delta: float = 0.0) -> None:
        super().__init__(B=B, K1=K1)
        self.idf_formula = idf_formula
        self.delta = delta

    def idf(self, searcher: Any, fieldname: str, text: Any) -> float:
        parent = searcher.get_parent()
        return idf(parent.doc_count_all(), parent.doc_frequency(fieldname, text), self.idf_formula)

    def scorer(self, searcher: Any, fieldname: str, text: Any, qf: int = 1) -> Any:
        scorer = super().scorer(searcher, fieldname, text, qf=qf)
        if self.delta and isinstance(scorer, BM25FScorer):
            scorer.__class__ = _BM25PlusScorer
            scorer.delta = self.delta
        return scorer


class _BM25PlusScorer(BM25FScorer):  # type: ignore[misc]
    """BM25F's scorer with BM25+'s lower bound: DELTA × idf added to each matched word's score."""

    delta = 0.0

    def _score(self, weight: float, length: float) -> float:
        return float(super()._score(weight, length) + self.delta * self.idf)


def query_term_weight(repeats: int) -> float:
    """The weight of a plain-words query word written `repeats` times (see QUERY_TF)."""
    if QUERY_TF == "linear":
        return float(repeats)
    if QUERY_TF == "log":
        return 1.0 + math.log(repeats)
    return 1.0


def check_half_life(days: float | None) -> None:
    """UsageError unless `days` is None or a finite number of days above zero."""
    if days is not None and not (isinstance(days, (int, float)) and math.isfinite(days) and days > 0):
        raise UsageError(f"the recency half-life must be a number of days above 0, not {days!r}")


def half_life_for(recent: bool, half_life: float | None) -> float | None:
    """The half-life `--recent` / `--half-life DAYS` ask for: None for neither, DEFAULT_HALF_LIFE for
    `recent` alone; UsageError for a half-life that is not a number of days above zero."""
    check_half_life(half_life)
    if half_life is not None:
        return half_life
    return DEFAULT_HALF_LIFE if recent else None


class _SummedUnionMatcher(ArrayUnionMatcher):  # type: ignore[misc]
    """Whoosh's ArrayUnionMatcher with a true bound of the scores still ahead: those of the buffered
    part, and the sum (not, as Whoosh has it, the max) of what the words still to be read can add."""

    def max_quality(self) -> float:
        ahead = sum(sub.max_quality() for sub in self._submatchers if sub.is_active()) * self._boost
        return float(max(max(self._a, default=0.0), ahead))


class SummedUnions(WrappingQuery):  # type: ignore[misc]
    """`child`, searched with true score bounds for its ORs: what every ranked search runs (index.py).

    Whoosh ORs three or more clauses with an ArrayUnionMatcher in segments of at most 5,000 stories, and
    gives it the best of its clauses as its best possible score. A top-N search then drops, in later
    segments, stories whose clauses add up to more than the N-th score found so far (`(police OR attack
    OR ministry) iran`, fuzzy words, patterns, --expand): the best story could be missing from page 1.
    The ArrayUnionMatchers of this query's matchers become _SummedUnionMatchers; Whoosh's class, and
    every search but ours, are left as they are.
    """

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        top = self.child.matcher(searcher, context)
        below = [top]
        while below:
            matcher = below.pop()
            if type(matcher) is ArrayUnionMatcher:
                matcher.__class__ = _SummedUnionMatcher  # the same object, one method more exact
            below.extend(matcher.children())
        return top


class Recency:
    """Multiplies a story's relevance by 0.5 ** (age / half-life).

    Age is counted from the newest story in the index, not from the clock: the order is the same
    either way (the decay is exponential, so only the gap between two stories matters), but scores
    of an archive stay readable and a search does not change overnight. Stories without a date count
    as old as the oldest dated one. Every factor is at most 1, so Whoosh's block-skipping shortcuts,
    which rely on score upper bounds, stay valid.
    """

    def __init__(self, searcher: Any, fieldname: str, half_life_days: float) -> None:
        span = date_span(searcher, fieldname)
        self._newest, self._oldest = (span[1], span[0]) if span else (0, 0)
        self._rate = math.log(2) / (half_life_days * _DAY)
        self._fieldname = fieldname

    def factor(self, published: int) -> float:
        """The decay of a story published at `published` (seconds since 1970, or PublishedField.MISSING)."""
        if published == PublishedField.MISSING:
            published = self._oldest
        return math.exp(-self._rate * max(0, self._newest - published))

    def collector(self, limit: int) -> Any:
        """A Whoosh top-`limit` collector that ranks by decayed relevance."""
        return _DecayingCollector(self, limit=limit)


class _DecayingCollector(TopCollector):  # type: ignore[misc]
    """Whoosh's top-N collector with each score multiplied by the story's recency factor."""

    def __init__(self, recency: Recency, limit: int) -> None:
        super().__init__(limit=limit)
        self._recency = recency
        self._dates: Any = None

    def set_subsearcher(self, subsearcher: Any, offset: int) -> None:
        super().set_subsearcher(subsearcher, offset)
        reader = subsearcher.reader()
        fieldname = self._recency._fieldname
        self._dates = reader.column_reader(fieldname, translate=False) if reader.has_column(fieldname) else None

    def collect(self, sub_docnum: int) -> Any:
        published = self._dates[sub_docnum] if self._dates is not None else PublishedField.MISSING
        score = self.matcher.score() * self._recency.factor(published)
        return self._collect(self.offset + sub_docnum, score)
