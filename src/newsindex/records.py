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

from newsindex.dateline import credit_parts, readable_place, split_credits, split_dateline, split_names
from newsindex.dates import parse_published
from newsindex.models import Credit, Problem, Story
from newsindex.sources import KEY_ALIASES, UTF16_BOMS, ByteStream, ProblemHandler, Source, field_key

MAX_STORY_BYTES = 10 * 1024 * 1024  # one story file, JSON line or CSV record; bigger is not a news story
MAX_ID_CHARS = 512

# A reader: the stories of one source's bytes, each problem reported as it is met.
Reader = Callable[["Replayed", Source, ProblemHandler], Iterator[Story]]

_MIB = 1024 * 1024
_CHUNK = 1024 * 1024

_BY_PREFIX = re.compile(r"^\s*by\s+", re.IGNORECASE)
_EPOCH = re.compile(r"-?\d{9,13}(?:\.\d+)?")  # 8 digits is a compact date ("20191023"), not seconds
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


# ── Byte streams ─────────────────────────────────────────────────────────────────────────────────────


class Replayed:
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
    """The file and record number a problem report names."""

    path: str
    record: int | None
    report: ProblemHandler

    def skipped(self, reason: str) -> None:
        self.report(Problem(self.path, reason, "skipped", self.record))

    def degraded(self, reason: str) -> None:
        self.report(Problem(self.path, reason, "degraded", self.record))


def record_story(record: Mapping[str, object], fallback_id: str, where: Where) -> Story | None:
    """A Story from one JSON object or CSV row, or None after reporting why the record was skipped."""
    fields = _fields(record)
    story_id = checked_id(fields.get("id"), fallback_id, where)
    if story_id is None:
        return None
    body = checked_body(_body_text(fields.get("body")), where)
    if body is None:
        return None
    location = _text_field(fields, "location", where)
    if location and location.isupper():
        location = readable_place(location)
    return make_story(
        where,
        story_id,
        body,
        headline=_text_field(fields, "headline", where),
        published=published_date(fields.get("published"), where),
        bylines=_bylines(fields.get("bylines"), where),
        location=location,
        region=_text_field(fields, "region", where),
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
    """ "By A, B and C" → ("A", "B", "C")."""
    cleaned = (one_line(name) for name in split_names(_BY_PREFIX.sub("", text)))
    return tuple(name for name in cleaned if name)


def _bylines(value: object, where: Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # "A and B", "A, B and C"; "A; B" as newsindex export writes them
        return tuple(itertools.chain.from_iterable(byline_names(part) for part in value.split(";")))
    if isinstance(value, list):
        names = (one_line(_BY_PREFIX.sub("", item)) for item in value if isinstance(item, str))
        return tuple(name for name in names if name)
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
            return _from_epoch(float(text)) if _EPOCH.fullmatch(text) else parse_published(text)
    except (ValueError, OverflowError, OSError) as error:
        # DateError wraps the parser's own message, the part worth showing
        where.degraded(f"bad date {one_line(str(value))!r} ({error.__cause__ or error})")
        return None
    where.degraded(f"bad date (expected text or a number, got {json_type(value)})")
    return None


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
