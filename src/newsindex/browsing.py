"""What the search page needs beyond `NewsIndex.search`: facets, timelines, plain text.

INTERIM: these are stand-ins computed from the public API only, until the search-features issue gives
NewsIndex facets per query, timelines and a plain-text mode (similar stories and duplicate collapsing
are `NewsIndex.similar` and `NewsIndex.search` now).
Each function here is meant to be replaced by a NewsIndex method of the same job, then deleted:

- facets and timelines count the best `SAMPLE_LIMIT` (500) matching stories, paging through `search`,
  not all of them: `Scan.exact` says whether every matching story was counted;
- plain text is the query with every syntax character and field prefix taken out.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from newsindex.index import MAX_LIMIT, NewsIndex
from newsindex.models import SearchResults

# Each counted story costs ~0.4-0.7 ms (its stored fields and a snippet): 500 keep a facet pass near a
# third of a second on 100,000 stories (benchmarks/RESULTS-serve.md).
SAMPLE_LIMIT = 500
FACETS = ("bylines", "locations", "sources", "years")
Period = Literal["year", "month", "day"]
PERIODS: tuple[str, ...] = ("year", "month", "day")
_PERIOD_CHARS = {"year": 4, "month": 7, "day": 10}
_CACHE_SIZE = 64
_CACHE_SECONDS = 60.0

# Field names the query language knows (query.py): `location:tirana` in plain text searches "tirana".
_FIELD_NAMES = (
    "author|authors|by|byline|bylines|location|dateline|place|source|agency|headline|title|body|text|date|published|id"
)
_FIELD_PREFIX = re.compile(rf"\b(?:{_FIELD_NAMES}):", re.IGNORECASE)
_SYNTAX = re.compile(r"""["():^*?~\[\]{}<>=\\/!&|]""")
_OPERATOR = re.compile(r"\b(AND|OR|NOT|TO)\b")
_LEADING_SIGN = re.compile(r"(?:(?<=\s)|^)[-+]+")


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of one search, as `NewsIndex.search` takes them (everything but paging and order)."""

    text: str = ""
    start: str | None = None
    end: str | None = None
    bylines: tuple[str, ...] = ()
    location: str | None = None
    source: str | None = None
    require_all: bool = False

    @property
    def is_empty(self) -> bool:
        """True when there is no text and no filter: every story of the index matches."""
        return not (self.text.strip() or self.start or self.end or self.bylines or self.location or self.source)

    def search(
        self, news: NewsIndex, *, sort: Any = "relevance", limit: int = 10, page: int = 1, all_versions: bool = False
    ) -> SearchResults:
        """Run these filters on `news`."""
        return news.search(
            self.text,
            start=self.start,
            end=self.end,
            bylines=self.bylines,
            location=self.location,
            source=self.source,
            require_all=self.require_all,
            sort=sort,
            limit=limit,
            page=page,
            all_versions=all_versions,
        )


@dataclass(frozen=True, slots=True)
class _Facts:
    """What facets and timelines need of one story."""

    published: date | None
    bylines: tuple[str, ...]
    location: str | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Scan:
    """The facts of the best matching stories, and how many matched in all."""

    total: int
    facts: tuple[_Facts, ...]

    @property
    def exact(self) -> bool:
        """True when every matching story was counted."""
        return len(self.facts) >= self.total

    def facets(self, names: Iterable[str], *, top: int = 10) -> dict[str, list[dict[str, Any]]]:
        """Story counts per byline, location, source or year, most frequent first (years in order)."""
        counters: dict[str, Counter[str]] = {name: Counter() for name in names}
        for fact in self.facts:
            if "bylines" in counters:
                counters["bylines"].update(set(fact.bylines))
            if "locations" in counters and fact.location:
                counters["locations"][fact.location] += 1
            if "sources" in counters and fact.source:
                counters["sources"][fact.source] += 1
            if "years" in counters and fact.published:
                counters["years"][str(fact.published.year)] += 1
        result = {}
        for name, counter in counters.items():
            if name == "years":
                pairs = sorted(counter.items())
            else:
                pairs = sorted(counter.items(), key=lambda pair: (-pair[1], pair[0].casefold()))[:top]
            result[name] = [{"name": value, "stories": count} for value, count in pairs]
        return result

    def timeline(self, period: str) -> list[dict[str, Any]]:
        """Story counts per year, month or day, in order, empty periods between included."""
        counts = Counter(fact.published.isoformat()[: _PERIOD_CHARS[period]] for fact in self.facts if fact.published)
        return [{"period": key, "stories": counts.get(key, 0)} for key in _periods_between(counts, period)]

    @property
    def undated(self) -> int:
        """How many of the counted stories have no date."""
        return sum(1 for fact in self.facts if fact.published is None)


def scan(news: NewsIndex, filters: Filters) -> Scan:
    """The facts of the best `SAMPLE_LIMIT` stories matching `filters` (cached until the index changes)."""
    return _SCANS.get(news, filters)


def whole_index_facets(news: NewsIndex, *, top: int = 10) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """Exact facets of the whole index, from its stats: (stories, facets)."""
    stats = news.stats(top=top)
    return stats.stories, {
        "bylines": [{"name": name, "stories": count} for name, count in stats.top_bylines],
        "locations": [{"name": name, "stories": count} for name, count in stats.top_locations],
        "sources": [{"name": name, "stories": count} for name, count in stats.top_sources],
        "years": [{"name": str(year), "stories": count} for year, count in stats.years],
    }


def plain_text(text: str) -> str:
    """`text` with nothing left that the query language reads as syntax: quotes, brackets, operators, fields."""
    text = _FIELD_PREFIX.sub(" ", text)
    text = _SYNTAX.sub(" ", text)
    text = text.replace(":", " ")
    text = _OPERATOR.sub(lambda match: match.group(1).lower(), text)
    text = _LEADING_SIGN.sub("", text)
    return " ".join(text.split())


def _periods_between(counts: Counter[str], period: str) -> list[str]:
    if not counts:
        return []
    first, last = min(counts), max(counts)
    if period == "year":
        return [str(year) for year in range(int(first), int(last) + 1)]
    if period == "month":
        keys = []
        year, month = int(first[:4]), int(first[5:7])
        while f"{year:04d}-{month:02d}" <= last:
            keys.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return keys
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if (end - start).days > 3660:  # ten years of days: list only the days that have stories
        return sorted(counts)
    return [date.fromordinal(day).isoformat() for day in range(start.toordinal(), end.toordinal() + 1)]


class _ScanCache:
    """Scans of recent searches: the page asks for facets and a timeline of the same search at once, then pages.

    A scan asked for while the same one is running waits for it instead of doing the work twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, Scan]] = OrderedDict()
        self._running: dict[tuple[Any, ...], threading.Lock] = {}

    def get(self, news: NewsIndex, filters: Filters) -> Scan:
        key = (str(news.path), _index_version(news), filters)
        found = self._cached(key)
        if found is not None:
            return found
        with self._lock:
            running = self._running.setdefault(key, threading.Lock())
        with running:
            found = self._cached(key)  # done by the scan this one waited for
            if found is None:
                found = _scan(news, filters, SAMPLE_LIMIT)
                with self._lock:
                    self._entries[key] = (time.monotonic(), found)
                    while len(self._entries) > _CACHE_SIZE:
                        self._entries.popitem(last=False)
        with self._lock:
            self._running.pop(key, None)
        return found

    def _cached(self, key: tuple[Any, ...]) -> Scan | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] >= _CACHE_SECONDS:
                return None
            self._entries.move_to_end(key)
            return entry[1]


def _scan(news: NewsIndex, filters: Filters, cap: int) -> Scan:
    """Page through the matching stories, best first, until `cap` of them are counted or none are left."""
    facts: list[_Facts] = []
    page_size = min(cap, MAX_LIMIT)
    total, page = 0, 1
    while len(facts) < cap:
        found = filters.search(news, limit=page_size, page=page, all_versions=True)  # facets count stories
        total = found.total
        facts += (
            _Facts(hit.story.published, hit.story.bylines, hit.story.location, hit.story.source) for hit in found.hits
        )
        if len(found.hits) < page_size:
            break
        page += 1
    return Scan(total=total, facts=tuple(facts[:cap]))


def _index_version(news: NewsIndex) -> int:
    """Changes with every commit: a commit adds and removes files in the index folder, which moves its mtime."""
    try:
        return news.path.stat().st_mtime_ns
    except OSError:
        return 0


_SCANS = _ScanCache()
