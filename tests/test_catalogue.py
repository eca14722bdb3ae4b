"""The catalogue an indexing run keeps of every story: found by id, changed, removed, met in the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsindex import NewsIndex, Story
from newsindex.ingest.sources import find_sources
from newsindex.store import catalogue
from newsindex.store.catalogue import Catalogue

DIGEST = "0123456789abcdef0123456789abcdef"
OTHER_DIGEST = "fedcba9876543210fedcba9876543210"


def filled(count: int) -> Catalogue:
    stories = Catalogue()
    for n in range(count):
        stories.add(f"story-{n}", f"{n:032x}", f"/corpus/{n % 7}.jsonl", "stamp-1")
    return stories


@pytest.mark.parametrize("count", [10, 10_000])  # 10,000: most rows found through the sorted arrays
def test_every_id_is_found_at_its_row_and_no_other(count: int) -> None:
    stories = filled(count)
    assert [stories.find(f"story-{n}") for n in range(count)] == list(range(count))
    assert stories.find("story-x") is None
    assert len(stories) == count


def test_ids_with_equal_hashes_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue, "_id_hash", lambda _story_id: 7)
    stories = filled(5_000)
    assert [stories.find(f"story-{n}") for n in (0, 2_500, 4_999)] == [0, 2_500, 4_999]
    assert stories.find("story-5000") is None


def test_a_story_is_unchanged_only_with_its_digest_and_stamp() -> None:
    stories = Catalogue()
    row = stories.add("a", DIGEST, "/corpus/a.txt", "stamp-1")
    assert stories.is_unchanged(row, DIGEST, "stamp-1")
    assert not stories.is_unchanged(row, OTHER_DIGEST, "stamp-1")
    assert not stories.is_unchanged(row, DIGEST, "stamp-2")
    assert stories.has_digest(row, DIGEST) and not stories.has_digest(row, OTHER_DIGEST)
    stories.update(row, OTHER_DIGEST, "/corpus/b.txt", None)
    assert stories.is_unchanged(row, OTHER_DIGEST, None)
    assert stories.path(row) == "/corpus/b.txt"


def test_a_digest_of_another_form_never_matches() -> None:
    stories = Catalogue()
    row = stories.add("a", "not-a-digest", None, None)
    assert not stories.is_unchanged(row, "not-a-digest", None)
    assert not stories.is_unchanged(row, DIGEST, None)


def test_a_removed_story_keeps_its_row_and_can_come_back() -> None:
    stories = filled(3)
    stories.remove(1)
    stories.remove(1)
    assert (len(stories), stories.is_held(1), stories.path(1)) == (2, False, None)
    assert stories.find("story-1") == 1
    assert not stories.is_unchanged(1, f"{1:032x}", "stamp-1")
    stories.update(1, DIGEST, "/corpus/1.jsonl", "stamp-2")
    assert (len(stories), stories.is_held(1)) == (3, True)


def test_stories_met_in_the_run_say_where() -> None:
    stories = filled(3)
    stories.meet(2, "/corpus/new.jsonl", "stamp-9")
    assert stories.met_in(2) == (True, "/corpus/new.jsonl")
    assert stories.met_in(0) == (False, None)
    assert [row for row, _path in stories.unmet()] == [0, 1]
    stories.remove(0)
    assert list(stories.unmet()) == [(1, "/corpus/1.jsonl")]


def test_an_unchanged_input_meets_its_stories_once(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(f'{{"id": "s{n}", "text": "Story {n}."}}\n' for n in range(4)))
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(feed)])
    news.add([Story(id="api", body="Added without a file.")])
    with news._whoosh.reader() as reader:
        stories = Catalogue.load(reader)
    (source,) = find_sources([str(feed)])
    stamp = source.stamp
    assert stamp is not None
    assert (len(stories), stories.path(stories.find("api"))) == (5, None)  # type: ignore[arg-type]
    assert stories.is_unchanged_input(str(feed), stamp)
    assert not stories.is_unchanged_input(str(feed), "another stamp")
    assert not stories.is_unchanged_input(str(tmp_path / "other.jsonl"), stamp)
    stories.meet(stories.find("s1"), str(feed), stamp)  # type: ignore[arg-type]
    assert stories.meet_input(str(feed), stamp) == 3
    assert stories.meet_input(str(feed), stamp) == 0
    assert [stories.story_id(row) for row, _path in stories.unmet()] == ["api"]


def test_an_input_whose_stories_were_read_with_two_stamps_is_read_again() -> None:
    stories = Catalogue()
    stories.add("a", DIGEST, "/corpus/feed.jsonl", "stamp-1")
    stories.add("b", DIGEST, "/corpus/feed.jsonl", "stamp-2")  # an earlier run stopped half-way through it
    stories._index_inputs()
    assert not stories.is_unchanged_input("/corpus/feed.jsonl", "stamp-2")
