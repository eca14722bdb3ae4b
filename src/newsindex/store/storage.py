"""The index folder on disk: durable writes, leftovers of crashed commits, and who may be trusted.

Whoosh never calls fsync: after a power loss a segment or TOC it called written may be empty, half
written or zeroed. `DurableStorage` fsyncs every file it writes before closing it and the folder after
every rename, so the TOC rename that makes a commit visible comes after everything it names is on disk.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
import re
import shutil
import stat
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex

from newsindex.errors import IndexBusyError, IndexDamagedError


class DurableStorage(FileStorage):  # type: ignore[misc]
    """A Whoosh FileStorage whose writes survive a power loss once a commit has returned."""

    def __init__(self, path: str, *, fsync: bool = True) -> None:
        super().__init__(path)
        self.fsync = fsync

    def before(self, operation: str, name: str) -> None:
        """Called before every file operation; a hook for crash tests (does nothing here)."""

    def create_file(self, name: str, excl: bool = False, mode: str = "wb", **kwargs: Any) -> Any:
        self.before("create", name)
        file = super().create_file(name, excl, mode, **kwargs)
        if self.fsync:
            earlier = file.onclose

            def sync_then_close(structfile: Any) -> None:
                if earlier:
                    earlier(structfile)
                self.before("sync", name)
                structfile.file.flush()
                os.fsync(structfile.file.fileno())

            file.onclose = sync_then_close
        return file

    def rename_file(self, oldname: str, newname: str, safe: bool = False) -> None:
        self.before("rename", newname)
        super().rename_file(oldname, newname, safe)
        if self.fsync:
            sync_folder(Path(self.folder))

    def delete_file(self, name: str) -> None:
        self.before("delete", name)
        super().delete_file(name)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that the names of files created or renamed in it are on disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_leftovers(
    folder: Path, index_name: str, generation: int, segment_ids: set[str], *, other_live: frozenset[str] = frozenset()
) -> list[str]:
    """Delete what crashed or failed commits left behind; return the names removed.

    Call only under the write lock, with the generation and segment ids of the current TOC, and the
    names of other Whoosh indexes in the folder that are in use (`other_live`: the old index while a
    rebuild writes the new one). Leftovers:
    Whoosh's temporary folders (`*.tmp`), unfinished or old TOCs, segment files no TOC names, files of
    replaced indexes and their checksum records, unfinished manifests, and the per-index lock files of
    versions before `newsindex.lock`. Without this a disk that filled up stays full: the partial
    files of the failed commit take the space the next commit needs.
    """
    current_toc = f"_{index_name}_{generation}.toc"
    our_segment = re.compile(rf"^({re.escape(index_name)}_[0-9a-z]+)\.")
    any_index = re.compile(r"^_?(stories_[0-9a-f]{12})_")
    removed = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        segment = our_segment.match(name)
        other = any_index.match(name)
        if name == current_toc or name == sums_name(index_name) or (segment and segment.group(1) in segment_ids):
            continue
        if other and other.group(1) in other_live:
            continue
        record_of = _SUMS_NAME.match(name)
        if record_of is not None:  # the checksum record of a replaced or abandoned index
            if record_of.group(1) not in other_live and record_of.group(1) != index_name:
                entry.unlink(missing_ok=True)
                removed.append(name)
            continue
        if name == SUMS:
            if _record_index(entry) not in {index_name, *other_live}:
                entry.unlink(missing_ok=True)
                removed.append(name)
            continue
        is_leftover = (
            (name.endswith(".tmp") and entry.is_dir())  # Whoosh's temporary storage
            or (name.startswith((".newsindex.json.", f".{SUMS}.")) and name.endswith(".tmp"))  # unfinished records
            or any_index.match(name) is not None  # an old or unfinished TOC, an orphan segment, a replaced index
        )
        if not is_leftover:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(name)
    return removed


_SUMS_NAME = re.compile(r"^(stories_[0-9a-f]{12})\.sums\.json$")


def check_trusted(folder: Path) -> None:
    """Refuse, before anything is unpickled, an index folder someone else could have planted files in.

    Opening a Whoosh index unpickles its TOC: an index is code. The folder must belong to this user (or
    root) and must not be writable by group or others.
    """
    info = folder.stat()
    owners = {os.getuid(), 0}
    if info.st_uid not in owners:
        raise UntrustedIndexError(
            f"refusing to open {folder}: it belongs to another user (uid {info.st_uid}), and opening an "
            "index runs code from it; copy the corpus and build your own index"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UntrustedIndexError(
            f"refusing to open {folder}: it is writable by other users, so its files cannot be trusted "
            f"(opening an index runs code from it); fix with `chmod go-w {folder}` if you trust its contents"
        )


def make_private(folder: Path) -> None:
    """Make a new index folder writable by its owner only (see check_trusted)."""
    mode = folder.stat().st_mode
    folder.chmod(mode & ~(stat.S_IWGRP | stat.S_IWOTH))


class UntrustedIndexError(IndexDamagedError):
    """The index folder could have been tampered with by another user."""


SUMS = "newsindex.sums.json"  # the checksum record of indexes written before records were per index
VERIFY_ON_OPEN_BYTES = 32 * 1024 * 1024  # indexes up to this size are checksummed in full at every open


def sums_name(index_name: str) -> str:
    """The file holding the checksum record of Whoosh index `index_name`.

    One per index, so that a rebuild writing a new index beside the live one never touches the live
    one's record, and a rebuild that is killed leaves the live record as it was.
    """
    return f"{index_name}.sums.json"


def record_checksums(whoosh_index: Any) -> None:
    """Write the size and CRC-32 of every file the current TOC names, after a commit (atomically).

    Segment files never change once written, so only new files are read; `newsindex check` and the
    check at open compare the folder with this record. Files whose every block carries its own
    checksum (postings and stored stories of segments written with block checksums) are marked
    `blocks`: on a large index they are checked as they are read rather than at open.
    """
    folder = Path(whoosh_index.storage.folder)
    index_name = whoosh_index.indexname
    toc = whoosh_index._read_toc()
    previous = read_checksums(folder, index_name) or {"files": {}}
    checked = {segment.segment_id() for segment in toc.segments if getattr(segment.codec(), "block_checksums", False)}
    files: dict[str, dict[str, int]] = {}
    for name in _toc_files(folder, index_name, toc):
        size = (folder / name).stat().st_size
        known = previous["files"].get(name)
        if known and known["size"] == size and not name.endswith(".toc"):
            files[name] = known
        else:
            files[name] = {"size": size, "crc32": _crc32(folder / name)}
        segment = name.split(".", 1)[0]
        if segment in checked and name.endswith((".pst", "._stored.col")):
            files[name]["blocks"] = 1
    record = {"index_name": index_name, "generation": toc.generation, "files": files}
    temporary = folder / f".{SUMS}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
    durable = getattr(whoosh_index.storage, "fsync", True)
    if durable:
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
    os.replace(temporary, folder / sums_name(index_name))
    legacy = folder / SUMS
    if _record_index(legacy) == index_name:  # superseded by the record just written
        legacy.unlink(missing_ok=True)
    if durable:
        sync_folder(folder)


def _record_index(path: Path) -> str | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("index_name") if isinstance(record, dict) else None


def read_checksums(folder: Path, index_name: str) -> dict[str, Any] | None:
    """The checksum record of `index_name`, or None (none yet, or unreadable)."""
    for name in (sums_name(index_name), SUMS):
        try:
            record = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (
            isinstance(record, dict)
            and record.get("index_name") == index_name
            and isinstance(record.get("files"), dict)
        ):
            return record
    return None


def damaged_files(folder: Path, index_name: str, *, full: bool | None = None) -> list[str]:
    """What is wrong with the files of the last recorded commit, one line each (empty: all well).

    Sizes are always compared; contents (CRC-32) when `full`, or by default every file of a small
    index and, of a large one, every file but those whose blocks carry their own checksums (see
    record_checksums): those are checked block by block as they are read.
    """
    record = read_checksums(folder, index_name)
    if record is None:
        return []
    on_disk = _latest_generation(folder, index_name)
    if on_disk < record["generation"]:
        missing = f"_{index_name}_{record['generation']}.toc"
        return [f"{missing} is missing: the index's table of contents is gone"]
    if on_disk > record["generation"]:
        return []  # a commit landed after the record was written (or is landing now): nothing to compare
    files = record["files"]
    small = sum(info["size"] for info in files.values()) <= VERIFY_ON_OPEN_BYTES
    problems = []
    for name, info in sorted(files.items()):
        path = folder / name
        verify = full if full is not None else small or not info.get("blocks")
        if not path.exists():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != info["size"]:
            problems.append(f"{name} has {path.stat().st_size:,} bytes, {info['size']:,} were written")
        elif verify and _crc32(path) != info["crc32"]:
            problems.append(f"{name} is damaged: its contents changed since they were written")
    return problems


def zeroed_files(folder: Path, index_name: str) -> list[str]:
    """The files of Whoosh index `index_name` that hold nothing but zero bytes (what a crash or a failing
    disk leaves), one line each: the check `newsindex check` can still make without a checksum record."""
    problems = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.startswith((f"{index_name}_", f"_{index_name}_")) or entry.name.endswith("_WRITELOCK"):
            continue
        try:
            if entry.is_file() and entry.stat().st_size and _all_zeros(entry):
                problems.append(f"{entry.name} is damaged: it holds only zero bytes")
        except OSError:
            continue
    return problems


def _all_zeros(path: Path) -> bool:
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            if chunk.count(0) != len(chunk):
                return False
    return True


def _toc_files(folder: Path, index_name: str, toc: Any) -> list[str]:
    names = [f"_{index_name}_{toc.generation}.toc"]
    prefixes = tuple(f"{segment.segment_id()}." for segment in toc.segments)
    names += sorted(entry.name for entry in folder.iterdir() if entry.name.startswith(prefixes))
    return names


def _latest_generation(folder: Path, index_name: str) -> int:
    pattern = re.compile(rf"^_{re.escape(index_name)}_(\d+)\.toc$")
    generations = [int(match.group(1)) for entry in folder.iterdir() if (match := pattern.match(entry.name))]
    return max(generations, default=-1)


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


# -- no code runs from an index file --------------------------------------------------------------------

# Exactly the classes the pickles of an index hold: its TOC (the schema, the segments and their codec),
# found by recording what real indexes unpickle (today's, the golden index of 0.1.0, and indexes from
# before the packed codec, whose segments name Whoosh's W3Codec). Any other global in a pickle is refused.
_ALLOWED_GLOBALS = frozenset(
    {
        ("_codecs", "encode"),  # bytes, in protocol 2 (Whoosh pickles the schema so)
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("collections", "defaultdict"),
        ("whoosh.analysis.tokenizers", "IDTokenizer"),
        ("whoosh.codec.whoosh3", "W3Codec"),
        ("whoosh.codec.whoosh3", "W3Segment"),
        ("whoosh.columns", "NumericColumn"),
        ("whoosh.columns", "VarBytesColumn"),
        ("whoosh.columns", "BitColumn"),
        ("whoosh.fields", "Schema"),
        ("whoosh.fields", "ID"),
        ("whoosh.fields", "KEYWORD"),
        ("whoosh.fields", "STORED"),
        ("whoosh.fields", "TEXT"),
        ("whoosh.fields", "NUMERIC"),
        ("whoosh.fields", "DATETIME"),
        ("whoosh.fields", "BOOLEAN"),
        ("whoosh.formats", "Existence"),
        ("whoosh.formats", "Frequency"),
        ("whoosh.formats", "Positions"),
    }
)
# newsindex's own pickled modules: any class defined there (never a function, never a dotted name).
_OWN_MODULES = ("newsindex.schema", "newsindex.codec")


class _IndexUnpickler(pickle.Unpickler):
    """An unpickler that builds only the classes an index legitimately holds."""

    def __init__(self, file: Any, source: str, allowed: frozenset[tuple[str, str]] | None) -> None:
        super().__init__(file)
        self._source = source
        self._allowed = _ALLOWED_GLOBALS if allowed is None else allowed
        self._own = allowed is None

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("whoosh.codec.whoosh3", "W3Codec") and self._own:
            from newsindex.store.codec import SafeW3Codec

            return SafeW3Codec  # old segments' stored stories are unpickled safely too
        if "." not in name and (module, name) in self._allowed:
            return super().find_class(module, name)
        if "." not in name and self._own and module in _OWN_MODULES:
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise IndexDamagedError(
            f"{self._source} holds a pickle naming {module}.{name}, which no newsindex index holds: refusing to "
            "load it (it could run code); rebuild the index from your stories with `newsindex index --rebuild`"
        )


def safe_loads(data: bytes, source: str, *, allowed: frozenset[tuple[str, str]] | None = None) -> Any:
    """Unpickle `data` (read from the file `source`) admitting only the classes of an index (or `allowed`)."""
    return safe_load(io.BytesIO(data), source, allowed=allowed)


def safe_load(file: Any, source: str, *, allowed: frozenset[tuple[str, str]] | None = None) -> Any:
    """Unpickle from `file` admitting only the classes of an index; IndexDamagedError for anything else."""
    try:
        return _IndexUnpickler(file, source, allowed).load()
    except IndexDamagedError:
        raise
    except Exception as error:
        raise IndexDamagedError(
            f"{source} cannot be read ({type(error).__name__}: {error}); rebuild the index"
        ) from None


def read_toc(storage: Any, index_name: str, generation: int | None = None) -> Any:
    """Whoosh's `TOC.read`, with the schema and the segments unpickled by `safe_load`.

    The layout is Whoosh 2.7's (whoosh.index.TOC.write): sizes, a byte-order check, the format version,
    the release, the pickled schema, the generation, an unused int, the pickled segment list.
    """
    from whoosh.fields import ensure_schema
    from whoosh.index import _CURRENT_TOC_VERSION, TOC, EmptyIndexError
    from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

    if generation is None:
        generation = TOC._latest_generation(storage, index_name)
        if generation < 0:
            raise EmptyIndexError(f"Index {index_name!r} does not exist in {storage!r}")
    name = TOC._filename(index_name, generation)
    where = str(Path(storage.folder, name))
    stream = storage.open_file(name)
    try:
        sizes = [stream.read_varint() for _ in range(3)]
        if sizes != [_INT_SIZE, _LONG_SIZE, _FLOAT_SIZE] or stream.read_int() != -12345:
            raise IndexDamagedError(f"{where} is not a table of contents this machine can read; rebuild the index")
        version = stream.read_int()
        release = (stream.read_varint(), stream.read_varint(), stream.read_varint())
        if version != _CURRENT_TOC_VERSION:
            raise IndexDamagedError(f"{where} has TOC format {version}, not Whoosh 2.7's; rebuild the index")
        schema = ensure_schema(safe_loads(stream.read_string(), where))
        if stream.read_int() != generation:
            raise IndexDamagedError(f"{where} names another generation; rebuild the index")
        stream.read_int()  # unused
        segments = safe_load(stream.file, where)
    except (EOFError, ValueError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise IndexDamagedError(
            f"{where} cannot be read ({type(error).__name__}: {error}); rebuild the index"
        ) from None
    finally:
        stream.close()
    if not isinstance(segments, list):
        raise IndexDamagedError(f"{where} does not hold a list of segments; rebuild the index")
    if any(getattr(segment, "compound", False) for segment in segments):  # its .seg file is read by pickle
        raise IndexDamagedError(
            f"{where} names a compound segment file, which no released newsindex writes; rebuild the index"
        )
    return TOC(schema, segments, generation, version=version, release=release)


class SafeFileIndex(FileIndex):  # type: ignore[misc]
    """Whoosh's FileIndex with its TOCs read by `read_toc`: no pickle in them can run code."""

    def __init__(self, storage: Any, schema: Any = None, indexname: str = "MAIN") -> None:
        self.storage = storage
        self._schema = schema
        self.indexname = indexname
        read_toc(storage, indexname)  # as Whoosh does: fail now if it cannot be read

    @classmethod
    def create(cls, storage: Any, schema: Any, indexname: str = "MAIN") -> SafeFileIndex:
        from whoosh.index import TOC

        TOC.create(storage, schema, indexname)
        return cls(storage, schema, indexname)

    def _read_toc(self) -> Any:
        return read_toc(self.storage, self.indexname)


def check_trusted_files(folder: Path) -> None:
    """Refuse an index folder holding a file someone else could have written (see check_trusted).

    A file must belong to this user (or root) and must not be writable by others, nor by a group other
    than this user's own.
    """
    owners = {os.getuid(), 0}
    for entry in folder.iterdir():
        try:
            info = entry.lstat()
        except FileNotFoundError:  # removed meanwhile (an old segment after a commit)
            continue
        if info.st_uid not in owners:
            raise UntrustedIndexError(
                f"refusing to open {folder}: {entry.name} belongs to another user (uid {info.st_uid}), and "
                "opening an index could run code from it; rebuild the index into a folder of your own"
            )
        writable_by_others = info.st_mode & stat.S_IWOTH or (info.st_mode & stat.S_IWGRP and info.st_gid != os.getgid())
        if writable_by_others and not stat.S_ISLNK(info.st_mode):
            raise UntrustedIndexError(
                f"refusing to open {folder}: {entry.name} is writable by other users, so it cannot be trusted; "
                f"fix with `chmod go-w {entry}` if you trust its contents"
            )


# -- the folder's write lock ------------------------------------------------------------------------------

LOCK = "newsindex.lock"


@contextmanager
def folder_lock(folder: Path, *, timeout: float) -> Iterator[None]:
    """Hold the write lock of the index folder: one writer at a time, whichever Whoosh index it writes.

    Creating an index, writing to it and rebuilding it all happen under this lock. The lock is an
    flock on `newsindex.lock` (released by the kernel when a process dies, so a killed run leaves no
    lock held); it excludes other processes and other threads (each holder opens the file anew), and
    is not re-entrant. IndexBusyError when it is not free within `timeout` seconds.
    """
    descriptor = os.open(os.path.join(folder, LOCK), os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"index is busy: another process is writing to it and did not finish within {timeout:g} s; "
                        "try again later or raise --lock-timeout"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
