"""What the search page needs beyond `NewsIndex.search`: facet names as HTTP takes them, timeline shapes.

Facets, timelines, similar stories and duplicate folding are the core ones (`NewsIndex.search(facets=…)`,
`NewsIndex.timeline`, `NewsIndex.similar`), exact over every matching story. HTTP names facets as the
CLI and Python do (bylines, location, source, year, month); the plural names of earlier versions
(locations, sources, years) are still taken. This module maps those names and picks a timeline scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from newsindex.errors import UsageError
from newsindex.facets import FACETS
from newsindex.index import NewsIndex
from newsindex.models import SearchResults
from newsindex.timeline import Timeline

# Facet names HTTP took before it used the core's (`newsindex search --facet`), still accepted.
FACET_ALIASES = {"locations": "location", "sources": "source", "years": "year"}
_AUTO_DAYS = 92  # `auto` draws days when the matches span at most this many days,
_AUTO_MONTHS = 36  # months when they span at most this many months, years beyond


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of one search, as `NewsIndex.search` takes them (everything but paging and order)."""

    text: str = ""
    start: str | None = None
    end: str | None = None
    bylines: tuple[str, ...] = ()
    location: str | None = None
    source: str | None = None
    region: str | None = None
    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    require_all: bool = False
    match: str = "all"  # "any": stories with some of the words (see NewsIndex.search)
    plain: bool = False  # the text is plain words, nothing in it is syntax
    fuzzy: bool = False  # every word matches words one edit away too
    since: str | None = None  # "7d", "2w", "3m", "1y": only stories from that long ago on

    def search(
        self,
        news: NewsIndex,
        *,
        sort: Any = "relevance",
        limit: int = 10,
        page: int = 1,
        facets: Iterable[str] = (),
        facet_top: int = 10,
        all_versions: bool = False,
        expand: bool = False,
        recency_half_life: float | None = None,
    ) -> SearchResults:
        """Run these filters on `news`; the rest as `NewsIndex.search` takes it."""
        return news.search(
            self.text,
            start=self.start,
            end=self.end,
            bylines=self.bylines,
            location=self.location,
            source=self.source,
            region=self.region,
            topics=self.topics,
            places=self.places,
            orgs=self.orgs,
            people=self.people,
            require_all=self.require_all,
            match=self.match,
            plain=self.plain,
            fuzzy=self.fuzzy,
            since=self.since,
            sort=sort,
            limit=limit,
            page=page,
            facets=list(facets),
            facet_top=facet_top,
            all_versions=all_versions,
            expand=expand,
            recency_half_life=recency_half_life,
        )

    def timeline(self, news: NewsIndex, by: str) -> Timeline:
        """The core timeline of these filters, one series."""
        return news.timeline(
            self.text,
            by=by,
            start=self.start,
            end=self.end,
            bylines=self.bylines,
            location=self.location,
            source=self.source,
            region=self.region,
            topics=self.topics,
            places=self.places,
            orgs=self.orgs,
            people=self.people,
            require_all=self.require_all,
            match=self.match,
            plain=self.plain,
            fuzzy=self.fuzzy,
            since=self.since,
        )


def facet_names(asked: Iterable[str]) -> dict[str, str]:
    """The facets asked for over HTTP, each once: the name asked → the core's. `all` is every facet.

    UsageError for an unknown name, naming the ones there are.
    """
    names: dict[str, str] = {}
    for name in asked:
        if name == "all":
            names.update((core, core) for core in FACETS if core not in names.values())
        elif name in FACETS or name in FACET_ALIASES:
            core = FACET_ALIASES.get(name, name)
            if core not in names.values():
                names[name] = core
        else:
            raise UsageError(f"unknown facet {name!r}: use one of {', '.join(FACETS)} (or all)")
    return names


def named_facets(results: SearchResults, names: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The facet counts of `results` under the names they were asked by."""
    core = results.facets_dict()
    return {name: core[core_name] for name, core_name in names.items() if core_name in core}


def timeline_body(news: NewsIndex, filters: Filters, by: str) -> dict[str, Any]:
    """The answer of /api/timeline: stories per year, month or day (`auto`: by the span of the matches)."""
    if by == "auto":  # years first: a wide range has too many months (or days) to list
        found = filters.timeline(news, "year")
        months = filters.timeline(news, "month") if 0 < len(found.periods) <= _AUTO_MONTHS // 12 + 1 else found
        if months.by == "month" and len(months.periods) <= _AUTO_MONTHS:
            found = months
        if found.by == "month" and len(found.periods) <= 4:
            days = filters.timeline(news, "day")
            if len(days.periods) <= _AUTO_DAYS:
                found = days
    else:
        found = filters.timeline(news, by)
    series = found.series[0]
    total = series.total + series.undated
    return {
        "query": series.query,
        "by": found.by,
        "total": total,
        "counted": total,
        "exact": True,
        "undated": series.undated,
        "matched": series.matched,
        "buckets": found.to_dict()["series"][0]["buckets"],
    }
