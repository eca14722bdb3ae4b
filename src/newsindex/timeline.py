"""Timelines: story counts per day, ISO week, month or year, every period of a range, zeros included."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from newsindex.errors import UsageError

Period = Literal["day", "week", "month", "year"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "year")
MAX_PERIODS = 100_000  # ~270 years of days: more rows than any chart can show
_EPOCH = date(1970, 1, 1).toordinal()
# Day number → period name, per period: a search's matches fall on up to ~11,000 distinct days (30 years),
# and naming each anew (a date, isocalendar, a format) costs more than the count itself.
_NAMES: dict[str, dict[int, str]] = {by: {} for by in PERIODS}


@dataclass(frozen=True, slots=True)
class Series:
    """One query's line of a timeline: stories per period, and the matching stories that have no date."""

    query: str
    counts: tuple[int, ...]  # one per period of the timeline, in order
    undated: int
    matched: Literal["all", "any"] = "all"  # "any": no story has every word; stories with some are counted

    @property
    def total(self) -> int:
        """The dated matching stories inside the timeline's range."""
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Stories per period for one or more queries, over the same periods."""

    by: Period
    periods: tuple[str, ...]  # "2019", "2019-10", "2019-W43" (ISO 8601 week) or "2019-10-23"
    series: tuple[Series, ...]

    def to_dict(self) -> dict[str, Any]:
        """The timeline as JSON-ready data, the shape of `newsindex timeline --json`."""
        return {
            "by": self.by,
            "weeks": "ISO 8601 (Monday to Sunday, written YYYY-Www)" if self.by == "week" else None,
            "from": self.periods[0] if self.periods else None,
            "to": self.periods[-1] if self.periods else None,
            "periods": list(self.periods),
            "series": [
                {
                    "query": series.query,
                    "total": series.total,
                    "undated": series.undated,
                    "matched": series.matched,
                    "buckets": [
                        {"period": period, "stories": count}
                        for period, count in zip(self.periods, series.counts, strict=True)
                    ],
                }
                for series in self.series
            ],
        }


def check_period(by: str) -> Period:
    """`by` as a Period; UsageError when it is none."""
    if by not in PERIODS:
        raise UsageError(f"unknown period {by!r}: use one of {', '.join(PERIODS)}")
    return by  # type: ignore[return-value]


def day_to_date(day: int) -> date:
    """The date of a day number (days since 1970-01-01)."""
    return date.fromordinal(_EPOCH + day)


def period_of_day(day: int, by: str) -> str:
    """The name of the period a day number falls in (remembered)."""
    names = _NAMES[by]
    name = names.get(day)
    if name is None:
        name = names[day] = period_of(day_to_date(day), by)  # type: ignore[arg-type]
    return name


def period_of(day: date, by: Period) -> str:
    """The name of the period `day` falls in."""
    if by == "day":
        return day.isoformat()
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if by == "year":
        return f"{day.year:04d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


AUTO_DAYS = 92  # `auto` draws days when the matches span at most this many days,
AUTO_MONTHS = 36  # months when they span at most this many months, years beyond


def auto_timeline(counted: Sequence[tuple[str, Counter[int], int]], first: int | None, last: int | None) -> Timeline:
    """`build_timeline` by the span of the matching stories (`by="auto"`): years, or months when they
    span at most AUTO_MONTHS months, or days when at most AUTO_DAYS days; the counts are made once."""
    found = build_timeline("year", counted, first, last)
    wide = 0 < len(found.periods) <= AUTO_MONTHS // 12 + 1
    months = build_timeline("month", counted, first, last) if wide else found
    if months.by == "month" and len(months.periods) <= AUTO_MONTHS:
        found = months
    if found.by == "month" and len(found.periods) <= 4:
        days = build_timeline("day", counted, first, last)
        if len(days.periods) <= AUTO_DAYS:
            found = days
    return found


def build_timeline(
    by: Period,
    counted: Sequence[tuple[str, Counter[int], int]],
    first: int | None,
    last: int | None,
) -> Timeline:
    """A Timeline from each query's stories per day number (days since 1970-01-01) and undated count.

    The periods run from day `first` to day `last` (by default the earliest and latest day with stories),
    every one listed; days outside are left out.
    """
    days = [day for _, per_day, _ in counted for day, count in per_day.items() if count]
    low = first if first is not None else min(days, default=None)
    high = last if last is not None else max(days, default=None)
    if low is None or high is None or low > high:
        return Timeline(by=by, periods=(), series=tuple(Series(query, (), undated) for query, _, undated in counted))
    periods = list(_periods(day_to_date(low), day_to_date(high), by))
    position = {period: index for index, period in enumerate(periods)}
    series = []
    for query, per_day, undated in counted:
        counts = [0] * len(periods)
        for day, count in per_day.items():
            if low <= day <= high:
                counts[position[period_of_day(day, by)]] += count
        series.append(Series(query=query, counts=tuple(counts), undated=undated))
    return Timeline(by=by, periods=tuple(periods), series=tuple(series))


def _periods(first: date, last: date, by: Period) -> Iterator[str]:
    """Every period from the one holding `first` to the one holding `last`."""
    if by == "year":
        count = last.year - first.year + 1
    elif by == "month":
        count = (last.year - first.year) * 12 + last.month - first.month + 1
    elif by == "week":
        count = (last - first).days // 7 + 2
    else:
        count = (last - first).days + 1
    if count > MAX_PERIODS:
        raise UsageError(
            f"{first} to {last} is over {MAX_PERIODS:,} periods of a {by}: narrow --from/--to or use a longer --by"
        )
    if by == "year":
        yield from (f"{year:04d}" for year in range(first.year, last.year + 1))
    elif by == "month":
        month = first.year * 12 + first.month - 1
        while month <= last.year * 12 + last.month - 1:
            yield f"{month // 12:04d}-{month % 12 + 1:02d}"
            month += 1
    elif by == "week":
        monday = first - timedelta(days=first.weekday())
        while monday <= last:
            yield period_of(monday, "week")
            monday += timedelta(days=7)
    else:
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            yield date.fromordinal(ordinal).isoformat()
