"""A Whoosh segment writer that keeps a segment's postings in memory until it commits.

Whoosh's SegmentWriter puts every posting into a pool as a tuple, sorts the pool, pickles it to
temporary files in runs, merges the runs back with a heap, and then looks up the field length of
every posting's story in a column it has just written: half the CPU of indexing a story. Here:

- the words of a text field (headline, body, names) are kept as one term number per word, in story
  order: 4 bytes a word, and no Python code run per word while indexing. At commit NumPy sorts them
  by term, which gives every posting of every term with its positions, frequency and weight at once
  (`_TextField.postings`);
- other fields (ids, exact names) keep their postings in arrays as they come, each with its term's
  number, sorted by term at commit (`_TermsField`);
- the commit writes each term's postings as blocks in one call (`PackedPostingsWriter.write_postings`).

A batch of newsindex stories (50,000 over two workers) takes tens of megabytes this way, and a few
hundred at commit while NumPy sorts; Whoosh's pool would spill to disk past its memory limit, this
writer never does, so keep batches bounded.
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from collections.abc import Iterator
from itertools import repeat
from typing import Any

from whoosh.writing import SegmentWriter

from newsindex.store.codec import PackedPositions, PackedPostingsWriter
from newsindex.store.schema import GAP

CHUNK_WORDS = 250_000  # words of a text field turned into postings at a time when a segment is written
# One term's postings, ready to write: term bytes, story numbers, weights, value sizes, values end to end.
TermPostings = tuple[bytes, "array[int]", "array[float]", "array[int] | None", bytes]


class _TermsField:
    """A field whose postings are kept in arrays as they come, each with its term's number; sorted by
    term when the segment is written. No object per term but its number: an id field has a term for
    every story (about 100 bytes a story here, 440 as arrays of its own for each term)."""

    def __init__(self) -> None:
        self._numbers: dict[bytes, int] = {}  # term → its number
        self._terms = array("I")  # each posting's term number
        self._ids = array("I")
        self._weights = array("f")
        self._value_lengths = array("I")
        self._values = bytearray()

    def add(self, docnum: int, items: list[tuple[bytes, int, float, bytes]]) -> int:
        """Add a story's postings (Whoosh's `FieldType.index` items); its length in the field."""
        numbers = self._numbers
        length = 0
        for term, freq, weight, encoded in items:
            number = numbers.get(term)
            if number is None:
                number = numbers[term] = len(numbers)
            self._terms.append(number)
            self._ids.append(docnum)
            self._weights.append(weight)
            self._value_lengths.append(len(encoded))
            self._values += encoded
            length += freq
        return length

    def postings(self) -> Iterator[TermPostings]:
        import numpy as np

        if not self._numbers:
            return
        terms = sorted(self._numbers)
        ranks = np.empty(len(terms), dtype=np.uint32)
        ranks[[self._numbers[term] for term in terms]] = np.arange(len(terms), dtype=np.uint32)
        posting_ranks = ranks[np.frombuffer(self._terms, dtype=np.uint32)]
        order = np.argsort(posting_ranks, kind="stable")  # by term; a term's postings as they were added
        bounds = np.searchsorted(posting_ranks[order], np.arange(len(terms) + 1)).tolist()
        lengths = np.frombuffer(self._value_lengths, dtype=np.uint32)
        value_starts = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).tolist()
        ids = np.frombuffer(self._ids, dtype=np.uint32)[order]
        weights = np.frombuffer(self._weights, dtype=np.float32)[order]
        lengths, values = lengths[order], bytes(self._values)
        for n, term in enumerate(terms):
            start, end = bounds[n], bounds[n + 1]
            term_lengths = lengths[start:end]
            has_values = bool(term_lengths.any())
            yield (
                term,
                array("I", ids[start:end].tobytes()),
                array("f", weights[start:end].tobytes()),
                array("I", term_lengths.tobytes()) if has_values else None,
                b"".join(values[value_starts[k] : value_starts[k + 1]] for k in order[start:end].tolist())
                if has_values
                else b"",
            )


class _Numbers(dict[str, int]):
    """Terms and their numbers, 0, 1, 2… in the order they are first asked for."""

    def __missing__(self, term: str) -> int:
        number = self[term] = len(self)
        return number


class _TextField:
    """A text field kept as one term number per indexed word, in story order (see the module docstring)."""

    def __init__(self, field: Any) -> None:
        self._lead_boost = float(field.analyzer.lead_boost)
        self._field_boost = float(field.format.field_boost)
        self._index_terms = field.analyzer.index_terms
        self._gaps = bool(getattr(field.analyzer, "gaps", False))  # GAP terms hold stop words' places
        self._numbers: dict[str, int] = _Numbers()  # term → its number
        self._words = array("I")  # the term number of every indexed word, story after story
        self._counts = array("I")  # words in each story (0 for a story without the field)
        self._leads = array("I")  # of which in the lead

    def analyse(self, value: str) -> tuple[list[str], int]:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        terms: tuple[list[str], int] = self._index_terms(value)
        return terms

    def add(self, docnum: int, analysed: tuple[list[str], int]) -> int:
        """Add a story's terms (from `analyse`); its length in the field."""
        terms, in_lead = analysed
        self._words.extend(map(self._numbers.__getitem__, terms))  # a new term numbered as it is met
        missing = docnum - len(self._counts)
        if missing:
            self._counts.extend(repeat(0, missing))
            self._leads.extend(repeat(0, missing))
        self._counts.append(len(terms))
        self._leads.append(in_lead)
        return len(terms) - terms.count(GAP) if self._gaps else len(terms)  # a stop word's place is no word

    def postings(self) -> Iterator[TermPostings]:
        """Every term's postings, terms in order: what Whoosh's PackedPositions format would give.

        Terms are taken in slices of about CHUNK_WORDS words, so that NumPy's arrays stay that size
        however large the batch.
        """
        import numpy as np

        total = len(self._words)
        if not total:
            return
        terms = sorted(self._numbers)  # str order is UTF-8 byte order, Whoosh's term order
        ranks = np.empty(len(terms), dtype=np.uint32)
        ranks[[self._numbers[term] for term in terms]] = np.arange(len(terms), dtype=np.uint32)
        ranked = ranks[np.frombuffer(self._words, dtype=np.uint32)]  # each word's term, as its place in `terms`
        # What `ranked` replaces is let go at once: a worker's memory peaks while it writes its segment.
        del ranks
        self._numbers, self._words = _Numbers(), array("I")
        counts = np.frombuffer(self._counts, dtype=np.uint32)
        ends = np.cumsum(counts, dtype=np.int64)  # where each story's words end
        per_term = np.cumsum(np.bincount(ranked, minlength=len(terms)))
        cuts = np.searchsorted(per_term, np.arange(CHUNK_WORDS, total, CHUNK_WORDS), side="right")
        bounds = sorted({0, len(terms), *cuts.tolist()})
        for low, high in itertools.pairwise(bounds):
            yield from self._chunk(terms, ranked, counts, ends, low, high)

    def _chunk(
        self, terms: list[str], ranked: Any, counts: Any, ends: Any, low: int, high: int
    ) -> Iterator[TermPostings]:
        """The postings of the terms `terms[low:high]`."""
        import numpy as np

        where = np.flatnonzero((ranked >= low) & (ranked < high))  # the words of these terms, in story order
        chunk_terms = ranked[where]
        order = np.argsort(chunk_terms, kind="stable")  # by term; stable: each term's words stay in order
        where, chunk_terms = where[order], chunk_terms[order]
        del order
        stories = np.searchsorted(ends, where, side="right")
        positions = (where - (ends[stories] - counts[stories])).astype(np.uint32)
        # A posting is a run of words with the same term and story.
        starts = np.flatnonzero(
            np.concatenate(([True], (chunk_terms[1:] != chunk_terms[:-1]) | (stories[1:] != stories[:-1])))
        )
        freqs = np.diff(np.append(starts, len(where)))
        if self._lead_boost != 1.0:
            in_lead = positions < np.frombuffer(self._leads, dtype=np.uint32)[stories]
            lead_words = np.add.reduceat(in_lead.astype(np.int32), starts)
            weights = freqs + lead_words * (self._lead_boost - 1.0)  # as NewsAnalyzer.index_postings adds them
        else:
            weights = freqs.astype(np.float64)
        weights = (weights * self._field_boost).astype(np.float32)
        values, value_lengths = _varint_gaps(positions, starts)
        # Where each term's postings start (in the posting arrays) and its values (in the value bytes).
        term_starts = np.searchsorted(chunk_terms[starts], np.arange(low, high + 1))
        byte_starts = np.concatenate(([0], np.cumsum(value_lengths, dtype=np.int64)))[term_starts].tolist()
        term_bounds = term_starts.tolist()
        ids = array("I", stories[starts].astype(np.uint32).tobytes())
        weight_array = array("f", weights.tobytes())
        length_array = array("I", value_lengths.astype(np.uint32).tobytes())
        value_bytes = values.tobytes()
        del where, chunk_terms, stories, positions, starts, freqs, weights, values, value_lengths
        for n, term in enumerate(terms[low:high]):
            if term == GAP:
                continue  # a stop word's place: no posting
            start, end = term_bounds[n], term_bounds[n + 1]
            yield (
                term.encode("utf-8"),
                ids[start:end],
                weight_array[start:end],
                length_array[start:end],
                value_bytes[byte_starts[n] : byte_starts[n + 1]],
            )


def _varint_gaps(positions: Any, starts: Any) -> tuple[Any, Any]:
    """Each posting's positions as varint gaps (`newsindex.store.codec.encode_gaps`), end to end, and each
    posting's size in bytes; `starts` are the indexes where postings begin in `positions` (uint32)."""
    import numpy as np

    gaps = positions.copy()
    gaps[1:] -= positions[:-1]  # wraps around across postings, where the next line overwrites it
    gaps[starts] = positions[starts]  # a posting's first gap is from position 0
    sizes = np.ones(len(gaps), dtype=np.uint8)
    for limit in (1 << 7, 1 << 14, 1 << 21, 1 << 28):
        sizes += gaps >= limit
    offsets = np.cumsum(sizes, dtype=np.int64) - sizes
    out = np.empty(int(offsets[-1] + sizes[-1]), dtype=np.uint8)
    for k in range(5):  # byte k of every gap that has one: 7 bits, the high bit set when more follow
        has = sizes > k
        if not has.any():
            break
        part = ((gaps[has] >> np.uint32(7 * k)) & np.uint32(0x7F)).astype(np.uint8)
        out[offsets[has] + k] = part | ((sizes[has] > k + 1).astype(np.uint8) << np.uint8(7))
    return out, np.add.reduceat(sizes.astype(np.int64), starts)


class _CountedFile:
    """A file being written, which knows its position without asking the system.

    Whoosh asks a segment's postings and terms files where they are several times a term (`tell`), and a
    buffered file asks the system each time: a tenth of writing a segment went to those calls.
    """

    def __init__(self, file: Any) -> None:
        self._file = file
        self._position: int = file.tell()

    def write(self, data: Any) -> int:
        written: int = self._file.write(data)
        self._position += written
        return written

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self._file.seek(offset, whence)
        return self._position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class BufferedSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """Whoosh's SegmentWriter with postings kept in memory until commit (see the module docstring).

    Only what newsindex's schema uses is supported: no term vectors, no spelling fields, no `_boost`
    or `_stored_` keys. Segments merged in at commit (Whoosh's merge policy) still go through
    Whoosh's pool, and the commit merges them with the buffered postings.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self._fields: dict[str, _TextField | _TermsField] = {}
        for name, field in self.schema.items():
            if field.vector or field.separate_spelling():
                raise ValueError(f"field {name!r}: term vectors and spelling fields are not supported")
            if not field.indexed:
                continue
            is_text = isinstance(field.format, PackedPositions) and hasattr(field.analyzer, "index_terms")
            self._fields[name] = _TextField(field) if is_text else _TermsField()
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
        analysed: list[tuple[str, Any, Any, Any]] = []
        for name in names:
            value = fields[name]
            if value is None:
                continue
            buffer = self._fields.get(name)
            if isinstance(buffer, _TextField):
                analysis: Any = buffer.analyse(value)
            else:
                analysis = list(schema[name].index(value)) if buffer is not None else None
            analysed.append((name, schema[name], value, analysis))

        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        for name, field, value, analysis in analysed:
            length = self._fields[name].add(docnum, analysis) if analysis is not None else 0
            if field.scorable:
                lengths = self._field_lengths.setdefault(name, array("I"))
                lengths.extend(repeat(0, docnum + 1 - len(lengths)))
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
        fieldwriter = self.fieldwriter
        for structfile in (fieldwriter._postfile, fieldwriter._tindex.dbfile):
            structfile.file = _CountedFile(structfile.file)
        if self._pooled:
            self._flush_merged()
            return
        for name in sorted(self._fields):
            lengths = self._field_lengths.get(name)
            if lengths is not None:
                lengths.extend(repeat(0, self.docnum - len(lengths)))
            started = False
            for term, ids, weights, value_lengths, values in self._fields[name].postings():
                if not started:
                    fieldwriter.start_field(name, self.schema[name])
                    postwriter = fieldwriter._postwriter
                    if not isinstance(postwriter, PackedPostingsWriter):
                        raise TypeError(
                            "BufferedSegmentWriter needs the packed codec (newsindex.store.codec.NewsCodec)"
                        )
                    started = True
                fieldwriter.start_term(term)
                postwriter.write_postings(ids, weights, value_lengths, values, lengths)
                fieldwriter.finish_term()
            if started:
                fieldwriter.finish_field()
        self._fields.clear()
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
        for name in sorted(self._fields):
            for term, ids, weights, value_lengths, values in self._fields[name].postings():
                start = 0
                for n, (docnum, weight) in enumerate(zip(ids, weights, strict=True)):
                    size = value_lengths[n] if value_lengths is not None else 0
                    yield name, term, docnum, weight, values[start : start + size]
                    start += size
