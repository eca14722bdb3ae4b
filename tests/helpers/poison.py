"""A story that makes Whoosh raise while it is analysed: for the tests of bad stories in a batch."""

from __future__ import annotations

import pytest

from newsindex.store.schema import NewsAnalyzer


def poison_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Whoosh raise while analysing any text with the word "poison" in it."""
    # Indexing analyses through `index_terms` (or `index_postings`), queries and snippets through
    # `__call__`: poison all three.
    for name in ("__call__", "index_postings", "index_terms"):
        original = getattr(NewsAnalyzer, name)

        def poisoned(self: NewsAnalyzer, value: str, *args: object, _original=original, **kwargs: object):  # type: ignore[no-untyped-def]
            if "poison" in value:
                raise RuntimeError("analysis failed")
            return _original(self, value, *args, **kwargs)

        monkeypatch.setattr(NewsAnalyzer, name, poisoned)
