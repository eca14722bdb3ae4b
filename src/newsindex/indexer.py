"""The write path: stories → Whoosh documents, in batches, each batch one commit.

Whoosh quirks handled here: a writer that raised once is poisoned (later commits write damaged
segments), so a batch is kept in memory until it commits and, when one story makes Whoosh raise, the
writer is cancelled and the batch replayed without that story. Lock waits end in IndexBusyError with
a message, not Whoosh's empty LockError.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whoosh import multiproc
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.util.filelock import try_for
from whoosh.writing import IndexWriter

from newsindex.codec import NewsCodec
from newsindex.duplicates import FIELDS as DUPLICATE_FIELDS
from newsindex.duplicates import Grouper
from newsindex.errors import IndexBusyError, IndexDamagedError, IndexIOError
from newsindex.models import IndexReport, Problem, Story
from newsindex.schema import record_digest, story_from_stored, story_record, story_to_document
from newsindex.storage import record_checksums, remove_leftovers
from newsindex.writer import BufferedSegmentWriter

BATCH_STORIES = 5_000  # stories per commit: a crash loses at most this much work
# With worker processes each commit adds a segment per worker, and every segment repeats the term
# dictionary: bigger batches keep the index small and queries fast (50,000 stories is about a minute).
PARALLEL_BATCH_STORIES = 50_000
WRITER_MEMORY_MB = 128  # Whoosh's in-memory posting pool per writer (and per worker) before it spills to disk
PARALLEL_BATCH = 100  # stories per job handed to a worker process: small jobs keep the workers evenly busy


@dataclass(slots=True)
class _Known:
    """What the index holds about one story: enough to skip it, update it or prune it."""

    digest: str
    stamp: str | None
    path: str | None


class Indexer:
    """One indexing run over an open Whoosh index: add, update, skip, prune; commits in batches.

    Use as a context manager: leaving it normally commits the last batch; leaving it by an exception
    (Ctrl-C included) cancels the uncommitted batch, so the index stays at its last commit.
    """

    def __init__(
        self,
        whoosh_index: Any,
        *,
        lock_timeout: float = 30.0,
        batch_stories: int | None = None,
        on_story: Callable[[Story], None] | None = None,
        procs: int = 1,
        other_live: frozenset[str] = frozenset(),
    ) -> None:
        self._index = whoosh_index
        self._other_live = other_live
        self._lock_timeout = lock_timeout
        self._batch_stories = batch_stories or (PARALLEL_BATCH_STORIES if procs > 1 else BATCH_STORIES)
        self._on_story = on_story
        self.report = IndexReport()
        self._started = time.perf_counter()
        self._writer: IndexWriter | None = None
        self._batch: list[_Change] | _Spool = []  # the changes since the last commit, to replay if a writer fails
        self._known: dict[str, _Known] = {}
        self._seen: dict[str, str | None] = {}  # story ids met in this run → the input they came from
        self._stamps: dict[str, str] = {}  # input path → its stamp when last indexed
        self._ids_by_path: dict[str, list[str]] = {}
        self._read_paths: set[str] = set()  # input files met in this run
        self._procs = procs
        self._writer_procs = 1
        self._warned_ungrouped = False
        self._grouper = Grouper(whoosh_index)  # duplicate groups, assigned here before any worker sees a story

    def __enter__(self) -> Indexer:
        # The write lock is ours for the whole run, batches included; Whoosh's writers run without it.
        self._lock = _acquire(self._index, self._lock_timeout)
        try:
            self._remove_leftovers()
            self._writer = self._open_writer()
            self._load_known()
        except BaseException as error:
            # A writer that failed half-built is referenced only from the traceback's frames: let it go,
            # so that the files it opened are closed now rather than whenever the collector runs.
            traceback.clear_frames(error.__traceback__)
            self._release(failed=True)
            if isinstance(error, OSError) and not isinstance(error, IndexIOError):
                raise self._io_error(error) from error
            raise
        return self

    def __exit__(self, error_type: type[BaseException] | None, error: BaseException | None, _: object) -> None:
        try:
            if error is None:
                self._commit()
                self._check_count()
        except OSError as commit_error:
            traceback.clear_frames(commit_error.__traceback__)  # let go of the failed writer's files
            error = commit_error
        finally:
            self._release(failed=error is not None)
            self.report.seconds = time.perf_counter() - self._started
        if isinstance(error, OSError) and not isinstance(error, IndexIOError):
            raise self._io_error(error) from error  # disk full, read-only, no permission: exit 5, not a bug

    def _io_error(self, error: OSError) -> IndexIOError:
        return IndexIOError(
            f"could not write to {self._index.storage.folder}: {error.strerror or error}; the index keeps its "
            "last commit (free some space or fix the permission, then run again)"
        )

    def _release(self, *, failed: bool) -> None:
        """Cancel an unfinished writer, clear what it left, and let go of the lock."""
        try:
            self._clear_batch()
            self._grouper.close()
            if self._writer is not None:
                writer, self._writer = self._writer, None
                with suppress(Exception):  # a writer whose commit failed half-way may refuse to cancel
                    writer.cancel()
                del writer
            if failed:
                _collect_leaked_files()
            self._remove_leftovers()  # also what a writer that failed to start left
        finally:
            self._lock.release()

    def _remove_leftovers(self) -> None:
        toc = self._index._read_toc()
        remove_leftovers(
            Path(self._index.storage.folder),
            self._index.indexname,
            toc.generation,
            {segment.segment_id() for segment in toc.segments},
            other_live=self._other_live,
        )

    # -- what the index already holds -------------------------------------------------------------

    def _load_known(self) -> None:
        with self._index.reader() as reader:
            for leaf, _offset in _leaf_readers(reader):
                columns = {name: _column(leaf, name) for name in ("id", "digest", "stamp", "path")}
                for docnum in range(leaf.doc_count_all()):
                    if leaf.has_deletions() and leaf.is_deleted(docnum):
                        continue
                    story_id = columns["id"][docnum]
                    path = columns["path"][docnum] or None
                    stamp = columns["stamp"][docnum] or None
                    self._known[story_id] = _Known(columns["digest"][docnum], stamp, path)
                    if path:
                        self._ids_by_path.setdefault(path, []).append(story_id)
                        if stamp:
                            self._stamps[path] = stamp

    def begin_file(self, path: str, stamp: str | None) -> bool:
        """Note that `path` is read in this run; False (its stories counted unchanged) if it is as last indexed."""
        self._read_paths.add(path)
        if stamp is None or self._stamps.get(path) != stamp:
            return True
        for story_id in self._ids_by_path.get(path, ()):
            if story_id not in self._seen:
                self._seen[story_id] = path
                self.report.unchanged += 1
        return False

    # -- writing ------------------------------------------------------------------------------------

    def put(self, story: Story, *, stamp: str | None = None) -> None:
        """Add `story`, replace the indexed story with its id if it changed, or skip it if not."""
        if story.id in self._seen:
            first = self._seen[story.id] or "an earlier record"
            problem = f"duplicate id {story.id!r} (also in {first}); the later one is kept"
            self.report.problems.append(Problem(story.path or "-", problem, "degraded"))
        self._seen[story.id] = story.path
        record = story_record(story)
        digest = record_digest(record)
        known = self._known.get(story.id)
        if known is not None and known.digest == digest and known.stamp == stamp:
            self.report.unchanged += 1
            return
        try:
            document = story_to_document(story, digest=digest, stamp=stamp, record=record)
        except (ValueError, OverflowError) as error:  # e.g. a date Whoosh cannot hold
            self.report.problems.append(Problem(story.path or story.id, f"story {story.id!r} not indexed: {error}"))
            return
        grouping = self._grouper.assign(story.id, story.body, story.headline, digest)
        if grouping is not None:
            document.update(grouping.fields())
        elif not self._warned_ungrouped:
            self._warned_ungrouped = True
            reason = (
                "this index was built before duplicate groups, so search shows every version of a story; "
                "rebuild it with `newsindex index --rebuild CORPUS` to group copies"
            )
            self.report.problems.append(Problem(str(self._index.storage.folder), reason, "degraded"))
        # A touched file with the same story is stored again for its new stamp, but counted unchanged.
        outcome = "added" if known is None else "unchanged" if known.digest == digest else "updated"
        change = _Change(story.id, story.path, outcome, document, replaces=known)
        if self._apply(change):
            self._grouper.accept(story.id, grouping)
            self._count(change, +1)
            self._known[story.id] = _Known(digest, stamp, story.path)
            if self._on_story:
                self._on_story(story)
        if len(self._batch) >= self._batch_stories:
            self._commit()
            self._writer = self._open_writer()

    def prune(self, roots: Iterable[str]) -> None:
        """Delete stories read from files under `roots` that are gone: the file was deleted, or it was
        read in this run and no longer holds the story."""
        roots = [os.path.abspath(root) for root in roots]
        for story_id, known in list(self._known.items()):
            if story_id in self._seen or not known.path or not _is_under(known.path, roots):
                continue
            if known.path in self._read_paths or not os.path.exists(known.path):
                self._apply(_Change(story_id, known.path, "removed", None, replaces=known))
                self._grouper.forget(story_id)
                del self._known[story_id]
                self.report.removed += 1

    def _count(self, change: _Change, step: int) -> None:
        if change.outcome != "removed":
            setattr(self.report, change.outcome, getattr(self.report, change.outcome) + step)

    def _apply(self, change: _Change) -> bool:
        """Write one change; if Whoosh raises, report the story and replay the batch without it."""
        try:
            change.write(self._writer)
        except OSError:
            raise  # the disk's fault, not the story's
        except Exception as error:
            self.report.problems.append(
                Problem(
                    change.path or change.story_id, f"story {change.story_id!r} not indexed: Whoosh raised {error!r}"
                )
            )
            self._replay()
            return False
        # Kept until commit, to replay in a fresh writer; a worker process has its own copy, so here a
        # slim one (the stored story) is enough to rebuild the document if the worker dies, and it waits
        # on disk: a batch of 50,000 stories would hold a hundred megabytes of them.
        if self._writer_procs > 1:
            if not isinstance(self._batch, _Spool):
                self._batch = _Spool(self._batch)
            self._batch.append(change.slim())
        else:
            self._batch.append(change)
        return True

    def _replay(self) -> None:
        """A Whoosh writer that raised is poisoned: cancel it and write the batch again in a fresh one."""
        assert self._writer is not None
        slim = self._writer_procs > 1  # a parallel batch keeps only the stored fields: rebuild the rest
        self._writer.cancel()
        self._writer = self._open_writer(procs=1)
        for change in self._batch:
            if slim and change.document is not None:
                change = replace(change, document=change.rebuilt().document)
            change.write(self._writer)

    def _commit(self) -> None:
        assert self._writer is not None
        parallel = self._writer_procs > 1
        self._writer.commit()
        self._writer = None
        record_checksums(self._index)
        if parallel:
            self._rescue_lost()
        self._clear_batch()
        self._grouper.committed()

    def _clear_batch(self) -> None:
        if isinstance(self._batch, _Spool):
            self._batch.close()
        self._batch = []

    def _rescue_lost(self) -> None:
        """Write again, in this process, the stories of the batch that a Whoosh worker process dropped.

        A worker that raises on one story dies silently with its whole share of the batch; here the bad
        story raises where it can be told apart from the good ones.
        """
        with self._index.searcher() as searcher:
            lost = [
                change
                for change in self._batch
                if change.document is not None and searcher.document_number(id=change.story_id) is None
            ]
        if not lost:
            return
        self._clear_batch()
        self._writer = self._open_writer(procs=1)
        for change in lost:
            if not self._apply(change.rebuilt()):
                self._count(change, -1)
                del self._known[change.story_id]  # an old version went with the committed batch
        self._writer.commit()
        self._writer = None
        record_checksums(self._index)

    def _open_writer(self, procs: int | None = None) -> IndexWriter:
        procs = self._procs if procs is None else procs
        # Separate segment files, not one compound file: Whoosh reads a compound file's parts by copying each
        # part whole into memory, which costs every search milliseconds per open.
        options: dict[str, Any] = {"limitmb": WRITER_MEMORY_MB, "compound": False, "codec": NewsCodec()}
        if procs > 1:
            # Whoosh's multi-process writer: analysis in `procs` worker processes, one segment each
            writer = _ParallelWriter(
                self._index, _lk=False, procs=procs, multisegment=True, batchsize=PARALLEL_BATCH, subargs=options,
                **options,
            )  # fmt: skip
        else:
            writer = BufferedSegmentWriter(self._index, _lk=False, **options)
        self._writer_procs = procs
        return writer

    def _check_count(self) -> None:
        expected = len(self._known)
        actual = self._index.doc_count()
        if actual != expected:
            raise IndexDamagedError(
                f"index holds {actual} stories after commit, expected {expected}; run `newsindex check`"
            )


class _WorkerTask(SubWriterTask):  # type: ignore[misc]
    """A Whoosh worker process that dies with the indexing process.

    Whoosh's own outlive a killed parent and keep the write lock they inherited for a minute or more.
    """

    def run(self) -> None:
        _die_with_parent()
        # What it inherits from the indexing process is left out of its garbage collections: a collection
        # writes to every object it visits, which copies each page it shares with the parent. (Its effect
        # on the peak was not measured apart; freezing in the parent too, before the fork, left the peak
        # at 500,000 stories unchanged, 1,054 against 1,056 MiB of summed PSS, and frozen objects are never
        # collected, so it does not.)
        gc.freeze()
        # Whoosh's worker loop names its writer class directly: in this worker process, make it ours.
        multiproc.SegmentWriter = BufferedSegmentWriter
        super().run()


class _ParallelWriter(MpWriter):  # type: ignore[misc]
    """Whoosh's multi-process writer, with workers that die with their parent."""

    def _new_task(self) -> _WorkerTask:
        task = _WorkerTask(
            self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, self.multisegment
        )
        self.tasks.append(task)
        task.start()
        return task


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the prctl call
        os._exit(1)


def _collect_leaked_files() -> None:
    """Close now the files a failed Whoosh writer leaves open (it never closes them itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@contextmanager
def write_lock(whoosh_index: Any, *, timeout: float) -> Iterator[None]:
    """Hold the index's write lock (no writer but ours) for the duration of the block."""
    lock = _acquire(whoosh_index, timeout)
    try:
        yield
    finally:
        lock.release()


def _acquire(whoosh_index: Any, timeout: float) -> Any:
    lock = whoosh_index.lock("WRITELOCK")
    if not try_for(lock.acquire, timeout=timeout, delay=0.1):
        raise _busy(timeout)
    return lock


def _busy(timeout: float) -> IndexBusyError:
    return IndexBusyError(
        f"index is busy: another process is writing to it and did not finish within {timeout:g} s; "
        "try again later or raise --lock-timeout"
    )


class _Spool:
    """Changes pickled to an unnamed temporary file, read back in order: a batch that costs no memory."""

    def __init__(self, changes: Iterable[_Change] = ()) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by `close`, removed by the OS on exit)
        self._count = 0
        for change in changes:
            self.append(change)

    def append(self, change: _Change) -> None:
        # As a tuple: pickling a slots dataclass asks dataclasses.fields() for its fields every time.
        fields = (change.story_id, change.path, change.outcome, change.document, change.replaces)
        pickle.dump(fields, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[_Change]:
        self._file.seek(0)
        try:
            for _ in range(self._count):
                yield _Change(*pickle.load(self._file))
        finally:
            self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True, slots=True)
class _Change:
    """One story's change to the index: its old version deleted (if any), its new document added (if any)."""

    story_id: str
    path: str | None
    outcome: str  # the IndexReport counter it adds to: added, updated, unchanged or removed
    document: dict[str, Any] | None
    replaces: _Known | None

    def write(self, writer: Any) -> None:
        if self.replaces is not None:
            writer.delete_by_term("id", self.story_id)
        if self.document is not None:
            writer.add_document(**self.document)

    def slim(self) -> _Change:
        """This change with only the stored fields of its document (enough for `rebuilt`)."""
        if self.document is None:
            return self
        kept: dict[str, Any] = {
            name: self.document[name]
            for name in ("id", "story", "digest", "stamp", *DUPLICATE_FIELDS)
            if name in self.document
        }
        return _Change(self.story_id, self.path, self.outcome, kept, self.replaces)

    def rebuilt(self) -> _Change:
        """The add-only change with the full document, rebuilt from a slim one's stored story."""
        assert self.document is not None
        story = story_from_stored(self.document)
        document = story_to_document(story, digest=self.document["digest"], stamp=self.document.get("stamp"))
        document.update({name: self.document[name] for name in DUPLICATE_FIELDS if name in self.document})
        return _Change(self.story_id, self.path, self.outcome, document, None)


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(os.path.join(root, "")) for root in roots)


def _leaf_readers(reader: Any) -> list[tuple[Any, int]]:
    return list(reader.leaf_readers())


def _column(reader: Any, name: str) -> Any:
    if not reader.has_column(name):
        return _Blank()
    return reader.column_reader(name)


class _Blank:
    def __getitem__(self, _docnum: int) -> str:
        return ""
