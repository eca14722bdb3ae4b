"""The index on disk: durable commits, leftovers cleaned, disk full survived, untrusted folders refused."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from conftest import write_story
from newsindex import IndexIOError, NewsIndex, Story
from newsindex.store.indexer import UNFINISHED
from newsindex.store.storage import DurableStorage, UntrustedIndexError


def index_files(news: NewsIndex) -> set[str]:
    """The index folder's files, but for the marker a failed run leaves (the next run reads every input)."""
    return {name for name in os.listdir(news.path) if name not in ("README.md", UNFINISHED)}


def stories(count: int, start: int = 0) -> list[Story]:
    return [Story(id=f"s{n}", body=f"Story {n} about the harbour.") for n in range(start, start + count)]


def test_commits_are_fsynced_unless_asked_not_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    NewsIndex.create(tmp_path / "durable").add(stories(3))
    assert len(synced) >= 4  # segment files, the TOC, the folder after the TOC rename, the manifest
    synced.clear()
    NewsIndex.create(tmp_path / "throwaway", fsync=False).add(stories(3))
    assert len(synced) == 2  # only the manifest and its folder, written by newsindex itself


def test_leftovers_of_crashed_commits_are_removed_before_writing(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(stories(3))
    name = news._manifest["index_name"]
    before = index_files(news)
    leftovers = [
        f"{name}.tmp/pool.run",  # Whoosh's temporary storage
        f"_{name}_7.toc.1732761234.5",  # a TOC that never got renamed
        f"{name}_zzzzzzzzzzzzzzzz.pst",  # a segment no TOC names
        "_stories_0123456789ab_3.toc",  # an index replaced by a rebuild
        ".newsindex.json.999.tmp",  # an unfinished manifest
    ]
    for leftover in leftovers:
        path = news.path / leftover
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 1000)
    report = news.add(stories(1, start=3))
    assert report.added == 1
    after = index_files(news)
    assert not after & {leftover.split("/")[0] for leftover in leftovers}
    assert news.count() == 4
    assert len(after) <= len(before) + 20  # the new segment's files, nothing more


# Failing at a segment file's creation, its flush, the TOC's rename. When a commit fails half-way, Whoosh
# leaves the files it had open for the garbage collector to close (newsindex collects them straight after).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("failing", ["create", "sync", "rename"])
def test_a_full_disk_leaves_the_last_commit_and_releases_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(stories(5))
    files_before = index_files(news)

    def disk_full(self: DurableStorage, operation: str, name: str) -> None:
        if operation == failing:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(DurableStorage, "before", disk_full)
    with pytest.raises(IndexIOError, match="No space left on device; the index keeps its last commit"):
        news.add(stories(5, start=5))
    monkeypatch.undo()

    reopened = NewsIndex.open(news.path)
    assert reopened.count() == 5
    assert index_files(reopened) == files_before  # the failed commit's files are gone
    assert reopened.add(stories(5, start=5), lock_timeout=0.5).added == 5  # the lock was released
    assert reopened.count() == 10


def test_an_index_writable_by_others_is_refused_before_it_is_read(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(stories(1))
    assert not news.path.stat().st_mode & 0o022  # created private
    news.path.chmod(0o777)
    with pytest.raises(UntrustedIndexError, match="writable by other users"):
        NewsIndex.open(news.path)
    news.path.chmod(0o755)
    assert NewsIndex.open(news.path).count() == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a folder's owner needs root")
def test_an_index_owned_by_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    news = NewsIndex.create(tmp_path / "index")
    os.chown(news.path, 4242, 4242)
    monkeypatch.setattr(os, "getuid", lambda: 1000)
    with pytest.raises(UntrustedIndexError, match="belongs to another user"):
        NewsIndex.open(news.path)


def test_the_default_index_folder_with_its_readme_works(tmp_path: Path, corpus: Path) -> None:
    folder = tmp_path / "index"
    folder.mkdir(mode=0o775)
    (folder / "README.md").write_text("The default index folder.")
    news = NewsIndex.open_or_create(folder)
    news.add_files([str(corpus)])
    news.add_files([str(corpus)])
    assert (folder / "README.md").read_text() == "The default index folder."
    assert NewsIndex.open(folder).count() == 10


def test_stories_indexed_twice_in_one_folder_do_not_leave_files_behind(tmp_path: Path, corpus: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(corpus)])
    write_story(corpus, "iran-oil.txt", "DUBAI (Reuters) - Iran cut oil exports.", date="2019-07-01")
    news.add_files([str(corpus)])
    news.rebuild_files([str(corpus)])
    name = NewsIndex.open(news.path)._manifest["index_name"]
    assert all(name in file or file in {"newsindex.json", "newsindex.lock"} for file in index_files(news))


def _largest_segment_file(folder: Path) -> Path:
    return max((path for path in folder.iterdir() if path.name.startswith("stories_") and "." in path.name),
               key=lambda path: path.stat().st_size)  # fmt: skip


def _toc(folder: Path) -> Path:
    return next(path for path in folder.iterdir() if path.name.endswith(".toc"))


def _truncate(path: Path, fraction: float) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.truncate(int(size * fraction))


def _zero_block(path: Path) -> None:
    middle = path.stat().st_size // 2
    with open(path, "r+b") as file:
        file.seek(max(0, middle - 2048))
        file.write(b"\0" * 4096)


# The damages a power loss leaves when nothing was fsynced, as measured on raw Whoosh.
POWER_LOSS_DAMAGES = {
    "toc empty": lambda folder: _truncate(_toc(folder), 0),
    "toc missing": lambda folder: _toc(folder).unlink(),
    "toc half": lambda folder: _truncate(_toc(folder), 0.5),
    "segment empty": lambda folder: _truncate(_largest_segment_file(folder), 0),
    "segment half": lambda folder: _truncate(_largest_segment_file(folder), 0.5),
    "segment zeroed block": lambda folder: _zero_block(_largest_segment_file(folder)),
    "segment missing": lambda folder: _largest_segment_file(folder).unlink(),
}


@pytest.mark.parametrize("damage", POWER_LOSS_DAMAGES)
def test_every_power_loss_damage_is_found_by_check_and_stops_search(tmp_path: Path, corpus: Path, damage: str) -> None:
    from typer.testing import CliRunner

    from newsindex.cli.commands import app

    folder = tmp_path / "index"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(corpus), "-i", str(folder), "-q"]).exit_code == 0
    assert runner.invoke(app, ["check", "-i", str(folder)]).stdout.startswith("OK: 10 stories")
    POWER_LOSS_DAMAGES[damage](folder)

    checked = runner.invoke(app, ["check", "-i", str(folder)])
    assert checked.exit_code == 4
    assert "damaged: " in checked.stderr
    searched = runner.invoke(app, ["search", "iran", "-i", str(folder)])
    assert searched.exit_code == 4
    assert searched.stderr.startswith(f"Error: index at {folder} is damaged: ")
    assert "newsindex index --rebuild CORPUS" in searched.stderr
    assert searched.stdout == ""
