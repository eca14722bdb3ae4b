"""Worker processes: forked once for a run, a segment each per batch, replaced when one dies."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.poison import poison_analysis
from newsindex import Filters, NewsIndex, Story
from newsindex.store import indexer, workers


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of 20 stories in jobs of 5; the pids of the worker processes started, in order."""
    monkeypatch.setattr(indexer, "PARALLEL_BATCH_STORIES", 20)
    monkeypatch.setattr(indexer, "PARALLEL_BATCH", 5)
    pids: list[int] = []
    original = workers._Worker.start.__func__  # type: ignore[attr-defined]

    def start(cls: type[workers._Worker], *args: Any) -> workers._Worker:
        worker: workers._Worker = original(cls, *args)
        assert worker._process.pid is not None
        pids.append(worker._process.pid)
        return worker

    monkeypatch.setattr(workers._Worker, "start", classmethod(start))
    return pids


def feed(tmp_path: Path, count: int, *, poison: int | None = None) -> Path:
    path = tmp_path / "feed.jsonl"
    with path.open("w") as file:
        for n in range(count):
            text = f"Story {n} about harbours." + (" A poison pill." if n == poison else "")
            file.write(json.dumps({"id": f"s{n}", "date": "2020-01-01", "text": text}) + "\n")
    return path


def test_two_workers_write_every_batch_of_a_run(tmp_path: Path, started: list[int]) -> None:
    news = NewsIndex.create(tmp_path / "index")
    report = news.add_files([str(feed(tmp_path, 100))], procs=2)
    assert (report.added, report.problems) == (100, [])
    assert len(started) == 2  # for five batches
    assert news.search("harbours", limit=100).total == 100
    assert [hit.story.id for hit in news.search("story 42 harbours", filters=Filters(require_all=True)).hits] == ["s42"]
    assert multiprocessing.active_children() == []  # stopped with the run


def test_a_worker_killed_by_a_story_is_replaced_for_the_next_batch(
    tmp_path: Path, started: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_analysis(monkeypatch)  # inherited by the forked workers
    news = NewsIndex.create(tmp_path / "index")
    report = news.add_files([str(feed(tmp_path, 100, poison=7))], procs=2)
    assert report.added == 99
    assert [problem.reason for problem in report.problems] == [
        "story 's7' not indexed: Whoosh raised RuntimeError('analysis failed')"
    ]
    assert len(started) == 3  # the dead one's place taken after the first batch
    monkeypatch.undo()
    assert NewsIndex.open(news.path).search("harbours", limit=100).total == 99


def test_an_interrupted_parallel_run_keeps_its_last_commit_and_stops_its_workers(
    tmp_path: Path, started: list[int]
) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add([Story(id="before", body="Indexed before the run.")])

    def interrupt(story: Story) -> None:
        if story.id == "s49":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        news.add_files([str(feed(tmp_path, 100))], procs=2, on_story=interrupt)
    assert multiprocessing.active_children() == []
    reopened = NewsIndex.open(news.path)
    assert reopened.count() == 41  # two batches of 20, and the story from before
    # The file's stamp is on its first 40 stories, but the run that wrote them did not finish: read it again.
    report = reopened.add_files([str(tmp_path / "feed.jsonl")], procs=2)
    assert (report.added, report.unchanged) == (60, 40)
    assert reopened.add_files([str(tmp_path / "feed.jsonl")]).unchanged == 100  # now it is skipped whole
    assert reopened.search("harbours", limit=100).total == 100


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_workers_leave_ctrl_c_to_the_indexing_process(tmp_path: Path, started: list[int]) -> None:
    # A terminal's Ctrl-C reaches every process of the group; a worker that died of it would be replaced.
    def interrupt_the_workers(story: Story) -> None:
        if story.id == "s30":
            for pid in started:
                os.kill(pid, signal.SIGINT)

    news = NewsIndex.create(tmp_path / "index")
    report = news.add_files([str(feed(tmp_path, 100))], procs=2, on_story=interrupt_the_workers)
    assert (report.added, report.problems) == (100, [])
    assert len(started) == 2


def test_a_full_disk_under_workers_is_one_line_not_their_tracebacks(tmp_path: Path) -> None:
    # The disk fills up as the worker processes write their segments. What the terminal shows is the
    # CLI's one line, exit 5: no worker's traceback, and no rescue of their share onto the same full disk.
    script = """
import errno, os, sys
from newsindex.store import indexer
from newsindex.cli.commands import main
from newsindex.store.storage import DurableStorage
indexer.PARALLEL_BATCH_STORIES = 20
indexer.PARALLEL_BATCH = 5
parent = os.getpid()
def full(self, operation, name):
    if operation == "create" and os.getpid() != parent:
        raise OSError(errno.ENOSPC, "No space left on device")
DurableStorage.before = full
sys.argv = ["newsindex", "index", sys.argv[1], "--index", sys.argv[2], "--procs", "2", "--quiet"]
main()
"""
    folder = tmp_path / "index"
    NewsIndex.create(folder)
    run = subprocess.run(
        [sys.executable, "-c", script, str(feed(tmp_path, 100)), str(folder)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": ""},
    )  # fmt: skip
    assert run.returncode == 5, run.stderr
    assert run.stderr.splitlines() == [
        f"Error: could not write to {folder}: No space left on device; the index keeps its last commit "
        "(free some space or fix the permission, then run again)"
    ]
    assert NewsIndex.open(folder).count() == 0


def test_a_batch_the_workers_wrote_whole_is_not_looked_up_story_by_story(
    tmp_path: Path, started: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every story sent to a worker is in the segments it sent back: nothing to write again.
    looked_up: list[str] = []
    monkeypatch.setattr(indexer.Indexer, "_rescue_lost", lambda self: looked_up.append("batch"))
    news = NewsIndex.create(tmp_path / "index")
    report = news.add_files([str(feed(tmp_path, 100))], procs=2)
    assert (report.added, looked_up) == (100, [])
    assert news.search("harbours", limit=100).total == 100
