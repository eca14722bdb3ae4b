"""Facet counts and per-day counts over every story matching a search, read from columns, not stories.

Counting loads no stored story. Each index segment's names (from the `byline_exact`, `location_exact`
and `source_exact` postings) and dates (from the `published` column) are turned once into arrays
indexed by document number, cached by segment id (a segment's documents never change; deleted ones
are never among the matches). A count is then one C-speed pass over the matching document numbers.
"""

from __future__ import annotations

import sys
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher

from newsindex.errors import UsageError
from newsindex.store.schema import TAG_FIELDS, PublishedField
from newsindex.text.names import merge_spellings
from newsindex.timeline import day_to_date

FACETS: tuple[str, ...] = (
    "bylines",
    "location",
    "source",
    "region",
    "topic",
    "place",
    "org",
    "person",
    "year",
    "month",
)
_NAME_FIELDS = {
    "bylines": "byline_exact",
    "location": "location_exact",
    "source": "source_exact",
    **{field: f"{field}_exact" for field in TAG_FIELDS},  # region, topic, place, org, person
}
NO_DAY = -(2**31)  # the day of a story without a date
_SECONDS_PER_DAY = 86_400
_CACHE_ENTRIES = 256  # arrays of 4 fields for each segment of a few indexes, and their joins
_T = TypeVar("_T")

# A segment's names: every value, then per document the index of its first value (-1: none) and,
# for the few documents with several (bylines), the indexes of the others.
_Names = tuple[list[str], "array[int]", dict[int, tuple[int, ...]]]


def check_facets(names: Iterable[str], top: int) -> tuple[str, ...]:
    """The facet names asked for, each once, in order; UsageError for an unknown one or a `top` below 1."""
    if top < 1:
        raise UsageError(f"facet_top must be 1 or more, not {top}")
    wanted = tuple(dict.fromkeys((names,) if isinstance(names, str) else names))  # "year" is one facet
    for name in wanted:
        if name not in FACETS:
            raise UsageError(f"unknown facet {name!r}: use one of {', '.join(FACETS)}")
    return wanted


def count_facets(
    searcher: Any, matching: set[int], names: Sequence[str], top: int
) -> dict[str, tuple[tuple[str, int], ...]]:
    """Stories of `matching` (global document numbers) per value of each facet.

    Names (bylines, location, source): the `top` most frequent, most first, ties by name.
    Periods (year, month): every period with stories, oldest first.
    """
    result: dict[str, tuple[tuple[str, int], ...]] = {}
    months: Counter[int] | None = None
    docnums = _docnum_array(matching)  # counted with NumPy: one pass in C per facet
    for name in names:
        if name in _NAME_FIELDS:
            found = _count_names(searcher, _NAME_FIELDS[name], matching, docnums)
            counts = merge_spellings(found)  # one value a person
            ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0].casefold(), pair[0]))
            result[name] = tuple(ranked[:top])
        else:
            if months is None:  # a few hundred months at most, where there may be thousands of days
                months = _counted(_searcher_array(searcher, "published", _segment_months), docnums)
                months.pop(NO_DAY, None)
            periods: Counter[str] = Counter()
            for month, count in months.items():
                period = f"{month // 12:04d}-{month % 12 + 1:02d}"
                periods[period[:4] if name == "year" else period] += count
            result[name] = tuple(sorted(periods.items()))
    return result


def count_days(searcher: Any, matching: set[int]) -> tuple[Counter[int], int]:
    """Stories of `matching` per day (days since 1970-01-01) and how many have no date."""
    counts = _counted(_searcher_array(searcher, "published", _segment_days), _docnum_array(matching))
    undated = counts.pop(NO_DAY, 0)
    return counts, undated


def seconds_to_day(seconds: int) -> int:
    """The day number of a moment in seconds since 1970."""
    return seconds // _SECONDS_PER_DAY


def posting_docnums(matcher: Any) -> list[int]:
    """The live document numbers of a term's postings, read a block at a time."""
    # Whoosh is frozen code: its W3 posting matcher keeps each block's ids in `_ids`.
    deleted: set[int] | frozenset[int] = frozenset()
    if isinstance(matcher, FilterMatcher) and matcher._exclude:  # deletions in the segment
        deleted, matcher = matcher._ids, matcher.child
    if not isinstance(matcher, W3LeafMatcher):
        return [docnum for docnum in matcher.all_ids() if docnum not in deleted]
    docnums: list[int] = []
    while matcher.is_active():
        matcher._read_ids()
        docnums.extend(matcher._ids)
        matcher._next_block()
    return [docnum for docnum in docnums if docnum not in deleted] if deleted else docnums


# -- the arrays -----------------------------------------------------------------------------------------


def _count_names(searcher: Any, fieldname: str, matching: set[int], docnums: Any) -> Counter[str]:
    import numpy as np

    names, first, more = _searcher_array(searcher, fieldname, _segment_names)
    counts = np.bincount(np.frombuffer(first, dtype=np.int32)[docnums] + 1, minlength=len(names) + 1)[1:]
    found = Counter({names[index]: int(counts[index]) for index in np.flatnonzero(counts).tolist()})
    if more:
        for docnum in more.keys() & (matching if isinstance(matching, set | frozenset) else set(docnums.tolist())):
            found.update(names[index] for index in more[docnum])
    return found


def _docnum_array(matching: Any) -> Any:
    """The document numbers of `matching` (a set, or already a NumPy array) as a NumPy array."""
    import numpy as np  # imported by counting only: a plain search from the command line does without it

    if isinstance(matching, np.ndarray):
        return matching.astype(np.int64, copy=False)
    return np.fromiter(matching, dtype=np.int64, count=len(matching))


def _counted(values: array[int], docnums: Any) -> Counter[int]:
    """How many of `docnums` have each value of `values` (an array by document number)."""
    import numpy as np

    found, counts = np.unique(np.frombuffer(values, dtype=np.int32)[docnums], return_counts=True)
    return Counter(dict(zip(found.tolist(), counts.tolist(), strict=True)))


class _Cache:
    """Recently used arrays, by segment (or by the searcher's segments for joined ones)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], _T]) -> _T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > _CACHE_ENTRIES:
                self._entries.popitem(last=False)
        return value


_cache = _Cache()


def _searcher_array(searcher: Any, fieldname: str, per_segment: Callable[[Any, str], Any]) -> Any:
    """The array of every segment of the searcher, joined in global document order (one segment: as is)."""
    leaves = [(leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()]
    kind = per_segment.__name__
    parts = []
    for reader, _ in leaves:
        make = partial(per_segment, reader, fieldname)
        parts.append(_cache.get((kind, _segment_key(reader), fieldname), make))
    if len(parts) == 1:
        return parts[0]
    key = ("joined", kind, fieldname, tuple(_segment_key(reader) for reader, _ in leaves))
    return _cache.get(key, lambda: _join(parts, [offset for _, offset in leaves], per_segment is _segment_names))


def _segment_key(reader: Any) -> str:
    segment = reader.segment()
    return "empty" if segment is None else str(segment.segment_id())


def _join(parts: list[Any], offsets: list[int], names: bool) -> Any:
    if not names:
        joined = array("i")
        for part in parts:
            joined.extend(part)
        return joined
    all_names: list[str] = []
    position: dict[str, int] = {}
    first = array("i")
    more: dict[int, tuple[int, ...]] = {}
    for (part_names, part_first, part_more), offset in zip(parts, offsets, strict=True):
        mapped = []
        for name in part_names:
            if name not in position:
                position[name] = len(all_names)
                all_names.append(name)
            mapped.append(position[name])
        first.extend(mapped[index] if index >= 0 else -1 for index in part_first)
        more.update((offset + docnum, tuple(mapped[i] for i in others)) for docnum, others in part_more.items())
    return all_names, first, more


def _segment_names(reader: Any, fieldname: str) -> _Names:
    size = int(reader.doc_count_all())
    names: list[str] = []
    first = array("i", [-1]) * size
    more: dict[int, list[int]] = {}
    if reader.segment() is not None and fieldname in reader.schema:  # not in an index built before the field
        for term in reader.lexicon(fieldname):
            index = len(names)
            names.append(term.decode("utf-8"))
            for docnum in posting_docnums(reader.postings(fieldname, term)):
                if first[docnum] < 0:
                    first[docnum] = index
                else:
                    more.setdefault(docnum, []).append(index)
    return names, first, {docnum: tuple(others) for docnum, others in more.items()}


def _segment_days(reader: Any, fieldname: str) -> array[int]:
    size = int(reader.doc_count_all())
    if not reader.has_column(fieldname):
        return array("i", [NO_DAY]) * size
    column = reader.column_reader(fieldname, translate=False)
    missing = PublishedField.MISSING
    days: array[int] = array(
        "i", (NO_DAY if value == missing else value // _SECONDS_PER_DAY for value in _column_values(column, size))
    )
    return days


def _segment_months(reader: Any, fieldname: str) -> array[int]:
    """Per document, its month as year * 12 + month - 1 (NO_DAY: no date)."""
    days = _cache.get(("_segment_days", _segment_key(reader), fieldname), partial(_segment_days, reader, fieldname))
    month_of: dict[int, int] = {NO_DAY: NO_DAY}
    for day in set(days):
        if day != NO_DAY:
            moment = day_to_date(day)
            month_of[day] = moment.year * 12 + moment.month - 1
    months: array[int] = array("i", map(month_of.__getitem__, days))
    return months


def _column_values(column: Any, size: int) -> array[int]:
    """Every value of a date column: its bytes read at once (a value at a time is 10x slower)."""
    # Whoosh's NumericColumn reader stores `count` big-endian 8-byte values from `basepos`; later ones are missing.
    if isinstance(getattr(column, "_count", None), int) and getattr(column, "_fixedlen", None) == 8:
        values = array("q")
        values.frombytes(column._dbfile.get(column._basepos, column._count * 8))
        if sys.byteorder == "little":
            values.byteswap()
        values.extend(array("q", [PublishedField.MISSING]) * (size - len(values)))
        return values
    return array("q", (column[docnum] for docnum in range(size)))
