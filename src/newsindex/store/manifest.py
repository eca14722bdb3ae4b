"""An index folder: its manifest (`newsindex.json`: which Whoosh index is live, the format version,
the writing release, codec layout and analysis), creating and naming Whoosh indexes in it, and
removing a replaced one."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from newsindex.errors import (
    IndexDamagedError,
)
from newsindex.store.schema import (
    ANALYSIS_VERSION,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    build_schema,
)
from newsindex.store.storage import (
    DurableStorage,
    SafeFileIndex,
    check_trusted,
    make_private,
    record_checksums,
    sums_name,
    sync_folder,
)

MANIFEST = "newsindex.json"


def latest_toc(whoosh_ix: Any) -> int:
    return int(whoosh_ix.latest_generation())


def segment_ids(whoosh_ix: Any) -> set[str]:
    return {segment.segment_id() for segment in whoosh_ix._read_toc().segments}


def prepare_folder(folder: Path) -> None:
    """Make the index folder if needed, private to its owner, and refuse one others could write to."""
    folder.mkdir(parents=True, exist_ok=True)
    make_private(folder)
    check_trusted(folder)


def old_index_name(folder: Path) -> str | None:
    """The Whoosh index the manifest names, whatever else is wrong with it (None: no readable name)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = manifest.get("index_name") if isinstance(manifest, dict) else None
    return name if isinstance(name, str) and re.fullmatch(r"stories_[0-9a-f]{12}", name) else None


def create_whoosh(folder: Path, name: str, *, fsync: bool) -> Any:
    whoosh_ix = SafeFileIndex.create(DurableStorage(str(folder), fsync=fsync), build_schema(), indexname=name)
    record_checksums(whoosh_ix)
    return whoosh_ix


def new_index_name() -> str:
    return f"stories_{uuid.uuid4().hex[:12]}"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise IndexDamagedError(f"{folder / MANIFEST} is unreadable ({error}); rebuild the index") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "newsindex" or "index_name" not in manifest:
        raise IndexDamagedError(f"{folder / MANIFEST} is not a newsindex manifest; rebuild the index")
    version = manifest.get("schema_version")
    if version not in READABLE_VERSIONS:
        readable = " and ".join(map(str, sorted(READABLE_VERSIONS)))
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise IndexDamagedError(
                f"index at {folder} was written by a newer newsindex ({manifest.get('written_by', 'format')} "
                f"{version}; this one reads format {readable}): upgrade newsindex "
                "(`pip install -U newsindex-search`), or rebuild it with `newsindex index --rebuild CORPUS`"
            )
        raise IndexDamagedError(
            f"index at {folder} has index format {version!r}, which this newsindex does not read (it reads "
            f"{readable}); rebuild it with `newsindex index --rebuild CORPUS`"
        )
    return manifest


def new_manifest(index_name: str) -> dict[str, Any]:
    """The manifest of a new index: its format version, who wrote it, its layout and analysis."""
    from newsindex import __version__

    return {
        "format": "newsindex",
        "schema_version": SCHEMA_VERSION,
        "index_name": index_name,
        "written_by": f"newsindex {__version__}",
        "codec": "newsindex packed blocks, CRC-32 per block",
        "analysis": f"analysis {ANALYSIS_VERSION}: news tokens (U.S., AT&T, tickers), accents folded, "
        "Snowball English stems (PyStemmer), stop words after stemming, each keeping its place",
    }


def upgraded_manifest(folder: Path, known: dict[str, Any]) -> dict[str, Any]:
    """Before this code first writes to an index of an older format version (with the write lock held):
    the manifest says the index may now hold segments of this version, which the older release cannot
    read, and who wrote them. Read again from disk: another process may have replaced it since."""
    if known.get("schema_version") == SCHEMA_VERSION:
        return known
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("schema_version") == SCHEMA_VERSION:
        return manifest or known
    from newsindex import __version__

    upgraded = {**manifest, "schema_version": SCHEMA_VERSION, "written_by": f"newsindex {__version__}"}
    upgraded.setdefault("created_as", manifest.get("schema_version"))
    write_manifest(folder, upgraded)
    return upgraded


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically: readers see the old one or the new one, never half of one."""
    temporary = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, folder / MANIFEST)
    sync_folder(folder)


def remove_whoosh_files(folder: Path, index_name: str) -> None:
    """Delete the files of a replaced Whoosh index (its TOCs, segments and lock)."""
    for entry in folder.iterdir():
        if entry.name.startswith((f"_{index_name}_", f"{index_name}_")) and entry.is_file():
            entry.unlink(missing_ok=True)
    (folder / sums_name(index_name)).unlink(missing_ok=True)
