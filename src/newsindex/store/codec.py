"""How newsindex lays out an index on disk: Whoosh's W3 codec with postings and stories packed tighter.

Whoosh's W3 codec pickles every block of postings (ids, float weights and each posting's positions as
a pickled list of its own) and then zlib-compresses the pickle; it compresses each story on its own.
That spends 17 bytes a posting of the body and 0.8x the story text on stored stories. Here a block
of postings is a few arrays of the smallest integer type that holds them (ids as gaps, weights as
integers where they are whole, positions as varint gaps), zlib-compressed together, and stories are
zlib-compressed sixteen at a time, so that their common words and keys are written once per block.

The codec object is pickled into each segment of the index's table of contents: `NewsCodec` and
`PackedPositions` keep the names indexes have always written, `newsindex.codec.NewsCodec` and
`newsindex.codec.PackedPositions` (`PICKLED_AS`, at the end), which `newsindex/codec.py` re-exports; so
does `SafeW3Codec`, which stands in for Whoosh's own codec and is written back when an index holding
such segments is committed to. Segments written by
Whoosh's own W3 codec (indexes built before this module) keep reading through it.
"""

from __future__ import annotations

import operator
import struct
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

from whoosh import columns, formats
from whoosh.codec import whoosh3
from whoosh.matching import ReadTooFar
from whoosh.system import emptybytes
from whoosh.util.numeric import byte_to_length, length_to_byte

from newsindex.errors import IndexDamagedError

# -- varints: positions within a posting --------------------------------------------------------------

# The bytes of every varint below 2**14 (nearly every gap between two positions of a word in a story).
_VARINTS = [bytes([n]) for n in range(128)] + [bytes([(n & 0x7F) | 0x80, n >> 7]) for n in range(128, 1 << 14)]


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_gaps(numbers: Sequence[int]) -> bytes:
    """Ascending non-negative integers as varints of their gaps ([3, 5, 40] → 03 02 23)."""
    table = _VARINTS
    limit = len(table)
    previous = 0
    parts = []
    for n in numbers:
        gap = n - previous
        parts.append(table[gap] if gap < limit else _varint(gap))
        previous = n
    return b"".join(parts)


def decode_gaps(data: bytes) -> list[int]:
    """The integers `encode_gaps` was given."""
    numbers = []
    value = shift = 0
    total = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            total += value
            numbers.append(total)
            value = shift = 0
    return numbers


def count_varints(data: bytes) -> int:
    """How many varints `data` holds (the bytes without a continuation bit)."""
    return len(data) - sum(1 for byte in data if byte & 0x80)


class PackedPositions(formats.Positions):  # type: ignore[misc]
    """Whoosh's Positions format, with each posting's positions as varint gaps instead of a pickle.

    A posting of one position takes one or two bytes instead of about thirteen. Its frequency is the
    number of positions; its weight (the frequency, more for words of the lead) is kept by the codec.
    """

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterator[tuple[str, int, float, bytes]]:
        boost = self.field_boost
        postings = getattr(analyzer, "index_postings", None)
        if postings is not None:  # newsindex's analyzer: one loop, no Token objects
            for word, (poslist, weight) in postings(value).items():
                yield word, len(poslist), weight * boost, encode_gaps(poslist)
        else:  # Whoosh's loop over tokens, which encodes through `encode`
            yield from super().word_values(value, analyzer, **kwargs)

    def encode(self, poslist: Sequence[int]) -> bytes:
        return encode_gaps(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return decode_gaps(valuestring)

    def decode_frequency(self, valuestring: bytes) -> int:
        return count_varints(valuestring)

    def decode_weight(self, valuestring: bytes) -> float:
        return float(self.decode_frequency(valuestring) * self.field_boost)

    def decode_position_boosts(self, valuestring: bytes) -> list[tuple[int, int]]:
        return [(pos, 1) for pos in decode_gaps(valuestring)]

    def combine(self, vs: Iterable[bytes]) -> bytes:
        positions: set[int] = set()
        for v in vs:
            positions.update(decode_gaps(v))
        return encode_gaps(sorted(positions))


# -- posting blocks ----------------------------------------------------------------------------------

# A block on disk: its length (an int, negative for a term's last block), this header, then the data.
# Header: postings in the block, first and last id, highest weight, shortest and longest field length
# (Whoosh's length bytes), and the layout byte: bits 0-1 the id gaps' type, 2-3 the weights' type
# (0: every weight is 1), 4-5 the value lengths' type (0: no values), bit 6 set when zlib-compressed,
# bit 7 set when a CRC-32 of the block (its length, header and data) follows the header: blocks written
# since block checksums (a codec with `block_checksums`) have one, and are refused when it does not match.
_HEADER = struct.Struct("<HIIfBBB")
_INT = struct.Struct("!i")  # Whoosh's StructFile.write_int: big-endian
_CRC = struct.Struct("<I")
_COMPRESSED = 0x40
_CHECKED = 0x80
_COMPRESS_FROM = 48  # bytes of block data below which zlib's header costs more than it saves
_UNSIGNED = ("B", "H", "I")  # layout codes 0-2
_WEIGHTS = ("", "B", "H", "f")  # layout codes 1-3 (0: none written)


def _unsigned_code(largest: int) -> int:
    return 0 if largest < 0x100 else 1 if largest < 0x10000 else 2


def _packed_weights(weights: Sequence[float]) -> tuple[int, bytes]:
    """The layout code of a block's weights and their bytes: none when all are 1, else whole numbers in
    the smallest type that holds them, else 32-bit floats."""
    largest, smallest = max(weights), min(weights)
    if largest == 1.0 and smallest == 1.0:
        return 0, b""
    if smallest >= 0 and largest < 0x10000:
        whole = list(map(int, weights))
        if whole == list(weights):
            code = 1 if largest < 0x100 else 2
            return code, array(_WEIGHTS[code], whole).tobytes()
    return 3, array("f", weights).tobytes()


class PackedPostingsWriter(whoosh3.W3PostingsWriter):  # type: ignore[misc]
    """Writes a term's postings in blocks of packed arrays (see the module docstring)."""

    def _new_block(self) -> None:
        self._ids: Sequence[int] = []
        self._weights: Sequence[float] = []
        self._values: list[bytes] = []
        self._minlength: int | None = None
        self._maxlength = 0
        self._maxweight: float = 0

    def _write_block(self, last: bool = False) -> None:
        values = self._values
        if values and len(values) != len(self._ids):  # some postings with a value, some without: never in Whoosh
            raise ValueError("a block's postings must all have values or none")
        self._write_packed(array("I", [len(v) for v in values]) if values else None, b"".join(values), last)

    def write_postings(
        self,
        ids: array[int],
        weights: array[float],
        value_lengths: array[int] | None,
        values: bytes,
        field_lengths: Sequence[int] | None,
    ) -> None:
        """Write a whole posting list at once, in blocks: what calling `add_posting` for each posting does.

        `values` are the postings' values end to end, `value_lengths` their sizes (None: no values);
        `field_lengths[docnum]` is the length of the field in each story (None: the field has none).
        """
        limit = self._blocklimit
        count = len(ids)
        value_start = 0
        for start in range(0, count, limit):
            end = min(start + limit, count)
            self._ids = block_ids = ids[start:end]
            self._weights = weights[start:end]
            self._maxweight = max(self._weights)
            if field_lengths is not None:
                lengths = [field_lengths[docnum] for docnum in block_ids]
                self._minlength, self._maxlength = min(lengths), max(lengths)
            block_lengths = None
            block_values = b""
            if value_lengths is not None:
                block_lengths = value_lengths[start:end]
                value_end = value_start + sum(block_lengths)
                block_values = values[value_start:value_end]
                value_start = value_end
            self._write_packed(block_lengths, block_values, last=end == count)

    def _write_packed(self, value_lengths: array[int] | None, values: bytes, last: bool) -> None:
        self._terminfo.add_block(self)
        ids, weights = self._ids, self._weights
        gaps = list(map(operator.sub, ids[1:], ids))
        idcode = _unsigned_code(max(gaps)) if gaps else 0
        wcode, weight_bytes = _packed_weights(weights)
        parts = [array(_UNSIGNED[idcode], gaps).tobytes(), weight_bytes]
        lcode = 0
        if value_lengths is not None:
            lcode = _unsigned_code(max(value_lengths)) + 1
            parts.append(
                value_lengths.tobytes() if lcode == 3 else array(_UNSIGNED[lcode - 1], value_lengths).tobytes()
            )
            parts.append(values)
        data = b"".join(parts)
        layout = idcode | wcode << 2 | lcode << 4 | _CHECKED
        if len(data) >= _COMPRESS_FROM:
            packed = zlib.compress(data, self._compression)
            if len(packed) < len(data):
                data = packed
                layout |= _COMPRESSED
        header = _HEADER.pack(
            len(ids),
            ids[0],
            ids[-1],
            self._maxweight,
            length_to_byte(self._minlength),
            length_to_byte(self._maxlength),
            layout,
        )
        size = len(header) + _CRC.size + len(data)
        length = _INT.pack(-size if last else size)
        crc = zlib.crc32(data, zlib.crc32(header, zlib.crc32(length)))
        self._postfile.write(length)
        self._postfile.write(header)
        self._postfile.write(_CRC.pack(crc))
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class PackedLeafMatcher(whoosh3.W3LeafMatcher):  # type: ignore[misc]
    """Reads the blocks `PackedPostingsWriter` wrote; everything else (skipping, block quality) is W3's."""

    _data: Any
    _values: Any

    def __init__(self, *args: Any, checked: bool = False, **kwargs: Any) -> None:
        self._checked = checked  # every block must carry a checksum (its segment was written with them)
        super().__init__(*args, **kwargs)

    def _read_header(self) -> None:
        self._baseoffset = self._startoffset  # no magic tag before the first block

    def _goto(self, position: int) -> None:
        self._data = None
        self._ids = None
        self._weights = None
        self._values = None
        self._i = 0
        raw = self._postfile.get(position, _INT.size + _HEADER.size)
        length = _INT.unpack_from(raw)[0]
        self._lastblock = length < 0
        self._nextoffset = position + _INT.size + abs(length)
        self._dataoffset = position + _INT.size + _HEADER.size
        count, self._minid, self._maxid, self._maxweight, minlen, maxlen, layout = _HEADER.unpack_from(raw, _INT.size)
        if layout & _CHECKED:
            self._verify(position, abs(length))
            self._dataoffset += _CRC.size
        elif self._checked:
            raise self._damaged(position, "has no checksum")
        self._blocklength = count
        self._layout = layout
        self._compression = layout & _COMPRESSED
        self._minlength = byte_to_length(minlen)
        self._maxlength = byte_to_length(maxlen)

    def _verify(self, position: int, size: int) -> None:
        block = self._postfile.get(position, _INT.size + size)
        start = _INT.size + _HEADER.size
        if len(block) < start + _CRC.size:
            raise self._damaged(position, "is cut short")
        (stored,) = _CRC.unpack_from(block, start)
        if zlib.crc32(block[start + _CRC.size :], zlib.crc32(block[:start])) != stored:
            raise self._damaged(position, "fails its checksum")

    def _damaged(self, position: int, what: str) -> IndexDamagedError:
        name = getattr(self._postfile, "_name", None) or "a postings file"
        return IndexDamagedError(f"the block of postings at byte {position:,} of {name} {what}")

    def _read_data(self) -> None:
        data = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        if self._compression:
            data = zlib.decompress(data)
        layout, count = self._layout, self._blocklength
        gaps = array(_UNSIGNED[layout & 3])
        end = gaps.itemsize * (count - 1)
        gaps.frombytes(data[:end])
        ids = tuple(accumulate(gaps, initial=self._minid))
        wcode = layout >> 2 & 3
        weights: array[float] | None = None
        if wcode:
            stored: array[Any] = array(_WEIGHTS[wcode])
            start, end = end, end + stored.itemsize * count
            stored.frombytes(data[start:end])
            weights = stored if wcode == 3 else array("f", stored)
        lcode = layout >> 4 & 3
        values: Any = None
        if lcode:
            lengths = array(_UNSIGNED[lcode - 1])
            start, end = end, end + lengths.itemsize * count
            lengths.frombytes(data[start:end])
            values = (lengths, data[end:])
        self._data = (ids, weights, values)

    def _read_ids(self) -> None:
        if self._data is None:
            self._read_data()
        self._ids = self._data[0]

    def skip_to(self, targetid: int) -> None:
        """Whoosh's `W3LeafMatcher.skip_to`, the posting found in its block by bisection of the block's
        ids rather than one `next()` at a time (the lead bonus skips to a hundred stories a query)."""
        if not self.is_active():
            raise ReadTooFar
        if targetid <= self.id():
            return
        if targetid > self.block_max_id():
            self._skip_to_block(lambda: targetid > self.block_max_id())
            if not self.is_active():
                return
        if self._ids is None:
            self._read_ids()
        ids: Any = self._ids
        self._i = bisect_left(ids, targetid, self._i)  # inside the block: its last id is >= targetid

    def _read_weights(self) -> None:
        if self._data is None:
            self._read_data()
        weights = self._data[1]
        self._weights = weights if weights is not None else array("f", [1.0]) * self._blocklength

    def _read_values(self) -> None:
        if self._data is None:
            self._read_data()
        packed = self._data[2]
        if packed is None:
            self._values = (emptybytes,) * self._blocklength if self._fixedsize == 0 else (None,) * self._blocklength
            return
        lengths, data = packed
        values = []
        start = 0
        for length in lengths:
            values.append(data[start : start + length])
            start += length
        self._values = tuple(values)

    def block_min_id(self) -> int:
        return int(self._minid)


# -- stored stories ------------------------------------------------------------------------------------


class StoryBlocksColumn(columns.Column):  # type: ignore[misc]
    """Byte values zlib-compressed `per_block` at a time; reading one decompresses its block.

    Whoosh's CompressedBytesColumn compresses each value alone, and its CompressedBlockColumn unpickles
    every block's header when it opens. Here the block offsets are one array at the end of the column,
    read on first use, and a reader keeps its last block, so reading stories in order (a merge, an
    export) decompresses each block once.

    Since block checksums the offsets are followed by a CRC-32 of every block, the trailer by a CRC-32
    of the offsets, the block CRCs and the trailer, and the magic `_MAGIC`; a block is checked when it is
    read. Columns written before (no magic) read as they always did.
    """

    _TRAILER = struct.Struct("<IQ")  # values per block, values in all
    _CHECKS = struct.Struct("<I4s")  # CRC-32 of offsets + block CRCs + trailer, the magic
    _MAGIC = b"NXc1"

    def __init__(self, per_block: int = 16, level: int = 4) -> None:
        self._per_block = per_block
        self._level = level

    def writer(self, dbfile: Any) -> StoryBlocksColumn.Writer:
        return self.Writer(dbfile, self._per_block, self._level)

    def reader(
        self, dbfile: Any, basepos: int, length: int, doccount: int, checked: bool = False
    ) -> StoryBlocksColumn.Reader:
        return self.Reader(dbfile, basepos, length, doccount, checked)

    class Writer(columns.ColumnWriter):  # type: ignore[misc]
        def __init__(self, dbfile: Any, per_block: int, level: int) -> None:
            self._dbfile = dbfile
            self._per_block = per_block
            self._level = level
            self._start = dbfile.tell()
            self._values: list[bytes] = []
            self._count = 0
            self._offsets = array("Q")
            self._crcs = array("I")

        def add(self, docnum: int, value: bytes) -> None:
            while self._count < docnum:  # documents without a value read back as empty bytes
                self._append(emptybytes)
            self._append(value)

        def _append(self, value: bytes) -> None:
            self._values.append(value)
            self._count += 1
            if len(self._values) == self._per_block:
                self._emit()

        def _emit(self) -> None:
            lengths = array("I", [len(v) for v in self._values])
            self._offsets.append(self._dbfile.tell() - self._start)
            block = zlib.compress(lengths.tobytes() + emptybytes.join(self._values), self._level)
            self._crcs.append(zlib.crc32(block))
            self._dbfile.write(block)
            self._values = []

        def finish(self, doccount: int) -> None:
            while self._count < doccount:
                self._append(emptybytes)
            if self._values:
                self._emit()
            self._offsets.append(self._dbfile.tell() - self._start)  # the end of the last block
            tail = (
                self._offsets.tobytes()
                + self._crcs.tobytes()
                + StoryBlocksColumn._TRAILER.pack(self._per_block, self._count)
            )
            self._dbfile.write(tail)
            self._dbfile.write(StoryBlocksColumn._CHECKS.pack(zlib.crc32(tail), StoryBlocksColumn._MAGIC))

    class Reader(columns.ColumnReader):  # type: ignore[misc]
        def __init__(self, dbfile: Any, basepos: int, length: int, doccount: int, checked: bool = False) -> None:
            columns.ColumnReader.__init__(self, dbfile, basepos, length, doccount)
            trailer, checks = StoryBlocksColumn._TRAILER, StoryBlocksColumn._CHECKS
            self._per_block: int
            self._count: int
            self._crcs: array[int] | None = None
            self._end = basepos + length  # where the trailer ends
            if length >= checks.size and dbfile.get(self._end - 4, 4) == StoryBlocksColumn._MAGIC:
                self._end -= checks.size
                self._crcs = array("I")
            elif checked:
                raise self._damaged("has no checksums")
            if self._end - trailer.size < basepos:
                raise self._damaged("is cut short")
            self._per_block, self._count = trailer.unpack(dbfile.get(self._end - trailer.size, trailer.size))
            if self._per_block < 1:
                raise self._damaged("is damaged (no values per block)")
            self._offsets: array[int] | None = None
            # the last block read: its number, its inflater, its bytes inflated so far, where each value ends
            self._cached: tuple[int, Any, bytearray, list[int]] = (-1, None, bytearray(), [])

        def _damaged(self, what: str) -> IndexDamagedError:
            name = getattr(self._dbfile, "_name", None) or "a stored-stories file"
            return IndexDamagedError(f"the stored stories in {name} {what}")

        def _load_offsets(self) -> array[int]:
            blocks = -(-self._count // self._per_block)
            offsets = array("Q")
            size = offsets.itemsize * (blocks + 1)
            trailer = StoryBlocksColumn._TRAILER.size
            if self._crcs is None:
                offsets.frombytes(self._dbfile.get(self._end - trailer - size, size))
                return offsets
            crc_size = self._crcs.itemsize * blocks
            start = self._end - trailer - crc_size - size
            if start < self._basepos:
                raise self._damaged("are cut short")
            tail = self._dbfile.get(start, size + crc_size + trailer)
            (stored, _) = StoryBlocksColumn._CHECKS.unpack(self._dbfile.get(self._end, StoryBlocksColumn._CHECKS.size))
            if zlib.crc32(tail) != stored:
                raise self._damaged("fail their checksum (the block table)")
            offsets.frombytes(tail[:size])
            self._crcs.frombytes(tail[size : size + crc_size])
            return offsets

        def _value(self, number: int, index: int) -> bytes:
            """Value `index` of block `number`, the block decompressed only as far as that value ends.

            A search reads a story or two of a block: inflating just its head halves the work on
            average. The reader keeps its last block (and how far it got), so reading stories in order
            (a merge, an export) still decompresses each block once.
            """
            if self._cached[0] != number:
                self._open_block(number)
            _, inflater, data, ends = self._cached
            end = ends[index + 1]
            if len(data) < end:  # inflate on, to the end of this value
                assert inflater is not None
                data += inflater.decompress(inflater.unconsumed_tail, end - len(data))
            return bytes(data[ends[index] : end])

        def _open_block(self, number: int) -> None:
            if self._offsets is None:
                self._offsets = self._load_offsets()
            start, end = self._offsets[number], self._offsets[number + 1]
            raw = self._dbfile.get(self._basepos + start, end - start)
            if self._crcs is not None and zlib.crc32(raw) != self._crcs[number]:
                raise self._damaged(f"fail their checksum (block {number:,})")
            in_block = min(self._per_block, self._count - number * self._per_block)
            lengths = array("I")
            inflater = zlib.decompressobj()
            head = inflater.decompress(raw, lengths.itemsize * in_block)
            lengths.frombytes(head[: lengths.itemsize * in_block])
            # where each value ends in the inflated block (the lengths come first)
            ends = list(accumulate(lengths, initial=lengths.itemsize * in_block))
            self._cached = (number, inflater, bytearray(head), ends)

        def __getitem__(self, docnum: int) -> bytes:
            if not 0 <= docnum < self._count:
                return b""
            return self._value(docnum // self._per_block, docnum % self._per_block)

        def __iter__(self) -> Iterator[bytes]:
            for docnum in range(self._doccount):
                yield self[docnum]


# Whoosh pickles stored fields with protocol 2, which writes bytes as a call of _codecs.encode(text,
# "latin1"): the one global a story's stored fields hold.
_STORED_GLOBALS = frozenset({("_codecs", "encode")})


class _StoredColumn(columns.Column):  # type: ignore[misc]
    """The stored fields: a pickled dict per story in a StoryBlocksColumn, unpickled admitting no class.

    Whoosh's PickleColumn would unpickle whatever a planted file holds; a story's stored fields are
    plain values (strings, numbers, lists), so the unpickler here refuses every global.
    """

    def __init__(self) -> None:
        self._child = StoryBlocksColumn()
        self._pickled = columns.PickleColumn(self._child)

    def writer(self, dbfile: Any) -> Any:
        return self._pickled.writer(dbfile)

    def reader(self, dbfile: Any, basepos: int, length: int, doccount: int, checked: bool = False) -> Any:
        return _StoredColumn.Reader(self._child.reader(dbfile, basepos, length, doccount, checked), dbfile)

    class Reader(columns.ColumnReader):  # type: ignore[misc]
        def __init__(self, child: StoryBlocksColumn.Reader, dbfile: Any) -> None:
            self._child = child
            self._doccount = child._doccount
            self._name = getattr(dbfile, "_name", None) or "a stored-stories file"

        def __len__(self) -> int:
            return int(self._doccount)

        def __getitem__(self, docnum: int) -> Any:
            from newsindex.store.storage import safe_loads

            value = self._child[docnum]
            return safe_loads(value, self._name, allowed=_STORED_GLOBALS) if value else None

        def __iter__(self) -> Iterator[Any]:
            for docnum in range(self._doccount):
                yield self[docnum]


STORED_COLUMN = _StoredColumn()


class PackedPerDocWriter(whoosh3.W3PerDocWriter):  # type: ignore[misc]
    """W3's per-document writer with the stored fields in blocks of stories."""

    def _create_column(self, fieldname: str, column: Any) -> None:
        super()._create_column(fieldname, STORED_COLUMN if fieldname == "_stored" else column)


class PackedPerDocReader(whoosh3.W3PerDocReader):  # type: ignore[misc]
    """Reads what `PackedPerDocWriter` wrote."""

    def column_reader(self, fieldname: str, column: Any) -> Any:
        if column is not STORED_COLUMN:
            return super().column_reader(fieldname, column)
        if fieldname not in self._colfiles:
            self._colfiles[fieldname] = self._get_column_file(fieldname)
        colfile, offset, length = self._colfiles[fieldname]
        checked = getattr(self._segment.codec(), "block_checksums", False)
        return column.reader(colfile, offset, length, self._doccount, checked=checked)

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        value = self._cached_reader("_stored", STORED_COLUMN)[docnum]
        return value if value is not None else {}

    def vector(self, docnum: int, fieldname: str, format_: Any) -> Any:
        from newsindex.store.safereading import vector

        return vector(self, docnum, fieldname, format_)


class _SafeW3Stored(columns.Column):  # type: ignore[misc]
    """Whoosh W3's stored-fields column (each story's pickle compressed alone), read admitting no class."""

    def __init__(self) -> None:
        self._child = columns.CompressedBytesColumn()

    def reader(self, dbfile: Any, basepos: int, length: int, doccount: int) -> Any:
        return _SafeW3Stored.Reader(self._child.reader(dbfile, basepos, length, doccount), dbfile)

    class Reader(_StoredColumn.Reader):
        pass


_SAFE_W3_STORED = _SafeW3Stored()


class SafeW3PerDocReader(whoosh3.W3PerDocReader):  # type: ignore[misc]
    """W3's per-document reader with the stored fields unpickled admitting no class."""

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        value = self._cached_reader("_stored", _SAFE_W3_STORED)[docnum]
        return value if value is not None else {}

    def vector(self, docnum: int, fieldname: str, format_: Any) -> Any:
        from newsindex.store.safereading import vector

        return vector(self, docnum, fieldname, format_)


class SafeW3Codec(whoosh3.W3Codec):  # type: ignore[misc]
    """Whoosh's W3 codec, as the segments of indexes written before the packed codec name it, reading
    their stored stories, term dictionaries and posting blocks without running code (newsindex.store.storage
    reads `whoosh.codec.whoosh3.W3Codec` in a TOC as this class; see newsindex.store.safereading)."""

    def per_document_reader(self, storage: Any, segment: Any) -> SafeW3PerDocReader:
        return SafeW3PerDocReader(storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> Any:
        from newsindex.store.safereading import terms_reader

        return terms_reader(self, storage, segment)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
        from newsindex.store.safereading import postings_reader

        return postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)


class NewsCodec(whoosh3.W3Codec):  # type: ignore[misc]
    """The W3 codec with packed posting blocks and stories compressed in blocks.

    `block_checksums` is True for codecs made since every posting block and stored block carries a
    CRC-32 (it is pickled with each segment): their segments refuse a block without one. Segments of
    indexes written before unpickle without the attribute and read as they were written.
    """

    block_checksums = False

    def __init__(self) -> None:
        super().__init__(blocklimit=128, compression=1, inlinelimit=1)
        self.block_checksums = True

    def per_document_writer(self, storage: Any, segment: Any) -> PackedPerDocWriter:
        return PackedPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage: Any, segment: Any) -> PackedPerDocReader:
        return PackedPerDocReader(storage, segment)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        if byteids:  # term vectors (newsindex stores none): Whoosh's own blocks
            return super().postings_writer(dbfile, byteids=True)
        return PackedPostingsWriter(
            dbfile, blocklimit=self._blocklimit, byteids=False, compression=self._compression, inlinelimit=1
        )

    def terms_reader(self, storage: Any, segment: Any) -> Any:
        from newsindex.store.safereading import terms_reader  # the term dictionary's pickles, admitting no class

        return terms_reader(self, storage, segment)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, _length = terminfo.extent()
        return PackedLeafMatcher(dbfile, offset, None, format_, term=term, scorer=scorer, checked=self.block_checksums)


# The module name every index pickles these classes under, since before this module moved to the store:
# pickle records `__module__`, and `newsindex/codec.py` re-exports them under that name.
PICKLED_AS = "newsindex.codec"
for _pickled in (NewsCodec, PackedPositions, SafeW3Codec):
    _pickled.__module__ = PICKLED_AS
