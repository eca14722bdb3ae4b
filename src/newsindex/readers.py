"""Sources → Story objects: read each input file story by story, in its format (finding the files is sources.py)."""

from __future__ import annotations

import csv
import importlib
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from newsindex.dateline import credit_parts, readable_place, split_credits, split_dateline, split_names
from newsindex.dates import parse_published
from newsindex.models import Credit, Problem, Story
from newsindex.sources import (
    FORMATS,
    KEY_ALIASES,
    TEXT_HEADER,
    UTF16_BOMS,
    ByteStream,
    ProblemHandler,
    Source,
    describe_error,
    field_key,
    find_sources,
    guess_delimiter,
    head_problem,
    ignore_problem,
    open_bytes,
    read_head,
)

__all__ = [
    "FORMATS",
    "MAX_ID_CHARS",
    "MAX_STORY_BYTES",
    "ProblemHandler",
    "Source",
    "find_sources",
    "read_source",
    "read_stories",
]

MAX_STORY_BYTES = 10 * 1024 * 1024  # one story file, JSON line or CSV record; bigger is not a news story
MAX_ID_CHARS = 512

_MIB = 1024 * 1024
_CHUNK = 1024 * 1024

_ISO_DATE_START = re.compile(r"[\s:]*\d{4}-\d\d-\d\d")
_BY_PREFIX = re.compile(r"^\s*by\s+", re.IGNORECASE)
_EPOCH = re.compile(r"-?\d{9,13}(?:\.\d+)?")  # 8 digits is a compact date ("20191023"), not seconds
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


# ── Reading one source ───────────────────────────────────────────────────────────────────────────────


def read_source(source: Source, *, on_problem: ProblemHandler | None = None) -> Iterator[Story]:
    """The stories in one source; bad files and records go to `on_problem` and the reading goes on."""
    report = on_problem or ignore_problem
    if source.format == "zip":
        from newsindex.archives import read_zip

        yield from read_zip(source, report)
        return
    try:
        with open_bytes(source.path) as stream:
            yield from read_stream(stream, source, report)
    except (OSError, EOFError, zlib.error) as error:  # unreadable, vanished, or a truncated/corrupt .gz
        report(Problem(source.path, f"cannot read ({describe_error(error)})"))


def read_stream(stream: ByteStream, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """The stories in the bytes of one source (a file, stdin, a member of an archive), in `source.format`."""
    head = read_head(stream)
    problem = head_problem(head)
    if head.startswith(UTF16_BOMS) and source.format != "text":
        problem = "UTF-16 text: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"
    if problem:
        report(Problem(source.path, problem))
        return
    yield from _reader(source.format)(_Replayed(head, stream), source, report)


def read_stories(*paths: str, format: str | None = None, on_problem: ProblemHandler | None = None) -> Iterator[Story]:
    """Every story under `paths` (files, directories, globs, "-" for stdin), in a stable order."""
    sources = find_sources(paths, format=format, on_problem=on_problem)  # raises bad usage now, not mid-run
    return itertools.chain.from_iterable(read_source(source, on_problem=on_problem) for source in sources)


class _Replayed:
    """A byte stream whose first bytes (`head`) were already read to check it; reading starts with them."""

    def __init__(self, head: bytes, rest: ByteStream) -> None:
        self.head = head
        self._unread = head
        self._rest = rest

    def read(self, size: int, /) -> bytes:
        data, self._unread = self._unread[:size], self._unread[size:]
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data

    def readline(self, size: int, /) -> bytes:
        end = min(self._unread.find(b"\n") + 1 or len(self._unread), size)
        line, self._unread = self._unread[:end], self._unread[end:]
        if line.endswith(b"\n") or len(line) == size or self._unread:
            return line
        return line + self._rest.readline(size - len(line))


class _Decoder:
    """Bytes → str as UTF-8, else as cp1252 (the usual other encoding of wire copy), reported once per file."""

    def __init__(self, path: str, report: ProblemHandler) -> None:
        self._path = path
        self._report = report
        self._fell_back = False

    def __call__(self, data: bytes) -> str:
        if data.startswith(UTF16_BOMS):  # a whole file of the text format, saved as UTF-16
            return data.decode("utf-16", errors="replace")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            if not self._fell_back:
                self._fell_back = True
                self._report(Problem(self._path, "not UTF-8; read as cp1252", kind="degraded"))
            return data.decode("cp1252", errors="replace")


class _OversizedRecord(Exception):
    """A record longer than MAX_STORY_BYTES, already read past; `size` is its length in bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(_oversized(size))
        self.size = size


class _RecordLines:
    """Decoded lines of a stream, never holding more than MAX_STORY_BYTES of one record in memory.

    A record is one line, or with `quote` as many lines as it takes to close its quoted fields (CSV).
    A record over the limit is read past and raises _OversizedRecord; the next line starts a new record.
    """

    def __init__(self, stream: ByteStream, decode: Callable[[bytes], str], *, quote: bytes = b"") -> None:
        self._stream = stream
        self._decode = decode
        self._quote = quote
        self._size = self._quotes = 0

    def start_record(self) -> None:
        self._size = self._quotes = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._stream.readline(MAX_STORY_BYTES + 1 - self._size)
        if not line:
            raise StopIteration
        self._count(line)
        if self._size > MAX_STORY_BYTES:
            self._skip_record(line)
            raise _OversizedRecord(self._size)
        return self._decode(line)

    def _count(self, line: bytes) -> None:
        self._size += len(line)
        if self._quote:
            self._quotes += line.count(self._quote)

    def _skip_record(self, line: bytes) -> None:
        # A CSV record ends at a line end outside quotes; quotes inside a quoted field are doubled,
        # so an even count means no quoted field is left open.
        while line and not (line.endswith(b"\n") and self._quotes % 2 == 0):
            line = self._stream.readline(_CHUNK)
            self._count(line)


def _read_text(stream: _Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One story per file: a ` date … By …` line, a blank line, the body; the id is the file's id_base."""
    data = stream.read(MAX_STORY_BYTES + 1)
    if len(data) > MAX_STORY_BYTES:
        report(Problem(source.path, _oversized(len(data) + _count_rest(stream))))
        return
    where = _Where(source.path, None, report)
    text = _Decoder(source.path, report)(data).replace("\r\n", "\n").replace("\r", "\n")
    header, body_text = _split_header(text)
    story_id = _checked_id(None, source.id_base, where)
    body = _checked_body(body_text, where) if story_id is not None else None
    if story_id is None or body is None:
        return
    if header is None:
        where.degraded("no date header")
        yield _story(where, story_id, body)
    else:
        date_text, names = header
        yield _story(where, story_id, body, published=_published(date_text, where), bylines=_names(names))


def _split_header(text: str) -> tuple[tuple[str, str] | None, str]:
    """Split the opening ` date 2019-10-23 By A and B` line, as (date text, names), from the body."""
    first, _, rest = text.lstrip().partition("\n")
    match = TEXT_HEADER.fullmatch(first)
    # "Date palms grew by the river." opens a body: a header has an ISO date or a blank line after it.
    if not match or not (_ISO_DATE_START.match(match["date"]) or not rest.partition("\n")[0].strip()):
        return None, text
    return (match["date"].strip(" \t:"), match["names"] or ""), rest


def _read_jsonl(stream: _Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One JSON object per line; a bad line is reported and skipped and the rest of the file goes on."""
    lines = _RecordLines(stream, _Decoder(source.path, report))
    for number in itertools.count(1):
        lines.start_record()
        try:
            line = next(lines)
        except StopIteration:
            return
        except _OversizedRecord as error:
            report(Problem(source.path, str(error), record=number))
            continue
        if line.strip():
            story = _json_story(line, f"{source.id_base}:{number}", _Where(source.path, number, report))
            if story is not None:
                yield story


def _json_story(line: str, fallback_id: str, where: _Where) -> Story | None:
    try:
        record = json.loads(line.rstrip("\r\n"))  # so the column in a message counts from this line
    except json.JSONDecodeError as error:
        where.skipped(f"invalid JSON ({error.msg} at column {error.colno})")
        return None
    except (ValueError, RecursionError) as error:  # a 5000-digit number, absurd nesting
        where.skipped(f"invalid JSON ({error})")
        return None
    if not isinstance(record, dict):
        where.skipped(f"not a JSON object (got {_json_type(record)})")
        return None
    return _record_story(record, fallback_id, where)


def _read_csv(stream: _Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One story per row under a header row naming the columns; quoted fields may span lines."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_STORY_BYTES))  # the default 128 KiB cuts long stories
    lines = _RecordLines(stream, _Decoder(source.path, report), quote=b'"')
    rows = csv.reader(lines, delimiter=_csv_delimiter(source.path, stream.head))
    try:
        header = [field_key(name) for name in next(rows)]
    except StopIteration:
        return
    except (_OversizedRecord, csv.Error) as error:
        report(Problem(source.path, f"unreadable CSV header ({error})"))
        return
    if not set(header).intersection(KEY_ALIASES["body"]):
        report(
            Problem(source.path, f"no body column in CSV header (expected one of: {', '.join(KEY_ALIASES['body'])})")
        )
        return
    for number in itertools.count(1):  # row 1 is the first after the header
        lines.start_record()
        try:
            row = next(rows)
        except StopIteration:
            return
        except (_OversizedRecord, csv.Error) as error:
            reason = str(error) if isinstance(error, _OversizedRecord) else f"bad CSV row ({error})"
            report(Problem(source.path, reason, record=number))
            continue
        if any(cell.strip() for cell in row):  # csv gives [] for a blank line
            record = dict(zip(header, row, strict=False))  # a short row lacks its last fields; extra cells are ignored
            story = _record_story(record, f"{source.id_base}:{number}", _Where(source.path, number, report))
            if story is not None:
                yield story


def _csv_delimiter(path: str, head: bytes) -> str:
    if path.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    return guess_delimiter(head.split(b"\n", 1)[0].decode("utf-8", errors="replace"))


Reader = Callable[[_Replayed, Source, ProblemHandler], Iterator[Story]]

_READERS: dict[str, Reader] = {
    "text": _read_text,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
}
# The other formats' readers live in a module per family, imported when a file of theirs is met.
_FAMILIES = {"reuters": "archives", "newsml": "archives", "feed": "web", "html": "web", "warc": "web"}


def _reader(format: str) -> Reader:
    if format in _FAMILIES:
        family: dict[str, Reader] = importlib.import_module(f"newsindex.{_FAMILIES[format]}").READERS
        return family[format]
    return _READERS[format]


# ── Records → stories ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _Where:
    """The file and record number a problem report names."""

    path: str
    record: int | None
    report: ProblemHandler

    def skipped(self, reason: str) -> None:
        self.report(Problem(self.path, reason, "skipped", self.record))

    def degraded(self, reason: str) -> None:
        self.report(Problem(self.path, reason, "degraded", self.record))


def _record_story(record: Mapping[str, object], fallback_id: str, where: _Where) -> Story | None:
    """A Story from one JSON object or CSV row, or None after reporting why the record was skipped."""
    fields = _fields(record)
    story_id = _checked_id(fields.get("id"), fallback_id, where)
    if story_id is None:
        return None
    body = _checked_body(_body_text(fields.get("body")), where)
    if body is None:
        return None
    location = _text_field(fields, "location", where)
    if location and location.isupper():
        location = readable_place(location)
    return _story(
        where,
        story_id,
        body,
        headline=_text_field(fields, "headline", where),
        published=_published(fields.get("published"), where),
        bylines=_bylines(fields.get("bylines"), where),
        location=location,
        agency=_text_field(fields, "source", where),
        credits=_credits(fields.get("credits")),
        topics=_labels(fields.get("topics"), "topics", where),
        countries=_labels(fields.get("countries"), "countries", where),
    )


def _story(
    where: _Where,
    story_id: str,
    body: str,
    *,
    headline: str | None = None,
    published: date | None = None,
    bylines: tuple[str, ...] = (),
    location: str | None = None,
    agency: str | None = None,
    credits: tuple[Credit, ...] | None = None,
    topics: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> Story:
    """The Story; the credit line leaves the body, and the dateline fills in place and agency when missing."""
    body, credit_line = split_credits(body)
    dateline, _ = split_dateline(body)
    if credits is None:
        credits = tuple(Credit(role, tuple(names)) for role, names in credit_line)
    return Story(
        id=story_id,
        body=body,
        headline=headline,
        published=published,
        bylines=bylines,
        location=location or (dateline.location if dateline else None),
        source=agency or (dateline.source if dateline else None),
        credits=credits,
        path=where.path,
        topics=topics,
        countries=countries,
    )


def _fields(record: Mapping[str, object]) -> dict[str, object]:
    """The record's values under our field names; blank values count as missing, except a blank id."""
    by_key = {field_key(str(key)): value for key, value in record.items()}
    fields: dict[str, object] = {}
    for field, aliases in KEY_ALIASES.items():
        for alias in aliases:
            value = by_key.get(alias)
            if value is not None and (field == "id" or not _is_blank(value)):
                fields[field] = value
                break
    return fields


def _is_blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _checked_id(value: object, fallback: str, where: _Where) -> str | None:
    """The story id (the record's own, else `fallback`), or None after reporting why it is unusable."""
    if value is None:
        story_id = fallback
    elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        story_id = str(value).strip()
    else:
        where.skipped(f"bad id (expected text or a whole number, got {_json_type(value)})")
        return None
    if not story_id:
        reason = "empty id"
    elif len(story_id) > MAX_ID_CHARS:
        reason = f"id too long ({len(story_id)} characters > {MAX_ID_CHARS})"
    elif _CONTROL.search(story_id):
        reason = f"id has control characters ({story_id[:40]!r})"
    else:
        return story_id
    where.skipped(reason)
    return None


def _body_text(value: object) -> str | None:
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "\n\n".join(value)  # some exports give the body as a list of paragraphs
    return value if isinstance(value, str) else None


def _checked_body(text: str | None, where: _Where) -> str | None:
    """The body with line ends made \\n and control characters gone, or None after reporting it empty."""
    body = _BODY_CONTROL.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not body:
        where.skipped(f"no body (empty or missing: {', '.join(KEY_ALIASES['body'])})")
        return None
    return body


def _text_field(fields: Mapping[str, object], name: str, where: _Where) -> str | None:
    value = fields.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        where.degraded(f"ignored {name} (expected text, got {_json_type(value)})")
        return None
    return _one_line(value) if value is not None else None


def _one_line(text: str) -> str | None:
    """The text on one line: control characters and runs of white space become one space."""
    return " ".join(_CONTROL.sub(" ", text).split()) or None


def _names(text: str) -> tuple[str, ...]:
    """ "By A, B and C" → ("A", "B", "C")."""
    cleaned = (_one_line(name) for name in split_names(_BY_PREFIX.sub("", text)))
    return tuple(name for name in cleaned if name)


def _bylines(value: object, where: _Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # "A and B", "A, B and C"; "A; B" as newsindex export writes them
        return tuple(itertools.chain.from_iterable(_names(part) for part in value.split(";")))
    if isinstance(value, list):
        names = (_one_line(_BY_PREFIX.sub("", item)) for item in value if isinstance(item, str))
        return tuple(name for name in names if name)
    where.degraded(f"ignored bylines (expected text or a list, got {_json_type(value)})")
    return ()


def _credits(value: object) -> tuple[Credit, ...] | None:
    """Credits given as role → names, or as the text of a credit line ("Reporting by A; Editing by B");
    None (use the body's credit line) when absent or unusable."""
    if isinstance(value, str):
        value = dict(credit_parts(value.strip().strip("()")))
    if not isinstance(value, dict):
        return None
    credits = []
    for role, names in value.items():
        if isinstance(names, str):
            names = [names]
        if isinstance(names, list):
            cleaned = tuple(itertools.chain.from_iterable(_names(name) for name in names if isinstance(name, str)))
            role_text = _one_line(str(role))
            if role_text and cleaned:
                credits.append(Credit(role_text, cleaned))
    return tuple(credits) or None


def _labels(value: object, name: str, where: _Where) -> tuple[str, ...]:
    """Topics or countries: a list, or text with the values between ; , or |."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = re.split(r"[;,|]", value)
    if isinstance(value, list):
        labels = (_one_line(item) for item in value if isinstance(item, str))
        return tuple(dict.fromkeys(label for label in labels if label))
    where.degraded(f"ignored {name} (expected text or a list, got {_json_type(value)})")
    return ()


def _published(value: object, where: _Where) -> date | None:
    """The story's date, or None after reporting it missing or unreadable."""
    if value is None or _is_blank(value):
        where.degraded("no date")
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _from_epoch(value)
        if isinstance(value, str):
            text = value.strip()
            return _from_epoch(float(text)) if _EPOCH.fullmatch(text) else parse_published(text)
    except (ValueError, OverflowError, OSError) as error:
        # DateError wraps the parser's own message, the part worth showing
        where.degraded(f"bad date {_one_line(str(value))!r} ({error.__cause__ or error})")
        return None
    where.degraded(f"bad date (expected text or a number, got {_json_type(value)})")
    return None


def _from_epoch(seconds: float) -> datetime:
    if abs(seconds) >= 1e11:  # JavaScript exports count milliseconds; 1e11 seconds is the year 5138
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


def _json_type(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# ── Small helpers ────────────────────────────────────────────────────────────────────────────────────


def _oversized(size: int) -> str:
    return f"oversized ({size / _MIB:.1f} MiB > {MAX_STORY_BYTES / _MIB:g} MiB)"


def _count_rest(stream: ByteStream) -> int:
    """Read to the end, keeping nothing; how many bytes there were."""
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
    return total
