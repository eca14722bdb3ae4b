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
from whoosh.scoring import BM25F

from newsindex.dateindex import date_span
from newsindex.errors import UsageError
from newsindex.schema import PublishedField

# BM25's term-frequency saturation and length normalisation, tuned on Cranfield, CISI and Medline
# (benchmarks/EVAL.md); Whoosh's defaults are 1.2 and 0.75.
BM25_K1 = 1.6
BM25_B = 0.75
DEFAULT_HALF_LIFE = 30.0  # days: `--recent` without a half-life of its own
_DAY = 86_400


def weighting() -> Any:
    """The scoring model of every newsindex searcher."""
    return BM25F(B=BM25_B, K1=BM25_K1)


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


def _union_max_quality(matcher: Any) -> float:
    """An upper bound of the scores still ahead of an ArrayUnionMatcher: those of the buffered part,
    and the sum (not, as Whoosh has it, the max) of what the words still to be read can add."""
    ahead = sum(sub.max_quality() for sub in matcher._submatchers if sub.is_active()) * matcher._boost
    return float(max(max(matcher._a, default=0.0), ahead))


# Whoosh ORs three or more clauses with an ArrayUnionMatcher in segments of at most 5,000 stories, and
# gives it the best of its clauses as its best possible score. A top-N search then drops, in later
# segments, stories whose clauses add up to more than the N-th score found so far (`(police OR attack
# OR ministry) iran`, fuzzy words, patterns, --expand): the best story could be missing from page 1.
ArrayUnionMatcher.max_quality = _union_max_quality


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
