"""Planting pickles that run code when loaded into the files of an index (for tests and
benchmarks/reliability.py): the term dictionary's field map, a term's inlined postings, a posting block of
Whoosh's own format (its header or its data), and a TOC naming a compound segment file.

Each planter rewrites one file of a *trusted* index (our own, just built) and removes the checksum
records, as someone able to write the folder would. The payload writes `marker` when unpickled.
"""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path
from typing import Any


class Planted:
    """A pickle that, when loaded, writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def _index_name(index: Path) -> str:
    import json

    return str(json.loads((index / "newsindex.json").read_text())["index_name"])


def _largest(index: Path, suffix: str) -> Path:
    name = _index_name(index)
    files = [path for path in index.iterdir() if path.name.startswith(name) and path.name.endswith(suffix)]
    return max(files, key=lambda path: path.stat().st_size)


def _forget_checksums(index: Path) -> None:
    for record in index.glob("*sums.json"):
        record.unlink()


def _read_terms(path: Path) -> tuple[list[tuple[bytes, bytes]], dict[str, Any]]:
    from whoosh.filedb.filetables import OrderedHashReader
    from whoosh.filedb.structfile import StructFile

    data = path.read_bytes()
    reader = OrderedHashReader(StructFile(io.BytesIO(data)), len(data))  # our own file, just built
    return list(reader.items()), dict(reader.extras)


def _write_terms(path: Path, items: list[tuple[bytes, bytes]], extras: dict[str, Any]) -> None:
    from whoosh.filedb.filetables import OrderedHashWriter
    from whoosh.filedb.structfile import StructFile

    out = io.BytesIO()
    writer = OrderedHashWriter(StructFile(out))
    writer.extras.update(extras)
    for key, value in items:
        writer.add(key, value)
    writer.dbfile.close = lambda: None  # keep the buffer readable
    writer.close()
    path.write_bytes(out.getvalue())


def plant_in_field_map(index: Path, marker: Path) -> Path:
    """The term dictionary's extras (its field map) with the payload beside the field map."""
    path = _largest(index, ".trm")
    items, extras = _read_terms(path)
    extras = {"fieldmap": extras["fieldmap"], "planted": Planted(marker)}
    _write_terms(path, items, extras)
    _forget_checksums(index)
    return path


def plant_inlined_postings(index: Path, marker: Path, fieldname: str, word: str) -> Path:
    """The term `fieldname:word` with its postings inlined into its term info, as the payload."""
    from whoosh.codec.whoosh3 import W3TermInfo

    path = _largest(index, ".trm")
    items, extras = _read_terms(path)
    number = extras["fieldmap"][fieldname]
    key = struct.pack("!H", number) + word.encode("utf-8")
    inlined = W3TermInfo._struct.pack(1, 1.0, 1, 1, 1, 1.0, 0, 0) + pickle.dumps(Planted(marker), 2)
    assert any(existing == key for existing, _ in items), f"{fieldname}:{word} is not in {path.name}"
    items = [(existing, inlined if existing == key else value) for existing, value in items]
    _write_terms(path, items, {key: value for key, value in extras.items() if key not in ("indextype", "indexlen")})
    _forget_checksums(index)
    return path


def plant_in_w3_block(index: Path, marker: Path, fieldname: str, word: str, *, where: str) -> Path:
    """In a segment of Whoosh's own W3 format, the first posting block of `fieldname:word` rewritten with the
    payload as its header (`where="header"`) or as its data (`where="data"`, after a whole header)."""
    from whoosh.filedb.structfile import StructFile

    from newsindex.store.safereading import term_info

    terms = _largest(index, ".trm")
    items, extras = _read_terms(terms)
    key = struct.pack("!H", extras["fieldmap"][fieldname]) + word.encode("utf-8")
    info = term_info(dict(items)[key], terms.name)
    assert not info.is_inlined(), f"{fieldname}:{word} is in one story only: its postings are not in a block"
    offset, _ = info.extent()
    path = terms.with_suffix(".pst")
    data = bytearray(path.read_bytes())
    payload = pickle.dumps(Planted(marker), 2)
    if where == "header":
        block = payload
    else:
        header = pickle.dumps((1, 0, 1.0, 0, 1, 1), 2)  # one posting, uncompressed
        block = header + payload
    out = io.BytesIO()
    StructFile(out).write_int(-len(block))  # the term's last block
    replaced = data[offset : offset + 4] + out.getvalue() + block  # the magic tag, then the block
    data[offset : offset + len(replaced)] = replaced
    path.write_bytes(bytes(data))
    _forget_checksums(index)
    return path


def plant_compound_segment(index: Path, marker: Path) -> Path:
    """The TOC's segments marked compound, and a compound file (`.seg`) whose directory is the payload."""
    from whoosh.filedb.structfile import StructFile

    from newsindex.store import storage

    name = _index_name(index)
    toc = max(index.glob(f"_{name}_*.toc"), key=lambda path: int(path.stem.rsplit("_", 1)[1]))
    stream = StructFile(io.BytesIO(toc.read_bytes()))
    head = [stream.read_varint() for _ in range(3)]
    check, version = stream.read_int(), stream.read_int()
    release = [stream.read_varint() for _ in range(3)]
    schema = stream.read_string()
    generation, unused = stream.read_int(), stream.read_int()
    segments = storage.safe_load(stream.file, toc.name)  # our own TOC, read as newsindex reads it
    for segment in segments:
        segment.compound = True
        seg = StructFile(io.BytesIO())
        seg.write_long(12)
        seg.write_int(0)
        seg.write(pickle.dumps(Planted(marker)))
        (index / f"{segment.segment_id()}.seg").write_bytes(seg.file.getvalue())
    out = io.BytesIO()
    writer = StructFile(out)
    for number in head:
        writer.write_varint(number)
    writer.write_int(check)
    writer.write_int(version)
    for number in release:
        writer.write_varint(number)
    writer.write_string(schema)
    writer.write_int(generation)
    writer.write_int(unused)
    writer.write(pickle.dumps(segments, -1))  # as Whoosh writes it
    toc.write_bytes(out.getvalue())
    _forget_checksums(index)
    return toc
