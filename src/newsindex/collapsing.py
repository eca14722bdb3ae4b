"""Search-time side of duplicate groups: fold a ranked list to one story per group, count groups.

Each story's group label is in the `dupgroup` column (see `newsindex.duplicates`). A segment never
changes once written (deletions aside), so its labels are read once and kept; a searcher's view is the
labels of its segments laid end to end, rebuilt only when a commit changes the segments.

A group is shown as its best story in the order asked for (the highest ranked, or the first by date);
its other matching stories are that hit's duplicates. An index built before duplicate groups has no
`dupgroup` column: `story_groups` returns None and search shows every story, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_SEGMENT_CACHE = 256  # segments whose labels are kept (a few MB for 100,000 stories)
_VIEW_CACHE = 8  # searcher views (one per index generation) kept


@dataclass(frozen=True, slots=True)
class Folded:
    """One hit of a collapsed list: the best story of its group and the group's other matching stories."""

    docnum: int
    score: float
    duplicates: tuple[int, ...] = ()


class StoryGroups:
    """The duplicate group of every story a searcher sees, by document number."""

    def __init__(self, labels: list[str]) -> None:
        self._labels = labels  # document number → group label ("" for a story without one)
        members: dict[str, list[int]] = {}
        for docnum, label in enumerate(labels):
            if label:
                members.setdefault(label, []).append(docnum)
        self._members = {label: docnums for label, docnums in members.items() if len(docnums) > 1}

    def key(self, docnum: int) -> str | int:
        """The group of a story; a story without a label is a group of its own."""
        label = self._labels[docnum] if docnum < len(self._labels) else ""
        return label or docnum

    def members(self, docnum: int) -> tuple[int, ...]:
        """The other stories of this story's group (deleted ones included: intersect with what matched)."""
        label = self._labels[docnum] if docnum < len(self._labels) else ""
        return tuple(other for other in self._members.get(label, ()) if other != docnum) if label else ()

    def count(self, docnums: Iterable[int]) -> int:
        """How many groups these stories make."""
        return len({self.key(docnum) for docnum in docnums})

    def fold(
        self, rank: Callable[[int], list[tuple[int, float]]], wanted: int, matching: set[int] | None = None
    ) -> list[Folded]:
        """The best `wanted` groups of the ranking `rank(depth)` returns, each with its duplicates among
        `matching` (default: among the ranked stories).

        Asks `rank` for deeper rankings until `wanted` groups are found or the ranking runs out.
        """
        depth = wanted * 2 + 10
        while True:
            found = rank(depth)
            position: dict[int, int] = {}
            best: dict[str | int, tuple[int, float]] = {}
            for index, (docnum, score) in enumerate(found):
                position[docnum] = index
                best.setdefault(self.key(docnum), (docnum, score))
            if len(best) >= wanted or len(found) < depth:
                break
            depth *= 4
        folded = []
        for docnum, score in list(best.values())[:wanted]:
            others = [other for other in self.members(docnum) if other in (position if matching is None else matching)]
            others.sort(key=lambda other: (position.get(other, len(position)), other))
            folded.append(Folded(docnum, score, tuple(others)))
        return folded


def story_groups(searcher: Any) -> StoryGroups | None:
    """The groups of the stories `searcher` sees; None for an index built before duplicate groups."""
    if "dupgroup" not in searcher.schema:
        return None
    leaves = list(searcher.leaf_searchers())
    view_key = tuple((_segment_key(leaf.reader()), offset) for leaf, offset in leaves)
    with _lock:
        cached = _views.get(view_key)
        if cached is not None:
            _views.move_to_end(view_key)
            return cached
    labels: list[str] = []
    for leaf, offset in leaves:
        reader = leaf.reader()
        labels.extend([""] * (offset - len(labels)))
        labels.extend(_segment_labels(reader))
    groups = StoryGroups(labels)
    with _lock:
        _views[view_key] = groups
        while len(_views) > _VIEW_CACHE:
            _views.popitem(last=False)
    return groups


def _segment_key(reader: Any) -> tuple[str, str, int]:
    segment = reader.segment()
    folder = str(getattr(reader.storage(), "folder", ""))
    return (folder, segment.segment_id() if segment else "", reader.doc_count_all())


def _segment_labels(reader: Any) -> list[str]:
    key = _segment_key(reader)
    with _lock:
        cached = _segments.get(key)
        if cached is not None:
            _segments.move_to_end(key)
            return cached
    has_labels = reader.has_column("dupgroup")
    labels = list(reader.column_reader("dupgroup")) if has_labels else [""] * reader.doc_count_all()
    with _lock:
        _segments[key] = labels
        while len(_segments) > _SEGMENT_CACHE:
            _segments.popitem(last=False)
    return labels


_lock = threading.Lock()
_segments: OrderedDict[tuple[str, str, int], list[str]] = OrderedDict()
_views: OrderedDict[tuple[Any, ...], StoryGroups] = OrderedDict()
