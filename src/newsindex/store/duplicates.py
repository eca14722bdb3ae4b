"""Near-duplicate wire copies: each story gets a duplicate group when it is indexed.

Wire stories are filed, re-filed, updated and republished with small edits: a new dateline, a word
changed, a paragraph appended. Each story's headline and body (dateline taken off) become a set of word
3-shingles (words split at white space, case and accents folded),
summarised by a MinHash signature (128 permutations, the same values as datasketch's affine32 scheme). Two stories whose estimated Jaccard
similarity is at least `THRESHOLD` are copies of one story; a new story joins the group of its most
similar copy already indexed, or founds a group of its own.

How the LSH persists between runs: the signature is cut into `BANDS` bands of `ROWS` values; each
band's 32-bit hash goes to the story's `dupbands` column (48 bytes), its group label to the `dupgroup`
column, which search reads to collapse a group to its best story. The first story of an indexing run
that needs grouping reads the `dupbands` column of the committed index (a few microseconds a story)
into a table of band keys (`_BandTable`: sorted runs of key-and-owner integers, about 150 bytes of
memory a story with its id: 74 MB for 500,000, measured); each story of the run joins it as it is
written. A new story's candidates are the stories sharing at least one band key with it. Candidates
are verified by the estimated Jaccard of the signatures: a story of the open batch has its signature in
memory; a committed story's is recomputed from its stored headline and body (candidates
are copies and near-copies, so few) and kept for the run in a cache of `SIGNATURE_CACHE`, by digest.
So the LSH is part of the index: it commits and rolls back with the stories and needs no side file.
It used to be twelve band terms per story in the term dictionary plus a signature column: 2,700 bytes
a story, more than a story's text, against 66 now (benchmarks/DUPLICATES.md).

All of it happens in the indexing process, before a story is handed to a worker process, so every
story sees the stories before it in input order.

What changes do to groups (groups are never merged or split after the fact; `--rebuild` regroups all):
- a copy indexed in a later run joins the existing group of its most similar copy;
- an updated story is grouped afresh (its old version is no candidate): it stays in its group when it
  is still a copy of a member, and otherwise founds a new group;
- a removed or pruned story simply leaves its group; the others keep their label, so they stay together
  even when the removed story was the one copy linking them (single-link grouping).

Two checks keep a group to copies of one story, not to reports written on one template (a weekly grain
report, a monthly estimate, a brief re-run months later):
- the window: a story joins a group only if the group, with it, spans at most `WINDOW_DAYS` days
  between its first and last published story (a re-filed wire story is a copy within hours or days).
  A story without a date cannot be placed in time: it may join a group (the window is not checked for
  it) and does not widen the group's span. The span of every committed group of two or more is read
  when the run meets its first copy (`_GroupSpans`, 24 bytes a group), those of this run's groups kept
  as they grow;
- the figures: its numbers must agree with those of every member of the group it is similar to.
  A story's figures are its numbers (digits such as "1,234.5", "12", "7-1/2", and the cardinal words
  one to twenty and the tens, as wire style spells small numbers), each with its context: the words
  just before and after it. Two stories disagree when, in one context both have, each has a number the
  other lacks ("rose 12 pct" and "rose 13 pct"); a number added (an appended paragraph) or removed
  (an edit) is no disagreement. A story as similar as a copy whose figures disagree is an update: it
  founds a group of its own, and if the other story was published before it (both dated, within the
  window) it is stored as the story this one revises (the `revises` stored field, `Hit.revises`).

Band parameters: with r = 4 rows per band and b = 12 bands, a pair with Jaccard 0.8 becomes a candidate
with probability 1 - (1 - 0.8^4)^12 = 0.998, at the threshold 0.7 with 0.96, at 0.5 with 0.54 and at
0.05 (unrelated stories sharing a few phrases) with 0.00008: nearly every copy is found, and the extra
candidates cost one comparison of signatures each (a committed one also its recomputation).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import TYPE_CHECKING, Any

from newsindex.store.catalogue import Strings
from newsindex.store.schema import fold, story_from_stored
from newsindex.text.dateline import split_dateline

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where used: searching never needs it.

# The estimated Jaccard similarity of word 3-shingles at which two stories are copies of one. 0.8 was the
# starting point; on benchmarks/duplicates.py's corpus it misses 40% of copies with a paragraph appended,
# while 0.7 still groups no story written on the same template as another (DUPLICATES.md).
THRESHOLD = 0.7
SHINGLE_WORDS = 3
NUM_PERM = 128
ROWS = 4
BANDS = 12  # ROWS × BANDS ≤ NUM_PERM
FIELDS = ("dupbands", "dupgroup")  # the index fields this module fills
REVISES = "revises"  # the stored field naming the story a story revises (an index from before has none)
# A group spans at most this many days between its first and last dated story.
WINDOW_DAYS = 3
WINDOW = WINDOW_DAYS * 86_400  # in seconds, as the `published` column holds dates
BAND_BYTES = 4  # the bytes of one band's hash; BANDS of them are a story's `dupbands` value
# Signatures of committed candidates recomputed in one indexing run and kept, by story digest: a story
# with many copies is verified once, not once per copy.
SIGNATURE_CACHE = 4096

_SEED = 1
_CHUNK = 4096  # shingles per step of a signature
_permutations: Any = None


@dataclass(frozen=True, slots=True)
class Grouping:
    """A story's place among duplicates: its signature, band keys and group label."""

    signature: np.ndarray | None  # NUM_PERM uint32 values; None for a story without words
    keys: np.ndarray | None  # BANDS band keys (see `band_keys`); None for a story without words
    group: str
    published: int | None = None  # the story's date (seconds), for the window
    figures: bytes = b""  # the story's numbers in their contexts (see `figures`)
    span: tuple[int, int] | None = None  # the dates its group spans with it, when it joined a group
    revises: str | None = None  # the earlier story of which this one is an update (other figures)

    def fields(self) -> dict[str, Any]:
        """The index fields of this grouping."""
        values: dict[str, Any] = {
            "dupbands": b"" if self.keys is None else band_bytes(self.keys),
            "dupgroup": self.group,
        }
        if self.revises is not None:
            values[REVISES] = self.revises
        return values


def signature(body: str, headline: str | None = None) -> np.ndarray | None:
    """The MinHash signature of the word 3-shingles of a story's headline and body (its dateline left out);
    None without words."""
    return _text_signature(_compared_text(body, headline))


def _text_signature(text: str) -> np.ndarray | None:
    """`signature` of the text copies are compared by (`_compared_text`)."""
    hashes = _shingle_hashes(text)
    return None if hashes is None else _minhash(hashes)


def _signature_and_figures(text: str) -> tuple[np.ndarray | None, bytes]:
    """`_text_signature` and `_text_figures` of a text, its words split and looked up once for both when
    they can be (an ASCII text: folding it is lower-casing it, so both cut the same words)."""
    if not text.isascii():
        return _text_signature(text), _text_figures(text)
    import numpy as np

    words = text.lower().split()
    if not words:
        return None, b""
    coded = np.array(list(map(_CODED_WORDS.__getitem__, words)), dtype=np.uint64)
    signature = _minhash(_shingles(coded.astype(np.uint32)))
    return signature, _figures_at(words, np.flatnonzero(coded >> np.uint64(32)).tolist())


def _minhash(hashes: np.ndarray) -> np.ndarray:
    """The MinHash signature of shingle hashes (uint32)."""
    import numpy as np

    a, b = _affine32_permutations()
    # datasketch's MinHash.update_batch for its affine32 scheme (a test checks the values are the same),
    # without its per-call set-up and its Python loop over the hashes: MurmurHash3's 32-bit finaliser,
    # then the smallest a·h + b (mod 2**32) of each permutation. A shingle met twice changes no minimum,
    # so the hashes need not be made unique first.
    mixed = hashes.reshape(-1, 1)
    mixed = (mixed ^ (mixed >> np.uint32(16))) * np.uint32(0x85EBCA6B)
    mixed = (mixed ^ (mixed >> np.uint32(13))) * np.uint32(0xC2B2AE35)
    mixed = mixed ^ (mixed >> np.uint32(16))
    values: np.ndarray = (mixed[:_CHUNK] * a + b).min(axis=0)
    for start in range(_CHUNK, len(mixed), _CHUNK):  # a long story, a chunk at a time: 2 MB, not gigabytes
        values = np.minimum(values, (mixed[start : start + _CHUNK] * a + b).min(axis=0))
    return values


def _compared_text(body: str, headline: str | None) -> str:
    """What copies are compared by: the headline and the body with its dateline left out."""
    text = split_dateline(body)[1]
    return f"{headline}\n{text}" if headline else text


# A figure: digits with their separators and fractions ("1,234.5", "7-1/2", "1986/87", "$5", "-0.3",
# "12%"), once the punctuation around a word is taken off; and the number words wire style spells out.
_FIGURE = re.compile(r"[$£€¥]?[+-]?\d+(?:[.,:/]\d+)*(?:-\d+/\d+)?%?")
_PUNCTUATION = "\"'()[]{}<>.,;:!?*“”‘’«»"
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
)
_TENS = "thirty forty fifty sixty seventy eighty ninety"
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_UNITS.split(" "))} | {
    word: str(value * 10) for value, word in enumerate(_TENS.split(" "), 3)
}


def figures(body: str, headline: str | None = None) -> bytes:
    """The numbers of a story (its dateline left out), each with its context, as sorted 8-byte entries:
    the hash of the words before and after it, then the hash of the number."""
    return _text_figures(_compared_text(body, headline))


def _text_figures(text: str) -> bytes:
    """`figures` of the text copies are compared by (`_compared_text`)."""
    words = fold(text).split()
    # Most words are no number: each word's number ("" for none) comes from a cache, in C, and only the
    # numbers are visited one by one.
    return _figures_at(words, compress(range(len(words)), map(_NUMBERS.__getitem__, words)))


def _figures_at(words: list[str], places: Iterable[int]) -> bytes:
    """`figures` of a text's folded words, given where among them its numbers are."""
    entries = set()
    for at in places:
        before = words[at - 1].strip(_PUNCTUATION) if at else ""
        after = words[at + 1].strip(_PUNCTUATION) if at + 1 < len(words) else ""
        context = zlib.crc32(f"{before}\0{after}".encode())
        entries.add((context << 32) | zlib.crc32(_NUMBERS[words[at]].encode()))
    return b"".join(entry.to_bytes(8, "big") for entry in sorted(entries))


class _Cache(dict[str, Any]):
    """A word → value cache filled by `make` as words are met, emptied when it holds `limit` of them."""

    def __init__(self, make: Any, limit: int = 65_536) -> None:
        super().__init__()
        self._make = make
        self._limit = limit

    def __missing__(self, word: str) -> Any:
        value = self._make(word)
        if len(self) >= self._limit:
            self.clear()
        self[word] = value
        return value


def _number_of(word: str) -> str:
    """The number a word of folded text states ("12,5", "seven" → "7"), or "" for a word that states none."""
    if word.isalpha() and word not in _NUMBER_WORDS:
        return ""
    word = word.strip(_PUNCTUATION)
    number = _NUMBER_WORDS.get(word)
    if number is None and _FIGURE.fullmatch(word):
        number = word
    return number or ""


_NUMBERS = _Cache(_number_of)


def figures_disagree(first: bytes, second: bytes) -> bool:
    """Whether two stories give different numbers in a context both have (see `figures`)."""
    if not first or not second:
        return False
    mine, theirs = _by_context(first), _by_context(second)
    return any(
        mine[context] - theirs[context] and theirs[context] - mine[context] for context in mine.keys() & theirs.keys()
    )


def _by_context(data: bytes) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for start in range(0, len(data), 8):
        entry = int.from_bytes(data[start : start + 8], "big")
        found.setdefault(entry >> 32, set()).add(entry & 0xFFFFFFFF)
    return found


def _affine32_permutations() -> tuple[np.ndarray, np.ndarray]:
    """The NUM_PERM seeded permutations h → a·h + b (mod 2**32), made once: datasketch's for its affine32
    scheme and seed 1 (a test checks), without importing datasketch and the SciPy it pulls in (45 MB
    and a third of a second in the indexing process)."""
    import numpy as np

    global _permutations
    if _permutations is None:
        generator = np.random.RandomState(_SEED)
        odd = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        _permutations = (odd, generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32))
    a, b = _permutations
    return a, b


def band_keys(sig: np.ndarray) -> np.ndarray:
    """The LSH band keys of a signature (uint32: each band's 32-bit hash plus a constant of its band,
    so that equal hashes of different bands mostly differ): stories sharing any one are candidate copies."""

    digests = b"".join(
        hashlib.blake2b(sig[band * ROWS : (band + 1) * ROWS].tobytes(), digest_size=BAND_BYTES).digest()
        for band in range(BANDS)
    )
    return _keys_from_bytes(digests).reshape(BANDS)


def band_bytes(keys: np.ndarray) -> bytes:
    """The band hashes of band keys, as the `dupbands` column holds them."""
    return bytes((keys - _band_offsets()).astype(">u4").tobytes())


def _keys_from_bytes(data: bytes) -> np.ndarray:
    """Band keys, one row of BANDS per story, from stories' `dupbands` values joined."""
    import numpy as np

    keys: np.ndarray = np.frombuffer(data, dtype=">u4").astype(np.uint32).reshape(-1, BANDS) + _band_offsets()
    return keys


@lru_cache(maxsize=1)
def _band_offsets() -> np.ndarray:
    """What each band adds to its hash in a band key (uint32, wrapping): the golden-ratio constant times
    the band's number. A collision across bands makes a candidate that its signature then refutes."""
    import numpy as np

    offsets: np.ndarray = np.arange(BANDS, dtype=np.uint32) * np.uint32(0x9E3779B1)
    return offsets


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal values."""
    return float((first == second).sum()) / NUM_PERM


def new_group(story_id: str, digest: str) -> str:
    """The label of a group founded by this version of a story: never reused by another version."""
    return hashlib.blake2b(f"{story_id}\0{digest}".encode(), digest_size=8).hexdigest()


def _shingle_hashes(text: str) -> np.ndarray | None:
    """The hash of each word 3-shingle of `text`, in order (a shingle met twice is there twice)."""
    import numpy as np

    # Words as whitespace splits them, punctuation attached: str.split is ten times faster than a regex,
    # and a copy keeps its punctuation as it keeps its words.
    words = list(map(_WORD_HASHES.__getitem__, text.lower().split()))
    if not words:
        return None
    return _shingles(np.array(words, dtype=np.uint32))


def _shingles(hashes: np.ndarray) -> np.ndarray:
    """The hashes of the word 3-shingles of a text, given its words' hashes (uint32); a text of fewer words
    is one shingle a word."""
    import numpy as np

    if len(hashes) >= SHINGLE_WORDS:
        # The hash of words (a, b, c) mixes their hashes in order; uint32 arithmetic wraps around.
        mixed = hashes[: len(hashes) - 2] * np.uint32(0x9E3779B1)
        mixed = (mixed ^ hashes[1 : len(hashes) - 1]) * np.uint32(0x85EBCA77)
        hashes = mixed ^ hashes[2:]
    return hashes


def _word_hash(word: str) -> int:
    return zlib.crc32(fold(word).encode("utf-8"))


def _coded_word(word: str) -> int:
    """A word of a lower-cased ASCII text as `_word_hash` gives it, plus 2**32 if it states a number."""
    return zlib.crc32(word.encode("ascii")) | (1 << 32 if _number_of(word) else 0)


# The most frequent words' hashes (a bigger cache costs more memory than it saves time)
_WORD_HASHES = _Cache(_word_hash)
_CODED_WORDS = _Cache(_coded_word, limit=100_000)  # Reuters-21578 NEWID 1-11000 has 76,000 distinct words


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A story a new story may be a copy of: its signature, group, date and figures."""

    story_id: str
    signature: np.ndarray
    group: str
    published: int | None
    figures: bytes


class Grouper:
    """Assigns duplicate groups during one indexing run, against the committed index and the open batch.

    `assign` proposes a story's grouping; `accept` records it once the story is written; `forget` notes
    a story removed; `end_batch` lets go of the batch before it is committed, the next batch then being
    checked against the index as committed.
    """

    def __init__(self, whoosh_index: Any) -> None:
        self._index = whoosh_index
        self.enabled = all(name in whoosh_index.schema for name in FIELDS)  # an index from before: no groups
        self._revisions = REVISES in whoosh_index.schema  # an index from before the field: none stored
        self._reader: Any = None
        self._columns: dict[str, Any] = {}  # column readers of `_reader`, by field
        self._dates: list[tuple[int, int, Any]] | None = None  # (first docnum, stories, dates) by segment
        # The band keys of every story of the index and of the batch, read from the index at the first story
        self._table: _BandTable | None = None
        # The first and last dates of the committed groups of two or more, read at the first copy found
        # (from the index as committed then: this run's earlier batches included, which `_spans` holds too)
        self._committed_spans: _GroupSpans | None = None
        self._spans: dict[str, tuple[int, int]] = {}  # group → its first and last date, for groups grown in this run
        # batch story id → (its row in _signatures, its group, its date, its figures)
        self._pending: dict[str, tuple[int, str, int | None, bytes]] = {}
        self._signatures = _Signatures()  # of the batch's stories
        self._stale: set[str] = set()  # ids whose committed version this batch replaces or removes
        # story digest → its signature and figures
        self._recomputed: OrderedDict[str, tuple[np.ndarray | None, bytes]] = OrderedDict()
        self.recomputed = 0  # signatures of committed stories recomputed in this run (cache misses)

    def assign(
        self, story_id: str, body: str, headline: str | None, digest: str, published: int | None = None
    ) -> Grouping | None:
        """The grouping of this story (`published`: its date in seconds): the group of its most similar
        copy, if the group stays within the window with it and their figures agree, or a new group."""
        if not self.enabled:
            return None
        sig, mine = _signature_and_figures(_compared_text(body, headline))
        if sig is None:
            return Grouping(None, None, new_group(story_id, digest), published)
        keys = band_keys(sig)
        copies: dict[str, list[tuple[float, _Candidate]]] = {}
        for candidate in self._candidates(story_id, keys):
            score = similarity(sig, candidate.signature)
            if score > THRESHOLD - 1e-9:
                copies.setdefault(candidate.group, []).append((score, candidate))
        best, best_score, best_span = None, 0.0, None
        revised, revised_score = None, 0.0
        for group, members in copies.items():
            span = self._group_span(group, [candidate.published for _, candidate in members])
            if published is not None and span is not None:
                span = (min(span[0], published), max(span[1], published))
                if span[1] - span[0] > WINDOW:
                    continue  # a story of another week on the same template, or a re-run
            disagreeing = [(score, other) for score, other in members if figures_disagree(mine, other.figures)]
            top = max(score for score, _ in members)
            if not disagreeing:
                if top > best_score:
                    best, best_score, best_span = group, top, span
                continue
            for score, other in disagreeing:  # other figures: an update of `other`, if it came before
                earlier = published is not None and other.published is not None and other.published <= published
                if earlier and score > revised_score:
                    revised, revised_score = other.story_id, score
        if best is not None:
            return Grouping(sig, keys, best, published, mine, best_span)
        return Grouping(
            sig, keys, new_group(story_id, digest), published, mine, revises=revised if self._revisions else None
        )

    def accept(self, story_id: str, grouping: Grouping | None) -> None:
        """Record a story written in this batch (its committed version, if any, is now stale)."""
        self.forget(story_id)
        if grouping is None or grouping.signature is None or grouping.keys is None:
            return
        row = self._signatures.add(grouping.signature)
        self._pending[story_id] = (row, grouping.group, grouping.published, grouping.figures)
        if grouping.span is not None:
            self._spans[grouping.group] = grouping.span
        self._band_table().add(story_id, grouping.keys)

    def forget(self, story_id: str) -> None:
        """A story removed (or about to be replaced) in this batch is no candidate any more."""
        self._stale.add(story_id)
        self._pending.pop(story_id, None)  # its band keys stay in the table, found and skipped

    def end_batch(self) -> None:
        """The batch is complete and about to be committed: from the next story on, its stories are
        looked up in the index like any committed story (their signatures are let go now, before the
        commit, when the worker processes need the most memory)."""
        self.close()
        self._pending, self._stale = {}, set()
        self._signatures = _Signatures()

    def close(self) -> None:
        """Close the reader of the committed index."""
        if self._reader is not None:
            self._reader.close()
        self._reader = None
        self._columns = {}
        self._dates = None

    def _candidates(self, story_id: str, keys: np.ndarray) -> list[_Candidate]:
        found: list[_Candidate] = []
        for other in self._band_table().owners(keys):
            if other == story_id:
                continue
            pending = self._pending.get(other)
            if pending is not None:
                row, group, published, numbers = pending
                found.append(_Candidate(other, self._signatures[row], group, published, numbers))
            elif other not in self._stale:
                candidate = self._committed_story(other)
                if candidate is not None:
                    found.append(candidate)
        return found

    def _group_span(self, group: str, dates: list[int | None]) -> tuple[int, int] | None:
        """The first and last date of a group's stories (None if none is dated), given the dates of
        those of its stories that are candidates."""
        span = self._spans.get(group)
        if span is None:
            if self._committed_spans is None:  # read when first needed: a run without copies never does
                self._committed_spans = _GroupSpans.load(self._committed_reader())
            span = self._committed_spans.get(group)
        for published in dates:
            if published is not None:
                span = (published, published) if span is None else (min(span[0], published), max(span[1], published))
        return span

    def _band_table(self) -> _BandTable:
        if self._table is None:
            self._table = _BandTable.load(self._committed_reader())
        return self._table

    def _committed_story(self, story_id: str) -> _Candidate | None:
        """A committed story as a candidate (None if it is gone or has no words)."""
        reader = self._committed_reader()
        if ("id", story_id) not in reader:
            return None
        for docnum in reader.postings("id", story_id).all_ids():
            if not reader.is_deleted(docnum):
                sig, numbers = self._committed_signature(reader, docnum)
                if sig is None:
                    return None
                group = self._column("dupgroup")[docnum]
                return _Candidate(story_id, sig, group, self._committed_date(docnum), numbers)
        return None

    def _committed_signature(self, reader: Any, docnum: int) -> tuple[np.ndarray | None, bytes]:
        """The signature and figures of a committed story, recomputed from its stored headline and body
        (and cached)."""
        digest = self._column("digest")[docnum]
        if digest in self._recomputed:
            self._recomputed.move_to_end(digest)
            return self._recomputed[digest]
        story = story_from_stored(reader.stored_fields(docnum))
        found = self._recomputed[digest] = _signature_and_figures(_compared_text(story.body, story.headline))
        self.recomputed += 1
        if len(self._recomputed) > SIGNATURE_CACHE:
            self._recomputed.popitem(last=False)
        return found

    def _committed_date(self, docnum: int) -> int | None:
        """The date of a committed story, in seconds (None without one). Read from its segment: Whoosh
        writes no `published` column in a segment of undated stories, and a reader of several segments
        would then give a story of that segment the date of another's."""
        if self._dates is None:
            self._dates = []
            if "published" in self._committed_reader().schema:
                for leaf, offset in self._committed_reader().leaf_readers():
                    if leaf.has_column("published"):
                        self._dates.append((offset, leaf.doc_count_all(), leaf.column_reader("published")))
        for offset, count, column in self._dates:
            if offset <= docnum < offset + count:
                published = int(column[docnum - offset])
                return None if published == _MISSING_DATE else published
        return None

    def _column(self, name: str) -> Any:
        # Made once per committed reader: opening a column reads the offsets of every story in it.
        column = self._columns.get(name)
        if column is None:
            column = self._columns[name] = self._committed_reader().column_reader(name)
        return column

    def _committed_reader(self) -> Any:
        if self._reader is None:
            self._reader = self._index.reader()
        return self._reader


_MISSING_DATE = -(2**63)  # the `published` column's value for a story without a date (schema.PublishedField)


class _GroupSpans:
    """The first and last date of every committed group of two or more dated stories: the groups'
    labels as 64-bit numbers, sorted, and their dates beside them (24 bytes a group)."""

    def __init__(self, codes: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        self._codes, self._first, self._last = codes, first, last

    @classmethod
    def load(cls, reader: Any) -> _GroupSpans:
        """The spans of the groups of the index as `reader` sees it."""
        import numpy as np

        codes: list[int] = []
        dates: list[int] = []
        if "published" in reader.schema:
            for leaf, _offset in reader.leaf_readers():
                if not (leaf.has_column("dupgroup") and leaf.has_column("published")):
                    continue  # a segment of undated stories has no `published` column
                deleted = leaf.has_deletions()
                columns = zip(leaf.column_reader("dupgroup"), leaf.column_reader("published"), strict=True)
                for docnum, (label, published) in enumerate(columns):
                    if label and published != _MISSING_DATE and not (deleted and leaf.is_deleted(docnum)):
                        codes.append(_label_code(label))
                        dates.append(published)
        code_array = np.array(codes, dtype=np.uint64)
        date_array = np.array(dates, dtype=np.int64)
        if not len(code_array):
            return cls(code_array, date_array, date_array)
        order = np.argsort(code_array, kind="stable")
        code_array, date_array = code_array[order], date_array[order]
        starts = np.flatnonzero(np.concatenate(([True], code_array[1:] != code_array[:-1])))
        several = np.diff(np.append(starts, len(code_array))) > 1
        first = np.minimum.reduceat(date_array, starts)[several]
        last = np.maximum.reduceat(date_array, starts)[several]
        return cls(code_array[starts][several], first, last)

    def get(self, label: str) -> tuple[int, int] | None:
        """The first and last date of this group's committed stories, if it has two or more dated ones."""
        import numpy as np

        code = np.uint64(_label_code(label))
        at = int(self._codes.searchsorted(code))
        if at < len(self._codes) and self._codes[at] == code:
            return int(self._first[at]), int(self._last[at])
        return None


def _label_code(label: str) -> int:
    """A group label as a 64-bit number (labels are 16 hexadecimal digits; anything else is hashed)."""
    if len(label) == 16:
        try:
            return int(label, 16)
        except ValueError:
            pass
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


class _Signatures:
    """The signatures of a batch's stories, in blocks of rows (not an array object each, and never
    copied to grow: a batch of 50,000 holds 25 MB of them)."""

    _BLOCK_ROWS = 4096

    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._count = 0

    def add(self, sig: np.ndarray) -> int:
        """Keep `sig`; its row."""
        import numpy as np

        block, at = divmod(self._count, self._BLOCK_ROWS)
        if block == len(self._blocks):
            self._blocks.append(np.empty((self._BLOCK_ROWS, NUM_PERM), dtype=np.uint32))
        self._blocks[block][at] = sig
        self._count += 1
        return self._count - 1

    def __getitem__(self, row: int) -> np.ndarray:
        block, at = divmod(row, self._BLOCK_ROWS)
        sig: np.ndarray = self._blocks[block][at]
        return sig


class _BandTable:
    """Every band key of the stories of the index and of the batch, with its story's id, for lookup.

    A key and its owner (a number into `_ids`) are one uint64, key in the high half, so a sorted array
    of them finds a key's owners by binary search: 8 bytes a key, 96 a story, and each story's id once.
    The newest stories' keys wait in a dictionary, sealed into the last sorted run every
    `_SEAL_STORIES` stories; a run that reaches `_RUN_KEYS` keys is left alone, and the next starts.
    So no sorted run is ever copied whole to make room, and a lookup searches a handful of runs.
    """

    _SEAL_STORIES = 2048
    _RUN_KEYS = 1 << 20

    def __init__(self) -> None:
        self._ids = Strings()
        self._runs: list[np.ndarray] = []  # sorted uint64: key << 32 | owner
        self._recent: dict[int, int | list[int]] = {}  # key → owner(s), for the stories not yet sealed
        self._recent_stories = 0

    @classmethod
    def load(cls, reader: Any) -> _BandTable:
        """The band keys of the stories of the index as `reader` sees it."""
        import numpy as np

        table = cls()
        leaves = [leaf for leaf, _offset in reader.leaf_readers() if leaf.has_column("dupbands")]
        run = np.empty(sum(leaf.doc_count_all() for leaf in leaves) * BANDS, dtype=np.uint64)
        filled = 0
        for leaf in leaves:
            deleted = leaf.has_deletions()
            first, values = len(table._ids), bytearray()
            columns = zip(leaf.column_reader("id"), leaf.column_reader("dupbands"), strict=True)
            for docnum, (story_id, value) in enumerate(columns):
                if len(value) == BANDS * BAND_BYTES and not (deleted and leaf.is_deleted(docnum)):
                    table._ids.append(story_id)
                    values += value
            owners = np.repeat(np.arange(first, len(table._ids), dtype=np.uint64), BANDS)
            keys = _keys_from_bytes(bytes(values)).reshape(-1).astype(np.uint64)
            run[filled : filled + len(keys)] = (keys << np.uint64(32)) | owners
            filled += len(keys)
        if filled:
            run = run[:filled]
            run.sort()
            table._runs.append(run)
        return table

    def add(self, story_id: str, keys: np.ndarray) -> None:
        """Add a story with its BANDS band keys."""
        owner = self._ids.append(story_id)
        recent = self._recent
        for key in keys.tolist():
            held = recent.get(key)
            if held is None:
                recent[key] = owner
            elif isinstance(held, list):
                held.append(owner)
            else:
                recent[key] = [held, owner]
        self._recent_stories += 1
        if self._recent_stories >= self._SEAL_STORIES:
            self._seal()

    def owners(self, keys: np.ndarray) -> list[str]:
        """The ids of the stories with any of these band keys, each once, in the order added."""
        import numpy as np

        owners: set[int] = set()
        for key in keys.tolist():
            held = self._recent.get(key)
            if held is not None:
                owners.update((held,) if isinstance(held, int) else held)
        low = keys.astype(np.uint64) << np.uint64(32)
        high = low | np.uint64(0xFFFFFFFF)
        for run in self._runs:
            starts = run.searchsorted(low, side="left")
            ends = run.searchsorted(high, side="right")
            for found in np.flatnonzero(ends > starts).tolist():
                owners.update((run[starts[found] : ends[found]] & np.uint64(0xFFFFFFFF)).tolist())
        return list(dict.fromkeys(self._ids[owner] for owner in sorted(owners)))

    def _seal(self) -> None:
        """Sort the recent stories' keys into the last run (or a new one, if it is full)."""
        import numpy as np

        entries = [(key << 32) | owner for key, held in self._recent.items() for owner in _each(held)]
        sealed = np.array(entries, dtype=np.uint64)
        sealed.sort()
        if self._runs and len(self._runs[-1]) < self._RUN_KEYS:
            last = self._runs.pop()
            sealed = np.insert(last, last.searchsorted(sealed), sealed)
        self._runs.append(sealed)
        self._recent, self._recent_stories = {}, 0


def _each(held: int | list[int]) -> list[int]:
    return [held] if isinstance(held, int) else held
