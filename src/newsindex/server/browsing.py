"""What the search page needs beyond `NewsIndex.search`: facet names as HTTP takes them, timeline shapes.

Facets, timelines, similar stories and duplicate folding are the core ones (`NewsIndex.search(facets=…)`,
`NewsIndex.timeline`, `NewsIndex.similar`), exact over every matching story. HTTP names facets as the
CLI and Python do (bylines, location, source, year, month); the plural names of earlier versions
(locations, sources, years) are still taken. This module maps those names and picks a timeline scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from newsindex.errors import UsageError
from newsindex.index import NewsIndex
from newsindex.models import Filters, SearchResults
from newsindex.search.facets import FACETS

# Facet names HTTP took before it used the core's (`newsindex search --facet`), still accepted.
FACET_ALIASES = {"locations": "location", "sources": "source", "years": "year"}


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


def timeline_body(news: NewsIndex, text: str, filters: Filters, by: str) -> dict[str, Any]:
    """The answer of /api/timeline: stories per year, month or day (`auto`: by the span of the matches)."""
    found = news.timeline(text, by=by, filters=filters)  # `auto`: the matches found once, whatever the scale
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
