"""Worker processes that analyse stories and write segments, forked once per indexing run.

Whoosh's multi-process writer forks its workers anew for every batch, from the indexing process as it
is then: late in a big run that process holds a few hundred megabytes (what it knows of every story,
the duplicate table), every worker starts as a copy of it, and the pages either side changes are
copied (at 500,000 stories the workers held as much as the indexing process). Here a `WorkerPool`
forks its workers when a run starts, before anything is loaded, and keeps them for every batch:

- each worker has a pipe of its own; the indexing process hands a job (a file of pickled documents,
  as Whoosh's writer does) to the worker with the fewest jobs pending, and waits when each has
  `_PENDING_JOBS`, so the files waiting on disk stay few;
- at commit every worker writes its segment (`newsindex.store.writer.BufferedSegmentWriter`) and sends it
  back, then forgets the batch: the caches of analysis are emptied, so a worker's memory is a batch's;
- a worker that dies (a story that makes Whoosh raise kills it) loses its share of the batch, which
  the indexer writes again by itself (`Indexer._rescue_lost`); the pool forks a new one for the next
  batch. Workers die with the indexing process (Linux), so none keeps the write lock it inherited.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import signal
import sys
from contextlib import suppress
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from whoosh.multiproc import MpWriter
from whoosh.util import random_name
from whoosh.writing import SegmentWriter

from newsindex.store.schema import clear_analysis_caches
from newsindex.store.writer import BufferedSegmentWriter

# Forked where fork exists (Python 3.14 makes forkserver Linux's default): a worker inherits what the
# indexing process imported, and `_die_with_parent` knows its parent.
_CONTEXT = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
_PENDING_JOBS = 4  # jobs handed to a worker and not yet done, at most
_STOP_SECONDS = 5.0  # how long a worker gets to exit when the pool closes, before it is killed


class WorkerPool:
    """`procs` worker processes for the batches of one indexing run (see the module docstring)."""

    def __init__(self, whoosh_index: Any, procs: int, writer_options: dict[str, Any]) -> None:
        self._index = whoosh_index
        self._options = writer_options
        self._workers = [_Worker.start(whoosh_index, writer_options) for _ in range(procs)]

    def send(self, filename: str, count: int) -> None:
        """Hand a job to the least busy worker; if every worker is dead, the job is dropped (its
        stories are missing after commit, and written again by the indexer)."""
        while True:
            alive = [worker for worker in self._workers if worker.alive]
            if not alive:
                return
            idle = min(alive, key=lambda worker: worker.pending)
            if idle.pending >= _PENDING_JOBS:
                _wait_for_any(alive)
                continue
            if idle.send(("job", filename, count)):
                return
            self.raise_disk_error()

    def finish_batch(self) -> list[Any]:
        """Each worker's segment of the batch (none from a worker that wrote nothing or died).

        A worker the disk refused (full, read-only) raises its OSError here: writing its share again
        in this process would meet the same disk.
        """
        for worker in self._workers:
            worker.send(("commit",))
        segments = [worker.segment() for worker in self._workers]
        self.raise_disk_error()
        return [segment for segment in segments if segment is not None]

    def raise_disk_error(self) -> None:
        """Raise, in this process, the OSError that ended a worker, if one did."""
        for worker in self._workers:
            if isinstance(worker.error, OSError):
                error, worker.error = worker.error, None
                raise error

    def cancel_batch(self) -> None:
        """Workers drop what they hold of the batch (its segment files are left for the indexer to remove)."""
        for worker in self._workers:
            worker.send(("cancel",))
        for worker in self._workers:
            worker.segment()

    def close(self) -> None:
        """Stop the workers (killed if they do not exit soon)."""
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def replace_dead(self) -> None:
        """Fork a new worker for each that died (a batch begins)."""
        # Forked now, from the indexing process as it is: bigger than at the start, but rare.
        self._workers = [
            worker if worker.alive else _Worker.start(self._index, self._options) for worker in self._workers
        ]


class ParallelWriter(MpWriter):  # type: ignore[misc]
    """Whoosh's multi-process writer (one segment per worker), with the workers of a `WorkerPool`."""

    def __init__(self, whoosh_index: Any, pool: WorkerPool, *, batchsize: int, **options: Any) -> None:
        SegmentWriter.__init__(self, whoosh_index, **options)
        pool.replace_dead()
        self._pool = pool
        self.batchsize = batchsize  # stories a job
        self.docbuffer: list[tuple[int, dict[str, Any]]] = []
        self._grouping = 0
        self._added_sub = False
        self.sent = 0  # stories handed to the workers
        self.written = 0  # stories in the segments the workers sent back at commit

    @property
    def lost_some(self) -> bool:
        """After commit: whether a worker died with stories it was given (the indexer writes them again)."""
        return self.written != self.sent

    def _enqueue(self) -> None:
        filename = f"{random_name()}.doclist"
        with self.temp_storage().create_file(filename).raw_file() as file:
            for item in self.docbuffer:
                pickle.dump(item, file, pickle.HIGHEST_PROTOCOL)
        self._pool.send(filename, len(self.docbuffer))
        self.sent += len(self.docbuffer)
        self.docbuffer = []

    def cancel(self) -> None:
        try:
            self._pool.cancel_batch()
        finally:
            SegmentWriter.cancel(self)

    def _commit(self, mergetype: Any, optimize: Any, merge: Any) -> None:
        # MpWriter._commit with multisegment=True, its workers the pool's
        if self.docbuffer:
            self._enqueue()
        segments = self._merge_segments(mergetype, optimize, merge)
        written = self._pool.finish_batch()
        self.written = sum(segment.doc_count_all() for segment in written)
        segments += written
        if self._added:
            segments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(segments)
        self._finish()


class _Worker:
    """The indexing process's handle on one worker process."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self._process = process
        self._connection = connection
        self.pending = 0  # jobs sent and not yet done
        self.alive = True
        self.error: Exception | None = None  # what ended the worker, as it told us

    @classmethod
    def start(cls, whoosh_index: Any, options: dict[str, Any]) -> _Worker:
        ours, theirs = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_work, args=(whoosh_index.storage, whoosh_index.indexname, options, theirs), daemon=True
        )
        process.start()
        theirs.close()
        return cls(process, ours)

    def send(self, message: tuple[Any, ...]) -> bool:
        """Send a message; False (and the worker counted dead) if it cannot take it."""
        if not self.alive:
            return False
        try:
            self._connection.send(message)
        except OSError:
            self._died()
            return False
        if message[0] == "job":
            self.pending += 1
        return True

    def receive(self) -> tuple[Any, ...] | None:
        """The worker's next message (a job done, or its segment); None if it died."""
        try:
            message: tuple[Any, ...] = self._connection.recv()
        except (EOFError, OSError):
            self._died()
            return None
        if message[0] == "failed":
            self.error = message[1]
            self._died()
            return None
        if message[0] == "done":
            self.pending -= 1
        return message

    def segment(self) -> Any:
        """Wait for the end of the worker's batch: its segment, or None."""
        while self.alive:
            message = self.receive()
            if message is not None and message[0] == "segment":
                return message[1]
        return None

    def stop(self) -> None:
        with suppress(OSError):
            self._connection.send(None)
        self._process.join(_STOP_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()
        self.alive = False

    @property
    def connection(self) -> Connection:
        return self._connection

    def _died(self) -> None:
        self.alive = False
        self.pending = 0
        with suppress(EOFError, OSError):  # what it said before it went: why, if it knew
            while self.error is None and self._connection.poll():
                message = self._connection.recv()
                if message[0] == "failed":
                    self.error = message[1]
        self._process.join(_STOP_SECONDS)
        if self._process.is_alive():  # its pipe broke, yet it runs: it is of no more use
            self._process.kill()
            self._process.join()


def _wait_for_any(workers: list[_Worker]) -> None:
    """Wait until one of the workers sends something, and take it."""
    by_connection = {worker.connection: worker for worker in workers}
    for ready in wait(list(by_connection)):
        by_connection[ready].receive()  # type: ignore[index]


def _work(storage: Any, indexname: str, options: dict[str, Any], connection: Connection) -> None:
    """A worker process: jobs in, a segment at each commit; until told to stop."""
    _die_with_parent()
    # Ctrl-C reaches the whole process group: the indexing process handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What it inherits from the indexing process is left out of its garbage collections: a collection
    # writes to every object it visits, which would copy each page it shares with the parent.
    gc.freeze()
    try:
        _serve_jobs(storage, indexname, options, connection)
    except Exception as error:
        # One message to the indexing process, which decides what to say; no traceback on the terminal.
        with suppress(OSError, ValueError):
            connection.send(("failed", _portable(error)))
        raise SystemExit(1) from None


def _portable(error: Exception) -> Exception:
    """The error as the indexing process can unpickle it: an OSError keeps its errno, text and file."""
    if isinstance(error, OSError):
        return OSError(error.errno, error.strerror or str(error), error.filename)
    return RuntimeError(f"{type(error).__name__}: {error}")


def _serve_jobs(storage: Any, indexname: str, options: dict[str, Any], connection: Connection) -> None:
    index = storage.open_index(indexname)
    writer: BufferedSegmentWriter | None = None
    while True:
        message = connection.recv()
        if message is None:
            break
        if message[0] == "job":
            _, filename, count = message
            if writer is None:
                writer = BufferedSegmentWriter(index, _lk=False, **options)
            _write_job(writer, filename, count)
            connection.send(("done",))
            continue
        clear_analysis_caches()  # a worker holds one batch, and no more; nor needs them to write it
        segment = None
        if writer is not None:
            if message[0] == "commit" and writer._added:
                segment = writer._finalize_segment()
            else:
                writer._close_segment()  # cancelled: its files are leftovers, removed by the indexer
        writer = None
        release_free_memory()
        connection.send(("segment", segment))


def _write_job(writer: BufferedSegmentWriter, filename: str, count: int) -> None:
    storage = writer.temp_storage()
    with storage.open_file(filename).raw_file() as file:
        for _ in range(count):
            _, fields = pickle.load(file)
            writer.add_document(**fields)
    storage.delete_file(filename)


def release_free_memory() -> None:
    """Give the memory a finished batch freed back to the system.

    glibc's malloc keeps freed memory for the process, and a batch frees it scattered among what lives
    on (NumPy's temporaries, a story's strings): at 100,000 stories the indexing process held 40 MB
    more than with NumPy's buffers kept out of the heap. malloc_trim(0) returns every free page.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's; musl has none
    except (OSError, AttributeError):
        return None


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the prctl call
        os._exit(1)
