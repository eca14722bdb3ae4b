"""The packed codec: what it writes reads back exactly, and searches answer as over Whoosh's own W3 codec."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.codec.whoosh3 import W3Codec, W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Positions
from whoosh.writing import SegmentWriter

from newsindex import Filters, NewsIndex, Story
from newsindex.store import indexer as indexer_module
from newsindex.store import writer as writer_module
from newsindex.store.codec import NewsCodec, PackedPositions, count_varints, decode_gaps, encode_gaps
from newsindex.store.schema import NewsAnalyzer, story_from_stored

ascending = st.lists(st.integers(0, 3_000_000), max_size=60).map(lambda xs: sorted(set(xs)))


@given(ascending)
def test_gaps_round_trip(numbers: list[int]) -> None:
    packed = encode_gaps(numbers)
    assert decode_gaps(packed) == numbers
    assert count_varints(packed) == len(numbers)


def test_a_posting_of_one_early_position_takes_one_byte() -> None:
    assert encode_gaps([5]) == b"\x05"
    assert len(encode_gaps([0, 200, 20_000])) == 1 + 2 + 3


WORDS = ["Albania", "Iran", "the", "a", "running", "Tiranë", "U.S.", "3.5", "x", "oil", "ÉCOLE", "of", "diplomats"]
NEWS_WORDS = ["US", "u.s", "<IBM>", "<C>", "AT&T", "C++", "10mln", "5%", "1,000", "http://www.ap.org/x", "its", "IT"]
# Runs of text between white space are analysed once each (`schema._ChunkTerms`): white space of every kind, and
# the punctuation that joins or parts news tokens, next to each other.
SPACES = [" ", "\t", "\u00a0", "\u2003", "\x1c", "\r\n"]
JOINERS = ["1,", "000", "5.", "&", "++", "#", "%", "<", ">", "(", ")", "www.", "http://", "-", "'s"]
texts = st.lists(
    st.sampled_from(
        [*WORDS, *NEWS_WORDS, *SPACES, *JOINERS, ". ", "\n", ", ", " (Reuters) - ", "TIRANA ", "U.S. TRADE GAP WIDENS "]
    ),
    max_size=80,
).map("".join)
ANALYZERS = [
    NewsAnalyzer(),
    NewsAnalyzer(lead_boost=2.0),
    NewsAnalyzer(stemming=False),
    NewsAnalyzer(lead_boost=2.0, analysis=2),  # news tokens, stop words taking no place
    NewsAnalyzer(analysis=1),
    NewsAnalyzer(lead_boost=2.0, analysis=1),
]


@pytest.mark.parametrize("analyzer", ANALYZERS)
@given(text=texts)
def test_index_postings_are_what_indexing_through_tokens_gives(analyzer: NewsAnalyzer, text: str) -> None:
    fast = {w: (freq, weight, v) for w, freq, weight, v in PackedPositions().word_values(text, analyzer, mode="index")}
    slow = {w: (freq, weight, v) for w, freq, weight, v in Positions().word_values(text, analyzer, mode="index")}
    assert {w: v[:2] for w, v in fast.items()} == {w: v[:2] for w, v in slow.items()}
    assert {w: decode_gaps(v[2]) for w, v in fast.items()} == {
        w: Positions().decode_positions(v[2]) for w, v in slow.items()
    }


@pytest.mark.parametrize("analyzer", ANALYZERS)
@given(text=texts)
def test_index_terms_are_the_words_indexing_through_tokens_gives(analyzer: NewsAnalyzer, text: str) -> None:
    terms, in_lead = analyzer.index_terms(text)
    tokens = [(t.text, t.pos, t.boost) for t in analyzer(text, positions=True, mode="index")]
    assert _placed(terms) == [(text, pos) for text, pos, _ in tokens]  # the same terms in the same places
    assert [pos < in_lead for _, pos, _ in tokens] == [boost != 1.0 for _, _, boost in tokens]


def _placed(terms: list[str]) -> list[tuple[str, int]]:
    """Each term of `index_terms` and its place; GAP holds a stop word's place (analysis 3)."""
    from newsindex.store.schema import GAP

    return [(term, pos) for pos, term in enumerate(terms) if term != GAP]


@given(text=texts, cut=st.integers(0, 400))
def test_index_terms_count_the_lead_as_tokens_do_where_the_lead_ends_inside_a_run_of_text(text: str, cut: int) -> None:
    # The lead ends at white space; should it end anywhere else, its words are still counted as boosted.
    from newsindex.store import schema

    analyzer = NewsAnalyzer(lead_boost=2.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schema, "lead_span", lambda value: (0, min(cut, len(value))))
        terms, in_lead = analyzer.index_terms(text)
        tokens = [(t.text, t.pos, t.boost) for t in analyzer(text, positions=True, mode="index")]
    assert _placed(terms) == [(text, pos) for text, pos, _ in tokens]
    assert [pos < in_lead for _, pos, _ in tokens] == [boost != 1.0 for _, _, boost in tokens]


def test_the_cache_of_runs_of_text_stays_within_its_limit_and_still_answers() -> None:
    from newsindex.store.schema import _ChunkTerms

    cache = _ChunkTerms(capitals=False, limit=2)
    chunks = ("Albania's", "U.S.", "1,000", "AT&T", "Albania's")
    assert [cache[chunk] for chunk in chunks] == [("albania",), ("u.s",), ("1000",), ("at&t",), ("albania",)]
    assert len(cache) <= 2


def test_phrases_far_into_a_very_long_story_are_found(tmp_path: Path) -> None:
    # Positions past 2**14 take three varint bytes.
    body = "TIRANA (Reuters) - " + "oil " * 20_000 + "Albania expelled diplomats"
    news = NewsIndex.create(tmp_path / "index")
    news.add([Story(id="long", body=body), Story(id="short", body="Albania expelled diplomats.")])
    assert sorted(hit.story.id for hit in news.search('"oil albania expelled"').hits) == ["long"]
    assert sorted(hit.story.id for hit in news.search('"albania expelled diplomats"').hits) == ["long", "short"]


@given(st.lists(st.lists(st.integers(0, 1 << 30), min_size=1, max_size=8).map(lambda xs: sorted(set(xs))), min_size=1))
def test_varint_gaps_of_a_batch_are_those_of_each_posting(postings: list[list[int]]) -> None:
    import numpy as np

    from newsindex.store.writer import _varint_gaps

    positions = np.array([p for posting in postings for p in posting], dtype=np.uint32)
    starts = np.cumsum([0] + [len(posting) for posting in postings[:-1]])
    values, sizes = _varint_gaps(positions, starts)
    expected = [encode_gaps(posting) for posting in postings]
    assert values.tobytes() == b"".join(expected)
    assert sizes.tolist() == [len(e) for e in expected]


@contextmanager
def _posting_list(tmp_path: Path, postings: list[tuple[int, float, bytes]]) -> Iterator[tuple[Any, Any]]:
    """The postings written as one term with the packed codec, and a matcher reading them back."""
    storage = FileStorage(str(tmp_path))
    codec, fmt = NewsCodec(), PackedPositions()
    out = storage.create_file("t.pst")
    writer = codec.postings_writer(out)
    writer.start_postings(fmt, W3TermInfo())
    for docnum, weight, value in postings:
        writer.add_posting(docnum, weight, value, 10)
    terminfo = writer.finish_postings()
    out.close()
    postfile = storage.open_file("t.pst")
    try:
        yield codec.postings_reader(postfile, terminfo, fmt), terminfo
    finally:
        postfile.close()


@pytest.mark.parametrize(
    ("gap", "weights", "value_size"),
    [
        (1, [1.0], 1),  # every weight 1: none written
        (300, [1.0, 2.0, 7.0], 2),  # gaps above 255, whole weights below 256
        (70_000, [300.0, 1.0], 300),  # gaps above 65,535, weights above 255, values above 255 bytes
        (3, [0.5, 1.25], 0),  # fractional weights, no values
    ],
)
def test_blocks_read_back_what_was_written(tmp_path: Path, gap: int, weights: list[float], value_size: int) -> None:
    rng = random.Random(gap)
    postings = []
    docnum = 7
    for n in range(300):  # three blocks of at most 128
        value = bytes(rng.randrange(128) for _ in range(value_size))
        postings.append((docnum, weights[n % len(weights)], value))
        docnum += gap + rng.randrange(3)
    with _posting_list(tmp_path, postings) as (matcher, terminfo):
        read = []
        while matcher.is_active():
            read.append((matcher.id(), matcher.weight(), matcher.value()))
            matcher.next()
    assert terminfo.doc_frequency() == len(postings)
    expected = [(d, w, v if value_size else b"") for d, w, v in postings]
    assert [(d, w) for d, w, _ in read] == [(d, w) for d, w, _ in expected]
    if value_size:
        assert [v for _, _, v in read] == [v for _, _, v in expected]


def test_skip_to_lands_on_the_first_id_at_or_after_the_target(tmp_path: Path) -> None:
    with _posting_list(tmp_path, [(docnum, 1.0, b"\x01") for docnum in range(0, 3000, 3)]) as (matcher, _):
        for target in (1, 500, 1999, 2997):
            matcher.skip_to(target)
            assert matcher.id() == -(-target // 3) * 3
            assert matcher.block_min_id() <= matcher.id() <= matcher.block_max_id()


def _stories(count: int) -> list[Story]:
    rng = random.Random(4)
    vocabulary = [f"word{n}" for n in range(400)] + ["Albania", "Iran", "oil", "diplomats", "expelled"]
    stories = []
    for n in range(count):
        words = [rng.choice(vocabulary[: 20 + n % 380]) for _ in range(rng.randrange(5, 300))]
        if n % 7 == 0:
            words[2:2] = ["Albania", "expelled", "Iran", "diplomats"]
        stories.append(
            Story(
                id=f"s{n:04d}",
                headline=" ".join(words[:6]).title(),
                body=f"TIRANA (Reuters) - {' '.join(words[:12])}.\n\n{' '.join(words[12:])}.",
                published=date(1995 + n % 30, 1 + n % 12, 1 + n % 28),
                bylines=(rng.choice(["Benet Koleka", "Parisa Hafezi", "Jane Doe"]),),
                location="Tirana",
                source="Reuters",
            )
        )
    return stories


QUERIES = ['"expelled Iran"', "albania iran", "word3 OR word250", "headline:word7", "diplomats -word1", "oil"]


def _answers(news: NewsIndex) -> list[tuple[str, int, list[tuple[str, float]]]]:
    answers: list[tuple[str, int, list[tuple[str, float]]]] = []
    for query in QUERIES:
        for period in ((None, None), ("2000-01-01", "2010-12-31")):
            results = news.search(query, filters=Filters(start=period[0], end=period[1]), limit=20)
            answers.append((query, results.total, [(hit.story.id, round(hit.score, 4)) for hit in results.hits]))
    return answers


def _write_as_whoosh_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index as newsindex did before the packed codec: Whoosh's W3 codec and its own segment writer."""
    monkeypatch.setattr(indexer_module, "NewsCodec", W3Codec)
    monkeypatch.setattr(indexer_module, "BufferedSegmentWriter", SegmentWriter)


def test_searches_answer_as_over_whoosh_own_codec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stories = _stories(700)
    packed = NewsIndex.create(tmp_path / "packed")
    packed.add(stories)
    _write_as_whoosh_does(monkeypatch)
    plain = NewsIndex.create(tmp_path / "w3")
    plain.add(stories)
    answers = _answers(packed)
    assert answers == _answers(plain)
    assert any(total for _, total, _ in answers)  # the queries do find stories
    assert packed.get("s0007") == plain.get("s0007") == stories[7]
    assert [packed.get(story.id) for story in stories[:40]] == stories[:40]  # stories in and across blocks


def test_postings_made_in_small_slices_are_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stories = _stories(300)
    whole = NewsIndex.create(tmp_path / "whole")
    whole.add(stories)
    monkeypatch.setattr(writer_module, "CHUNK_WORDS", 97)  # hundreds of slices, some a single term
    sliced = NewsIndex.create(tmp_path / "sliced")
    sliced.add(stories)
    assert _answers(sliced) == _answers(whole)


def test_small_batches_merged_at_commit_answer_as_over_whoosh_own_codec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commits of 20 stories make Whoosh merge small segments into the next one: its pool and the
    # buffered postings are written together.
    stories = _stories(300)
    packed = NewsIndex.create(tmp_path / "packed", fsync=False)  # 30 commits: their fsyncs prove nothing here
    for start in range(0, 300, 20):
        packed.add(stories[start : start + 20])
    _write_as_whoosh_does(monkeypatch)
    plain = NewsIndex.create(tmp_path / "w3", fsync=False)
    for start in range(0, 300, 20):
        plain.add(stories[start : start + 20])
    assert packed.count() == plain.count() == 300
    assert _answers(packed) == _answers(plain)


def test_an_index_mixing_both_codecs_answers_from_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stories = _stories(300)
    news = NewsIndex.create(tmp_path / "index")
    with monkeypatch.context() as patch:
        _write_as_whoosh_does(patch)
        news.add(stories[:150])
    news.add(stories[150:])
    assert news.count() == 300
    expected = {story.id for story in stories if "expelled Iran" in story.body}
    assert {hit.story.id for hit in news.search('"expelled Iran"', limit=300).hits} == expected
    assert news.get("s0010") == stories[10] and news.get("s0290") == stories[290]


def test_stories_stored_compressed_by_older_versions_still_read() -> None:
    data = {"body": "Albania expelled two Iran diplomats.", "headline": "Expelled", "published": "2019-10-23"}
    blob = zlib.compress(json.dumps(data).encode("utf-8"), 6)
    story = story_from_stored({"id": "old", "story": blob})
    assert (story.id, story.headline, story.published) == ("old", "Expelled", date(2019, 10, 23))


@given(st.lists(st.integers(0, 60), min_size=1, max_size=80), st.randoms(use_true_random=False))
@settings(deadline=None, max_examples=50)
def test_stored_values_read_back_in_any_order(sizes: list[int], rng: random.Random) -> None:
    """A block is inflated only as far as the value asked for: values read in any order, again and
    backwards, are what was written (empty ones included)."""
    import io

    from whoosh.filedb.structfile import BufferFile, StructFile

    from newsindex.store.codec import StoryBlocksColumn

    values = [bytes(rng.randrange(256) for _ in range(size)) for size in sizes]
    column = StoryBlocksColumn(per_block=4)
    out = StructFile(io.BytesIO())
    writer = column.writer(out)
    for docnum, value in enumerate(values):
        writer.add(docnum, value)
    writer.finish(len(values))
    data = out.file.getvalue()
    reader = column.reader(BufferFile(data), 0, len(data), len(values), checked=True)
    order = list(range(len(values))) * 2
    rng.shuffle(order)
    assert [reader[docnum] for docnum in order] == [values[docnum] for docnum in order]
    assert [reader[docnum] for docnum in reversed(range(len(values)))] == values[::-1]
    assert list(reader) == values


def test_skipping_to_a_story_lands_where_whooshs_own_skip_does(tmp_path: Path) -> None:
    from whoosh.codec import whoosh3

    news = NewsIndex.create(tmp_path / "index", fsync=False)
    # "oil" in every third story: its postings span several blocks, with gaps inside each
    news.add([Story(id=f"s{n}", body=("Oil rose. " if n % 3 == 0 else "Wheat fell. ") * 2) for n in range(1200)])
    with news._whoosh.searcher() as searcher:
        reader = searcher.reader()
        rng = random.Random(3)
        for _ in range(20):
            targets = sorted(rng.sample(range(1200), 40))
            ours, whooshs = reader.postings("body", "oil"), reader.postings("body", "oil")
            assert type(ours).__name__ == "PackedLeafMatcher" and ours.block_max_id() < 1199  # several blocks
            for target in targets:
                if not ours.is_active():
                    break
                ours.skip_to(target)
                whoosh3.W3LeafMatcher.skip_to(whooshs, target)
                assert ours.is_active() == whooshs.is_active()
                if ours.is_active():
                    assert (ours.id(), sorted(ours.value_as("positions"))) == (
                        whooshs.id(),
                        sorted(whooshs.value_as("positions")),
                    )
