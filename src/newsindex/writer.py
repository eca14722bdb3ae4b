"""A Whoosh segment writer that keeps a segment's postings in memory, term by term, until it commits.

Whoosh's SegmentWriter puts every posting into a pool as a tuple, sorts the pool, pickles it to
temporary files in runs, merges the runs back with a heap, and then looks up the field length of
every posting's story in a column it has just written: half the CPU of indexing a story. Here each
term's postings go straight into arrays as its stories are analysed (ids, weights, value sizes and
the values end to end, about 14 bytes a posting), the field lengths stay in memory, and the commit
writes each term's arrays as blocks in one call (`newsindex.codec.PackedPostingsWriter`).

A batch of newsindex stories (50,000 over two workers) takes tens of megabytes this way; Whoosh's
pool would spill to disk past its memory limit, this writer never does, so keep batches bounded.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator
from typing import Any

from whoosh.writing import SegmentWriter

from newsindex.codec import PackedPostingsWriter


class _Postings:
    """One term's postings in a segment being written."""

    __slots__ = ("ids", "value_lengths", "values", "weights")

    def __init__(self) -> None:
        self.ids = array("I")
        self.weights = array("f")
        self.value_lengths = array("I")
        self.values = bytearray()


class BufferedSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """Whoosh's SegmentWriter with postings kept per term in memory (see the module docstring).

    Only what newsindex's schema uses is supported: no term vectors, no spelling fields, no `_boost`
    or `_stored_` keys. Segments merged in at commit (Whoosh's merge policy) still go through
    Whoosh's pool, and the commit merges them with the buffered postings.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        for name, field in self.schema.items():
            if field.vector or field.separate_spelling():
                raise ValueError(f"field {name!r}: term vectors and spelling fields are not supported")
        self._buffer: dict[str, dict[bytes, _Postings]] = {}  # field → term → postings
        self._field_lengths: dict[str, array[int]] = {}  # scorable field → its length in each story
        self._pooled = False  # whether a merged segment's postings went to Whoosh's pool

    def add_document(self, **fields: Any) -> None:
        self._check_state()
        schema = self.schema
        docnum = self.docnum
        names = sorted(fields)
        if any(name.startswith("_") for name in names):
            raise ValueError("document keys starting with _ are not supported")
        self._check_fields(schema, names)
        # Analyse every field before changing anything: a story Whoosh cannot analyse leaves no trace.
        analysed = []
        for name in names:
            value = fields[name]
            if value is None:
                continue
            field = schema[name]
            items = None
            if field.indexed and isinstance(value, str) and hasattr(field.format, "index_items"):
                items = field.format.index_items(value, field.analyzer)  # the same, without generators
            if items is None:
                items = list(field.index(value)) if field.indexed else []
            analysed.append((name, field, value, items))

        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        for name, field, value, items in analysed:
            length = 0
            if items:
                terms = self._buffer.setdefault(name, {})
                for term, freq, weight, encoded in items:
                    postings = terms.get(term)
                    if postings is None:
                        postings = terms[term] = _Postings()
                    postings.ids.append(docnum)
                    postings.weights.append(weight)
                    postings.value_lengths.append(len(encoded))
                    postings.values += encoded
                    length += freq
            if field.scorable:
                lengths = self._field_lengths.setdefault(name, array("I"))
                lengths.extend([0] * (docnum + 1 - len(lengths)))
                lengths[docnum] = length
            else:
                length = 0
            perdoc.add_field(name, field, value if field.stored else None, length)
            column = field.column_type
            if column:
                perdoc.add_column_value(name, column, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def add_reader(self, reader: Any) -> None:
        self._pooled = True  # its postings go to Whoosh's pool, after the buffered stories
        super().add_reader(reader)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        if self._pooled:
            self._flush_merged()
            return
        fieldwriter = self.fieldwriter
        for name in sorted(self._buffer):
            terms = self._buffer[name]
            lengths = self._field_lengths.get(name)
            if lengths is not None:
                lengths.extend([0] * (self.docnum - len(lengths)))
            fieldwriter.start_field(name, self.schema[name])
            postwriter = fieldwriter._postwriter
            if not isinstance(postwriter, PackedPostingsWriter):
                raise TypeError("BufferedSegmentWriter needs the packed codec (newsindex.codec.NewsCodec)")
            for term in sorted(terms):
                postings = terms.pop(term)
                fieldwriter.start_term(term)
                has_values = any(postings.value_lengths)
                postwriter.write_postings(
                    postings.ids,
                    postings.weights,
                    postings.value_lengths if has_values else None,
                    bytes(postings.values),
                    lengths,
                )
                fieldwriter.finish_term()
            fieldwriter.finish_field()
        self._buffer.clear()
        fieldwriter.close()

    def _flush_merged(self) -> None:
        """Write the buffered postings and those of the merged segments (in Whoosh's pool) together."""
        lengths = self.per_document_reader() if self.codec.length_stats else None
        merged = heapq.merge(self._buffered_postings(), self.pool.iter_postings())
        self.fieldwriter.add_postings(self.schema, lengths, merged)
        self.fieldwriter.close()
        if lengths is not None:
            lengths.close()

    def _buffered_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        for name in sorted(self._buffer):
            terms = self._buffer[name]
            for term in sorted(terms):
                postings = terms[term]
                values = bytes(postings.values)
                start = 0
                for docnum, weight, size in zip(postings.ids, postings.weights, postings.value_lengths, strict=True):
                    yield name, term, docnum, weight, values[start : start + size]
                    start += size
