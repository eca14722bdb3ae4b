"""Dates as users and corpora write them: story dates in many shapes, range bounds at any granularity,
relative bounds ("7d", "-3m", "today", "now") counted back from `now()`."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

# "2019", "2019-10", "2019-10-23" (also with / or . between, or none: "20191023")
_PARTIAL_DATE = re.compile(r"^(?P<year>\d{4})(?:[-/.]?(?P<month>\d{1,2})(?:[-/.]?(?P<day>\d{1,2}))?)?$")

# "7d", "-2w", "3m", "1y": that many days, weeks, months or years ago
_RELATIVE = re.compile(r"^-?(?P<count>\d{1,5})(?P<unit>[dwmy])$")

# "Wed, 23 Oct 2019 10:00:00 +0000": dateutil reads a zero offset as local time, the email module does not
_RFC_2822 = re.compile(r"^(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d")


class DateError(ValueError):
    """A date that cannot be read or does not exist (2019-02-30)."""


def parse_published(text: str) -> date:
    """Read a story's date: ISO 8601, RFC 2822, "Oct 23, 2019", "23 October 2019", "26-FEB-1987 15:01:01.79".

    A date alone gives a `date`, a date with a time gives a `datetime` (time-zone aware when the text says).
    """
    text = text.strip()
    if not text:
        raise DateError("empty date")
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        pass
    if _RFC_2822.search(text):
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError):
            pass
    from dateutil import parser  # imported here: it is slow to load and most corpora never need it

    try:
        parsed: datetime = parser.parse(text, default=datetime(1, 1, 1))
    except (ValueError, OverflowError, parser.ParserError) as error:
        raise DateError(f"unreadable date {text!r} ({error})") from error
    if parsed.year == 1:
        raise DateError(f"date {text!r} has no year")
    if parsed.time() == time(0) and parsed.tzinfo is None and not re.search(r"\d:\d", text):
        return parsed.date()
    return _with_real_offset(parsed, text)


def _with_real_offset(parsed: datetime, text: str) -> datetime:
    """`parsed`, if its UTC offset is one a clock can have: dateutil reads `+25:00`, `+2500` or `UTC+30`
    as offsets of a day or more, which Python's datetime refuses at the first use (formatting, UTC
    conversion), so such a date is refused here, as a problem of its story, not of the run."""
    try:
        parsed.utcoffset()
    except ValueError:
        raise DateError("its UTC offset is 24 hours or more") from None
    return parsed


def now() -> datetime:
    """The current moment as a naive UTC datetime: what relative dates count back from (tests replace it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_bound(text: str, *, end: bool = False) -> datetime:
    """Read a range bound: YYYY, YYYY-MM, YYYY-MM-DD, a full timestamp, or a relative date (`parse_relative`).

    With `end`, a partial date means the last moment of its period ("2019-10" → Oct 31, 23:59:59),
    so both ends of a range are inclusive.
    """
    text = text.strip()
    relative = parse_relative(text)
    if isinstance(relative, datetime):
        return relative
    if relative is not None:
        return datetime.combine(relative, time.max if end else time.min)
    match = _PARTIAL_DATE.match(text)
    if match:
        year, month, day = int(match["year"]), match["month"], match["day"]
        try:
            if month is None:
                first, last = date(year, 1, 1), date(year, 12, 31)
            elif day is None:
                days = calendar.monthrange(year, int(month))[1] if 1 <= int(month) <= 12 else 0
                first, last = date(year, int(month), 1), date(year, int(month), days)
            else:
                first = last = date(year, int(month), int(day))
        except ValueError as error:
            raise DateError(f"no such date {text!r}: {error}") from None
        if end:
            return datetime.combine(last, time.max)
        return datetime.combine(first, time.min)
    value = parse_published(text)
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.max if end else time.min)


def to_seconds(value: date) -> int:
    """Seconds since 1970 (UTC) for a date (its midnight) or datetime (naive ones are taken as UTC)."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return calendar.timegm(value.timetuple())


def from_seconds(seconds: int) -> datetime:
    """The naive UTC datetime for seconds since 1970."""
    return datetime(1970, 1, 1) + timedelta(seconds=seconds)


def parse_relative(text: str) -> date | datetime | None:
    """A date counted back from `now()` (UTC): "7d", "2w", "3m", "1y" (a leading minus allowed: "-30d") is
    the day that long ago, "today" today; "now" is the moment itself. None when `text` is none of these.

    Months and years move the calendar ("3m" on May 31 is Feb 28 or 29), days and weeks count days.
    """
    word = text.strip().lower()
    if word == "now":
        return now()
    if word == "today":
        return now().date()
    match = _RELATIVE.match(word)
    if match is None:
        return None
    count, unit, today = int(match["count"]), match["unit"], now().date()
    if unit in "dw":
        days = count * (7 if unit == "w" else 1)
        if days >= today.toordinal():
            raise DateError(f"{text!r} reaches back before year 1")
        return today - timedelta(days=days)
    months = today.year * 12 + today.month - 1 - count * (12 if unit == "y" else 1)
    year, month = divmod(months, 12)
    if year < 1:
        raise DateError(f"{text!r} reaches back before year 1")
    return date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))


def parse_since(text: str) -> datetime:
    """The start of `--since`: a relative date ("7d", "2w", "3m", "1y", "today") at the start of its day."""
    relative = parse_relative(text)
    if relative is None:
        raise DateError(f"unreadable --since {text!r}")
    return relative if isinstance(relative, datetime) else datetime.combine(relative, time.min)


# ── Noisy timestamps (archives): the date at the start of the text, and the date library's warnings ────

_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # not calendar's month names: they follow the locale
_TIME = r"(?:[T\s]+(?P<hour>\d\d?):(?P<minute>\d\d)(?::(?P<second>\d\d)(?:\.(?P<fraction>\d{1,6}))?)?(?!\d))?"
_DATE_PREFIXES = tuple(
    re.compile(r"\s*" + shape + _TIME)
    for shape in (
        r"(?P<day>\d{1,2})-(?P<month>[A-Za-z]{3,9})-(?P<year>\d{4})(?!\d)",  # 27-MAR-1987 (Reuters-21578)
        r"(?P<year>\d{4})-(?P<number>\d\d)-(?P<day>\d\d)(?!\d)",  # 1987-03-27
        r"(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})(?!\d)",  # March 27, 1987
        r"(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3,9})\.?,?\s+(?P<year>\d{4})(?!\d)",  # 27 March 1987
    )
)


def date_prefix(text: str) -> tuple[date, str] | None:
    """The valid date at the start of a noisy timestamp, with its time when that is valid too, and the text
    after it: "27-MAR-1987 02:17:09.88T C" → (1987-03-27 02:17:09.880000, "T C"), "27-MAR-1987 25:99 x"
    → (1987-03-27, " 25:99 x"); None when the text does not start with a date."""
    for pattern in _DATE_PREFIXES:
        match = pattern.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        month = int(groups["number"]) if groups.get("number") else _MONTH_NUMBERS.get(groups["month"].lower())
        if month is None:
            continue
        try:
            day = date(int(groups["year"]), month, int(groups["day"]))
        except ValueError:
            continue
        if groups["hour"] is None:
            return day, text[match.end("year") if groups.get("number") is None else match.end("day") :]
        try:
            clock = time(
                int(groups["hour"]),
                int(groups["minute"]),
                int(groups["second"] or 0),
                int((groups["fraction"] or "0").ljust(6, "0")),
            )
        except ValueError:
            return day, text[match.start("hour") :]
        return datetime.combine(day, clock), text[match.end() :]
    return None


_UNKNOWN_ZONE = re.compile(r"tzname (\S+) identified but not understood")


def parse_published_noted(text: str) -> tuple[date, list[str]]:
    """`parse_published`, with what the date library warned about returned as notes in plain words
    ("time zone 'RM' unknown: the time is read without one"), never raised or printed as Python warnings."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = parse_published(text)
    notes = []
    for warning in caught:
        message = " ".join(str(warning.message).split(".  ")[0].split())
        zone = _UNKNOWN_ZONE.search(message)  # dateutil's words for a zone it does not know
        notes.append(f"time zone {zone[1]!r} unknown: the time is read without one" if zone else message)
    return value, list(dict.fromkeys(notes))
