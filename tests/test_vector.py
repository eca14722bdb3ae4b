"""The vectorised evaluator (newsindex.search.vector) against Whoosh's matchers: same stories, same order, same scores.

The index is built in a few commits (several segments), with stories replaced (deleted documents in older
segments), duplicate bodies (exact ties) and dated, tagged stories. Each query is ranked twice: through the
arrays, and with `vector.ENABLED = False` through Whoosh's matchers and collectors. Whoosh is asked for
every match (a deep limit) and cut to the same length: its top-N pruning drops stories of boosted
clauses (`oil^2 gas`: `WrappingMatcher.replace` passes the minimum score on without dividing it by the
boost), which the arrays do not.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsindex import Filters, NewsIndex
from newsindex.errors import IndexDamagedError, QueryError
from newsindex.models import Story
from newsindex.search import vector

_VOCABULARY = "iran oil gas price market bank rate trade talks minister government police attack ministry wheat grain"
WORDS = (*_VOCABULARY.split(), "export", "shipping", "tanker", "crude", "albania", "kosovo", "election", "vote")
TOPICS = ("grain", "crude", "trade")
DEEP = 1000  # every match, for Whoosh: its pruned top-N is not the reference (see the module docstring)


def _stories(seed: int, count: int, start: int = 0) -> list[Story]:
    rng = random.Random(seed)
    stories: list[Story] = []
    for number in range(start, start + count):
        if number % 17 == 5 and stories:  # a copy of an earlier body: the same score, ties by document number
            body = stories[-1].body
        else:
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 70))) + "."
        stories.append(
            Story(
                id=f"s{number}",
                body=body,
                headline=" ".join(rng.sample(WORDS, rng.randint(2, 5))) if number % 4 else None,
                published=date(2019, 1 + number % 12, 1 + number % 28) if number % 9 else None,
                topics=(TOPICS[number % 3],) if number % 2 else (),
                bylines=("Jane Doe",) if number % 5 == 0 else (),
            )
        )
    return stories


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsIndex]:
    index = NewsIndex.create(tmp_path_factory.mktemp("vector") / "index", fsync=False)
    index.add(_stories(1, 120))
    index.add(_stories(2, 90, start=120))
    index.add(_stories(3, 30, start=40))  # replaces s40-s69: deleted documents in the first segment
    index.add(_stories(4, 60, start=210))
    yield index
    index.close()


_FILTER_KEYS = frozenset(field.name for field in dataclasses.fields(Filters))


def _call(news: NewsIndex, method: str, text: str, **options: Any) -> Any:
    """`news.rank` or `news.search` with the filter options (`match`, `start` …) as one `Filters`."""
    filters = {key: options.pop(key) for key in list(options) if key in _FILTER_KEYS}
    return getattr(news, method)(text, filters=Filters(**filters), **options)


def _both(news: NewsIndex, monkeypatch: pytest.MonkeyPatch, method: str, text: str, **options: Any) -> tuple[Any, Any]:
    calls: list[bool] = []
    evaluate = vector.ranking

    def spied(*args: Any, **kwargs: Any) -> Any:
        found = evaluate(*args, **kwargs)
        calls.append(found is not None)
        return found

    with monkeypatch.context() as patched:
        patched.setattr(vector, "ranking", spied)
        arrays = _call(news, method, text, **options)
        assert calls and all(calls), f"{text!r} {options} did not go through the arrays"
        patched.setattr(vector, "ENABLED", False)
        if method == "rank":
            options = {**options, "limit": DEEP}
        whoosh = _call(news, method, text, **options)
    return arrays, whoosh


def _same_ranking(arrays: list[tuple[str, float]], whoosh: list[tuple[str, float]]) -> None:
    whoosh = whoosh[: len(arrays)]
    assert [story for story, _ in arrays] == [story for story, _ in whoosh]
    for (_, mine), (_, theirs) in zip(arrays, whoosh, strict=True):
        assert mine == pytest.approx(theirs, rel=1e-6, abs=1e-6)


QUERIES = [
    "iran",
    "iran oil",
    "oil gas price",
    "iran OR oil",
    "iran AND (oil OR gas)",
    "iran -oil",
    "iran NOT oil",
    "(oil NOT gas) iran",
    "headline:iran oil",
    "body:tanker crude",
    "headline:(iran OR kosovo) vote",
    "oil^2 gas",
    "(iran oil)^3 albania",
    "iran OR date:2019-03",
    "oil date:2019-06",
    "oil date:[2019-02 TO 2019-05]",
    "oil OR gas date:2019-04-04",  # a filter passing few stories: Whoosh scores only those (AllowedOnly)
    "iran topic:grain date:2019-07",
    "topic:grain oil",
    "wheat topic:(grain OR crude)",
    "byline:doe election",
    "market -topic:trade",
    'gas -"oil price"',
    'byline:"jane doe" oil OR gas',
    "unknownword",
    "unknownword oil",  # no story has every word: the fallback to some
    "iran oil gas price market bank rate trade",
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"match": "any"},
    {"require_all": True},
    {"recency_half_life": 30.0},
    {"match": "any", "recency_half_life": 7.0},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda options: ",".join(options) or "default")
def test_rank_is_whooshs_ranking(news: NewsIndex, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]) -> None:
    for text in QUERIES if options in ({}, {"match": "any"}) else QUERIES[::3]:
        arrays, whoosh = _both(news, monkeypatch, "rank", text, limit=40, **options)
        _same_ranking(arrays, whoosh)
        with monkeypatch.context() as patched:  # a short list is the head of the long one, ties cut as Whoosh cuts them
            patched.setattr(vector, "ENABLED", True)
            for limit in (1, 3):
                _same_ranking(_call(news, "rank", text, limit=limit, **options), whoosh)


def test_rank_takes_a_date_range_as_search_does(news: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    ranked = _call(news, "rank", "oil gas", limit=15, match="any", start="2019-03", end="2019-05")
    found = _call(news, "search", "oil gas", limit=15, match="any", start="2019-03", end="2019-05", all_versions=True)
    assert ranked and [story for story, _ in ranked] == [hit.story.id for hit in found.hits]
    assert all(hit.story.published and 3 <= hit.story.published.month <= 5 for hit in found.hits)
    arrays, whoosh = _both(news, monkeypatch, "rank", "oil gas", limit=15, match="any", start="2019-03", end="2019-05")
    _same_ranking(arrays, whoosh)


def test_plain_words_rank_as_through_whoosh(news: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    for text in ("iran oil", "oil oil gas", "The minister said oil prices rose", "iran iran iran kosovo vote"):
        for options in ({"match": "any"}, {}):
            arrays, whoosh = _both(news, monkeypatch, "rank", text, limit=25, plain=True, **options)
            _same_ranking(arrays, whoosh)


def test_search_pages_totals_and_facets_are_whooshs(news: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    for text in ("iran oil", "oil -gas", "unknownword oil", "grain wheat"):
        for options in (
            {},
            {"match": "any", "page": 2, "limit": 5},
            {"start": "2019-03", "end": "2019-08", "facets": ("topic", "month")},
            {"topics": ("grain",), "bylines": ("Jane Doe",)},
            {"all_versions": True, "recency_half_life": 10.0},
        ):
            arrays, whoosh = _both(news, monkeypatch, "search", text, **options)
            assert arrays.total == whoosh.total
            assert (arrays.matched, arrays.message) == (whoosh.matched, whoosh.message)
            assert [hit.story.id for hit in arrays.hits] == [hit.story.id for hit in whoosh.hits]
            assert [hit.duplicates for hit in arrays.hits] == [hit.duplicates for hit in whoosh.hits]
            for mine, theirs in zip(arrays.hits, whoosh.hits, strict=True):
                assert mine.score == pytest.approx(theirs.score, rel=1e-6, abs=1e-6)
            assert arrays.facets == whoosh.facets


_word = st.sampled_from([*WORDS, "unknownword"])
_clause = st.one_of(
    _word,
    st.builds(lambda field, word: f"{field}:{word}", st.sampled_from(["headline", "body"]), _word),
    st.builds(lambda word: f"-{word}", _word),
    st.builds(lambda word, boost: f"{word}^{boost}", _word, st.sampled_from([2, 0.5, 3])),
    st.builds(lambda a, b: f"({a} OR {b})", _word, _word),
    st.builds(lambda a, b: f"({a} AND {b})", _word, _word),
    st.builds(lambda topic: f"topic:{topic}", st.sampled_from(TOPICS)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    clauses=st.lists(_clause, min_size=1, max_size=4),
    joiner=st.sampled_from([" ", " OR ", " AND "]),
    options=st.sampled_from(OPTIONS),
    limit=st.sampled_from([1, 5, 30]),
    month=st.sampled_from([None, "2019-02", "2019-07"]),
)
def test_generated_queries_rank_as_through_whoosh(
    news: NewsIndex,
    monkeypatch: pytest.MonkeyPatch,
    clauses: list[str],
    joiner: str,
    options: dict[str, Any],
    limit: int,
    month: str | None,
) -> None:
    text = joiner.join(clauses)
    if all(clause.startswith(("-", "topic:")) for clause in clauses):
        text += " oil"  # words to rank by: filters alone are listed newest first, not ranked
    if month:  # a date clause beside the others (inside an OR see test_a_date_inside_or_ranks_every_match)
        text += f" date:{month}"
    try:
        arrays, whoosh = _both(news, monkeypatch, "rank", text, limit=limit, **options)
    except QueryError as error:  # two months side by side: no story is in both, said as Whoosh's path says it
        with monkeypatch.context() as patched, pytest.raises(QueryError) as through_whoosh:
            patched.setattr(vector, "ENABLED", False)
            _call(news, "rank", text, limit=limit, **options)
        assert str(through_whoosh.value) == str(error)
        return
    _same_ranking(arrays, whoosh)


def test_a_date_inside_or_ranks_every_match(news: NewsIndex) -> None:
    # Through Whoosh's matchers (vector.ENABLED = False) these ranked 0 of 2 and 192 of 193 of the stories
    # their own count found: a PublishedRange under an OR loses matches in Whoosh's top-N collection.
    for text in ("oil OR -iran OR date:2019-01 OR iran", "oil OR date:2019-01", "market OR date:2019-05 -gas"):
        found = _call(news, "search", text, all_versions=True)
        ranked = _call(news, "rank", text, limit=DEEP)
        assert found.total and len(ranked) == found.total, text
        assert [story for story, _ in ranked[: len(found.hits)]] == [hit.story.id for hit in found.hits]


def test_phrases_and_patterns_are_left_to_whoosh(news: NewsIndex) -> None:
    from newsindex.search.query import parse_query

    with news._searcher() as searcher:
        for text in ('"iran oil"', "tank*", "iran~", 'iran OR "oil price"'):
            assert vector.ranking(searcher, parse_query(text, searcher.schema), "relevance") is None, text
        for text in ('gas -"oil price"', "oil byline:(jane doe)"):  # a phrase only filtering: Whoosh lists its stories
            assert vector.ranking(searcher, parse_query(text, searcher.schema), "relevance") is not None, text
    assert [story for story, _ in _call(news, "rank", '"iran oil"', limit=3)]  # and Whoosh answers them


def test_a_damaged_posting_block_is_refused(news: NewsIndex) -> None:
    with news._searcher() as searcher:
        reader = next(leaf.reader() for leaf, _ in searcher.leaf_searchers())
        terminfo = reader.term_info("body", b"oil")
        offset, length = terminfo.extent()
        length = length[0] if isinstance(length, tuple) else length
        raw = bytearray(reader._terms._postfile.get(offset, length))
    docs, _ = vector._decode_packed(_Bytes(bytes(raw)), 0, len(raw), checked=True)
    assert len(docs) == terminfo.doc_frequency()
    raw[len(raw) // 2] ^= 0xFF
    with pytest.raises(IndexDamagedError, match="fails its checksum"):
        vector._decode_packed(_Bytes(bytes(raw)), 0, len(raw), checked=True)


def test_the_cache_lets_go_of_merged_segments(tmp_path: Path) -> None:
    with NewsIndex.create(tmp_path / "index", fsync=False) as index:
        index.add(_stories(5, 30))
        index.rank("iran oil", limit=3)
        with index._searcher() as searcher:
            first = {leaf.reader().segment().segment_id() for leaf, _ in searcher.leaf_searchers()}
        assert any(str(key[0]).split("@")[0] in first for key in vector.CACHE._items)
        index.add(_stories(6, 30))  # every story replaced, then small commits: Whoosh merges segments away
        for commit in range(5):
            index.add(_stories(7 + commit, 5, start=100 + 5 * commit))
        index.rank("iran oil", limit=3)
        with index._searcher() as searcher:
            now = {leaf.reader().segment().segment_id() for leaf, _ in searcher.leaf_searchers()}
        gone = first - now
        assert gone, "no segment was merged away: the test needs a merge"
        assert not any(str(key[0]).split("@")[0] in gone for key in vector.CACHE._items)


class _Bytes:
    """A postings file of bytes (Whoosh's StructFile.get)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def get(self, position: int, length: int) -> bytes:
        return self._data[position : position + length]


_docs = st.sets(st.integers(0, 499), max_size=80).map(lambda found: sorted(found))


@settings(max_examples=50, deadline=None)
@given(a=_docs, b=_docs)
def test_set_operations_agree_sparse_and_dense(a: list[int], b: list[int]) -> None:
    import numpy as np

    def scored(docs: list[int], base: float) -> tuple[Any, Any]:
        return np.asarray(docs, dtype=np.int32), np.asarray([base + docnum / 7 for docnum in docs], dtype=np.float64)

    left, right = scored(a, 0.5), scored(b, 1.25)
    expected = {docnum: 0.5 + docnum / 7 for docnum in a}
    for docnum in b:
        expected[docnum] = expected.get(docnum, 0.0) + (1.25 + docnum / 7)
    for size in (0, 500):  # 0: sorted arrays merged; 500: an array the segment's size
        docs, scores = vector._union(left, right, size)
        assert dict(zip(docs.tolist(), scores.tolist(), strict=True)) == expected
    docs, scores = vector._intersection(left, right)
    assert docs.tolist() == sorted(set(a) & set(b))
    assert scores.tolist() == [expected[docnum] for docnum in docs.tolist()]
    docs, _ = vector._without(left, right[0])
    assert docs.tolist() == sorted(set(a) - set(b))


def test_a_scorer_it_does_not_know_leaves_the_search_to_whoosh(
    news: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whoosh.scoring import BM25FScorer

    from newsindex.search.query import parse_query

    class Other(BM25FScorer):  # type: ignore[misc]
        def _score(self, weight: float, length: float) -> float:
            return float(weight)

    expected = _call(news, "rank", "iran oil", limit=5, match="any")
    with news._searcher() as searcher:
        weighting = searcher.weighting
        monkeypatch.setattr(
            weighting, "scorer", lambda leaf, field, text, qf=1: Other(leaf, field, text, weighting.B, weighting.K1)
        )
        assert vector.ranking(searcher, parse_query("iran oil", searcher.schema, match="any"), "relevance") is None
    ranked = _call(news, "rank", "iran oil", limit=5, match="any")  # through Whoosh's matchers, with the other scorer
    assert ranked and ranked != expected


@settings(max_examples=100, deadline=None)
@given(
    postings=st.lists(st.lists(st.integers(0, 300_000), max_size=12).map(lambda p: sorted(set(p))), max_size=8),
    limit=st.integers(0, 300),
)
def test_the_lead_counts_decoded_by_block_are_the_positions_below_the_limit(
    postings: list[list[int]], limit: int
) -> None:
    # The lead bonus's counts (vector.early_positions) from varint gaps end to end, one- to three-byte
    # varints and postings without positions among them, against codec.decode_gaps one posting at a time.
    import numpy as np

    from newsindex.store.codec import decode_gaps, encode_gaps

    values = [encode_gaps(positions) for positions in postings]
    found = vector.early_positions(
        np.frombuffer(b"".join(values), dtype=np.uint8), np.array([len(v) for v in values], dtype=np.int64), limit
    )
    assert found.tolist() == [sum(1 for p in decode_gaps(value) if p < limit) for value in values]


def test_the_lead_bonus_from_decoded_counts_ranks_as_from_positions(
    news: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsindex.search import ranking

    queries = ["iran oil", "wheat grain trade", "minister", "bank rate talks", "crude tanker shipping export"]
    fast = [news.rank(text, limit=50) for text in queries]
    monkeypatch.setattr(ranking, "_early_counts", lambda *args: None)  # positions read story by story
    assert [news.rank(text, limit=50) for text in queries] == fast
