"""Whoosh's readers of the index files that hold pickles, with every pickle unpickled admitting no class.

Besides the table of contents and the stored stories (newsindex.store.storage, newsindex.store.codec), Whoosh 2.7's
W3 format pickles:

- in a segment's term dictionary (`.trm`): the field map at the end of the file, and the postings of
  terms inlined into their term info (a term in one story);
- in posting blocks of Whoosh's own format (`.pst` of segments written before the packed codec, and
  term vectors, `.vps`): each block's header and its data;
- in a compound segment file (`.seg`): its directory and options. No released newsindex wrote one
  (segments are separate files since before 0.1.0), so a TOC naming one is refused (storage.read_toc).

None of these holds an object: only numbers, strings, bytes, tuples, lists and dicts. Here each is read
by `newsindex.store.storage.safe_load`, admitting no class (bytes in protocol 2 are the one global call,
`_codecs.encode` or `bytes()`), so a planted file raises IndexDamagedError naming it, never runs code.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from whoosh.codec import whoosh3
from whoosh.filedb import filetables
from whoosh.util.numeric import byte_to_length

from newsindex.errors import IndexDamagedError
from newsindex.store.storage import safe_load, safe_loads

# What a pickle of plain values may call: bytes, in protocol 2 (`_codecs.encode` for bytes, `bytes()` for
# empty ones, named as Python 2's `__builtin__` with its Python 3 name read the same).
PLAIN = frozenset({("_codecs", "encode"), ("__builtin__", "bytes"), ("builtins", "bytes")})


def _name(dbfile: Any) -> str:
    return getattr(dbfile, "_name", None) or "a file of the index"


class SafeOrderedHashReader(filetables.OrderedHashReader):  # type: ignore[misc]
    """The term dictionary's hash file, its extras (the field map) read admitting no class."""

    def _read_extras(self) -> None:
        dbfile = self.dbfile
        start = dbfile.tell()
        if not dbfile.read(1):  # nothing there: Whoosh reads this as no extras
            self.extras = {}
        else:
            dbfile.seek(start)
            self.extras = safe_load(dbfile.file, _name(dbfile), allowed=PLAIN)
        extras = self.extras
        if not isinstance(extras, dict) or not isinstance(extras.get("fieldmap", {}), dict):
            raise IndexDamagedError(f"{_name(dbfile)} does not end with a field map; rebuild the index")
        # The rest is OrderedHashReader._read_extras: the index array of the sorted keys.
        readers = {"B": dbfile.get_byte, "H": dbfile.get_ushort, "i": dbfile.get_int, "I": dbfile.get_uint}
        readers["q"] = dbfile.get_long
        indextype = extras.get("indextype")
        if indextype not in readers or not isinstance(extras.get("indexlen"), int):
            raise IndexDamagedError(f"{_name(dbfile)} has no index of its terms; rebuild the index")
        self.indexbase = dbfile.tell()
        self.indexlen = extras["indexlen"]
        self.indexsize = struct.calcsize(indextype)
        self._get_pos = readers[indextype]


def term_info(data: bytes, source: str) -> Any:
    """W3TermInfo.from_bytes, the inlined postings unpickled admitting no class."""
    struct = whoosh3.W3TermInfo._struct
    if not data[0]:  # not inlined: a pointer into the postings, no pickle
        return whoosh3.W3TermInfo.from_bytes(data)
    _flags, weight, df, minlength, maxlength, maxweight, minid, maxid = struct.unpack(data[: struct.size])
    info = whoosh3.W3TermInfo()
    info._weight = weight
    info._df = df
    info._minlength = byte_to_length(minlength)
    info._maxlength = byte_to_length(maxlength)
    info._maxweight = maxweight
    info._minid = None if minid == 0xFFFFFFFF else minid
    info._maxid = None if maxid == 0xFFFFFFFF else maxid
    info._inlined = safe_loads(data[struct.size :], source, allowed=PLAIN)
    return info


class SafeFieldCursor(whoosh3.W3FieldCursor):  # type: ignore[misc]
    def term_info(self) -> Any:
        if self._pos is None:
            return None
        return term_info(self._tindex.dbfile.get(self._datapos, self._datalen), _name(self._tindex.dbfile))


class SafeTermsReader(whoosh3.W3TermsReader):  # type: ignore[misc]
    """W3's term dictionary reader: every term info and the field map read admitting no class."""

    def __init__(self, codec: Any, dbfile: Any, length: int, postfile: Any) -> None:
        self._codec = codec
        self._dbfile = dbfile
        self._tindex = SafeOrderedHashReader(dbfile, length)
        self._fieldmap = self._tindex.extras["fieldmap"]
        self._postfile = postfile
        self._fieldunmap = [None] * len(self._fieldmap)
        for fieldname, num in self._fieldmap.items():
            self._fieldunmap[num] = fieldname
        self._source = _name(dbfile)

    def cursor(self, fieldname: str, fieldobj: Any) -> SafeFieldCursor:
        return SafeFieldCursor(self._tindex, fieldname, self._keycoder, self._keydecoder, fieldobj)

    def items(self) -> Any:
        decode = self._keydecoder
        return ((decode(key), term_info(value, self._source)) for key, value in self._tindex.items())

    def items_from(self, fieldname: str, prefix: bytes) -> Any:
        decode = self._keydecoder
        start = self._keycoder(fieldname, prefix)
        return ((decode(key), term_info(value, self._source)) for key, value in self._tindex.items_from(start))

    def term_info(self, fieldname: str, tbytes: bytes) -> Any:
        from whoosh.reading import TermNotFound

        try:
            value = self._tindex[self._keycoder(fieldname, tbytes)]
        except KeyError:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}") from None
        return term_info(value, self._source)


def terms_reader(codec: Any, storage: Any, segment: Any) -> SafeTermsReader:
    """What W3Codec.terms_reader returns, reading through SafeTermsReader."""
    name = segment.make_filename(codec.TERMS_EXT)
    postfile = segment.open_file(storage, codec.POSTS_EXT)
    try:
        termsfile = storage.open_file(name)
    except BaseException:
        postfile.close()
        raise
    try:
        return SafeTermsReader(codec, termsfile, storage.file_length(name), postfile)
    except BaseException:  # a refused pickle: no file left open
        termsfile.close()
        postfile.close()
        raise


class SafeLeafMatcher(whoosh3.W3LeafMatcher):  # type: ignore[misc]
    """Whoosh W3's posting blocks (segments before the packed codec, term vectors), each block's header and
    data unpickled admitting no class."""

    def _goto(self, position: int) -> None:
        self._data = None
        self._ids = None
        self._weights = None
        self._values = None
        self._i = 0
        postfile = self._postfile
        postfile.seek(position)
        length = postfile.read_int()
        self._lastblock = length < 0
        length = abs(length)
        self._nextoffset = position + 4 + length
        info = safe_load(postfile.file, _name(postfile), allowed=PLAIN)
        self._dataoffset = postfile.tell()
        if not isinstance(info, tuple) or len(info) != 6:
            raise IndexDamagedError(f"a block of postings in {_name(postfile)} has no header; rebuild the index")
        (self._blocklength, self._maxid, self._maxweight, self._compression, minlength, maxlength) = info
        self._minlength = byte_to_length(minlength)
        self._maxlength = byte_to_length(maxlength)

    def _read_data(self) -> None:
        data = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        if self._compression:
            data = zlib.decompress(data)
        self._data = safe_loads(data, _name(self._postfile), allowed=PLAIN)


def postings_reader(dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
    """What W3Codec.postings_reader returns, its blocks read by SafeLeafMatcher."""
    if terminfo.is_inlined():
        from whoosh.matching import ListMatcher

        ids, weights, values = terminfo.inlined_postings()
        return ListMatcher(ids, weights, values, format_, scorer=scorer, term=term, terminfo=terminfo)
    offset, length = terminfo.extent()
    return SafeLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


def vector(reader: Any, docnum: int, fieldname: str, format_: Any) -> SafeLeafMatcher:
    """W3PerDocReader.vector, reading the vector's blocks by SafeLeafMatcher."""
    if reader._vpostfile is None:
        reader._prep_vectors()
    offset, length = reader._vector_extent(docnum, fieldname)
    if not offset:
        raise ValueError(f"Field {fieldname!r} has no vector in docnum {docnum}")
    return SafeLeafMatcher(reader._vpostfile, offset, length, format_, byteids=True)
