"""What an indexing run keeps in memory for every story: compact, because a corpus can be millions.

An incremental run asks of every story it reads "is this id indexed, with which digest, from which
input file and stamp?", warns when an id comes twice, prunes stories whose files are gone and checks
the count at the end. As dictionaries of strings and small objects that cost 286 bytes a story (136 MiB
at 500,000 stories, measured); a `Catalogue` keeps the same in typed arrays, about 70 bytes a story
with ids of 20 characters:

- `Strings`: texts (story ids) as UTF-8 end to end in one buffer, with the end of each;
- `Catalogue`: one row per story ever met in the run: its id (a `Strings` entry), its 16-byte digest,
  its input (a number into a small table of (path, stamp) pairs, one per input file, not per story)
  and the input it was met in during this run. An id is found through a sorted array of id hashes,
  the newest rows through a dictionary until they are sorted in.

Whoosh docnums are not used: they move when segments merge.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

DIGEST_BYTES = 16  # newsindex.store.schema.record_digest: a 32-digit hex string
_NO_DIGEST = bytes(DIGEST_BYTES)  # held for a digest of another form (an index from before digests)
_GONE = 0xFFFFFFFF  # the input of a row whose story was removed
_SORT_EVERY = 4096  # rows found through the dictionary before they are sorted into the arrays
_id_hash = hash  # of an id, for the sorted array: equal hashes of different ids are told apart by the id


class Strings:
    """Texts stored end to end as UTF-8: about their length in memory, not 50 bytes more each."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")

    def append(self, text: str) -> int:
        """Store `text`; its number."""
        self._data += text.encode("utf-8")
        self._ends.append(len(self._data))
        return len(self._ends) - 1

    def __getitem__(self, number: int) -> str:
        start = self._ends[number - 1] if number else 0
        return self._data[start : self._ends[number]].decode("utf-8")

    def __len__(self) -> int:
        return len(self._ends)


class Catalogue:
    """The stories of the index as an indexing run knows them, row by row (see the module docstring)."""

    def __init__(self) -> None:
        import numpy as np

        self._ids = Strings()
        self._hashes = array("q")  # hash(id) of each row
        self._digests = bytearray()  # DIGEST_BYTES a row
        self._inputs = array("I")  # each row's input (a number into `_input_keys`), or _GONE
        self._met = array("I")  # the input a row's id was met in during this run, plus one; 0 if not met
        self._input_keys: list[tuple[str | None, str | None]] = []  # (path, stamp) of each input number
        self._input_numbers: dict[tuple[str | None, str | None], int] = {}
        self._sorted_hashes = np.empty(0, dtype=np.int64)
        self._sorted_rows = np.empty(0, dtype=np.uint32)
        self._unsorted: dict[str, int] = {}  # id → row, for rows not yet in the sorted arrays
        self._live = 0
        # The rows held at `load`, by input: rows of input n are _load_order[_load_starts[n]:_load_starts[n + 1]]
        self._load_order: Any = np.empty(0, dtype=np.uint32)
        self._load_starts: Any = np.zeros(1, dtype=np.int64)
        self._loaded_inputs_of_path: dict[str, list[int]] = {}

    @classmethod
    def load(cls, reader: Any) -> Catalogue:
        """The live stories a Whoosh reader holds, with their id, digest, stamp and path columns."""
        catalogue = cls()
        for leaf, _offset in reader.leaf_readers():
            columns = [_column(leaf, name) for name in ("id", "digest", "stamp", "path")]
            deleted = leaf.is_deleted if leaf.has_deletions() else None
            for docnum in range(leaf.doc_count_all()):
                if deleted is None or not deleted(docnum):
                    story_id, digest, stamp, path = (column[docnum] for column in columns)
                    catalogue._append(story_id, digest, path or None, stamp or None)
        catalogue._sort_all()
        catalogue._index_inputs()
        return catalogue

    def __len__(self) -> int:
        """How many stories the rows hold (removed ones not counted)."""
        return self._live

    def find(self, story_id: str) -> int | None:
        """The row of `story_id`, if it was ever held or met in this run (removed rows included)."""
        row = self._unsorted.get(story_id)
        if row is not None:
            return row
        key = _id_hash(story_id)
        start = int(self._sorted_hashes.searchsorted(key))
        while start < len(self._sorted_hashes) and self._sorted_hashes[start] == key:
            row = int(self._sorted_rows[start])
            if self._ids[row] == story_id:
                return row
            start += 1
        return None

    def add(self, story_id: str, digest: str, path: str | None, stamp: str | None) -> int:
        """A new row for a story held by the index (`story_id` has none yet); its number."""
        row = self._append(story_id, digest, path, stamp)
        self._unsorted[story_id] = row
        if len(self._unsorted) >= _SORT_EVERY:
            self._sort()
        return row

    def _append(self, story_id: str, digest: str, path: str | None, stamp: str | None) -> int:
        row = self._ids.append(story_id)
        self._hashes.append(_id_hash(story_id))
        self._digests += _digest_bytes(digest) or _NO_DIGEST
        self._inputs.append(self._input_number(path, stamp))
        self._met.append(0)
        self._live += 1
        return row

    def update(self, row: int, digest: str, path: str | None, stamp: str | None) -> None:
        """The index holds a new version of the story of `row` (or holds it again, after `remove`)."""
        if self._inputs[row] == _GONE:
            self._live += 1
        self._digests[row * DIGEST_BYTES : (row + 1) * DIGEST_BYTES] = _digest_bytes(digest) or _NO_DIGEST
        self._inputs[row] = self._input_number(path, stamp)

    def remove(self, row: int) -> None:
        """The index no longer holds the story of `row` (the row stays, for `met_in`)."""
        if self._inputs[row] != _GONE:
            self._inputs[row] = _GONE
            self._live -= 1

    def story_id(self, row: int) -> str:
        return self._ids[row]

    def is_held(self, row: int) -> bool:
        """Whether the index holds the story of `row`."""
        return self._inputs[row] != _GONE

    def is_unchanged(self, row: int, digest: str, stamp: str | None) -> bool:
        """Whether the index holds this story with this digest, read from an input with this stamp."""
        number = self._inputs[row]
        return number != _GONE and self._input_keys[number][1] == stamp and self.has_digest(row, digest)

    def has_digest(self, row: int, digest: str) -> bool:
        """Whether the index holds the story of `row` with this digest (whatever its stamp)."""
        wanted = _digest_bytes(digest)
        held = self._digests[row * DIGEST_BYTES : (row + 1) * DIGEST_BYTES]
        return wanted is not None and self.is_held(row) and held == wanted

    def path(self, row: int) -> str | None:
        """The input path the held story of `row` was read from (None if none, or not held)."""
        number = self._inputs[row]
        return None if number == _GONE else self._input_keys[number][0]

    # -- this run ----------------------------------------------------------------------------------

    def meet(self, row: int, path: str | None, stamp: str | None) -> None:
        """Note that the story of `row` was met in this run, in the input `path` (with `stamp`)."""
        self._met[row] = self._input_number(path, stamp) + 1

    def met_in(self, row: int) -> tuple[bool, str | None]:
        """Whether the story of `row` was met in this run, and in which input path."""
        number = self._met[row]
        return (False, None) if not number else (True, self._input_keys[number - 1][0])

    def is_unchanged_input(self, path: str, stamp: str) -> bool:
        """Whether every story the index held from input `path` at `load` was read with this stamp."""
        numbers = self._loaded_inputs_of_path.get(path, ())
        return bool(numbers) and all(self._input_keys[number][1] == stamp for number in numbers)

    def meet_input(self, path: str, stamp: str) -> int:
        """Note every story loaded from input `path` as met in this run (in it, with `stamp`); how many
        were not met before."""
        met = self._input_number(path, stamp) + 1
        fresh = 0
        for number in self._loaded_inputs_of_path.get(path, ()):
            for row in self._load_order[self._load_starts[number] : self._load_starts[number + 1]].tolist():
                if not self._met[row]:
                    self._met[row] = met
                    fresh += 1
        return fresh

    def unmet(self) -> Iterator[tuple[int, str | None]]:
        """(row, path) of every held story not met in this run."""
        import numpy as np

        inputs = np.frombuffer(self._inputs, dtype=np.uint32)
        met = np.frombuffer(self._met, dtype=np.uint32)
        for row in np.flatnonzero((inputs != _GONE) & (met == 0)).tolist():
            yield row, self._input_keys[inputs[row]][0]

    # -- helpers --------------------------------------------------------------------------------

    def _input_number(self, path: str | None, stamp: str | None) -> int:
        key = (path, stamp)
        number = self._input_numbers.get(key)
        if number is None:
            number = self._input_numbers[key] = len(self._input_keys)
            self._input_keys.append(key)
        return number

    def _index_inputs(self) -> None:
        """Group the rows loaded from the index by input (for `is_unchanged_input` and `meet_input`)."""
        import numpy as np

        inputs = np.frombuffer(self._inputs, dtype=np.uint32)
        self._load_order = np.argsort(inputs, kind="stable").astype(np.uint32)
        self._load_starts = np.searchsorted(inputs[self._load_order], np.arange(len(self._input_keys) + 1))
        for number, (path, _stamp) in enumerate(self._input_keys):
            if path:
                self._loaded_inputs_of_path.setdefault(path, []).append(number)

    def _sort_all(self) -> None:
        import numpy as np

        hashes = np.frombuffer(self._hashes, dtype=np.int64)
        self._sorted_rows = np.argsort(hashes, kind="stable").astype(np.uint32)
        self._sorted_hashes = hashes[self._sorted_rows]
        self._unsorted = {}

    def _sort(self) -> None:
        """Move the rows found through the dictionary into the sorted arrays."""
        import numpy as np

        rows = np.fromiter(self._unsorted.values(), dtype=np.uint32, count=len(self._unsorted))
        hashes = np.frombuffer(self._hashes, dtype=np.int64)[rows]
        order = np.argsort(hashes, kind="stable")
        hashes, rows = hashes[order], rows[order]
        at = self._sorted_hashes.searchsorted(hashes)
        self._sorted_hashes = np.insert(self._sorted_hashes, at, hashes)
        self._sorted_rows = np.insert(self._sorted_rows, at, rows)
        self._unsorted = {}


def _digest_bytes(digest: str) -> bytes | None:
    """The bytes of a digest; None for one of another form, which equals no digest."""
    if len(digest) != 2 * DIGEST_BYTES:
        return None
    try:
        return bytes.fromhex(digest)
    except ValueError:
        return None


def _column(reader: Any, name: str) -> Any:
    if not reader.has_column(name):
        return _Blank()
    return reader.column_reader(name)


class _Blank:
    def __getitem__(self, _docnum: int) -> str:
        return ""
