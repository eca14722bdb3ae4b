"""The write path: stories → Whoosh documents, in batches, each batch one commit.

Whoosh quirks handled here: a writer that raised once is poisoned (later commits write damaged
segments), so a batch is kept in memory until it commits and, when one story makes Whoosh raise, the
writer is cancelled and the batch replayed without that story. Lock waits end in IndexBusyError with
a message, not Whoosh's empty LockError.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whoosh.writing import IndexWriter

from newsindex.errors import IndexDamagedError, IndexIOError
from newsindex.models import IndexReport, Problem, Story
from newsindex.store.catalogue import Catalogue
from newsindex.store.codec import NewsCodec
from newsindex.store.duplicates import FIELDS as DUPLICATE_FIELDS
from newsindex.store.duplicates import Grouper
from newsindex.store.schema import TAG_FIELDS, record_digest, story_from_stored, story_record, story_to_document
from newsindex.store.storage import folder_lock, record_checksums, remove_leftovers, sync_folder
from newsindex.store.workers import ParallelWriter, WorkerPool, release_free_memory
from newsindex.store.writer import BufferedSegmentWriter

TAG_DOCUMENT_FIELDS = (*TAG_FIELDS, *(f"{field}_exact" for field in TAG_FIELDS))
BATCH_STORIES = 5_000  # stories per commit: a crash loses at most this much work
# With worker processes each commit adds a segment per worker, and every segment repeats the term
# dictionary: bigger batches keep the index small and queries fast (50,000 stories is about a minute).
PARALLEL_BATCH_STORIES = 50_000
WRITER_MEMORY_MB = 128  # Whoosh's in-memory posting pool per writer (and per worker) before it spills to disk
PARALLEL_BATCH = 100  # stories per job handed to a worker process: small jobs keep the workers evenly busy
# In the index folder, the inputs a run may have committed only part of (see `_HalfRead`).
UNFINISHED = "newsindex.unfinished"


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
        lock_held: bool = False,
    ) -> None:
        self._index = whoosh_index
        self._lock_held = lock_held  # the caller holds the folder's write lock (a rebuild)
        self._other_live = other_live
        self._lock_timeout = lock_timeout
        self._batch_stories = batch_stories or (PARALLEL_BATCH_STORIES if procs > 1 else BATCH_STORIES)
        self._on_story = on_story
        self.report = IndexReport()
        self._started = time.perf_counter()
        self._writer: IndexWriter | None = None
        self._batch: list[_Change] | _Spool = []  # the changes since the last commit, to replay if a writer fails
        self._catalogue = Catalogue()  # the stories the index holds, and which of them this run met
        self._refused: dict[str, str | None] = {}  # ids met in this run but not indexed → their input
        self._read_paths: set[str] = set()  # input files met in this run
        self._procs = procs
        self._pool: WorkerPool | None = None
        self._half_read: _HalfRead | None = None
        self._writer_procs = 1
        self._warned_ungrouped = False
        self._lacks_tags = any(field not in whoosh_index.schema for field in TAG_FIELDS)  # an index from before
        self._grouper = Grouper(whoosh_index)  # duplicate groups, assigned here before any worker sees a story

    def __enter__(self) -> Indexer:
        # The write lock is ours for the whole run, batches included; Whoosh's writers run without it.
        self._lock = _NoLock() if self._lock_held else _acquire(self._index, self._lock_timeout)
        try:
            self._remove_leftovers()
            self._half_read = _HalfRead(self._index.storage)
            self._writer = self._open_writer()  # with worker processes, forked now: the run has loaded nothing yet
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
        failed = error is not None
        try:
            if not failed:
                self._commit()
                self._check_count()
        except BaseException as commit_error:  # Ctrl-C during the last commit included
            failed = True
            if not isinstance(commit_error, OSError):
                raise
            traceback.clear_frames(commit_error.__traceback__)  # let go of the failed writer's files
            error = commit_error
        finally:
            self._release(failed=failed)
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
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            if failed:
                _collect_leaked_files()
            elif self._half_read is not None:
                self._half_read.finished()
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
            self._catalogue = Catalogue.load(reader)

    def begin_file(self, path: str, stamp: str | None) -> bool:
        """Note that `path` is read in this run; False (its stories counted unchanged) if it is as last
        indexed, and the run that indexed it finished."""
        self._read_paths.add(path)
        half_read = self._half_read
        suspect = half_read is not None and half_read.is_suspect(path)
        if stamp is not None and not suspect and self._catalogue.is_unchanged_input(path, stamp):
            if half_read is not None:
                half_read.opened(None)  # skipped: the input before it was read to its end
            self.report.unchanged += self._catalogue.meet_input(path, stamp)
            return False
        if half_read is not None:
            half_read.opened(path)
        return True

    # -- writing ------------------------------------------------------------------------------------

    def put(self, story: Story, *, stamp: str | None = None) -> None:
        """Add `story`, replace the indexed story with its id if it changed, or skip it if not."""
        catalogue = self._catalogue
        row = catalogue.find(story.id)
        met, first = (
            catalogue.met_in(row) if row is not None else (story.id in self._refused, self._refused.get(story.id))
        )
        if met:
            problem = f"duplicate id {story.id!r} (also in {first or 'an earlier record'}); the later one is kept"
            self.report.problems.append(Problem(story.path or "-", problem, "degraded"))
        if row is not None:
            catalogue.meet(row, story.path, stamp)
        record = story_record(story)
        digest = record_digest(record)
        held = row is not None and catalogue.is_held(row)
        if row is not None and catalogue.is_unchanged(row, digest, stamp):
            self.report.unchanged += 1
            return
        try:
            document = story_to_document(story, digest=digest, stamp=stamp, record=record)
        except (ValueError, OverflowError) as error:  # e.g. a date Whoosh cannot hold
            self.report.problems.append(Problem(story.path or story.id, f"story {story.id!r} not indexed: {error}"))
            self._refuse(story, row)
            return
        if self._lacks_tags and any(name in document for name in TAG_FIELDS):
            self._lacks_tags = False  # said once a run
            reason = (
                "this index was built before the region, topic, place, org and person fields: stories keep them "
                "but cannot be searched by them; rebuild it with `newsindex index --rebuild CORPUS`"
            )
            self.report.problems.append(Problem(str(self._index.storage.folder), reason, "degraded"))
        grouping = self._grouper.assign(story.id, story.body, story.headline, digest, document.get("published"))
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
        outcome = "updated" if held else "added"
        if row is not None and catalogue.has_digest(row, digest):
            outcome = "unchanged"
        change = _Change(story.id, story.path, outcome, document, replaces=held)
        if self._apply(change):
            self._grouper.accept(story.id, grouping)
            self._count(change, +1)
            if row is None:
                row = catalogue.add(story.id, digest, story.path, stamp)
            else:
                catalogue.update(row, digest, story.path, stamp)
            catalogue.meet(row, story.path, stamp)
            if self._on_story:
                self._on_story(story)
        else:
            self._refuse(story, row)
        if len(self._batch) >= self._batch_stories:
            self._commit()
            self._writer = self._open_writer()

    def _refuse(self, story: Story, row: int | None) -> None:
        """Note a story met in this run but not written (for the duplicate-id warning)."""
        if row is None:
            self._refused[story.id] = story.path

    def prune(self, roots: Iterable[str]) -> None:
        """Delete stories read from files under `roots` that are gone: the file was deleted, or it was
        read in this run and no longer holds the story."""
        roots = [os.path.abspath(root) for root in roots]
        for row, path in list(self._catalogue.unmet()):
            if not path or not _is_under(path, roots):
                continue
            if path in self._read_paths or not os.path.exists(path):
                story_id = self._catalogue.story_id(row)
                self._apply(_Change(story_id, path, "removed", None, replaces=True))
                self._grouper.forget(story_id)
                self._catalogue.remove(row)
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
        self._grouper.end_batch()
        if self._half_read is not None:
            self._half_read.before_commit()
        writer = self._writer
        writer.commit()
        self._writer = None
        record_checksums(self._index)
        if isinstance(writer, ParallelWriter) and writer.lost_some:
            self._rescue_lost()
        self._clear_batch()
        release_free_memory()

    def _clear_batch(self) -> None:
        if isinstance(self._batch, _Spool):
            self._batch.close()
        self._batch = []

    def _rescue_lost(self) -> None:
        """Write again, in this process, the stories of the batch that a Whoosh worker process dropped.

        A worker that raises on one story dies silently with its whole share of the batch; here the bad
        story raises where it can be told apart from the good ones. (Called only when the workers' segments
        hold fewer stories than they were given: looking up every story of a batch costs a tenth of a run.)
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
                row = self._catalogue.find(change.story_id)  # an old version went with the committed batch
                if row is not None:
                    self._catalogue.remove(row)
        self._writer.commit()
        self._writer = None
        record_checksums(self._index)

    def _open_writer(self, procs: int | None = None) -> IndexWriter:
        procs = self._procs if procs is None else procs
        # Separate segment files, not one compound file: Whoosh reads a compound file's parts by copying each
        # part whole into memory, which costs every search milliseconds per open.
        options: dict[str, Any] = {"limitmb": WRITER_MEMORY_MB, "compound": False, "codec": NewsCodec()}
        if procs > 1:
            # analysis in the pool's worker processes, one segment each
            if self._pool is None:
                self._pool = WorkerPool(self._index, procs, options)
            writer = ParallelWriter(self._index, self._pool, _lk=False, batchsize=PARALLEL_BATCH, **options)
        else:
            writer = BufferedSegmentWriter(self._index, _lk=False, **options)
        self._writer_procs = procs
        return writer

    def _check_count(self) -> None:
        expected = len(self._catalogue)
        actual = self._index.doc_count()
        if actual != expected:
            raise IndexDamagedError(
                f"index holds {actual} stories after commit, expected {expected}; run `newsindex check`"
            )


def _collect_leaked_files() -> None:
    """Close now the files a failed Whoosh writer leaves open (it never closes them itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@contextmanager
def write_lock(whoosh_index: Any, *, timeout: float) -> Iterator[None]:
    """Hold the index folder's write lock (no writer but ours) for the duration of the block."""
    with folder_lock(Path(whoosh_index.storage.folder), timeout=timeout):
        yield


class _FolderLock:
    """The folder's write lock (storage.folder_lock), held from construction until `release`."""

    def __init__(self, whoosh_index: Any, timeout: float) -> None:
        self._held = folder_lock(Path(whoosh_index.storage.folder), timeout=timeout)
        self._held.__enter__()

    def release(self) -> None:
        self._held.__exit__(None, None, None)


class _NoLock:
    def release(self) -> None:
        pass


def _acquire(whoosh_index: Any, timeout: float) -> _FolderLock:
    return _FolderLock(whoosh_index, timeout)


class _HalfRead:
    """The inputs an indexing run may have committed only part of, noted in the index folder.

    A run that stops half-way through an input (Ctrl-C, a crash, a full disk) has committed some of its
    stories with the input's stamp; the next run would take that stamp to mean "all indexed" and skip
    the rest for good. So before each commit the file UNFINISHED names the inputs begun and not read to
    their end by then (and those a run before left so); a later run reads them whatever their stamp, and
    drops each from the file once it has read it to the end and finished.
    """

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._noted: list[str] | None = None  # what the file says (None: there is none)
        self._suspect: set[str] | None = set()  # None: every input (a file we cannot read)
        if storage.file_exists(UNFINISHED):
            self._suspect = _read_inputs(Path(storage.folder, UNFINISHED))
            self._noted = ["*"] if self._suspect is None else sorted(self._suspect)
        self._open: str | None = None  # the input being read
        self._done: set[str] = set()  # inputs read to their end in this run

    def is_suspect(self, path: str) -> bool:
        """Whether `path` may be in the index only in part."""
        return self._suspect is None or path in self._suspect

    def opened(self, path: str | None) -> None:
        """`path` is read from now on, or none when the next input is skipped (the input read before,
        if any, was read to its end)."""
        if self._open is not None:
            self._done.add(self._open)
        self._open = path

    def before_commit(self) -> None:
        """Note, durably and before the commit lands, what it may hold only part of."""
        pending = set() if self._suspect is None else self._suspect - self._done
        if self._open is not None:
            pending.add(self._open)
        if self._suspect is None:
            pending.add("*")  # still every input, until this run finishes
        self._note(sorted(pending))

    def finished(self) -> None:
        """The run ended well: every input it read was read to its end."""
        if self._open is not None:
            self._done.add(self._open)
            self._open = None
        remaining = set() if self._suspect is None else self._suspect - self._done
        self._note(sorted(remaining) or None)

    def _note(self, inputs: list[str] | None) -> None:
        if inputs == self._noted:
            return
        if inputs is None:
            with suppress(FileNotFoundError):
                self._storage.delete_file(UNFINISHED)
        else:
            file = self._storage.create_file(UNFINISHED)  # fsynced on close by DurableStorage
            try:
                file.write(json.dumps(inputs).encode("utf-8"))
            finally:
                file.close()
            if getattr(self._storage, "fsync", False):
                sync_folder(Path(self._storage.folder))
        self._noted = inputs


def _read_inputs(path: Path) -> set[str] | None:
    """The inputs an UNFINISHED file names; None (every input) if it cannot be read or says "*"."""
    try:
        inputs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(inputs, list) or "*" in inputs or not all(isinstance(name, str) for name in inputs):
        return None
    return set(inputs)


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
    replaces: bool  # whether the index holds a version of the story to delete first

    def write(self, writer: Any) -> None:
        if self.replaces:
            writer.delete_by_term("id", self.story_id)
        if self.document is not None:
            document = self.document
            if any(name not in writer.schema for name in TAG_DOCUMENT_FIELDS if name in document):
                # An index built before these fields: its stories are stored whole but not searchable by them.
                document = {name: value for name, value in document.items() if name in writer.schema}
            writer.add_document(**document)

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
        return _Change(self.story_id, self.path, self.outcome, document, False)


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(os.path.join(root, "")) for root in roots)
