"""newsindex: full-text search over a news corpus, on Whoosh.

from newsindex import Filters, NewsIndex
index = NewsIndex.open("index")
results = index.search("Albania Iran", filters=Filters(start="2019-10-01", end="2019-10"), limit=10)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsindex.errors import (
        IndexBusyError,
        IndexDamagedError,
        IndexIOError,
        IndexMissingError,
        NewsIndexError,
        QueryError,
        QueryRejectedError,
        StoryNotFoundError,
        UsageError,
    )
    from newsindex.export import ExportReport, export_stories, opensearch_mapping
    from newsindex.index import NewsIndex
    from newsindex.ingest.readers import read_stories
    from newsindex.models import Credit, Filters, Hit, IndexReport, IndexStats, Problem, SearchResults, Story
    from newsindex.timeline import Series, Timeline

__version__ = "0.2.0.dev0"

# Where each public name lives. Names load on first use, so that `newsindex --help` does not pay for
# importing Whoosh (the largest fixed cost of a command).
_HOMES = {
    "NewsIndex": "newsindex.index",
    "read_stories": "newsindex.ingest.readers",
    **dict.fromkeys(["Series", "Timeline"], "newsindex.timeline"),
    **dict.fromkeys(["ExportReport", "export_stories", "opensearch_mapping"], "newsindex.export"),
    **dict.fromkeys(
        ["Credit", "Filters", "Hit", "IndexReport", "IndexStats", "Problem", "SearchResults", "Story"],
        "newsindex.models",
    ),
    **dict.fromkeys(
        [
            "IndexBusyError",
            "IndexDamagedError",
            "IndexIOError",
            "IndexMissingError",
            "NewsIndexError",
            "QueryError",
            "QueryRejectedError",
            "StoryNotFoundError",
            "UsageError",
        ],
        "newsindex.errors",
    ),
}

__all__ = [
    "Credit",
    "ExportReport",
    "Filters",
    "Hit",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexIOError",
    "IndexMissingError",
    "IndexReport",
    "IndexStats",
    "NewsIndex",
    "NewsIndexError",
    "Problem",
    "QueryError",
    "QueryRejectedError",
    "SearchResults",
    "Series",
    "Story",
    "StoryNotFoundError",
    "Timeline",
    "UsageError",
    "export_stories",
    "opensearch_mapping",
    "read_stories",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'newsindex' has no attribute {name!r}")
