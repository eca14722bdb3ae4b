"""Date ranges answered from the `published` column, not term by term.

Each index segment's dates are read once into two arrays sorted by date (kept in a small cache keyed
by the segment's id, which never changes for a segment), so a range is two binary searches. Ranges
become either a filter handed to Whoosh's collector (the fast path: scoring keeps its shortcuts) or,
inside a query such as `iran OR date:2019`, a leaf query of their own.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from typing import Any

from whoosh.matching import IntersectionMatcher, ListMatcher, NullMatcher
from whoosh.query import qcore

from newsindex.errors import QueryError
from newsindex.store.schema import PublishedField
from newsindex.text.dates import DateError, parse_bound, to_seconds

_CACHE_SEGMENTS = 64
_cache: OrderedDict[tuple[str, str], tuple[array[int], array[int]]] = OrderedDict()
_cache_lock = threading.Lock()


class PublishedRange(qcore.Query):  # type: ignore[misc]
    """Stories published from `start` to `end` (seconds since 1970, inclusive; None is open)."""

    def __init__(self, fieldname: str, start: int | None, end: int | None, boost: float = 1.0) -> None:
        self.fieldname = fieldname
        self.start = start
        self.end = end
        self.boost = boost

    @classmethod
    def from_text(
        cls,
        fieldname: str,
        start: str | None,
        end: str | None,
        *,
        start_exclusive: bool = False,
        end_exclusive: bool = False,
    ) -> PublishedRange:
        """The range between two user-written bounds; a partial end date means the end of its period."""
        try:
            low = to_seconds(parse_bound(start, end=start_exclusive)) + start_exclusive if start else None
            high = to_seconds(parse_bound(end, end=not end_exclusive)) - end_exclusive if end else None
        except DateError as error:
            raise QueryError(
                f"{error}: write dates as YYYY, YYYY-MM, YYYY-MM-DD, a full timestamp, or 30d, 2w, 3m, 1y, today, now"
            ) from None
        return cls(fieldname, low, high)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublishedRange) and (self.fieldname, self.start, self.end) == (
            other.fieldname,
            other.start,
            other.end,
        )

    def __hash__(self) -> int:
        return hash((self.fieldname, self.start, self.end))

    def __repr__(self) -> str:
        return f"PublishedRange({self.fieldname!r}, {self.start!r}, {self.end!r})"

    def __unicode__(self) -> str:
        return f"{self.fieldname}:[{self.start} TO {self.end}]"

    __str__ = __unicode__

    def is_leaf(self) -> bool:
        return True

    def estimate_size(self, ixreader: Any) -> int:
        return int(ixreader.doc_count_all())

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        """Matches the segment's stories in the range; a date adds nothing to a story's score."""
        docnums = segment_docnums(searcher.reader(), self.fieldname, self.start, self.end)
        return _UnscoredMatcher(docnums) if docnums else NullMatcher()


class AllowedOnly(qcore.Query):  # type: ignore[misc]
    """`child`, matching only the allowed stories: the filter works inside the matcher, so that only
    stories that pass it are read and scored (a filter in the collector scores every match first).

    `allowed` maps each segment reader (by id) to its allowed document numbers, sorted. Scores are
    the child's: the allowed stories add 0.0.
    """

    def __init__(self, child: Any, allowed: dict[int, list[int]]) -> None:
        self.child = child
        self.allowed = allowed
        self.boost = 1.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AllowedOnly) and self.child == other.child and self.allowed == other.allowed

    def __hash__(self) -> int:
        return hash(self.child)

    def __repr__(self) -> str:
        return f"AllowedOnly({self.child!r})"

    def is_leaf(self) -> bool:
        return False

    def children(self) -> list[Any]:
        return [self.child]

    def estimate_size(self, ixreader: Any) -> int:
        return min(int(self.child.estimate_size(ixreader)), len(self.allowed.get(id(ixreader), ())))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        docnums = self.allowed.get(id(searcher.reader()))
        if not docnums:
            return NullMatcher()
        matcher = self.child.matcher(searcher, context)
        if not matcher.is_active():
            return matcher
        return _AllowedMatcher(matcher, _UnscoredMatcher(docnums))


class _AllowedMatcher(IntersectionMatcher):  # type: ignore[misc]
    """The child's matches among the allowed stories.

    Never replaced by a cheaper matcher for a minimum score: Whoosh's replacements (AND-MAYBE for a
    union whose parts score low) then lose matches when skipped to, as an intersection does.
    """

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else NullMatcher()


def allowed_by_segment(searcher: Any, allowed: set[int]) -> dict[int, list[int]]:
    """The searcher's allowed global document numbers as sorted segment-local ones, keyed as AllowedOnly wants."""
    by_segment: dict[int, list[int]] = {}
    ordered = sorted(allowed)
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        low = bisect_left(ordered, offset)
        high = bisect_left(ordered, offset + reader.doc_count_all())
        by_segment[id(reader)] = [docnum - offset for docnum in ordered[low:high]] if offset else ordered[low:high]
    return by_segment


class _UnscoredMatcher(ListMatcher):  # type: ignore[misc]
    _ids: list[int]
    _i: int

    def score(self) -> float:
        return 0.0

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        return 0.0

    def skip_to(self, docnum: int) -> None:
        self._i = bisect_left(self._ids, docnum, self._i)


def segment_docnums(reader: Any, fieldname: str, start: int | None, end: int | None) -> list[int]:
    """Live document numbers of one segment whose date is in [start, end], in document order."""
    dates, docnums = _sorted_dates(reader, fieldname)
    low = 0 if start is None else bisect_left(dates, start)
    high = len(dates) if end is None else bisect_right(dates, end)
    found = sorted(docnums[low:high])
    if reader.has_deletions():
        found = [docnum for docnum in found if not reader.is_deleted(docnum)]
    return found


def live_dates(reader: Any, fieldname: str) -> list[int]:
    """The dates of one segment's live stories, sorted (stories without a date left out)."""
    dates, docnums = _sorted_dates(reader, fieldname)
    if not reader.has_deletions():
        return list(dates)
    return [value for value, docnum in zip(dates, docnums, strict=True) if not reader.is_deleted(docnum)]


def date_span(searcher: Any, fieldname: str) -> tuple[int, int] | None:
    """The oldest and the newest date of the searcher's live stories; None when no story has a date."""
    ends: list[int] = []
    for leaf, _ in searcher.leaf_searchers():
        reader = leaf.reader()
        dates, docnums = _sorted_dates(reader, fieldname)
        live = [index for index in (0, len(dates) - 1) if dates]
        if reader.has_deletions():  # the first and last live ones, looked for from each end
            forward = (index for index in range(len(dates)) if not reader.is_deleted(docnums[index]))
            backward = (index for index in reversed(range(len(dates))) if not reader.is_deleted(docnums[index]))
            live = [index for index in (next(forward, None), next(backward, None)) if index is not None]
        ends.extend(dates[index] for index in live)
    return (min(ends), max(ends)) if ends else None


def date_filter(searcher: Any, fieldname: str, start: int | None, end: int | None) -> set[int]:
    """Global document numbers of the searcher's stories dated in [start, end]."""
    allowed: set[int] = set()
    for leaf, offset in searcher.leaf_searchers():
        allowed.update(docnum + offset for docnum in segment_docnums(leaf.reader(), fieldname, start, end))
    return allowed


def _sorted_dates(reader: Any, fieldname: str) -> tuple[array[int], array[int]]:
    if not reader.has_column(fieldname):
        return array("q"), array("q")
    key = (reader.segment().segment_id(), fieldname)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    column = reader.column_reader(fieldname, translate=False)
    values = [column[docnum] for docnum in range(reader.doc_count_all())]
    order = sorted(
        (docnum for docnum, value in enumerate(values) if value != PublishedField.MISSING),
        key=values.__getitem__,
    )
    entry = (array("q", (values[docnum] for docnum in order)), array("q", order))
    with _cache_lock:
        _cache[key] = entry
        while len(_cache) > _CACHE_SEGMENTS:
            _cache.popitem(last=False)
    return entry
