"""Sources → Story objects: read each input file story by story, in its format (finding the files is sources.py)."""

from __future__ import annotations

import csv
import importlib
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterator

from newsindex.ingest.records import (
    MAX_ID_CHARS,
    MAX_STORY_BYTES,
    Decoder,
    Reader,
    Replayed,
    Where,
    byline_names,
    checked_body,
    checked_id,
    count_rest,
    json_type,
    make_story,
    oversized,
    published_date,
    record_story,
)
from newsindex.ingest.sources import (
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
from newsindex.models import Problem, Story

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

_LINE_CHUNK = 1024 * 1024
_ISO_DATE_START = re.compile(r"[\s:]*\d{4}-\d\d-\d\d")


# ── Reading one source ───────────────────────────────────────────────────────────────────────────────


def read_source(source: Source, *, on_problem: ProblemHandler | None = None) -> Iterator[Story]:
    """The stories in one source; bad files and records go to `on_problem` and the reading goes on."""
    report = _once_per_input(on_problem or ignore_problem)
    if source.format == "zip":
        from newsindex.ingest.archives import read_zip

        yield from read_zip(source, report)
        return
    try:
        with open_bytes(source.path) as stream:
            yield from read_stream(stream, source, report)
    except (OSError, EOFError, zlib.error) as error:  # unreadable, vanished, or a truncated/corrupt .gz
        report(Problem(source.path, f"cannot read ({describe_error(error)})"))


def _once_per_input(report: ProblemHandler) -> ProblemHandler:
    """`report`, passing each kind of `Problem.once` problem only the first time in this input."""
    seen: set[str] = set()

    def once(problem: Problem) -> None:
        if problem.once is not None:
            if problem.once in seen:
                return
            seen.add(problem.once)
        report(problem)

    return once


def read_stream(stream: ByteStream, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """The stories in the bytes of one source (a file, stdin, a member of an archive), in `source.format`."""
    head = read_head(stream)
    problem = head_problem(head)
    if head.startswith(UTF16_BOMS) and source.format != "text":
        problem = "UTF-16 text: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"
    if problem:
        report(Problem(source.path, problem))
        return
    yield from _reader(source.format)(Replayed(head, stream), source, report)


def read_stories(*paths: str, format: str | None = None, on_problem: ProblemHandler | None = None) -> Iterator[Story]:
    """Every story under `paths` (files, directories, globs, "-" for stdin), in a stable order."""
    sources = find_sources(paths, format=format, on_problem=on_problem)  # raises bad usage now, not mid-run
    return itertools.chain.from_iterable(read_source(source, on_problem=on_problem) for source in sources)


class _OversizedRecord(Exception):
    """A record longer than MAX_STORY_BYTES, already read past; `size` is its length in bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(oversized(size))
        self.size = size


class _RecordLines:
    """Decoded lines of a stream, never holding more than MAX_STORY_BYTES of one record in memory.

    A record is one line, or with `quote` as many lines as it takes to close its quoted fields (CSV).
    A record over the limit is read past and raises _OversizedRecord; the next line starts a new record.
    """

    def __init__(self, stream: Replayed, decode: Callable[[bytes], str], *, quote: bytes = b"") -> None:
        self._stream = stream
        self._decode = decode
        self._quote = quote
        self._size = self._quotes = 0
        self._blank = 0  # blank lines read past in bulk since `take_blank` last asked

    def start_record(self) -> None:
        self._size = self._quotes = 0

    def take_blank(self) -> int:
        """How many blank lines were read past before the record now read (each counts as a record)."""
        blank, self._blank = self._blank, 0
        return blank

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        if self._size == 0:  # between records: blank lines are nothing to decode, skipped a chunk at a time
            self._blank += self._stream.skip_blank_lines()
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
            line = self._stream.readline(_LINE_CHUNK)
            self._count(line)


def _read_text(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One story per file: a ` date … By …` line, a blank line, the body; the id is the file's id_base."""
    data = stream.read(MAX_STORY_BYTES + 1)
    if len(data) > MAX_STORY_BYTES:
        report(Problem(source.path, oversized(len(data) + count_rest(stream))))
        return
    where = Where(source.path, None, report)
    text = Decoder(source.path, report)(data).replace("\r\n", "\n").replace("\r", "\n")
    header, body_text = _split_header(text)
    story_id = checked_id(None, source.id_base, where)
    body = checked_body(body_text, where) if story_id is not None else None
    if story_id is None or body is None:
        return
    if header is None:
        where.degraded("no date header")
        yield make_story(where, story_id, body)
    else:
        date_text, names = header
        yield make_story(where, story_id, body, published=published_date(date_text, where), bylines=byline_names(names))


def _split_header(text: str) -> tuple[tuple[str, str] | None, str]:
    """Split the opening ` date 2019-10-23 By A and B` line, as (date text, names), from the body."""
    first, _, rest = text.lstrip().partition("\n")
    match = TEXT_HEADER.fullmatch(first)
    # "Date palms grew by the river." opens a body: a header has an ISO date or a blank line after it.
    if not match or not (_ISO_DATE_START.match(match["date"]) or not rest.partition("\n")[0].strip()):
        return None, text
    return (match["date"].strip(" \t:"), match["names"] or ""), rest


def _read_jsonl(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One JSON object per line; a bad line is reported and skipped and the rest of the file goes on."""
    lines = _RecordLines(stream, Decoder(source.path, report))
    number = 0
    while True:
        lines.start_record()
        try:
            line = next(lines)
        except StopIteration:
            return
        except _OversizedRecord as error:
            number += 1 + lines.take_blank()
            report(Problem(source.path, str(error), record=number))
            continue
        number += 1 + lines.take_blank()  # the line number: blank lines read past count too
        if line.strip():
            story = _json_story(line, f"{source.id_base}:{number}", Where(source.path, number, report))
            if story is not None:
                yield story


def _json_story(line: str, fallback_id: str, where: Where) -> Story | None:
    try:
        record = json.loads(line.rstrip("\r\n"))  # so the column in a message counts from this line
    except json.JSONDecodeError as error:
        where.skipped(f"invalid JSON ({error.msg} at column {error.colno})")
        return None
    except (ValueError, RecursionError) as error:  # a 5000-digit number, absurd nesting
        where.skipped(f"invalid JSON ({error})")
        return None
    if not isinstance(record, dict):
        where.skipped(f"not a JSON object (got {json_type(record)})")
        return None
    return record_story(record, fallback_id, where)


def _read_csv(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One story per row under a header row naming the columns; quoted fields may span lines."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_STORY_BYTES))  # the default 128 KiB cuts long stories
    lines = _RecordLines(stream, Decoder(source.path, report), quote=b'"')
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
    lines.take_blank()
    number = 0  # row 1 is the first after the header; a blank line is a row, as csv counts them
    while True:
        lines.start_record()
        try:
            row = next(rows)
        except StopIteration:
            return
        except (_OversizedRecord, csv.Error) as error:
            number += 1 + lines.take_blank()
            reason = str(error) if isinstance(error, _OversizedRecord) else f"bad CSV row ({error})"
            report(Problem(source.path, reason, record=number))
            continue
        number += 1 + lines.take_blank()
        if any(cell.strip() for cell in row):  # csv gives [] for a blank line
            record = dict(zip(header, row, strict=False))  # a short row lacks its last fields; extra cells are ignored
            story = record_story(record, f"{source.id_base}:{number}", Where(source.path, number, report))
            if story is not None:
                yield story


def _csv_delimiter(path: str, head: bytes) -> str:
    if path.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    return guess_delimiter(head.split(b"\n", 1)[0].decode("utf-8", errors="replace"))


_READERS: dict[str, Reader] = {
    "text": _read_text,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
}
# The other formats' readers live in a module per family, imported when a file of theirs is met.
_FAMILIES = {"reuters": "archives", "newsml": "archives", "feed": "web", "html": "web", "warc": "web"}


def _reader(format: str) -> Reader:
    if format in _FAMILIES:
        family: dict[str, Reader] = importlib.import_module(f"newsindex.ingest.{_FAMILIES[format]}").READERS
        return family[format]
    return _READERS[format]
