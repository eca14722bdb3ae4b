"""Relevance at search time: BM25F's parameters and the recency decay.

Everything here applies when a search runs, not when stories are indexed, so an index built by an
older version ranks the same way as a fresh one. (The field weights are query boosts, in
`schema.TEXT_FIELDS`; only the lead boost is written into the index, by the analyzer.)
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise
from typing import Any

from whoosh.collectors import TopCollector
from whoosh.matching.combo import ArrayUnionMatcher
from whoosh.query.wrappers import WrappingQuery
from whoosh.scoring import BM25F, BM25FScorer

from newsindex.errors import UsageError
from newsindex.store.dateindex import date_span
from newsindex.store.schema import TEXT_FIELDS, PublishedField

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
# A short query is a person's search or a headline: each of its words was chosen, so a story matching one
# more of them ranks higher even when that word is common. BM25's idf gives a word in most stories next to
# nothing, so in a query of 2 to SHORT_QUERY_WORDS distinct words (as analysed: stop words out) each matched
# word weighs COORDINATION more than its idf (`coordinated`), as Whoosh's idf of ln(N/(n+1)) + 1 and
# Lucene's former coord factor gave every query; a verbose topic keeps BM25's idf, its common words being
# noise. The lead bonus keeps the plain idf. Measured (benchmarks/EVAL.md): Reuters known-item (headlines,
# 3-8 such words) +0.007 MAP; the SMART collections' topics of 9 words or more lost with it.
SHORT_QUERY_WORDS = 8
COORDINATION = 0.5
# Plain words (`plain=True`, `newsindex batch`): how a word repeated in the query counts ("none": once;
# "linear": as often as it is repeated, as BM25's query-term frequency, FTS5 and Tantivy do; "log":
# 1 + ln(repeats)). "linear": CISI +0.041 MAP, Cranfield -0.007, Medline -0.009 (benchmarks/EVAL.md).
QUERY_TF = "linear"
# Words left out of plain-words queries (as the index stems them), besides the stop words. Empty: the
# Snowball English stop list measured no gain with BM25's idf and cost 0.006 on Reuters known-item
# (benchmarks/EVAL.md, "Ablation").
FUNCTION_WORDS: frozenset[str] = frozenset()
# Proximity (a second step, after BM25F): the best PROXIMITY_DEPTH stories of a relevance ranking get a
# bonus for each pair of the query's neighbouring words (in the order written) found near each other in a
# text field, the pair scored as one more BM25 term (see `proximity_bonus`): a headline's words stand
# together in the story's lead, a topic's words in the stories about it. PROXIMITY_WEIGHT 0: no bonus.
PROXIMITY_WEIGHT = 0.0  # measured: no gain on Reuters known-item (benchmarks/TUNING.md); off
PROXIMITY_WINDOW = 3  # the two words at most this many positions apart, in either order
PROXIMITY_DEPTH = 100  # stories ranked by BM25F and rescored, at least (Elasticsearch's rescore window_size)
# The lead as a field of its own, in the same step: a query word among the first LEAD_WORDS words of the
# body adds its BM25 score without length normalisation, × LEAD_WEIGHT (see `lead_bonus`). Wire copy
# puts the story in its first sentence (the inverted pyramid), whatever the length of what follows.
LEAD_WEIGHT = 0.5
LEAD_WORDS = 40
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


def first_stage_depth(wanted: int) -> int:
    """How many stories BM25F ranks for the best `wanted`: at least the proximity's window (the same
    window whatever `wanted`, so that a page's ranking is the start of the next page's)."""
    return max(wanted, PROXIMITY_DEPTH) if PROXIMITY_WEIGHT > 0 or LEAD_WEIGHT > 0 else wanted


def pair_frequency(first: Sequence[int], second: Sequence[int], window: int | None = None) -> int:
    """How many positions of `first` (sorted) have a position of `second` (sorted) at most `window`
    (PROXIMITY_WINDOW) positions away, on either side: a pair's frequency in one field of one story."""
    window = PROXIMITY_WINDOW if window is None else window
    count = 0
    for position in first:
        index = bisect_left(second, position - window)
        while index < len(second) and second[index] <= position + window:
            if second[index] != position:
                count += 1
                break
            index += 1
    return count


def proximity_bonus(frequency: float, pair_idf: float, length: float, average_length: float) -> float:
    """What a pair of neighbouring query words found `frequency` times near each other in a field of
    `length` words (the field averaging `average_length`) adds to a story's score, before the field's
    weight: PROXIMITY_WEIGHT × BM25's term score of the pair, its idf the smaller of its two words' idfs.

        bonus = PROXIMITY_WEIGHT × idf × f × (k1 + 1) / (f + k1 × (1 − b + b × length / average_length))
    """
    if frequency <= 0 or PROXIMITY_WEIGHT <= 0:
        return 0.0
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average_length) if average_length > 0 else BM25_K1
    return PROXIMITY_WEIGHT * pair_idf * frequency * (BM25_K1 + 1) / (frequency + norm)


def query_pairs(words: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs of neighbouring words of a query (index terms, in the order written), each once; a
    word next to itself is no pair."""
    pairs: list[tuple[str, str]] = []
    for first, second in pairwise(words):
        if first != second and (first, second) not in pairs:
            pairs.append((first, second))
    return pairs


def query_words(node: Any, fieldname: str = "body") -> list[str]:
    """The words of a Whoosh query in `fieldname`, in the order written (those under NOT left out)."""
    from whoosh import query

    if isinstance(node, query.Not):
        return []
    if type(node) is query.Term:
        if node.fieldname != fieldname:
            return []
        return [node.text.decode("utf-8") if isinstance(node.text, bytes) else node.text]
    if node.is_leaf():
        return []
    return [word for child in node.children() for word in query_words(child, fieldname)]


def coordination(words: Sequence[str]) -> float:
    """What each matched word weighs beyond its idf in a query of these words (see SHORT_QUERY_WORDS)."""
    return COORDINATION if 1 < len(set(words)) <= SHORT_QUERY_WORDS else 0.0  # one word: nothing to count


def coordinated(node: Any, searcher: Any) -> Any:
    """`node` with each word's weight raised from idf to idf + COORDINATION (a boost of (idf + c) / idf,
    from the searcher's counts) when it is a short query (see SHORT_QUERY_WORDS); words under NOT, and
    patterns and phrases, keep theirs."""
    extra = coordination(query_words(node))
    if not extra:
        return node
    from whoosh import query

    parent = searcher.get_parent() if hasattr(searcher, "get_parent") else searcher
    stories = parent.doc_count_all()

    def raised(part: Any) -> Any:
        if isinstance(part, query.Not):
            return part
        if type(part) is query.Term and part.fieldname in TEXT_FIELDS:
            weight = idf(stories, doc_frequency(parent, part.fieldname, part.text), IDF)
            if weight <= 0:
                return part
            return query.Term(part.fieldname, part.text, boost=part.boost * (weight + extra) / weight)
        return part if part.is_leaf() else part.apply(raised)

    return raised(node)


def doc_frequency(searcher: Any, fieldname: str, term: str) -> int:
    """The stories of a (top-level) searcher having `term`, kept with the searcher: a searcher's segments
    never change, and looking a term up in each segment costs more than the rest of a short query's rewrite."""
    try:
        counts: dict[tuple[str, str], int] = searcher._newsindex_frequencies
    except AttributeError:
        counts = searcher._newsindex_frequencies = {}
    key = (fieldname, term)
    found = counts.get(key)
    if found is None:
        if len(counts) > 100_000:  # a long-lived searcher: no unbounded growth
            counts.clear()
        found = counts[key] = int(searcher.doc_frequency(fieldname, term))
    return found


def lead_bonus(frequency: float, word_idf: float) -> float:
    """What a query word found `frequency` times among the first LEAD_WORDS words of a story's body adds
    to its score: LEAD_WEIGHT × BM25's term score with no length normalisation (b = 0: the lead is one
    sentence whatever the story's length), the lead scored as a field of its own, as BM25F would.

        bonus = LEAD_WEIGHT × idf × f × (k1 + 1) / (f + k1)
    """
    if frequency <= 0 or LEAD_WEIGHT <= 0:
        return 0.0
    return LEAD_WEIGHT * word_idf * frequency * (BM25_K1 + 1) / (frequency + BM25_K1)


# (segment reader, field, term, its sorted local document numbers, limit) → how many of the term's positions
# in each are below the limit; None when it cannot tell (`vector.Evaluation.early_counts`).
EarlyCounts = Callable[[Any, str, str, list[int], int], "list[int] | None"]


def with_proximity(
    searcher: Any,
    ranked: list[tuple[int, float]],
    words: Sequence[str],
    recency: Recency | None = None,
    early: EarlyCounts | None = None,
) -> list[tuple[int, float]]:
    """`ranked` (docnum, score; best first: at least the first PROXIMITY_DEPTH) with each story's score raised
    by its proximity bonus (`proximity_bonus`, summed over the query's pairs and the text fields, each
    field's bonus × its weight in `schema.TEXT_FIELDS`) and its lead bonus (`lead_bonus`, summed over
    the query's distinct words, in the body), both × the recency factor when there is one; those
    stories ranked again by the new score (ties: the earlier first). `early` gives the lead's counts
    without reading positions story by story (used when there is no proximity to score)."""
    pairs = query_pairs(words) if PROXIMITY_WEIGHT > 0 else []
    lead_terms = sorted(set(words)) if LEAD_WEIGHT > 0 else []
    if not (pairs or lead_terms) or not ranked:
        return ranked
    head = ranked  # every story ranked: its score then does not depend on its place (filters)
    bonus = dict.fromkeys((docnum for docnum, _ in head), 0.0)
    parent = searcher.get_parent() if hasattr(searcher, "get_parent") else searcher
    stories = parent.doc_count_all()
    for fieldname, field_weight in TEXT_FIELDS.items():
        if field_weight <= 0 or fieldname not in parent.schema:
            continue
        in_lead = lead_terms if fieldname == "body" else []
        terms = sorted({word for pair in pairs for word in pair} | set(in_lead))
        average = parent.avg_field_length(fieldname)
        idfs = {term: idf(stories, doc_frequency(parent, fieldname, term), IDF) for term in terms}
        for reader, offset, docnums in _by_segment(parent, sorted(bonus)):
            locals_ = [docnum - offset for docnum in docnums]
            counts = _early_counts(early, reader, fieldname, in_lead, locals_) if not pairs else None
            positions = _positions(reader, fieldname, terms, locals_) if counts is None else {}
            for number, docnum in enumerate(docnums):
                local = locals_[number]
                length = reader.doc_field_length(local, fieldname, 0) if pairs else 0  # proximity's alone
                for first, second in pairs:
                    found = positions.get((first, local)), positions.get((second, local))
                    if found[0] and found[1]:
                        frequency = pair_frequency(found[0], found[1])
                        pair_idf = min(idfs[first], idfs[second])
                        bonus[docnum] += field_weight * proximity_bonus(frequency, pair_idf, length, average)
                for term in in_lead:
                    if counts is not None:
                        in_first = counts[term][number]
                    else:
                        in_first = bisect_left(positions.get((term, local), ()), LEAD_WORDS)
                    bonus[docnum] += field_weight * lead_bonus(in_first, idfs[term])
    if recency is not None:
        dates = _dates(parent, recency._fieldname)
        for docnum in bonus:
            bonus[docnum] *= recency.factor(dates(docnum))
    order = {docnum: number for number, (docnum, _) in enumerate(head)}
    rescored = sorted(
        ((docnum, score + bonus[docnum]) for docnum, score in head), key=lambda hit: (-hit[1], order[hit[0]])
    )
    return rescored


def _early_counts(
    early: EarlyCounts | None, reader: Any, fieldname: str, terms: Sequence[str], docnums: list[int]
) -> dict[str, list[int]] | None:
    """Each term's count of positions below LEAD_WORDS in each of `docnums`, from `early`; None if it cannot tell."""
    if early is None:
        return None
    counts = {}
    for term in terms:
        found = early(reader, fieldname, term, docnums, LEAD_WORDS)
        if found is None:
            return None
        counts[term] = found
    return counts


def _by_segment(searcher: Any, docnums: list[int]) -> Iterator[tuple[Any, int, list[int]]]:
    """(segment reader, its first document number, the sorted `docnums` in it) for each segment holding some."""
    leaves = searcher.leaf_searchers()
    bounds = [offset for _, offset in leaves]
    grouped: dict[int, list[int]] = {}
    for docnum in docnums:
        grouped.setdefault(bisect_right(bounds, docnum) - 1, []).append(docnum)
    for number, found in grouped.items():
        leaf, offset = leaves[number]
        yield leaf.reader(), offset, found


def _positions(
    reader: Any, fieldname: str, terms: Sequence[str], docnums: list[int]
) -> dict[tuple[str, int], list[int]]:
    """(term, docnum) → the term's positions in that story's field, for the sorted segment `docnums`."""
    found: dict[tuple[str, int], list[int]] = {}
    for term in terms:
        if (fieldname, term) not in reader:
            continue
        matcher = reader.postings(fieldname, term)
        for docnum in docnums:
            if not matcher.is_active():
                break
            if matcher.id() < docnum:
                matcher.skip_to(docnum)
                if not matcher.is_active():
                    break
            if matcher.id() == docnum:
                found[(term, docnum)] = sorted(matcher.value_as("positions"))
    return found


def _dates(searcher: Any, fieldname: str) -> Callable[[int], int]:
    """The published time of a top-level document number (PublishedField.MISSING without one)."""
    columns = [
        (
            offset,
            leaf.reader().column_reader(fieldname, translate=False) if leaf.reader().has_column(fieldname) else None,
        )
        for leaf, offset in searcher.leaf_searchers()
    ]
    bounds = [offset for offset, _ in columns]

    def published(docnum: int) -> int:
        offset, column = columns[bisect_right(bounds, docnum) - 1]
        return int(column[docnum - offset]) if column is not None else PublishedField.MISSING

    return published


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
