"""Crashes, kills, concurrent writers and readers: committed stories survive, nothing is left locked."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_story
from newsindex import NewsIndex, Story
from newsindex.cli.commands import app

CRASHING = str(Path(__file__).parent / "helpers" / "crashing_index.py")
BATCH = 4
runner = CliRunner()


def corpus_of(folder: Path, count: int, words: int = 30) -> Path:
    for n in range(count):
        body = f"ROME (Reuters) - Story {n} about the harbour. " + " ".join(f"word{n % 7}x{i}" for i in range(words))
        write_story(folder, f"s{n:05d}.txt", body, date=f"2020-01-{n % 28 + 1:02d}", by="Jane Doe")
    return folder


def run_crashing(crash_at: int, index: Path, corpus: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, CRASHING, str(crash_at), str(BATCH), "index", str(corpus), "-i", str(index), "-q"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def assert_whole(index: Path, corpus: Path, *, possible_counts: set[int]) -> int:
    """The index opens, holds a number of stories that a sequence of whole batches explains, all intact."""
    news = NewsIndex.open(index)
    count = news.count()
    assert count in possible_counts
    for hit in news.search("harbour", limit=1000).hits:
        original = (corpus / hit.story.id).read_text(encoding="utf-8")
        assert hit.story.body in original
    assert NewsIndex.check(index).is_whole
    news.close()
    return count


def leftover_free(index: Path) -> bool:
    report = NewsIndex.check(index)
    name = json.loads((index / "newsindex.json").read_text())["index_name"]
    expected = {"newsindex.json", f"{name}.sums.json", "newsindex.lock"}
    sums = json.loads((index / f"{name}.sums.json").read_text())["files"]
    return report.is_whole and set(os.listdir(index)) == expected | set(sums)


def crash_sweep(tmp_path: Path, step: int) -> tuple[int, int]:
    corpus = corpus_of(tmp_path / "corpus", 10)
    index = tmp_path / "index"
    NewsIndex.create(index)
    dry = run_crashing(0, index, corpus)
    operations = int(dry.stderr.split()[-1])
    passed = run = 0
    for crash_at in range(1, operations + 1, step):
        for entry in index.iterdir():  # start each trial from an empty index
            if entry.is_file():
                entry.unlink()
        NewsIndex.create(index, overwrite=True)
        result = run_crashing(crash_at, index, corpus)
        assert result.returncode == 137, result.stderr
        assert_whole(index, corpus, possible_counts={0, 4, 8, 10})
        rerun = runner.invoke(app, ["index", str(corpus), "-i", str(index), "-q", "--procs", "1"])  # in-process
        assert rerun.exit_code == 0, rerun.stderr
        assert NewsIndex.open(index).count() == 10
        assert leftover_free(index)
        passed += 1
        run += 1
    return passed, run


def test_a_crash_before_any_file_operation_keeps_the_committed_batches(tmp_path: Path) -> None:
    passed, run = crash_sweep(tmp_path, step=15)  # a sample (~7 points over all 3 commits); the full sweep is slow
    assert passed == run > 5


@pytest.mark.slow
def test_a_crash_before_every_file_operation_keeps_the_committed_batches(tmp_path: Path) -> None:
    passed, run = crash_sweep(tmp_path, step=1)
    print(f"crash-point sweep: {passed}/{run} trials passed")


def kill_trials(tmp_path: Path, trials: int) -> int:
    corpus = corpus_of(tmp_path / "corpus", 2000, words=60)
    rng = random.Random(7)
    passed = 0
    for trial in range(trials):
        index = tmp_path / f"index{trial}"
        process = subprocess.Popen(
            [sys.executable, "-m", "newsindex", "index", str(corpus), "-i", str(index), "-q", "--procs", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if (index / "newsindex.json").exists():
            assert_whole(index, corpus, possible_counts={0, *range(5000 % 1, 2001)})
        rerun = subprocess.run(
            [sys.executable, "-m", "newsindex", "index", str(corpus), "-i", str(index), "-q"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert rerun.returncode == 0, rerun.stderr
        assert NewsIndex.open(index).count() == 2000  # no duplicates, nothing missing
        passed += 1
    return passed


@pytest.mark.slow
def test_random_kills_during_indexing_lose_nothing_committed(tmp_path: Path) -> None:
    trials = int(os.environ.get("NEWSINDEX_KILL_TRIALS", "100"))
    passed = kill_trials(tmp_path, trials)
    print(f"random SIGKILL trials: {passed}/{trials} passed")


def children_of(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_worker_processes_die_with_a_killed_indexer(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    with feed.open("w") as file:
        for n in range(6000):
            words = " ".join(f"w{(n * 31 + i) % 5000}" for i in range(200))
            file.write(json.dumps({"id": f"s{n}", "date": "2021-03-04", "text": f"Story {n}. {words}"}) + "\n")
    index = tmp_path / "index"
    process = subprocess.Popen([sys.executable, "-m", "newsindex", "index", str(feed), "-i", str(index), "-q",
                                "--procs", "2"])  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(children_of(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = children_of(process.pid)
        assert len(workers) >= 2, "the indexer never started its workers"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 5
    while any(alive(worker) for worker in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(worker) for worker in workers)
    news = NewsIndex.open(index)
    assert news.add([Story(id="after", body="The lock is free again.")], lock_timeout=2).added == 1


def _wait_until_held(lock: Path, writer: subprocess.Popen[str]) -> None:
    """Return once another process holds `lock` (Whoosh's flock), probing without blocking."""
    import fcntl

    for _ in range(6000):  # 60 s at most
        assert writer.poll() is None, "the first writer ended before it was seen holding the lock"
        if lock.exists():
            with lock.open("rb") as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                fcntl.flock(probe, fcntl.LOCK_UN)
        time.sleep(0.01)
    raise AssertionError("the first writer never took the lock")


# A first writer paused mid-write, holding the lock, until the test writes a line to its stdin.
PAUSED_WRITER = """
import sys
from newsindex import NewsIndex, Story

def stories():
    yield Story(id="first-1", body="ROME (Reuters) - The first writer's story.")
    print("writing", flush=True)
    sys.stdin.readline()
    yield Story(id="first-2", body="ROME (Reuters) - The first writer's last story.")

NewsIndex.open(sys.argv[1]).add(stories())
"""


def _opened(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (Linux /proc)."""
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            if Path(os.readlink(descriptor)) == path:
                return True
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
def test_a_second_writer_waits_for_the_first_or_fails_busy_at_once(tmp_path: Path) -> None:
    second_corpus = tmp_path / "second"
    write_story(second_corpus, "late.txt", "PARIS (Reuters) - A late story.", date="2021-01-01")
    index = tmp_path / "index"
    NewsIndex.create(index)
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSED_WRITER, str(index)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert first.stdout is not None and first.stdin is not None
    assert first.stdout.readline() == "writing\n"
    lock = index / "newsindex.lock"
    _wait_until_held(lock, first)  # the first writer holds the lock while it writes
    command = [sys.executable, "-m", "newsindex", "index", "-i", str(index), "-q", "--procs", "1"]
    busy = subprocess.run([*command, str(second_corpus), "--lock-timeout", "0"], capture_output=True, text=True)
    waiting = subprocess.Popen([*command, str(second_corpus)], stderr=subprocess.PIPE, text=True)
    for _ in range(6000):  # 60 s at most: until the second writer waits on the lock file
        assert waiting.poll() is None, "the second writer did not wait for the first"
        if _opened(waiting.pid, lock.resolve()):
            break
        time.sleep(0.01)
    else:
        raise AssertionError("the second writer never reached the lock")
    first.communicate("\n", timeout=120)  # now the first writer finishes
    assert first.returncode == 0
    _, waiting_errors = waiting.communicate(timeout=120)
    assert busy.returncode == 3
    assert busy.stderr.startswith("Error: index is busy: another process is writing to it")
    assert waiting.returncode == 0, waiting_errors
    assert lock.exists()
    assert sorted(story.id for story in NewsIndex.open(index).stories()) == ["first-1", "first-2", "late.txt"]


def test_many_threads_share_one_index_while_commits_land(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(Story(id=f"s{n}", body=f"Story {n} about the harbour and ships.") for n in range(200))
    errors: list[BaseException] = []
    searches = [0]
    searched = threading.Condition()
    allowed = threading.Semaphore(0)  # one permit a search: the readers search while each commit lands
    stop = threading.Event()

    def reader() -> None:
        while allowed.acquire() and not stop.is_set():
            try:
                results = news.search("harbour ships", limit=5)
                assert results.total >= 200 and len(results.hits) == 5
                assert news.get("s1") is not None
            except BaseException as error:
                errors.append(error)
            with searched:
                searches[0] += 1
                searched.notify_all()

    def searches_made(count: int) -> None:
        with searched:  # bounded by counts, not by time
            assert searched.wait_for(lambda: searches[0] >= count, timeout=300), "the readers stopped searching"

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    commits = int(os.environ.get("NEWSINDEX_THREAD_COMMITS", "30"))
    each = int(os.environ.get("NEWSINDEX_THREAD_QUERIES", "16"))  # searches by the 8 readers around each commit
    try:
        for batch in range(commits):
            allowed.release(each)
            news.add([Story(id=f"new{batch}", body="Another story about the harbour.")])
            searches_made((batch + 1) * each)
    finally:
        stop.set()
        allowed.release(len(threads))
        for thread in threads:
            thread.join()
    assert errors == []
    assert searches[0] == commits * each
    assert news.count() == 200 + commits
