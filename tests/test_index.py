"""Indexing: add, update, skip, prune, rebuild; a bad story in a batch; locks; opening."""

from __future__ import annotations

import inspect
import json
import os
from datetime import date
from pathlib import Path

import pytest

from conftest import write_story
from helpers.poison import poison_analysis
from newsindex import (
    Credit,
    Filters,
    IndexBusyError,
    IndexDamagedError,
    IndexMissingError,
    NewsIndex,
    Story,
    UsageError,
)
from newsindex.store import workers
from newsindex.store.indexer import UNFINISHED, write_lock
from newsindex.store.storage import record_checksums


def test_first_run_adds_every_story(tmp_path: Path, corpus: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    report = news.add_files([str(corpus)])
    assert (report.added, report.updated, report.unchanged, report.skipped) == (10, 0, 0, 0)
    assert news.count() == 10


def test_a_second_run_skips_unchanged_files(news: NewsIndex, corpus: Path) -> None:
    report = news.add_files([str(corpus)])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 10)
    assert news.count() == 10


def test_changed_files_are_updated_and_new_ones_added(news: NewsIndex, corpus: Path) -> None:
    write_story(corpus, "iran-oil.txt", "DUBAI (Reuters) - Iran cut oil exports in July.", date="2019-07-01")
    write_story(corpus, "sub/new-story.txt", "ROME (Reuters) - Italy passed a budget.", date="2021-01-05")
    report = news.add_files([str(corpus)])
    assert (report.added, report.updated, report.unchanged) == (1, 1, 9)
    assert news.count() == 11
    assert [hit.story.id for hit in news.search("cut").hits] == ["iran-oil.txt"]
    assert news.get("sub/new-story.txt") is not None
    # totals count the live version only: the old one's words are gone, words of both count once
    assert (news.search("kharg").total, news.search("iran OR kharg").total, news.search("exports").total) == (0, 4, 1)


def test_a_touched_but_unchanged_file_is_not_counted_as_updated(news: NewsIndex, corpus: Path) -> None:
    path = corpus / "iran-oil.txt"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    report = news.add_files([str(corpus)])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 10)


def test_repeated_runs_never_duplicate_a_story(news: NewsIndex, corpus: Path) -> None:
    for _ in range(3):
        news.add_files([str(corpus)])
        news.add_files([str(corpus / "iran-oil.txt")], prune=False)
    assert news.count() == 10
    assert news.search("kharg").total == 1


def test_prune_removes_stories_whose_files_are_gone(news: NewsIndex, corpus: Path) -> None:
    (corpus / "iran-oil.txt").unlink()
    assert news.add_files([str(corpus)]).removed == 0  # without --prune nothing is removed
    assert news.count() == 10
    report = news.add_files([str(corpus)], prune=True)
    assert report.removed == 1
    assert news.get("iran-oil.txt") is None
    assert news.count() == 9


def test_prune_leaves_stories_from_other_folders(tmp_path: Path, news: NewsIndex, corpus: Path) -> None:
    other = tmp_path / "other"
    write_story(other, "rome.txt", "ROME (Reuters) - Italy passed a budget.", date="2021-01-05")
    news.add_files([str(other)])
    (other / "rome.txt").unlink()
    write_story(other, "milan.txt", "MILAN (Reuters) - Fashion week opened.", date="2021-02-05")
    report = news.add_files([str(other)], prune=True)
    assert (report.added, report.removed) == (1, 1)
    assert news.count() == 11  # the ten stories of the first folder are untouched


def test_rebuild_replaces_the_index_with_only_the_given_stories(tmp_path: Path, news: NewsIndex) -> None:
    other = tmp_path / "other"
    write_story(other, "rome.txt", "ROME (Reuters) - Italy passed a budget.", date="2021-01-05")
    report = news.rebuild_files([str(other)])
    assert report.added == 1
    assert news.count() == 1
    assert NewsIndex.open(news.path).count() == 1
    leftovers = [name for name in os.listdir(news.path) if name.endswith(".seg") or name.endswith(".toc")]
    assert all(NewsIndex.open(news.path)._manifest["index_name"] in name for name in leftovers)


def test_a_failed_rebuild_keeps_the_old_index(tmp_path: Path, news: NewsIndex) -> None:
    with pytest.raises(UsageError):
        news.rebuild_files([str(tmp_path / "missing")])
    assert NewsIndex.open(news.path).count() == 10


def test_a_story_whoosh_rejects_costs_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    poison_analysis(monkeypatch)
    stories = [Story(id=f"good-{n}", body=f"Story number {n} about harbours.") for n in range(5)]
    stories.insert(3, Story(id="bad", body="A poison pill in the batch."))
    news = NewsIndex.create(tmp_path / "index")
    report = news.add(stories)
    assert report.added == 5
    assert [problem.reason for problem in report.problems] == [
        "story 'bad' not indexed: Whoosh raised RuntimeError('analysis failed')"
    ]
    monkeypatch.undo()
    reopened = NewsIndex.open(news.path)
    assert reopened.count() == 5
    assert sorted(hit.story.id for hit in reopened.search("harbours", limit=10).hits) == [f"good-{n}" for n in range(5)]


def test_batches_commit_as_they_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsindex.store.indexer.BATCH_STORIES", 3)
    news = NewsIndex.create(tmp_path / "index")
    news.add(Story(id=f"s{n}", body=f"Story {n} about ports.") for n in range(10))
    assert len([name for name in os.listdir(news.path) if name.endswith(".toc")]) == 1
    assert news._whoosh.latest_generation() >= 4  # one commit per batch of three, and the last one
    assert news.count() == 10
    assert news.search("ports", limit=20).total == 10


def test_a_busy_index_fails_with_a_message_after_the_timeout(news: NewsIndex) -> None:
    with write_lock(news._whoosh, timeout=1), pytest.raises(IndexBusyError, match="index is busy"):
        news.add([Story(id="x", body="Too late.")], lock_timeout=0.2)
    assert news.add([Story(id="x", body="In time.")]).added == 1


def test_open_a_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="no index at"):
        NewsIndex.open(tmp_path / "nowhere")


def test_open_a_folder_that_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hello")
    with pytest.raises(IndexMissingError):
        NewsIndex.open(tmp_path)


def test_create_refuses_to_overwrite(news: NewsIndex) -> None:
    with pytest.raises(UsageError, match="already exists"):
        NewsIndex.create(news.path)


@pytest.mark.parametrize("manifest", ["{not json", '{"format": "other"}', '{"format": "newsindex", "index_name": "x"}'])
def test_a_damaged_manifest_is_reported(news: NewsIndex, manifest: str) -> None:
    (news.path / "newsindex.json").write_text(manifest)
    with pytest.raises(IndexDamagedError):
        NewsIndex.open(news.path)


def test_missing_segments_are_reported_not_read_as_empty(news: NewsIndex) -> None:
    for name in os.listdir(news.path):
        if name.endswith(".toc"):
            os.remove(news.path / name)
    with pytest.raises(IndexDamagedError, match=r"is damaged: _stories_\w+_\d+\.toc is missing"):
        NewsIndex.open(news.path)


def test_the_seed_story_is_found(tmp_path: Path) -> None:
    seeds = Path(__file__).parent.parent / "seeds"
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(seeds)])
    hit = news.search("Albania Iran", filters=Filters(start="2019-10-01", end="2019-10")).hits[0]
    assert hit.story.id == "000_4cb0f0b9dca24e99.txt"
    assert (hit.story.bylines, hit.story.location, hit.story.source) == (("Benet Koleka",), "Tirana", "Reuters")


def test_prune_removes_records_gone_from_a_file_that_is_still_there(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": "a", "text": "Alpha story."}\n{"id": "b", "text": "Beta story."}\n')
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(feed)])
    feed.write_text('{"id": "a", "text": "Alpha story."}\n')
    report = news.add_files([str(feed)], prune=True)
    assert (report.unchanged, report.removed) == (1, 1)
    assert news.get("b") is None


def test_prune_with_a_glob_removes_only_stories_whose_files_are_gone(news: NewsIndex, corpus: Path) -> None:
    (corpus / "iran-oil.txt").unlink()
    report = news.add_files([str(corpus / "albania-*.txt")], prune=True)
    assert report.removed == 1  # iran-oil.txt is gone; the files the glob does not match stay indexed
    assert news.count() == 9


def test_parallel_indexing_gives_the_same_index(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsindex.store.indexer.PARALLEL_BATCH", 2)  # hand the workers jobs of two stories
    serial = NewsIndex.create(tmp_path / "serial")
    serial.add_files([str(corpus)], procs=1)
    parallel = NewsIndex.create(tmp_path / "parallel")
    report = parallel.add_files([str(corpus)], procs=2)
    assert report.added == 10
    assert len(parallel._whoosh._read_toc().segments) >= 2  # the workers wrote segments of their own
    for query in ("Albania Iran", "attack", '"iranian agents"', "date:2019"):
        assert [hit.story.id for hit in parallel.search(query).hits] == [
            hit.story.id for hit in serial.search(query).hits
        ]


def _index_one_bad_story(tmp_path: Path, good: int, bad_text: str, error: str) -> NewsIndex:
    """Index `good` good stories and a bad one amid them with two workers; check that only it was refused."""
    feed = tmp_path / "feed.jsonl"
    lines = [f'{{"id": "good-{n}", "date": "2020-01-01", "text": "Story {n} about harbours."}}' for n in range(good)]
    lines.insert(good // 2, json.dumps({"id": "bad", "date": "2020-01-01", "text": bad_text}))
    feed.write_text("\n".join(lines) + "\n")
    news = NewsIndex.create(tmp_path / "index")
    report = news.add_files([str(feed)], procs=2)
    assert report.added == good
    assert [problem.reason for problem in report.problems] == [
        f"story 'bad' not indexed: Whoosh raised RuntimeError({error!r})"
    ]
    return news


def test_a_story_that_kills_a_worker_process_costs_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    poison_analysis(monkeypatch)  # inherited by the forked workers
    news = _index_one_bad_story(tmp_path, 152, "A poison pill among good stories.", "analysis failed")
    monkeypatch.undo()
    assert NewsIndex.open(news.path).search("harbours", limit=1000).total == 152
    assert (
        news.get("good-0") == next(iter(news.search("story 0 harbours", filters=Filters(require_all=True)).hits)).story
    )


def test_a_parallel_writer_that_raises_replays_whole_stories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The indexing process keeps only the stored fields of a parallel batch; a replay must rebuild the rest.
    original = workers.ParallelWriter.add_document

    def add_document(self: object, **fields: object) -> None:
        if fields.get("id") == "bad":
            raise RuntimeError("writer failed")
        original(self, **fields)

    monkeypatch.setattr(workers.ParallelWriter, "add_document", add_document)
    news = _index_one_bad_story(tmp_path, 30, "A story about harbours.", "writer failed")
    assert news.search("harbours", limit=100).total == 30
    assert [hit.story.id for hit in news.search("story 13 harbours", filters=Filters(require_all=True)).hits] == [
        "good-13"
    ]


def test_every_story_field_survives_the_index(tmp_path: Path) -> None:
    story = Story(
        id="full",
        body="ROME (Reuters) - Every field.",
        headline="A headline",
        published=date(2020, 2, 29),
        bylines=("Jane Doe", "John Smith"),
        location="Rome",
        source="Reuters",
        credits=(Credit("Editing", ("Ann Lee",)),),
        path="/corpus/full.txt",
        topics=("acq", "earn"),
        places=("it",),
        orgs=("ec",),
        people=("andreotti",),
        region="Lazio",
    )
    news = NewsIndex.create(tmp_path / "index")
    news.add([story])
    assert NewsIndex.open(news.path).get("full") == story


def _feed(path: Path, prefix: str, count: int) -> Path:
    path.write_text("".join(f'{{"id": "{prefix}{n}", "text": "Story {n} about harbours."}}\n' for n in range(count)))
    return path


def _interrupt_at(story_id: str):  # type: ignore[no-untyped-def]
    def on_story(story: Story) -> None:
        if story.id == story_id:
            raise KeyboardInterrupt

    return on_story


def test_an_input_left_half_read_is_read_again_even_after_other_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newsindex.store.indexer.BATCH_STORIES", 5)
    first, other = _feed(tmp_path / "a.jsonl", "a", 30), _feed(tmp_path / "b.jsonl", "b", 3)
    news = NewsIndex.create(tmp_path / "index")
    with pytest.raises(KeyboardInterrupt):
        news.add_files([str(first)], on_story=_interrupt_at("a12"))
    assert news.count() == 10  # two batches committed, with a.jsonl's stamp
    assert news.add_files([str(other)]).added == 3  # a run that does not read a.jsonl leaves it noted
    report = news.add_files([str(first)])
    assert (report.added, report.unchanged) == (20, 10)
    assert news.add_files([str(first), str(other)]).unchanged == 33  # read to the end: trusted again
    assert not (news.path / UNFINISHED).exists()


def test_ctrl_c_during_the_last_commit_leaves_the_input_to_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newsindex.store.indexer.BATCH_STORIES", 5)
    feed = _feed(tmp_path / "a.jsonl", "a", 12)
    news = NewsIndex.create(tmp_path / "index")
    commits = []

    def interrupted_checksums(whoosh_index: object) -> None:
        commits.append(whoosh_index)
        if len(commits) == 3:  # the last commit has landed, its checksums not yet recorded
            raise KeyboardInterrupt
        record_checksums(whoosh_index)

    monkeypatch.setattr("newsindex.store.indexer.record_checksums", interrupted_checksums)
    with pytest.raises(KeyboardInterrupt):
        news.add_files([str(feed)])
    monkeypatch.undo()
    assert json.loads((news.path / UNFINISHED).read_text()) == [str(feed)]  # to be read again
    report = NewsIndex.open(news.path).add_files([str(feed)])
    assert (report.added, report.unchanged) == (0, 12)
    assert not (news.path / UNFINISHED).exists()


def test_newsindex_opens_an_index_from_its_path_alone(news: NewsIndex, index_path: str, tmp_path: Path) -> None:
    # No Whoosh object in the public constructor: NewsIndex(path) is NewsIndex.open(path).
    assert list(inspect.signature(NewsIndex).parameters) == ["path", "fsync"]
    with NewsIndex(index_path) as opened:
        assert opened.count() == news.count() > 0
        assert [hit.story.id for hit in opened.search("iran").hits] == [
            hit.story.id for hit in news.search("iran").hits
        ]
    with pytest.raises(IndexMissingError, match="no index at"):
        NewsIndex(tmp_path / "nothing-here")
