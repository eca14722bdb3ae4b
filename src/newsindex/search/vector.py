"""The read path's inner loop in NumPy: queries of words, fields, AND/OR/NOT and filters scored with arrays.

Whoosh stays the index (its files, the packed codec, the writer lock); for the shapes people type it stops
being the inner loop of a search. Per segment, and cached by segment id (a segment's postings never
change; its deletions only grow), a term's postings are decoded in bulk from the packed blocks of
`newsindex.store.codec` (block checksums verified) into document numbers and weights; a field's lengths are
Whoosh's byte-quantised ones; deletions are a mask. BM25F is then computed per term with array
operations, with the parameters of the searcher's own weighting (`newsindex.search.ranking`: the scorer Whoosh
would use is made and its idf, average length, B and K1 read from it), and the terms' scores are summed
in the order Whoosh's matcher trees sum them, so that scores agree to the last bit or nearly (ties
still break by document number, as Whoosh's collector breaks them).

What it does not evaluate (phrases, patterns, proximity, expansion, date order) it says so by returning
None, and the Whoosh matchers run as before. `ENABLED = False` forces them everywhere (the differential
test compares both).
"""

from __future__ import annotations

import itertools
import threading
import zlib
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.columns import NumericColumn
from whoosh.scoring import BM25FScorer, WeightScorer
from whoosh.util.numeric import _length_byte_cache

from newsindex import deadline as deadlines
from newsindex.deadline import SEARCH_SECONDS
from newsindex.errors import IndexDamagedError, QueryRejectedError
from newsindex.search.query import QueryPlan
from newsindex.search.ranking import _BM25PlusScorer, first_stage_depth, query_words, with_proximity
from newsindex.store import codec
from newsindex.store.dateindex import PublishedRange, _sorted_dates
from newsindex.store.schema import PublishedField

ENABLED = True  # False: every search through Whoosh's matchers and collectors (for comparing)
CACHE_BYTES = 256 * 1024 * 1024  # decoded postings, lengths and masks kept, all indexes together
_LENGTHS = np.array(_length_byte_cache, dtype=np.float64)  # Whoosh's byte → field length table
_ID_TYPES = (np.dtype("B"), np.dtype("H"), np.dtype("I"))  # codec._UNSIGNED, native order as `array` writes
_WEIGHT_TYPES = (None, np.dtype("B"), np.dtype("H"), np.dtype("f"))  # codec._WEIGHTS
_EMPTY_DOCS = np.empty(0, dtype=np.int32)
_EMPTY_SCORES = np.empty(0, dtype=np.float64)
Scored = tuple[np.ndarray, np.ndarray]  # sorted document numbers, and their scores
Ranking = tuple[set[int], Callable[[int], list[tuple[int, float]]], QueryPlan]


class NotMine(Exception):
    """A query shape the evaluator leaves to Whoosh."""


# -- the cache -----------------------------------------------------------------------------------------


class _Cache:
    """Arrays by key, least recently used dropped past CACHE_BYTES; a segment's entries are dropped
    as soon as a searcher of its index no longer has it (merged away or deleted)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._segments: dict[str, frozenset[str]] = {}  # index name → its segment ids last seen

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: tuple[Any, ...], value: Any, size: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > CACHE_BYTES and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def seen(self, index: str, segments: frozenset[str]) -> None:
        """The segments a searcher of `index` has: drop what the cache holds of its other segments."""
        with self._lock:
            before = self._segments.get(index)
            if before == segments:
                return
            self._segments[index] = segments
            gone = (before or frozenset()) - segments
            if gone:
                for key in [key for key in self._items if key[0] in gone]:
                    self._bytes -= self._items.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._segments.clear()
            self._bytes = 0


CACHE = _Cache()


# -- one segment as arrays -------------------------------------------------------------------------------


class _Segment:
    """One segment's arrays, read on first use: postings, field lengths, deletions, dates."""

    def __init__(self, leaf: Any, offset: int) -> None:
        self.leaf = leaf
        self.reader = leaf.reader()
        self.offset = offset
        self.size = int(self.reader.doc_count_all())
        segment = self.reader.segment()
        # The segment as this opening of the index reads it: a segment's files never change, but an index
        # opened again reads them again (damage done to a file since is found, as Whoosh would find it).
        token = _token(self.reader.storage()) if segment is not None else id(self.reader)
        self.id = f"{segment.segment_id() if segment is not None else 'empty'}@{token}"
        self.codec = self.reader.codec() if segment is not None else None
        self._deleted: np.ndarray | bool | None = False  # False: not read yet

    @property
    def live_count(self) -> int:
        return int(self.reader.doc_count())

    def frequency(self, fieldname: str, tbytes: bytes) -> int:
        """How many of the segment's documents (deleted ones too) have the term: 0 when none has."""
        key = (self.id, "frequency", fieldname, tbytes)
        found = CACHE.get(key)
        if found is None:
            found = int(self.reader.doc_frequency(fieldname, tbytes)) if (fieldname, tbytes) in self.reader else 0
            CACHE.put(key, found, 100)
        return found  # type: ignore[no-any-return]

    def deleted(self) -> np.ndarray | None:
        """A mask of the deleted documents (None: none is)."""
        if self._deleted is False:
            self._deleted = None
            if self.reader.has_deletions():
                deleted = sorted(self.reader.deleted_docs_set)
                key = (self.id, "deleted", len(deleted))
                mask = CACHE.get(key)
                if mask is None:
                    mask = np.zeros(self.size, dtype=bool)
                    mask[np.asarray(deleted, dtype=np.int64)] = True
                    CACHE.put(key, mask, mask.nbytes)
                self._deleted = mask
        return self._deleted  # type: ignore[return-value]

    def live(self, docs: np.ndarray) -> np.ndarray:
        deleted = self.deleted()
        return docs if deleted is None or not len(docs) else docs[~deleted[docs]]

    def lengths(self, fieldname: str) -> np.ndarray | None:
        """Each document's length of the field as Whoosh scores it (quantised to a byte); None: no lengths."""
        key = (self.id, "lengths", fieldname)
        lengths = CACHE.get(key)
        if lengths is None:
            column = self.reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if column is None:
                return None
            lengths = _LENGTHS[_numeric_column(column, self.size, np.dtype("B"))]
            CACHE.put(key, lengths, lengths.nbytes)
        return lengths  # type: ignore[no-any-return]

    def dates(self) -> np.ndarray:
        """Each document's `published` value (PublishedField.MISSING when it has none)."""
        key = (self.id, "dates")
        dates = CACHE.get(key)
        if dates is None:
            if self.reader.has_column("published"):
                column = self.reader.column_reader("published", translate=False)
                dates = _numeric_column(column, self.size, np.dtype(">i8")).astype(np.int64)
            else:
                dates = np.full(self.size, PublishedField.MISSING, dtype=np.int64)
            CACHE.put(key, dates, dates.nbytes)
        return dates  # type: ignore[no-any-return]

    def postings(self, fieldname: str, tbytes: bytes) -> tuple[np.ndarray, np.ndarray]:
        """The term's document numbers (int32, ascending, deleted ones included) and weights (float64)."""
        key = (self.id, "postings", fieldname, tbytes)
        found = CACHE.get(key)
        if found is None:
            found = self._read_postings(fieldname, tbytes)
            if len(found[0]) and not (found[0][0] >= 0 and found[0][-1] < self.size):
                raise IndexDamagedError(f"the postings of {fieldname}:{tbytes!r} name documents the segment lacks")
            CACHE.put(key, found, found[0].nbytes + found[1].nbytes + 100)
        return found  # type: ignore[no-any-return]

    def early(self, fieldname: str, tbytes: bytes, limit: int) -> np.ndarray:
        """For each of the term's postings (as `postings` gives them), how many of its positions are
        below `limit`: the lead bonus's counts (`ranking.lead_bonus`), decoded once per term."""
        key = (self.id, "early", fieldname, tbytes, limit)
        found = CACHE.get(key)
        if found is None:
            terminfo = self.reader.term_info(fieldname, tbytes)
            if not terminfo.is_inlined() and isinstance(self.codec, codec.NewsCodec):
                offset, length = terminfo.extent()
                length = length[0] if isinstance(length, tuple) else length
                checked = bool(getattr(self.codec, "block_checksums", False))
                found = _decode_early(self.reader._terms._postfile, offset, length, checked, limit)
            else:  # a few postings kept in the term's entry, or Whoosh's W3 codec: through its matcher
                matcher = self.reader.postings(fieldname, tbytes)
                counts = []
                while matcher.is_active():
                    counts.append(bisect_left(sorted(matcher.value_as("positions")), limit))
                    matcher.next()
                found = np.asarray(counts, dtype=np.int64)
            CACHE.put(key, found, found.nbytes + 100)
        return found  # type: ignore[no-any-return]

    def _read_postings(self, fieldname: str, tbytes: bytes) -> tuple[np.ndarray, np.ndarray]:
        terminfo = self.reader.term_info(fieldname, tbytes)
        if terminfo.is_inlined():
            ids, weights, _ = terminfo.inlined_postings()
            return np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float64)
        if isinstance(self.codec, codec.NewsCodec):
            offset, length = terminfo.extent()
            length = length[0] if isinstance(length, tuple) else length  # Whoosh reads it back as a 1-tuple
            postfile = self.reader._terms._postfile
            return _decode_packed(postfile, offset, length, bool(getattr(self.codec, "block_checksums", False)))
        # a segment of Whoosh's own W3 codec (an index built before the packed codec): through its matcher
        matcher = self.reader._terms.matcher(fieldname, tbytes, self.reader.schema[fieldname].format)
        ids_list: list[int] = []
        weights_list: list[float] = []
        while matcher.is_active():
            ids_list.append(matcher.id())
            weights_list.append(matcher.weight())
            matcher.next()
        return np.asarray(ids_list, dtype=np.int32), np.asarray(weights_list, dtype=np.float64)


_tokens = itertools.count(1)


def _token(storage: Any) -> int:
    """A number for one opened index's storage object, given on first use."""
    token = getattr(storage, "_vector_token", None)
    if token is None:
        token = next(_tokens)
        try:
            storage._vector_token = token
        except AttributeError:  # a storage that takes no attribute: its object's id
            return id(storage)
    return int(token)


def _numeric_column(column: Any, doccount: int, dtype: np.dtype[Any]) -> np.ndarray:
    """The values of a Whoosh NumericColumn reader for every document, read in one piece."""
    if type(column) is NumericColumn.Reader and column._fixedlen == dtype.itemsize:
        count = min(column._count, doccount)
        raw = column._dbfile.get(column._basepos, count * column._fixedlen)
        values = np.frombuffer(raw, dtype=dtype, count=count)
        if count < doccount:
            values = np.concatenate([values, np.full(doccount - count, column._default, dtype=dtype)])
        return values
    return np.fromiter((column[docnum] for docnum in range(doccount)), dtype=dtype, count=doccount)


def _decode_packed(postfile: Any, offset: int, length: int, checked: bool) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings from the blocks `codec.PackedPostingsWriter` wrote, all read at once, each
    block's CRC-32 checked as `codec.PackedLeafMatcher` checks it."""
    id_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    for count, minid, id_type, weight_type, _, data in _blocks(postfile, offset, length, checked):
        gaps = np.frombuffer(data, dtype=id_type, count=count - 1)
        ids = np.empty(count, dtype=np.int64)
        ids[0] = minid
        np.cumsum(gaps, out=ids[1:])
        ids[1:] += minid
        id_parts.append(ids)
        if weight_type is None:
            weight_parts.append(np.ones(count, dtype=np.float64))
        else:
            weights = np.frombuffer(data, dtype=weight_type, count=count, offset=id_type.itemsize * (count - 1))
            weight_parts.append(weights.astype(np.float32).astype(np.float64))  # as Whoosh reads them: float32
    docs = id_parts[0] if len(id_parts) == 1 else np.concatenate(id_parts)
    weights_all = weight_parts[0] if len(weight_parts) == 1 else np.concatenate(weight_parts)
    return docs.astype(np.int32), weights_all


def _decode_early(postfile: Any, offset: int, length: int, checked: bool, limit: int) -> np.ndarray:
    """For each of a term's postings (as `_decode_packed` gives them), how many of its positions are
    below `limit`: the values of `codec.PackedPositions`, varint gaps, decoded for whole blocks at once."""
    parts: list[np.ndarray] = []
    for count, _, id_type, weight_type, layout, data in _blocks(postfile, offset, length, checked):
        lcode = layout >> 4 & 3
        if not lcode:  # no values: no positions
            parts.append(np.zeros(count, dtype=np.int64))
            continue
        start = id_type.itemsize * (count - 1) + (weight_type.itemsize * count if weight_type else 0)
        length_type = _ID_TYPES[lcode - 1]  # codec._UNSIGNED, as for ids
        lengths = np.frombuffer(data, dtype=length_type, count=count, offset=start).astype(np.int64)
        values = np.frombuffer(data, dtype=np.uint8, offset=start + length_type.itemsize * count)
        size = int(lengths.sum())
        if size > len(values) or (size and values[size - 1] >= 0x80):  # cut short, or a varint left open
            raise _damaged(postfile, offset, "holds positions that cannot be read")
        parts.append(early_positions(values, lengths, limit))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def early_positions(values: np.ndarray, lengths: np.ndarray, limit: int) -> np.ndarray:
    """For postings whose positions are `codec.encode_gaps` varints end to end in `values` (uint8), each
    `lengths[i]` bytes long: how many of each posting's positions are below `limit`."""
    count = len(lengths)
    values = values[: int(lengths.sum())]
    if not len(values):
        return np.zeros(count, dtype=np.int64)
    ends = np.flatnonzero(values < 0x80)  # a varint's last byte has no high bit
    starts = np.concatenate(([0], ends[:-1] + 1))  # where each varint begins
    if len(ends) == len(values):  # every gap under 128: one byte each
        gaps = values.astype(np.int64)
    else:
        varint = np.repeat(np.arange(len(starts)), ends - starts + 1)  # the varint each byte belongs to
        shift = 7 * (np.arange(len(values)) - starts[varint])
        gaps = np.add.reduceat((values & 0x7F).astype(np.int64) << shift, starts)
    posting_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    posting = np.searchsorted(posting_starts, starts, side="right") - 1  # an empty posting shares its offset
    total = np.cumsum(gaps)
    first = np.searchsorted(starts, posting_starts).clip(max=len(starts) - 1)  # each posting's first varint
    positions = total - (total - gaps)[first][posting]
    return np.bincount(posting[positions < limit], minlength=count).astype(np.int64)


def _blocks(postfile: Any, offset: int, length: int, checked: bool) -> Iterator[tuple[int, int, Any, Any, int, Any]]:
    """Each block of a term's postings: (count, first id, id dtype, weight dtype or None, layout, data
    after the header), its CRC-32 checked as `codec.PackedLeafMatcher` checks it."""
    raw = postfile.get(offset, length)
    view = memoryview(raw)
    header_end = codec._INT.size + codec._HEADER.size
    position = 0
    while True:
        if position + header_end > len(raw):
            raise _damaged(postfile, offset + position, "is cut short")
        (size,) = codec._INT.unpack_from(raw, position)
        last = size < 0
        end = position + codec._INT.size + abs(size)
        count, minid, _, _, _, _, layout = codec._HEADER.unpack_from(raw, position + codec._INT.size)
        start = position + header_end
        if end > len(raw):
            raise _damaged(postfile, offset + position, "is cut short")
        if layout & codec._CHECKED:
            (stored,) = codec._CRC.unpack_from(raw, start)
            if zlib.crc32(view[start + codec._CRC.size : end], zlib.crc32(view[position:start])) != stored:
                raise _damaged(postfile, offset + position, "fails its checksum")
            start += codec._CRC.size
        elif checked:
            raise _damaged(postfile, offset + position, "has no checksum")
        data: Any = view[start:end]
        if layout & codec._COMPRESSED:
            data = zlib.decompress(data)
        id_type = _ID_TYPES[layout & 3]
        wcode = layout >> 2 & 3
        weight_type = _WEIGHT_TYPES[wcode]
        if (
            len(data) < id_type.itemsize * (count - 1) + (weight_type.itemsize * count if weight_type else 0)
            or not count
        ):
            raise _damaged(postfile, offset + position, "is cut short")
        yield count, minid, id_type, weight_type, layout, data
        position = end
        if last or position >= len(raw):
            break


def _damaged(postfile: Any, position: int, what: str) -> IndexDamagedError:
    name = getattr(postfile, "_name", None) or "a postings file"
    return IndexDamagedError(f"the block of postings at byte {position:,} of {name} {what}")


# -- sets of sorted document numbers ---------------------------------------------------------------------


def _contains(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """For each of `needles`, whether sorted `haystack` holds it (binary searches, no sort)."""
    if not len(haystack):
        return np.zeros(len(needles), dtype=bool)
    at = np.searchsorted(haystack, needles)
    at[at == len(haystack)] = 0
    return haystack[at] == needles  # type: ignore[no-any-return]


def _dense(size: int, parts: Sequence[Scored], boost: float = 1.0) -> Scored:
    """The union of `parts` over a segment of `size` documents, each part's scores (× boost) added in turn."""
    scores = np.zeros(size, dtype=np.float64)
    hit = np.zeros(size, dtype=bool)
    for docs, part_scores in parts:
        scores[docs] += part_scores if boost == 1.0 else part_scores * boost
        hit[docs] = True
    docs = np.flatnonzero(hit).astype(np.int32)
    return docs, scores[docs]


def _union(a: Scored, b: Scored, size: int = 0) -> Scored:
    """Documents in either, scored a + b where in both (as UnionMatcher: commutative, so exact)."""
    (docs_a, scores_a), (docs_b, scores_b) = a, b
    if not len(docs_a):
        return b
    if not len(docs_b):
        return a
    if size and (len(docs_a) + len(docs_b)) * 16 > size:  # many matches: an array the segment's size
        return _dense(size, (a, b))
    docs = np.union1d(docs_a, docs_b)
    scores = np.zeros(len(docs), dtype=np.float64)
    scores[np.searchsorted(docs, docs_a)] = scores_a
    scores[np.searchsorted(docs, docs_b)] += scores_b
    return docs, scores


def _intersection(a: Scored, b: Scored) -> Scored:
    """Documents in both, scored a + b (as IntersectionMatcher)."""
    (docs_a, scores_a), (docs_b, scores_b) = a, b
    if not len(docs_a) or not len(docs_b):
        return _EMPTY_DOCS, _EMPTY_SCORES
    if len(docs_a) > len(docs_b):  # the fewer looked up in the more
        return _intersection(b, a)
    found = _contains(docs_b, docs_a)
    docs = docs_a[found]
    return docs, scores_a[found] + scores_b[np.searchsorted(docs_b, docs)]


def _without(a: Scored, docs_b: np.ndarray) -> Scored:
    docs_a, scores_a = a
    if not len(docs_a) or not len(docs_b):
        return a
    keep = ~_contains(docs_b, docs_a)
    return docs_a[keep], scores_a[keep]


def _weighted_tree(parts: list[tuple[float, Scored]], combine: Callable[[Scored, Scored], Scored]) -> Scored:
    """whoosh.util.make_weighted_tree: the two lightest joined first, again and again (ties in the order
    given: Whoosh's matchers compare equal), so that sums run in the order of Whoosh's matcher tree."""
    ordered = sorted(parts, key=lambda part: part[0])  # stable, as list.sort on (weight, matcher)
    while len(ordered) > 1:
        (weight_a, a), (weight_b, b) = ordered.pop(0), ordered.pop(0)
        insort(ordered, (weight_a + weight_b, combine(a, b)), key=lambda part: part[0])
    return ordered[0][1]


# -- the evaluation of one query over one searcher ------------------------------------------------------


class _Term:
    """A term's scoring parameters, read off the scorer the searcher's weighting makes for it."""

    def __init__(self, scorer: Any) -> None:
        kind = type(scorer)
        if kind is WeightScorer:
            self.kind = "weight"
            return
        if kind is BM25FScorer or kind is _BM25PlusScorer:
            self.kind = "bm25"
            self.idf: float = scorer.idf
            self.avgfl: float = scorer.avgfl
            self.B: float = scorer.B
            self.K1: float = scorer.K1
            self.delta: float = scorer.delta if kind is _BM25PlusScorer else 0.0
            return
        raise NotMine(f"scorer {kind.__name__}")

    def scores(self, weights: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        if self.kind == "weight":
            return weights
        tf = weights
        fl = lengths if lengths is not None else np.ones(len(weights), dtype=np.float64)
        idf, K1, B, avgfl = self.idf, self.K1, self.B, self.avgfl
        # whoosh.scoring.bm25, operation for operation
        scores = idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
        if self.delta:
            scores = scores + self.delta * self.idf
        return scores


class Evaluation:
    """Queries evaluated over one searcher's segments, each once."""

    def __init__(self, searcher: Any, recency: Any = None) -> None:
        self.searcher = searcher
        self.weighting = searcher.weighting
        self.segments = [_Segment(leaf, offset) for leaf, offset in searcher.leaf_searchers()]
        self.size = int(searcher.doc_count_all())
        self.recency = recency
        self._terms: dict[tuple[str, bytes], _Term] = {}
        self._scored: dict[int, Scored] = {}
        self._memo: dict[tuple[int, str, Any], Scored] = {}  # terms met again (both tiers name the same words)
        weighting = sorted((name, repr(value)) for name, value in vars(self.weighting).items())
        self._view = (type(self.weighting).__name__, tuple(weighting), tuple(s.id for s in self.segments))
        index_name = next((s.reader.segment().indexname for s in self.segments if s.codec is not None), None)
        if index_name is not None:
            folder = str(getattr(self.segments[0].reader.storage(), "folder", ""))
            token = _token(self.segments[0].reader.storage())
            CACHE.seen(f"{folder}/{index_name}@{token}", frozenset(s.id for s in self.segments))

    def early_counts(self, reader: Any, fieldname: str, term: str, docnums: list[int], limit: int) -> list[int] | None:
        """How many of `term`'s positions are below `limit` in each of the segment's (local, sorted)
        `docnums`, from the decoded postings; None for a reader that is none of this searcher's segments."""
        segment = next((segment for segment in self.segments if segment.reader is reader), None)
        if segment is None or segment.codec is None:
            return None
        tbytes = term.encode("utf-8")
        if not segment.frequency(fieldname, tbytes):
            return [0] * len(docnums)
        docs, _ = segment.postings(fieldname, tbytes)
        counts = segment.early(fieldname, tbytes, limit)
        wanted = np.asarray(docnums, dtype=np.int64)
        at = np.searchsorted(docs, wanted).clip(max=len(docs) - 1)
        return np.where(docs[at] == wanted, counts[at], 0).tolist()  # type: ignore[no-any-return]

    # global document numbers ------------------------------------------------------------------------

    def scored(self, node: Any) -> Scored:
        """Every live document matching `node` (global numbers, ascending) and its score, with recency."""
        key = id(node)
        if key not in self._scored:
            parts = [self._segment_scored(node, segment) for segment in self.segments]
            docs = np.concatenate([part[0] for part in parts]) if parts else _EMPTY_DOCS.astype(np.int64)
            scores = np.concatenate([part[1] for part in parts]) if parts else _EMPTY_SCORES
            self._scored[key] = (docs, scores)
        return self._scored[key]

    def _segment_scored(self, node: Any, segment: _Segment) -> Scored:
        docs, scores = self._eval(node, segment)
        if self.recency is not None and len(docs):
            scores = scores * self._decay(segment)[docs]
        return docs.astype(np.int64) + segment.offset, scores

    def docs(self, node: Any) -> np.ndarray:
        """Every live document matching `node`, unscored (global numbers, ascending)."""
        parts = [self._docs(node, segment).astype(np.int64) + segment.offset for segment in self.segments]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def allowed(self, plan: QueryPlan) -> np.ndarray | None:
        """The documents passing the plan's date range and filters (None: every one passes)."""
        allowed: np.ndarray | None = None
        if plan.start is not None or plan.end is not None:
            allowed = self.docs(PublishedRange("published", plan.start, plan.end))
        for part in plan.filters:
            docs = self.docs(part)
            allowed = docs if allowed is None else np.intersect1d(allowed, docs, assume_unique=True)
        return allowed

    def _decay(self, segment: _Segment) -> np.ndarray:
        """The recency factor of each of the segment's documents (`ranking.Recency.factor`, called per date)."""
        recency = self.recency
        key = (segment.id, "decay", type(recency).__name__, tuple(sorted(vars(recency).items())))
        decay = CACHE.get(key)
        if decay is None:
            dates = segment.dates()
            values, inverse = np.unique(dates, return_inverse=True)
            factors = np.array([recency.factor(int(value)) for value in values], dtype=np.float64)
            decay = factors[inverse.reshape(-1)]
            CACHE.put(key, decay, decay.nbytes)
        return decay  # type: ignore[no-any-return]

    # one segment ------------------------------------------------------------------------------------

    def _term(self, fieldname: str, tbytes: bytes, segment: _Segment) -> _Term:
        key = (fieldname, tbytes)
        term = self._terms.get(key)
        if term is None:  # the same for every segment: the statistics are the searcher's (and so the key)
            cache_key = ("term", self._view, fieldname, tbytes)
            term = CACHE.get(cache_key)
            if term is None:
                term = _Term(self.weighting.scorer(segment.leaf, fieldname, tbytes))
                CACHE.put(cache_key, term, 200)
            self._terms[key] = term
        return term

    def _term_bytes(self, node: Any, segment: _Segment) -> bytes | None:
        """The term's bytes if the segment has it."""
        tbytes = self._bytes(node, segment)
        return tbytes if tbytes is not None and segment.frequency(node.fieldname, tbytes) else None

    def _bytes(self, node: Any, segment: _Segment) -> bytes | None:
        schema = segment.reader.schema
        if node.fieldname not in schema:
            return None
        try:
            return schema[node.fieldname].to_bytes(node.text)  # type: ignore[no-any-return]
        except ValueError:
            return None

    def _size(self, node: Any, segment: _Segment) -> int:
        """`node.estimate_size(reader)` as Whoosh has it, for the shape of its matcher trees."""
        kind = type(node)
        if kind is wq.Term:
            tbytes = self._bytes(node, segment)
            return 0 if tbytes is None else segment.frequency(node.fieldname, tbytes)
        if (kind is wq.Or or kind is wq.And) and node.subqueries:
            sizes = [self._size(sub, segment) for sub in node.subqueries]
            return min(sizes) if kind is wq.And else min(sum(sizes), segment.live_count)
        return int(node.estimate_size(segment.reader))

    def _eval(self, node: Any, segment: _Segment) -> Scored:
        kind = type(node)
        if kind is wq.Term:
            memo = (segment.offset, node.fieldname, node.text)
            found = self._memo.get(memo)
            if found is None:
                found = self._memo[memo] = self._term_scored(node, segment)
            docs, scores = found
            if node.boost != 1.0:
                scores = scores * node.boost
            return docs, scores
        if kind is wq.Or or kind is wq.And:
            subs = node.subqueries
            if not subs:
                return _EMPTY_DOCS, _EMPTY_SCORES
            if len(subs) == 1:
                return self._eval(subs[0], segment)  # Whoosh: the one child's matcher, its boost ignored
            if kind is wq.And:
                parts = [(0.0 - self._size(sub, segment), self._eval(sub, segment)) for sub in subs]
                found = _weighted_tree(parts, _intersection)
            elif len(subs) < wq.Or.TOO_MANY_CLAUSES and (len(subs) == 2 or segment.size > 5000):
                parts = [(float(self._size(sub, segment)), self._eval(sub, segment)) for sub in subs]
                found = _weighted_tree(parts, lambda a, b: _union(a, b, segment.size))  # DefaultOr
            else:  # PreloadedOr: an ArrayUnionMatcher adds each child's score × boost in turn
                return self._array_union([self._eval(sub, segment) for sub in subs], node.boost, segment.size)
            if node.boost != 1.0:
                return found[0], found[1] * node.boost
            return found
        if kind is wq.AndNot:
            return _without(self._eval(node.a, segment), self._docs(node.b, segment))
        if kind is PublishedRange:
            docs = self._docs(node, segment)
            return docs, np.zeros(len(docs), dtype=np.float64)
        if node is wq.NullQuery:
            return _EMPTY_DOCS, _EMPTY_SCORES
        raise NotMine(kind.__name__)

    def _term_scored(self, node: Any, segment: _Segment) -> Scored:
        """A term's live documents in the segment and their BM25F scores, before any boost."""
        tbytes = self._term_bytes(node, segment)
        if tbytes is None:
            return _EMPTY_DOCS, _EMPTY_SCORES
        docs, weights = segment.postings(node.fieldname, tbytes)
        term = self._term(node.fieldname, tbytes, segment)
        lengths = segment.lengths(node.fieldname) if term.kind == "bm25" else None
        deleted = segment.deleted()
        if deleted is not None:
            keep = ~deleted[docs]
            docs, weights = docs[keep], weights[keep]
        return docs, term.scores(weights, lengths[docs] if lengths is not None else None)

    def _array_union(self, parts: Sequence[Scored], boost: float, segment_size: int) -> Scored:
        nonempty = [part for part in parts if len(part[0])]
        if not nonempty:
            return _EMPTY_DOCS, _EMPTY_SCORES
        if sum(len(part[0]) for part in nonempty) * 16 > segment_size:
            return _dense(segment_size, nonempty, boost)
        docs = nonempty[0][0] if len(nonempty) == 1 else np.unique(np.concatenate([part[0] for part in nonempty]))
        scores = np.zeros(len(docs), dtype=np.float64)
        for part_docs, part_scores in nonempty:
            scores[np.searchsorted(docs, part_docs)] += part_scores * boost
        return docs, scores

    def _docs(self, node: Any, segment: _Segment) -> np.ndarray:
        """The segment's live documents matching `node`, unscored; shapes of its own through Whoosh."""
        kind = type(node)
        if kind is wq.Term:
            tbytes = self._term_bytes(node, segment)
            if tbytes is None:
                return _EMPTY_DOCS
            return segment.live(segment.postings(node.fieldname, tbytes)[0])
        if kind is wq.Or and node.subqueries:
            found = [self._docs(sub, segment) for sub in node.subqueries]
            return found[0] if len(found) == 1 else np.unique(np.concatenate(found)).astype(np.int32)
        if kind is wq.And and node.subqueries:
            docs = self._docs(node.subqueries[0], segment)
            for sub in node.subqueries[1:]:
                docs = np.intersect1d(docs, self._docs(sub, segment), assume_unique=True)
            return docs
        if kind is wq.Not:
            every = segment.live(np.arange(segment.size, dtype=np.int32))
            return np.setdiff1d(every, self._docs(node.query, segment), assume_unique=True)
        if kind is PublishedRange:
            dates, order = _sorted_dates(segment.reader, node.fieldname)
            values = np.frombuffer(dates, dtype=np.int64) if len(dates) else np.empty(0, dtype=np.int64)
            low = 0 if node.start is None else int(np.searchsorted(values, node.start, side="left"))
            high = len(values) if node.end is None else int(np.searchsorted(values, node.end, side="right"))
            docs = (
                np.sort(np.frombuffer(order, dtype=np.int64)[low:high]).astype(np.int32) if high > low else _EMPTY_DOCS
            )
            return segment.live(docs)
        if node is wq.NullQuery:
            return _EMPTY_DOCS
        # phrases, patterns and the rest: Whoosh's own answer (deleted documents already left out)
        return np.asarray(sorted(segment.leaf.docs_for_query(node)), dtype=np.int32)


# -- story ids -------------------------------------------------------------------------------------------


def story_ids(searcher: Any, docnums: Sequence[int]) -> list[str]:
    """The story ids of these documents, from each segment's `id` column (cached), not the stored stories."""
    leaves = list(searcher.leaf_searchers())
    offsets = [offset for _, offset in leaves]
    ids = []
    for docnum in docnums:
        leaf, offset = leaves[bisect_right(offsets, docnum) - 1]
        column = _id_column(leaf.reader())
        local = docnum - offset
        ids.append(column[local] if column is not None else leaf.reader().stored_fields(local)["id"])
    return ids


def _id_column(reader: Any) -> list[str] | None:
    segment = reader.segment()
    if segment is None:
        return None
    key = (f"{segment.segment_id()}@{_token(reader.storage())}", "ids")
    ids: list[str] | None = CACHE.get(key)
    if ids is None:
        if not reader.has_column("id"):
            return None
        ids = [value.decode("utf-8") for value in reader.column_reader("id", translate=False)]
        CACHE.put(key, ids, sum(len(story) + 57 for story in ids) + 8 * len(ids))
    return ids


# -- ranking ---------------------------------------------------------------------------------------------


def _evaluable(node: Any) -> bool:
    """Whether `_eval` scores every part of `node` (boolean parts of AndNot may be anything)."""
    kind = type(node)
    if kind is wq.Term or kind is PublishedRange or node is wq.NullQuery:
        return True
    if kind is wq.Or:
        return not node.minmatch and not node.scale and all(_evaluable(sub) for sub in node.subqueries)
    if kind is wq.And:
        return all(_evaluable(sub) for sub in node.subqueries)
    if kind is wq.AndNot:
        return _evaluable(node.a)
    return False


def top(docs: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (docnum, score), best first, ties by document number (as Whoosh's TopCollector)."""
    if limit <= 0 or not len(docs):
        return []
    if len(docs) > limit:
        nth = np.partition(scores, len(scores) - limit)[len(scores) - limit]  # the limit-th best score
        keep = np.flatnonzero(scores >= nth)
        docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:limit]
    return list(zip(docs[order].tolist(), scores[order].tolist(), strict=True))


def ranking(searcher: Any, plan: QueryPlan, order: str, recency: Any = None, expand: bool = False) -> Ranking | None:
    """What `executor.ranked_matches` answers, from arrays: every story matching `plan` and its filters (document
    numbers), a function giving the first `depth` (docnum, score) pairs by relevance, and the plan searched
    (its fallback when no allowed story has every word). None for what it leaves to Whoosh: other orders,
    feedback expansion, phrases, patterns and other shapes of query."""
    if not ENABLED or order != "relevance" or expand or not plan.has_words:
        return None
    trees = [tree for tree in (plan.query, plan.ranked_first, plan.fallback) if tree is not None]
    if not all(_evaluable(tree) for tree in trees):
        return None
    try:
        evaluation = Evaluation(searcher, recency)
        allowed = evaluation.allowed(plan)
        matched = _matches(evaluation, plan, allowed)
        if not len(matched) and plan.fallback is not None and (allowed is None or len(allowed)):
            plan = plan.fall_back()
            matched = _matches(evaluation, plan, allowed)
        if plan.ranked_first is not None and len(matched):
            evaluation.scored(plan.ranked_first)  # here, so that a shape it leaves to Whoosh shows now
    except NotMine:
        return None
    matching = set(matched.tolist())
    narrowed = None if allowed is None else matched
    tiers = (plan.ranked_first, plan.query)

    def rank(depth: int) -> list[tuple[int, float]]:
        if not matching:
            return []
        found: list[tuple[int, float]] = []
        for tier in tiers:
            if tier is None or len(found) >= depth:
                continue
            docs, scores = evaluation.scored(tier)
            keep = np.ones(len(docs), dtype=bool)
            if narrowed is not None:
                keep &= _contains(narrowed, docs)
            if found:
                keep &= ~_contains(np.sort(np.fromiter((docnum for docnum, _ in found), dtype=np.int64)), docs)
            if keep.any() and deadlines.current().expired():
                raise QueryRejectedError(
                    f"the search took longer than {SEARCH_SECONDS:g} s and was stopped: make the query more specific"
                )
            # The first stage's best, rescored with the lead and proximity bonuses as executor._ranked does.
            tier_found = top(docs[keep], scores[keep], first_stage_depth(depth - len(found)))
            rescored = with_proximity(searcher, tier_found, words, recency, early=evaluation.early_counts)
            found.extend(rescored[: depth - len(found)])
        return found

    words = query_words(plan.query)  # the user's words (the plan searched: its fallback when it fell back)

    return matching, rank, plan


def _matches(evaluation: Evaluation, plan: QueryPlan, allowed: np.ndarray | None) -> np.ndarray:
    """The documents matching the plan's query among the allowed ones (index._allowed_matches)."""
    docs, _ = evaluation.scored(plan.query)
    if allowed is None:
        return docs
    return docs[_contains(allowed, docs)]  # type: ignore[no-any-return]


__all__ = ["CACHE", "ENABLED", "Evaluation", "NotMine", "ranking", "top"]
