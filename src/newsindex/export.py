"""Stories out: JSON Lines, CSV, and OpenSearch/Elasticsearch bulk files with the matching index mapping.

Every format carries every field of a story (what `newsindex show --json` prints), and its duplicate
group when the stories come with one (`NewsIndex.grouped_stories`, as `newsindex export` reads them):
`duplicate_group`, a label every copy of a story shares. Files are written
beside their final name and moved into place when complete; an existing file is replaced only when
asked (`force`), and a symbolic link never written through.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from newsindex.errors import UsageError
from newsindex.models import Story

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_CHUNK_MB",
    "EXPORT_FORMATS",
    "ExportReport",
    "export_stories",
    "opensearch_mapping",
    "write_mapping",
]

EXPORT_FORMATS = ("jsonl", "csv", "opensearch")
DEFAULT_CHUNK_MB = 50  # OpenSearch and Elasticsearch refuse requests over 100 MB by default
CSV_FIELDS = (
    "id",
    "headline",
    "published",
    "bylines",
    "location",
    "region",
    "source",
    "topics",
    "places",
    "orgs",
    "people",
    "credits",
    "lead",
    "body",
    "path",
    "duplicate_group",
)
_MB = 1024 * 1024
_MAX_BULK_ID_BYTES = 512  # OpenSearch's and Elasticsearch's limit on _id


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an export wrote: how many stories, which files, how many bytes."""

    stories: int
    files: tuple[str, ...]
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {"stories": self.stories, "files": list(self.files), "bytes": self.bytes}


# ── Which stories ────────────────────────────────────────────────────────────────────────────────────


# ── Writing ──────────────────────────────────────────────────────────────────────────────────────────


Exported = Story | tuple[Story, str | None]  # a story, or a story and its duplicate group


def export_stories(
    stories: Iterable[Exported],
    output: str | os.PathLike[str] | TextIO,
    *,
    format: str = "jsonl",
    chunk_mb: float = DEFAULT_CHUNK_MB,
    force: bool = False,
    on_story: Callable[[Story], None] | None = None,
) -> ExportReport:
    """Write `stories` to `output` in `format`: "jsonl", "csv" or "opensearch" (bulk NDJSON).

    `stories` are Story objects, or (story, duplicate group) pairs (`NewsIndex.grouped_stories`): with a
    group, each record has a `duplicate_group` (in CSV, a column left empty without one).

    `output` is a file path, or an open text stream for jsonl and csv. OpenSearch exports are split into
    files of at most `chunk_mb` MiB named after `output`: `export.ndjson` gives `export-0001.ndjson`,
    `export-0002.ndjson`, …. UsageError, before any story is read, when a file exists (unless `force`),
    when a path is a symbolic link, or when its folder is missing.
    """
    if format not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format {format!r} (choose one of: {', '.join(EXPORT_FORMATS)})")
    if chunk_mb <= 0:
        raise UsageError(f"--chunk-mb must be more than 0, not {chunk_mb:g}")
    counted = _Counted(stories, on_story)
    if not isinstance(output, str | os.PathLike):
        if format == "opensearch":
            raise UsageError("an OpenSearch export goes to files (it may need several): give a path")
        stream = _Utf8Counter(output)
        _write_lines(counted, stream, format)
        return ExportReport(counted.count, (), stream.bytes)
    path = os.fspath(output)
    if format == "opensearch":
        files, written = _write_bulk(counted, path, int(chunk_mb * _MB), force)
        return ExportReport(counted.count, files, written)
    _check_target(path, force)
    with _NewFile(path, force) as file:
        _write_lines(counted, file.text, format)
    return ExportReport(counted.count, (path,), file.text.bytes)


_NO_GROUP = object()  # a story exported without its group: no `duplicate_group` key at all


class _Counted:
    """Stories passed through as (story, its record), counted, each announced to `on_story`."""

    def __init__(self, stories: Iterable[Exported], on_story: Callable[[Story], None] | None) -> None:
        self._stories = stories
        self._on_story = on_story
        self.count = 0

    def __iter__(self) -> Iterator[tuple[Story, dict[str, Any]]]:
        for item in self._stories:
            story, group = item if isinstance(item, tuple) else (item, _NO_GROUP)
            self.count += 1
            if self._on_story:
                self._on_story(story)
            record = story.to_dict()
            if group is not _NO_GROUP:
                record["duplicate_group"] = group
            yield story, record


def _write_lines(stories: Iterable[tuple[Story, dict[str, Any]]], out: _Utf8Counter, format: str) -> None:
    """JSON Lines (one story a line) or CSV (a header row, then a story a row)."""
    if format == "jsonl":
        for _, record in stories:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for story, record in stories:
        writer.writerow(_csv_row(story, record))


def _csv_row(story: Story, record: dict[str, Any]) -> list[str]:
    """One story as CSV cells: lists joined with "; ", credits as a credit line, absent values empty."""
    credits = "; ".join(f"{credit.role} by {' and '.join(credit.names)}" for credit in story.credits)
    values = {
        "duplicate_group": None,
        **record,
        "bylines": "; ".join(story.bylines),
        **{name: "; ".join(getattr(story, name)) for name in ("topics", "places", "orgs", "people")},
        "credits": credits,
    }
    return ["" if values[field] is None else str(values[field]) for field in CSV_FIELDS]


def _write_bulk(
    stories: Iterable[tuple[Story, dict[str, Any]]], path: str, limit: int, force: bool
) -> tuple[tuple[str, ...], int]:
    """The OpenSearch bulk format: an `index` action line with the story's _id, then the story, in files of
    at most `limit` bytes (a story bigger than that gets a file of its own); the files and bytes written."""
    first = _chunk_path(path, 1)
    _check_target(first, force)
    earlier = sorted(glob.glob(_chunk_pattern(path)))
    if earlier and not force:
        raise UsageError(f"{earlier[0]} exists (an earlier export?): add --force to replace it, or choose another -o")
    files: list[str] = []
    total = 0
    current: _NewFile | None = None
    size = 0
    try:
        for story, record in stories:
            action = {"index": {"_id": bulk_id(story.id)}}
            pair = (
                json.dumps(action, ensure_ascii=False) + "\n" + json.dumps(record, ensure_ascii=False) + "\n"
            ).encode("utf-8")
            if current is not None and size + len(pair) > limit:
                current.commit()
                current = None
            if current is None:
                files.append(_chunk_path(path, len(files) + 1))
                _check_target(files[-1], force)
                current = _NewFile(files[-1], force).open()
                size = 0
            current.binary.write(pair)
            size += len(pair)
            total += len(pair)
        if current is not None:
            current.commit()
            current = None
    finally:
        if current is not None:
            current.discard()
    if force:
        _remove_leftover_chunks(path, len(files))
    return tuple(files), total


def bulk_id(story_id: str) -> str:
    """The story's id as an OpenSearch _id: itself, or a hash of it when it is over 512 bytes."""
    if len(story_id.encode("utf-8")) <= _MAX_BULK_ID_BYTES:
        return story_id
    import hashlib

    return "sha256-" + hashlib.sha256(story_id.encode("utf-8")).hexdigest()


def _chunk_path(path: str, number: int) -> str:
    root, extension = os.path.splitext(path)
    return f"{root}-{number:04d}{extension or '.ndjson'}"


def _chunk_pattern(path: str) -> str:
    root, extension = os.path.splitext(path)
    return f"{glob.escape(root)}-[0-9][0-9][0-9][0-9]{glob.escape(extension or '.ndjson')}"


def _remove_leftover_chunks(path: str, written: int) -> None:
    """After a forced export, the chunks of an earlier, longer one would be loaded with the new: remove them."""
    number = re.compile(r"-(\d{4})\.[^.]*$|-(\d{4})$")
    for leftover in glob.glob(_chunk_pattern(path)):
        match = number.search(leftover)
        if match and int(match.group(1) or match.group(2)) > written and not os.path.isdir(leftover):
            os.unlink(leftover)


# ── The mapping ──────────────────────────────────────────────────────────────────────────────────────


def opensearch_mapping() -> dict[str, Any]:
    """The index mapping for exported stories, for `PUT /INDEX` on OpenSearch or Elasticsearch."""
    names = {"type": "keyword", "fields": {"text": {"type": "text"}}}  # exact values, and words within them
    english = {"type": "text", "analyzer": "english"}
    return {
        "mappings": {
            # Credits are role → names ("Reporting": [...]); roles vary, so each becomes a keyword field.
            "dynamic_templates": [{"credits": {"path_match": "credits.*", "mapping": {"type": "keyword"}}}],
            "properties": {
                "id": {"type": "keyword"},
                "headline": english,
                "lead": english,
                "body": english,
                "published": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
                "bylines": names,
                "location": names,
                "region": names,
                "source": names,
                "topics": {"type": "keyword"},
                "places": {"type": "keyword"},
                "orgs": {"type": "keyword"},
                "people": {"type": "keyword"},
                "credits": {"type": "object"},
                "duplicate_group": {"type": "keyword"},  # the label every copy of a story shares
                "path": {"type": "keyword", "index": False},
            },
        }
    }


def write_mapping(path: str | os.PathLike[str], *, force: bool = False) -> str:
    """Write `opensearch_mapping()` as JSON to `path`; the path written."""
    target = os.fspath(path)
    _check_target(target, force)
    with _NewFile(target, force) as file:
        file.text.write(json.dumps(opensearch_mapping(), indent=2) + "\n")
    return target


# ── Safe files ───────────────────────────────────────────────────────────────────────────────────────


def _check_target(path: str, force: bool) -> None:
    """UsageError when `path` may not be written: a symbolic link, a folder, an existing file without force."""
    if os.path.islink(path):
        raise UsageError(f"{path} is a symbolic link: newsindex does not write through links; give another path")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder: give a file name")
    if os.path.exists(path) and not force:
        raise UsageError(f"{path} exists: add --force to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"no such folder: {folder}")


class _NewFile:
    """A file written under a temporary name beside `path` and moved onto `path` when complete."""

    def __init__(self, path: str, force: bool) -> None:
        self.path = path
        self._force = force
        folder, name = os.path.split(os.path.abspath(path))
        self._temporary = os.path.join(folder, f".{name}.{os.urandom(4).hex()}.tmp")
        self.binary: Any = None
        self.text = _Utf8Counter(None)

    def open(self) -> _NewFile:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        self.binary = os.fdopen(os.open(self._temporary, flags, 0o666), "wb")
        self.text = _Utf8Counter(None, binary=self.binary)
        return self

    def commit(self) -> None:
        """Close the file and give it its name."""
        self.binary.close()
        try:
            _check_target(self.path, self._force)  # again: the path may have changed while we wrote
            os.replace(self._temporary, self.path)  # replaces a link itself, never what it points to
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close and delete the unfinished file."""
        if self.binary is not None:
            self.binary.close()
        if os.path.exists(self._temporary):
            os.unlink(self._temporary)

    def __enter__(self) -> _NewFile:
        return self.open()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is None:
            self.text.flush()
            self.commit()
        else:
            self.discard()


class _Utf8Counter:
    """Text written to a text stream, or as UTF-8 to a binary file, counting the bytes (newlines as given:
    csv writes its own \\r\\n)."""

    def __init__(self, text: TextIO | None, *, binary: Any = None) -> None:
        self._text = text
        self._binary = binary
        self.bytes = 0

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        if self._binary is not None:
            self._binary.write(data)
        elif self._text is not None:
            self._text.write(text)
        self.bytes += len(data)
        return len(text)

    def flush(self) -> None:
        if self._binary is not None:
            self._binary.flush()
        elif self._text is not None:
            self._text.flush()
