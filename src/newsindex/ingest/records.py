"""Records → Story objects: the checks and clean-ups every reader shares (readers.py, archives.py, web.py).

A reader turns its format into records (a mapping of field names, or the parts of a story it found) and
hands them here: ids and bodies are checked, text is put on one line, names split, dates read, and every
problem is reported against the file and record it came from (`Where`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from newsindex.ingest.sources import KEY_ALIASES, UTF16_BOMS, ByteStream, ProblemHandler, Source, field_key
from newsindex.models import Credit, Problem, Story
from newsindex.text.dateline import credit_parts, parse_dateline, split_credits, split_dateline
from newsindex.text.dates import DateError, date_prefix, parse_published_noted
from newsindex.text.names import name_key, split_bylines

MAX_STORY_BYTES = 10 * 1024 * 1024  # one story file, JSON line or CSV record; bigger is not a news story
MAX_ID_CHARS = 512

# A reader: the stories of one source's bytes, each problem reported as it is met.
Reader = Callable[["Replayed", Source, ProblemHandler], Iterator[Story]]

_MIB = 1024 * 1024
_CHUNK = 1024 * 1024

_EPOCH = re.compile(r"-?\d{9,13}(?:\.\d+)?")  # 8 digits is a compact date ("20191023"), not seconds
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


# ── Byte streams ─────────────────────────────────────────────────────────────────────────────────────


class Replayed:
    """A byte stream whose first bytes (`head`) were already read to check it; reading starts with them.

    What is read ahead is kept in a buffer with a position in it (never sliced line by line), and
    `skip_blank_lines` reads past runs of empty lines a chunk at a time: a file of millions of blank
    lines (10 KB zipped) costs a few scans of its bytes, not a Python call per line.
    """

    _CHUNK = 64 * 1024

    def __init__(self, head: bytes, rest: ByteStream) -> None:
        self.head = head
        self._buffer = head  # bytes read ahead, unread from `_at` on
        self._at = 0
        self._rest = rest

    def read(self, size: int, /) -> bytes:
        data = self._buffer[self._at : self._at + size]
        self._advance(len(data))
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data

    def readline(self, size: int, /) -> bytes:
        buffer, at = self._buffer, self._at
        if at >= len(buffer):
            return self._rest.readline(size)
        limit = min(len(buffer), at + size)
        end = buffer.find(b"\n", at, limit)
        end = limit if end < 0 else end + 1
        line = buffer[at:end]
        self._advance(len(line))
        if line.endswith(b"\n") or len(line) == size or end < len(buffer):
            return line
        return line + self._rest.readline(size - len(line))

    def skip_blank_lines(self) -> int:
        """Read past the lines ahead that hold nothing but white space; how many there were."""
        passed = 0
        while True:
            if self._at >= len(self._buffer):
                self._buffer, self._at = self._rest.read(self._CHUNK), 0
                if not self._buffer:
                    return passed
            blank = _BLANK_LINES.match(self._buffer, self._at)
            end = blank.end() if blank else self._at
            passed += self._buffer.count(b"\n", self._at, end)
            self._advance(end - self._at)
            if self._at < len(self._buffer):
                return passed  # a line with something in it (or white space going on into the next chunk)

    def _advance(self, size: int) -> None:
        self._at += size
        if self._at >= len(self._buffer) and self._buffer:
            self._buffer, self._at = b"", 0


_BLANK_LINES = re.compile(rb"(?:[ \t\r\f\v]*\n)*")


class Decoder:
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


# ── Records → stories ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Where:
    """The file, record number and story id a problem report names."""

    path: str
    record: int | None
    report: ProblemHandler
    story: str | None = None  # the story's own id, once read (Reuters NEWID, a JSON "id")

    def named(self, story_id: str) -> Where:
        """The same place, naming the story's id in its reports."""
        return Where(self.path, self.record, self.report, story_id)

    def skipped(self, reason: str) -> None:
        self.report(Problem(self.path, reason, "skipped", self.record, story=self.story))

    def degraded(self, reason: str, *, once: str | None = None) -> None:
        self.report(Problem(self.path, reason, "degraded", self.record, story=self.story, once=once))


def record_story(record: Mapping[str, object], fallback_id: str, where: Where) -> Story | None:
    """A Story from one JSON object or CSV row, or None after reporting why the record was skipped."""
    fields = _fields(record)
    story_id = checked_id(fields.get("id"), fallback_id, where)
    if story_id is None:
        return None
    if "id" in fields:
        where = where.named(story_id)
    body = checked_body(_body_text(fields.get("body")), where)
    if body is None:
        return None
    # A location or dateline column: "SAN MATEO, Calif., March 2 -" → San Mateo, region Calif.
    place = _text_field(fields, "location", where)
    dateline = parse_dateline(place) if place else None
    region = _text_field(fields, "region", where)
    return make_story(
        where,
        story_id,
        body,
        headline=_text_field(fields, "headline", where),
        published=published_date(fields.get("published"), where),
        bylines=_bylines(fields.get("bylines"), where),
        location=dateline.location if dateline else None,
        region=region or (dateline.region if dateline else None),
        agency=_text_field(fields, "source", where),
        credits=_credits(fields.get("credits")),
        topics=_labels(fields.get("topics"), "topics", where),
        places=_labels(fields.get("places"), "places", where),
        orgs=_labels(fields.get("orgs"), "orgs", where),
        people=_labels(fields.get("people"), "people", where),
    )


def make_story(
    where: Where,
    story_id: str,
    body: str,
    *,
    headline: str | None = None,
    published: date | None = None,
    bylines: tuple[str, ...] = (),
    location: str | None = None,
    region: str | None = None,
    agency: str | None = None,
    credits: tuple[Credit, ...] | None = None,
    topics: tuple[str, ...] = (),
    places: tuple[str, ...] = (),
    orgs: tuple[str, ...] = (),
    people: tuple[str, ...] = (),
) -> Story:
    """The Story; the credit line leaves the body, and the body's dateline fills in place, region and agency
    when missing (its region only when the place is the dateline's)."""
    body, credit_line = split_credits(body)
    dateline, _ = split_dateline(body)
    if credits is None:
        credits = tuple(Credit(role, tuple(names)) for role, names in credit_line)
    if (
        dateline is not None
        and dateline.location
        and (location is None or name_key(location) == name_key(dateline.location))
    ):
        location, region = dateline.location, region or dateline.region
    return Story(
        id=story_id,
        body=body,
        headline=headline,
        published=published,
        bylines=bylines,
        location=location,
        region=region,
        source=agency or (dateline.source if dateline else None),
        credits=credits,
        path=where.path,
        topics=topics,
        places=places,
        orgs=orgs,
        people=people,
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


def checked_id(value: object, fallback: str, where: Where) -> str | None:
    """The story id (the record's own, else `fallback`), or None after reporting why it is unusable."""
    if value is None:
        story_id = fallback
    elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        story_id = str(value).strip()
    else:
        where.skipped(f"bad id (expected text or a whole number, got {json_type(value)})")
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


def checked_body(text: str | None, where: Where) -> str | None:
    """The body with line ends made \\n and control characters gone, or None after reporting it empty."""
    body = _BODY_CONTROL.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not body:
        where.skipped(f"no body (empty or missing: {', '.join(KEY_ALIASES['body'])})")
        return None
    nuls = (text or "").count("\0")
    if nuls:  # text does not hold NUL bytes: the record was damaged (a crashed write leaves zeros)
        where.degraded(f"{nuls} NUL byte{'' if nuls == 1 else 's'} in the body, removed (damaged record?)")
    return body


def _text_field(fields: Mapping[str, object], name: str, where: Where) -> str | None:
    value = fields.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        where.degraded(f"ignored {name} (expected text, got {json_type(value)})")
        return None
    return one_line(value) if value is not None else None


def one_line(text: str) -> str | None:
    """The text on one line: control characters and runs of white space become one space."""
    return " ".join(_CONTROL.sub(" ", text).split()) or None


def byline_names(text: str) -> tuple[str, ...]:
    """ "By A, B and C" / "By A AND B, Reuters" → ("A", "B", "C"): agencies left out, names in readable
    form (`newsindex.text.names.split_bylines`)."""
    cleaned = (one_line(name) for name in split_bylines(one_line(text) or ""))
    return tuple(dict.fromkeys(name for name in cleaned if name))


def _bylines(value: object, where: Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # "A and B", "A, B and C"; "A; B" as newsindex export writes them
        return tuple(itertools.chain.from_iterable(byline_names(part) for part in value.split(";")))
    if isinstance(value, list):  # one name an item, but "A and B" in one item is still two people
        return tuple(dict.fromkeys(itertools.chain.from_iterable(byline_names(i) for i in value if isinstance(i, str))))
    where.degraded(f"ignored bylines (expected text or a list, got {json_type(value)})")
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
            cleaned = tuple(
                itertools.chain.from_iterable(byline_names(name) for name in names if isinstance(name, str))
            )
            role_text = one_line(str(role))
            if role_text and cleaned:
                credits.append(Credit(role_text, cleaned))
    return tuple(credits) or None


def _labels(value: object, name: str, where: Where) -> tuple[str, ...]:
    """Topics, places, orgs or people: a list, or text with the values between ; , or |."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = re.split(r"[;,|]", value)
    if isinstance(value, list):
        labels = (one_line(item) for item in value if isinstance(item, str))
        return tuple(dict.fromkeys(label for label in labels if label))
    where.degraded(f"ignored {name} (expected text or a list, got {json_type(value)})")
    return ()


def published_date(value: object, where: Where) -> date | None:
    """The story's date, or None after reporting it missing or unreadable."""
    if value is None or _is_blank(value):
        where.degraded("no date")
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _from_epoch(value)
        if isinstance(value, str):
            text = value.strip()
            return _from_epoch(float(text)) if _EPOCH.fullmatch(text) else _noisy_date(text, where)
    except (ValueError, OverflowError, OSError) as error:
        # DateError wraps the parser's own message, the part worth showing
        where.degraded(f"bad date {one_line(str(value))!r} ({error.__cause__ or error})")
        return None
    where.degraded(f"bad date (expected text or a number, got {json_type(value)})")
    return None


# What may follow a date and its time and still be read by the date library: AM/PM, a zone, an offset.
_CLEAN_REST = re.compile(r"(?:\s*(?:[AaPp]\.?[Mm]\.?|Z|[A-Z]{2,5}|[+-]\d\d(?::?\d\d)?|\([A-Za-z ]+\)))*\s*")


def _noisy_date(text: str, where: Where) -> date:
    """A date from text that may carry junk after it: "27-MAR-1987 02:17:09.88T C" is 1987-03-27 02:17:09.88.

    A date read from its prefix only, and what the date library warns about, are reported once per input
    (`Problem.once`), never as Python warnings. Raises DateError when no date can be read."""
    prefix = date_prefix(text)
    if prefix is None or _CLEAN_REST.fullmatch(prefix[1]):
        try:
            value, notes = parse_published_noted(text)
        except DateError as error:
            if prefix is None:
                raise
            if error.args and "UTC offset" in str(error.args[0]):
                # "+25:00": the day is as written, but no time can be placed without a real offset
                day = prefix[0].date() if isinstance(prefix[0], datetime) else prefix[0]
                where.degraded(f"date {one_line(text)!r}: {error}; the day alone is kept ({day.isoformat()})")
                return day
        else:
            for note in notes:
                where.degraded(f"date {one_line(text)!r}: {note}", once=f"date library: {note}")
            return value
    # Junk after a valid date: dateutil would read "12:42:03.84 A" as 00:42 or fail, the prefix is the date.
    reason = f"dates with text after them are read up to it, e.g. {one_line(text)!r} as {prefix[0].isoformat()}"
    where.degraded(reason, once="date prefix")
    return prefix[0]


def _from_epoch(seconds: float) -> datetime:
    if abs(seconds) >= 1e11:  # JavaScript exports count milliseconds; 1e11 seconds is the year 5138
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# ── Small helpers ────────────────────────────────────────────────────────────────────────────────────


def oversized(size: int) -> str:
    return f"oversized ({size / _MIB:.1f} MiB > {MAX_STORY_BYTES / _MIB:g} MiB)"


def count_rest(stream: ByteStream) -> int:
    """Read to the end, keeping nothing; how many bytes there were."""
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
    return total
