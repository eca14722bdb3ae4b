"""What the search page needs beyond `NewsIndex.search`: the page's facet and timeline shapes.

Facets, timelines, similar stories and duplicate folding are the core ones (`NewsIndex.search(facets=…)`,
`NewsIndex.timeline`, `NewsIndex.similar`), exact over every matching story; this module only renames
facets to the page's words (locations, sources, years) and picks a timeline scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from newsindex.index import NewsIndex
from newsindex.models import SearchResults
from newsindex.timeline import Timeline

# The page's facet names and the core's (`newsindex search --facet`).
FACETS = {
    "bylines": "bylines",
    "locations": "location",
    "sources": "source",
    "years": "year",
    **{name: name for name in ("region", "topic", "place", "org", "person")},
}
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
        all_versions: bool = False,
        expand: bool = False,
        recency_half_life: float | None = None,
    ) -> SearchResults:
        """Run these filters on `news`; `facets` in the page's names (locations, sources, years, bylines);
        the rest as `NewsIndex.search` takes it."""
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
            plain=self.plain,
            fuzzy=self.fuzzy,
            since=self.since,
            sort=sort,
            limit=limit,
            page=page,
            facets=[FACETS[name] for name in facets],
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
            plain=self.plain,
            fuzzy=self.fuzzy,
            since=self.since,
        )


def page_facets(results: SearchResults) -> dict[str, list[dict[str, Any]]]:
    """The facet counts of `results` under the page's names."""
    core = results.facets_dict()
    return {name: core[core_name] for name, core_name in FACETS.items() if core_name in core}


def timeline_body(news: NewsIndex, filters: Filters, by: str) -> dict[str, Any]:
    """The answer of /api/timeline: stories per year, month or day (`auto`: by the span of the matches)."""
    if by == "auto":
        found = filters.timeline(news, "month")
        if len(found.periods) > _AUTO_MONTHS or not found.periods:
            found = filters.timeline(news, "year")
        elif len(found.periods) <= 4:
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
        "buckets": found.to_dict()["series"][0]["buckets"],
    }
