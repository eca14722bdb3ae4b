"""The index folder on disk: durable writes, leftovers of crashed commits, and who may be trusted.

Whoosh never calls fsync: after a power loss a segment or TOC it called written may be empty, half
written or zeroed. `DurableStorage` fsyncs every file it writes before closing it and the folder after
every rename, so the TOC rename that makes a commit visible comes after everything it names is on disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zlib
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage

from newsindex.errors import IndexDamagedError


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
    replaced indexes, unfinished manifests. Without this a disk that filled up stays full: the partial
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
        if name == current_toc or name.endswith("_WRITELOCK") or (segment and segment.group(1) in segment_ids):
            continue
        if other and other.group(1) in other_live:
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


SUMS = "newsindex.sums.json"
VERIFY_ON_OPEN_BYTES = 32 * 1024 * 1024  # indexes up to this size are checksummed in full at every open


def record_checksums(whoosh_index: Any) -> None:
    """Write the size and CRC-32 of every file the current TOC names, after a commit (atomically).

    Segment files never change once written, so only new files are read; `newsindex check` and the
    check at open compare the folder with this record.
    """
    folder = Path(whoosh_index.storage.folder)
    toc = whoosh_index._read_toc()
    previous = read_checksums(folder, whoosh_index.indexname) or {"files": {}}
    files: dict[str, dict[str, int]] = {}
    for name in _toc_files(folder, whoosh_index.indexname, toc):
        size = (folder / name).stat().st_size
        known = previous["files"].get(name)
        if known and known["size"] == size and not name.endswith(".toc"):
            files[name] = known
        else:
            files[name] = {"size": size, "crc32": _crc32(folder / name)}
    record = {"index_name": whoosh_index.indexname, "generation": toc.generation, "files": files}
    temporary = folder / f".{SUMS}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
    durable = getattr(whoosh_index.storage, "fsync", True)
    if durable:
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
    os.replace(temporary, folder / SUMS)
    if durable:
        sync_folder(folder)


def read_checksums(folder: Path, index_name: str) -> dict[str, Any] | None:
    """The checksum record of `index_name`, or None (none yet, or it belongs to another index)."""
    try:
        record = json.loads((folder / SUMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("index_name") != index_name:
        return None
    return record


def damaged_files(folder: Path, index_name: str, *, full: bool | None = None) -> list[str]:
    """What is wrong with the files of the last recorded commit, one line each (empty: all well).

    Sizes are always compared; contents (CRC-32) when `full`, or by default when the index is small.
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
    if full is None:
        full = sum(info["size"] for info in files.values()) <= VERIFY_ON_OPEN_BYTES
    problems = []
    for name, info in sorted(files.items()):
        path = folder / name
        if not path.exists():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != info["size"]:
            problems.append(f"{name} has {path.stat().st_size:,} bytes, {info['size']:,} were written")
        elif full and _crc32(path) != info["crc32"]:
            problems.append(f"{name} is damaged: its contents changed since they were written")
    return problems


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
