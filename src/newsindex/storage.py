"""The index folder on disk: durable writes, leftovers of crashed commits, and who may be trusted.

Whoosh never calls fsync: after a power loss a segment or TOC it called written may be empty, half
written or zeroed. `DurableStorage` fsyncs every file it writes before closing it and the folder after
every rename, so the TOC rename that makes a commit visible comes after everything it names is on disk.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
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
            or (name.startswith(".newsindex.json.") and name.endswith(".tmp"))  # an unfinished manifest
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
