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

Band parameters: with r = 4 rows per band and b = 12 bands, a pair with Jaccard 0.8 becomes a candidate
with probability 1 - (1 - 0.8^4)^12 = 0.998, at the threshold 0.7 with 0.96, at 0.5 with 0.54 and at
0.05 (unrelated stories sharing a few phrases) with 0.00008: nearly every copy is found, and the extra
candidates cost one comparison of signatures each (a committed one also its recomputation).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from newsindex.catalogue import Strings
from newsindex.dateline import split_dateline
from newsindex.schema import fold, story_from_stored

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

    def fields(self) -> dict[str, Any]:
        """The index fields of this grouping."""
        return {"dupbands": b"" if self.keys is None else band_bytes(self.keys), "dupgroup": self.group}


def signature(body: str, headline: str | None = None) -> np.ndarray | None:
    """The MinHash signature of the word 3-shingles of a story's headline and body (its dateline left out);
    None without words."""
    text = split_dateline(body)[1]
    hashes = _shingle_hashes(f"{headline}\n{text}" if headline else text)
    if hashes is None:
        return None
    import numpy as np

    a, b = _affine32_permutations()
    # datasketch's MinHash.update_batch for its affine32 scheme (a test checks the values are the same),
    # without its per-call set-up and its Python loop over the hashes: MurmurHash3's 32-bit finaliser,
    # then the smallest a·h + b (mod 2**32) of each permutation.
    mixed = hashes.reshape(-1, 1)
    mixed = (mixed ^ (mixed >> np.uint32(16))) * np.uint32(0x85EBCA6B)
    mixed = (mixed ^ (mixed >> np.uint32(13))) * np.uint32(0xC2B2AE35)
    mixed = mixed ^ (mixed >> np.uint32(16))
    values: np.ndarray = (mixed[:_CHUNK] * a + b).min(axis=0)
    for start in range(_CHUNK, len(mixed), _CHUNK):  # a long story, a chunk at a time: 2 MB, not gigabytes
        values = np.minimum(values, (mixed[start : start + _CHUNK] * a + b).min(axis=0))
    return values


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
    import numpy as np

    # Words as whitespace splits them, punctuation attached: str.split is ten times faster than a regex,
    # and a copy keeps its punctuation as it keeps its words.
    words = list(map(_word_hash, text.lower().split()))
    if not words:
        return None
    hashes = np.array(words, dtype=np.uint32)
    if len(hashes) >= SHINGLE_WORDS:
        # The hash of words (a, b, c) mixes their hashes in order; uint32 arithmetic wraps around.
        mixed = hashes[: len(hashes) - 2] * np.uint32(0x9E3779B1)
        mixed = (mixed ^ hashes[1 : len(hashes) - 1]) * np.uint32(0x85EBCA77)
        hashes = mixed ^ hashes[2:]
    return np.unique(hashes)


@lru_cache(maxsize=65_536)  # the most frequent words: a bigger cache costs more memory than it saves time
def _word_hash(word: str) -> int:
    return zlib.crc32(fold(word).encode("utf-8"))


class Grouper:
    """Assigns duplicate groups during one indexing run, against the committed index and the open batch.

    `assign` proposes a story's grouping; `accept` records it once the story is written; `forget` notes
    a story removed; `end_batch` lets go of the batch before it is committed, the next batch then being
    checked against the index as committed.
    """

    def __init__(self, whoosh_index: Any) -> None:
        self._index = whoosh_index
        self.enabled = all(name in whoosh_index.schema for name in FIELDS)  # an index from before: no groups
        self._reader: Any = None
        self._columns: dict[str, Any] = {}  # column readers of `_reader`, by field
        # The band keys of every story of the index and of the batch, read from the index at the first story
        self._table: _BandTable | None = None
        self._pending: dict[str, tuple[int, str]] = {}  # batch story id → (its row in _signatures, its group)
        self._signatures = _Signatures()  # of the batch's stories
        self._stale: set[str] = set()  # ids whose committed version this batch replaces or removes
        self._recomputed: OrderedDict[str, np.ndarray | None] = OrderedDict()  # story digest → signature
        self.recomputed = 0  # signatures of committed stories recomputed in this run (cache misses)

    def assign(self, story_id: str, body: str, headline: str | None, digest: str) -> Grouping | None:
        """The grouping of this story: the group of its most similar copy, or a new group."""
        if not self.enabled:
            return None
        sig = signature(body, headline)
        if sig is None:
            return Grouping(None, None, new_group(story_id, digest))
        keys = band_keys(sig)
        best, best_score = None, THRESHOLD - 1e-9
        for other_sig, group in self._candidates(story_id, keys):
            score = similarity(sig, other_sig)
            if score > best_score:
                best, best_score = group, score
        return Grouping(sig, keys, best or new_group(story_id, digest))

    def accept(self, story_id: str, grouping: Grouping | None) -> None:
        """Record a story written in this batch (its committed version, if any, is now stale)."""
        self.forget(story_id)
        if grouping is None or grouping.signature is None or grouping.keys is None:
            return
        self._pending[story_id] = (self._signatures.add(grouping.signature), grouping.group)
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

    def _candidates(self, story_id: str, keys: np.ndarray) -> list[tuple[np.ndarray, str]]:
        found: list[tuple[np.ndarray, str]] = []
        for other in self._band_table().owners(keys):
            if other == story_id:
                continue
            pending = self._pending.get(other)
            if pending is not None:
                found.append((self._signatures[pending[0]], pending[1]))
            elif other not in self._stale:
                candidate = self._committed_story(other)
                if candidate is not None:
                    found.append(candidate)
        return found

    def _band_table(self) -> _BandTable:
        if self._table is None:
            self._table = _BandTable.load(self._committed_reader())
        return self._table

    def _committed_story(self, story_id: str) -> tuple[np.ndarray, str] | None:
        """The signature and group of a committed story (None if it is gone or has no words)."""
        reader = self._committed_reader()
        if ("id", story_id) not in reader:
            return None
        for docnum in reader.postings("id", story_id).all_ids():
            if not reader.is_deleted(docnum):
                sig = self._committed_signature(reader, docnum)
                return None if sig is None else (sig, self._column("dupgroup")[docnum])
        return None

    def _committed_signature(self, reader: Any, docnum: int) -> np.ndarray | None:
        """The signature of a committed story, recomputed from its stored headline and body (and cached)."""
        digest = self._column("digest")[docnum]
        if digest in self._recomputed:
            self._recomputed.move_to_end(digest)
            return self._recomputed[digest]
        story = story_from_stored(reader.stored_fields(docnum))
        sig = signature(story.body, story.headline)
        self.recomputed += 1
        self._recomputed[digest] = sig
        if len(self._recomputed) > SIGNATURE_CACHE:
            self._recomputed.popitem(last=False)
        return sig

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
