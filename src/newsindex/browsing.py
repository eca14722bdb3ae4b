"""What the search page needs beyond `NewsIndex.search`: the page's facet and timeline shapes, similar stories.

Facets and timelines are the core ones (`NewsIndex.search(facets=…)`, `NewsIndex.timeline`), exact over
every matching story; this module only renames them to the page's words (locations, sources, years) and
picks a timeline scale. INTERIM still, until the search-features issue gives NewsIndex their jobs:

- similar stories are a search for the words of a story's headline and lead;
- duplicates are folded only among the stories of one page, by identical title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from newsindex.errors import QueryError
from newsindex.index import MAX_LIMIT, NewsIndex
from newsindex.models import Hit, SearchResults, Story
from newsindex.timeline import Timeline

# The page's facet names and the core's (`newsindex search --facet`).
FACETS = {"bylines": "bylines", "locations": "location", "sources": "source", "years": "year"}
_AUTO_DAYS = 92  # `auto` draws days when the matches span at most this many days,
_AUTO_MONTHS = 36  # months when they span at most this many months, years beyond

_SIMILAR_WORDS = 16
_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]", re.UNICODE)


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
    plain: bool = False  # the text is plain words, nothing in it is syntax

    @property
    def is_empty(self) -> bool:
        """True when there is no text and no filter: every story of the index matches."""
        return not (self.text.strip() or self.start or self.end or self.bylines or self.location or self.source)

    def search(
        self,
        news: NewsIndex,
        *,
        sort: Any = "relevance",
        limit: int = 10,
        page: int = 1,
        facets: Iterable[str] = (),
    ) -> SearchResults:
        """Run these filters on `news`; `facets` in the page's names (locations, sources, years, bylines)."""
        return news.search(
            self.text,
            start=self.start,
            end=self.end,
            bylines=self.bylines,
            location=self.location,
            source=self.source,
            require_all=self.require_all,
            plain=self.plain,
            sort=sort,
            limit=limit,
            page=page,
            facets=[FACETS[name] for name in facets],
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
            require_all=self.require_all,
            plain=self.plain,
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


def whole_index_facets(news: NewsIndex, *, top: int = 10) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """Exact facets of the whole index, from its stats: (stories, facets)."""
    stats = news.stats(top=top)
    return stats.stories, {
        "bylines": [{"name": name, "stories": count} for name, count in stats.top_bylines],
        "locations": [{"name": name, "stories": count} for name, count in stats.top_locations],
        "sources": [{"name": name, "stories": count} for name, count in stats.top_sources],
        "years": [{"name": str(year), "stories": count} for year, count in stats.years],
    }


def similar_stories(news: NewsIndex, story: Story, *, limit: int = 5) -> tuple[Hit, ...]:
    """Other stories sharing the most words with `story`'s headline and lead, best first."""
    words: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(f"{story.headline or ''} {story.lead}"):
        key = word.casefold()
        if key not in seen and len(key) > 2:
            seen.add(key)
            words.append(word)
    words = words[:_SIMILAR_WORDS]
    if not words:
        return ()
    try:
        found = news.search(" ".join(words), plain=True, limit=min(limit + 1, MAX_LIMIT))
    except QueryError:  # only common words: nothing to compare by
        return ()
    others = [hit for hit in found.hits if hit.story.id != story.id][:limit]
    return tuple(
        Hit(story=hit.story, score=hit.score, rank=rank, snippet=hit.snippet) for rank, hit in enumerate(others, 1)
    )


def collapse_versions(hits: Sequence[Hit]) -> list[tuple[Hit, list[Hit]]]:
    """The hits of one page with later versions of the same story (same title) folded into the first."""
    groups: dict[str, tuple[Hit, list[Hit]]] = {}
    for hit in hits:
        key = " ".join(_WORD.findall(hit.story.title.casefold()))
        if key in groups:
            groups[key][1].append(hit)
        else:
            groups[key] = (hit, [])
    return list(groups.values())
