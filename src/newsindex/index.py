"""NewsIndex: create, open, add, search, get — the facade over a Whoosh index folder."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import struct
import threading
import time
import uuid
import weakref
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from whoosh import query as query_module
from whoosh.collectors import FilterCollector, WrappingCollector
from whoosh.index import FileIndex
from whoosh.searching import Searcher, TimeLimit

from newsindex import expansion
from newsindex.collapsing import Folded, story_groups
from newsindex.dateindex import AllowedOnly, allowed_by_segment, date_filter, live_dates
from newsindex.dates import DateError, from_seconds, parse_bound, parse_since, to_seconds
from newsindex.errors import (
    IndexDamagedError,
    IndexMissingError,
    NewsIndexError,
    QueryError,
    QueryRejectedError,
    StoryNotFoundError,
    UsageError,
)
from newsindex.expansion import expanded_plan, feedback_share, feedback_weights, relevance_model
from newsindex.facets import check_facets, count_days, count_facets, seconds_to_day
from newsindex.facets import posting_docnums as _posting_docnums
from newsindex.indexer import Indexer, write_lock
from newsindex.models import CheckReport, Hit, IndexReport, IndexStats, Problem, SearchResults, Story
from newsindex.query import SEARCH_SECONDS, QueryPlan, check_expansion, parse_query
from newsindex.ranking import Recency, check_half_life, weighting
from newsindex.readers import read_source
from newsindex.schema import SCHEMA_VERSION, PublishedField, build_schema, index_words, story_from_stored
from newsindex.snippets import snippet
from newsindex.sources import find_sources, roots
from newsindex.storage import (
    DurableStorage,
    check_trusted,
    damaged_files,
    make_private,
    read_checksums,
    record_checksums,
    sync_folder,
)
from newsindex.suggest import suggest
from newsindex.timeline import Timeline, build_timeline, check_period, day_to_date

MANIFEST = "newsindex.json"
_READ_ATTEMPTS = 4
_T = TypeVar("_T")
# What reading a damaged file raises inside Whoosh (decompression, unpacking, unpickling, decoding).
_DAMAGE = (zlib.error, struct.error, EOFError, pickle.UnpicklingError, UnicodeDecodeError)
Sort = Literal["relevance", "date", "-date"]
SORTS: tuple[str, ...] = ("relevance", "date", "-date")
MAX_LIMIT = 1000
SELECTIVE_FILTER = 10  # a filter passing at most 1/10 of the stories is applied inside the matcher
PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this much input, starting worker processes costs more than it saves


class NewsIndex:
    """A searchable collection of news stories in one folder; safe to share between threads."""

    def __init__(
        self, path: Path, whoosh_ix: Any, manifest: dict[str, Any], *, other_live: frozenset[str] = frozenset()
    ) -> None:
        self._path = path
        self._whoosh = whoosh_ix
        self._schema = whoosh_ix.schema  # fixed at creation; Whoosh would re-read the TOC for it each time
        self._manifest = manifest
        self._manifest_stamp = 0  # the manifest's mtime when last read by _follow_rebuild
        self._other_live = other_live  # during a rebuild, the index being replaced
        # One Whoosh searcher per thread (a searcher is not safe to share), kept between calls because
        # opening one costs more than most searches; each is refreshed when a commit lands.
        self._local = threading.local()
        self._searchers = _Searchers()
        weakref.finalize(self, self._searchers.close_all)  # files closed even if close() never is

    # -- opening ------------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False, fsync: bool = True) -> NewsIndex:
        """Make a new empty index in folder `path` (created if needed); UsageError if one is there.

        With `fsync=False` commits are not forced to disk: faster, for throwaway indexes only.
        """
        folder = Path(path)
        old = _read_manifest(folder)
        if old is not None and not overwrite:
            raise UsageError(f"an index already exists at {folder}: open it, or rebuild it with --rebuild")
        folder.mkdir(parents=True, exist_ok=True)
        make_private(folder)
        name = _new_index_name()
        manifest = {"format": "newsindex", "schema_version": SCHEMA_VERSION, "index_name": name}
        whoosh_ix = _create_whoosh(folder, name, fsync=fsync)
        _write_manifest(folder, manifest)
        if old is not None:
            _remove_whoosh_files(folder, old["index_name"])
        return cls(folder, whoosh_ix, manifest)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True) -> NewsIndex:
        """Open the index in folder `path`: IndexMissingError if there is none, IndexDamagedError if unreadable."""
        folder = Path(path)
        manifest = _read_manifest(folder)
        if manifest is None:
            raise IndexMissingError(f"no index at {folder}: build one with `newsindex index CORPUS --index {folder}`")
        check_trusted(folder)  # before Whoosh unpickles anything
        problems = damaged_files(folder, manifest["index_name"])
        if problems:
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise IndexDamagedError(
                f"index at {folder} is damaged: {problems[0]}{more}; "
                f"rebuild it with `newsindex index --rebuild CORPUS --index {folder}`"
            )
        try:
            whoosh_ix = FileIndex(DurableStorage(str(folder), fsync=fsync), indexname=manifest["index_name"])
        except Exception as error:
            raise IndexDamagedError(
                f"index at {folder} cannot be opened ({type(error).__name__}: {error}); "
                f"rebuild it with `newsindex index --rebuild CORPUS --index {folder}`"
            ) from error
        return cls(folder, whoosh_ix, manifest)

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str], *, fsync: bool = True) -> NewsIndex:
        """Open the index in `path`, or make an empty one there if there is none."""
        if _read_manifest(Path(path)) is None:
            return cls.create(path, fsync=fsync)
        return cls.open(path, fsync=fsync)

    @classmethod
    def check(cls, path: str | os.PathLike[str]) -> CheckReport:
        """Verify an index in full: every file against its checksum, then every segment read through.

        Works on an index that `open` refuses; IndexMissingError if there is none.
        """
        folder = Path(path)
        manifest = _read_manifest(folder)
        if manifest is None:
            raise IndexMissingError(f"no index at {folder}")
        check_trusted(folder)
        name = manifest["index_name"]
        problems = damaged_files(folder, name, full=True)
        record = read_checksums(folder, name) or {"files": {}}
        stories = 0
        if not problems:
            try:
                news = cls.open(folder, fsync=False)
                stories = news.count()
                with news._searcher() as searcher:
                    problems += _read_through(searcher)
                news.close()
            except NewsIndexError as error:
                problems.append(str(error))
        sizes = [info["size"] for info in record["files"].values()]
        return CheckReport(stories=stories, files=len(sizes), bytes=sum(sizes), problems=tuple(problems))

    @property
    def path(self) -> Path:
        """The index folder."""
        return self._path

    def __enter__(self) -> NewsIndex:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the index's open files; a later call on this object opens them again."""
        self._searchers.close_all()
        self._whoosh.close()

    # -- writing ------------------------------------------------------------------------------------

    def add(
        self,
        stories: Iterable[Story],
        *,
        lock_timeout: float = 30.0,
        on_story: Callable[[Story], None] | None = None,
    ) -> IndexReport:
        """Add stories, replacing changed ones with the same id and skipping unchanged ones."""
        with Indexer(
            self._whoosh, lock_timeout=lock_timeout, on_story=on_story, other_live=self._other_live
        ) as indexer:
            for story in stories:
                indexer.put(story)
        return indexer.report

    def add_files(
        self,
        paths: Sequence[str],
        *,
        format: str | None = None,
        prune: bool = False,
        procs: int | None = None,
        lock_timeout: float = 30.0,
        on_file: Callable[[int, int], None] | None = None,
        on_story: Callable[[Story], None] | None = None,
    ) -> IndexReport:
        """Index files, folders and globs incrementally: new and changed stories are written, unchanged skipped.

        With `prune`, stories once read from files under `paths` that are gone now are removed.
        `procs` worker processes analyse the stories (default: every core when there is much to read).
        `on_file(done, total)` reports progress through the input files.
        """
        problems: list[Problem] = []
        sources = list(find_sources(paths, format=format, on_problem=problems.append))
        if procs is None:
            size = sum(source.size or PARALLEL_MIN_BYTES for source in sources)
            procs = (os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 1
        with Indexer(
            self._whoosh, lock_timeout=lock_timeout, on_story=on_story, procs=procs, other_live=self._other_live
        ) as indexer:
            indexer.report.problems = problems
            for done, source in enumerate(sources, start=1):
                if indexer.begin_file(source.path, source.stamp):
                    for story in read_source(source, on_problem=problems.append):
                        indexer.put(story, stamp=source.stamp)
                if on_file:
                    on_file(done, len(sources))
            if prune:
                indexer.prune(roots(paths))
        return indexer.report

    # -- reading ------------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        start: str | date | None = None,
        end: str | date | None = None,
        bylines: Iterable[str] = (),
        location: str | None = None,
        source: str | None = None,
        require_all: bool = False,
        sort: Sort = "relevance",
        limit: int = 10,
        page: int = 1,
        plain: bool = False,
        fuzzy: bool = False,
        since: str | None = None,
        expand: bool = False,
        recency_half_life: float | None = None,
        facets: Iterable[str] = (),
        facet_top: int = 10,
        all_versions: bool = False,
    ) -> SearchResults:
        """The stories best matching `text`, one page of them, best first (or by date with `sort`).

        `start` and `end` are inclusive and may be partial: end="2019-10" includes all of October 2019.
        Stories matching every word rank above stories matching only some; `require_all` drops the latter.
        `plain` reads `text` as words only (no syntax, never an error but for having no word), `fuzzy` lets
        every word match near spellings, `since` ("7d", "2w", "3m", "1y") keeps stories from that long ago on.
        When few stories match and a word is unknown, `suggestion` is the query with that word corrected.
        `expand` adds words of the best stories to the query (pseudo-relevance feedback, see
        newsindex.expansion); `recency_half_life` (days) halves a story's relevance for every that many
        days it is older than the newest story (see newsindex.ranking). Both change relevance order only.
        `facets` (bylines, location, source, year, month) counts every matching story, not just the page's:
        the `facet_top` most frequent names, every year or month with stories.
        Copies of one story (a duplicate group) show as one hit, its best, with the others' ids in
        `Hit.duplicates`, and `total` counts groups; `all_versions` shows and counts every story.
        """
        started = time.perf_counter()
        check_half_life(recency_half_life)
        scoring = _Scoring(expand, require_all, recency_half_life)
        if sort not in SORTS:
            raise UsageError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if page < 1:
            raise UsageError(f"page must be 1 or more, not {page}")
        wanted = check_facets(facets, facet_top)
        plan = self._plan(
            text, start, end, bylines, location, source, require_all, plain=plain, fuzzy=fuzzy, since=since
        )
        order = "-date" if sort == "relevance" and not plan.has_words else sort  # nothing to rank by: newest first

        def work(
            searcher: Searcher,
        ) -> tuple[int, tuple[Hit, ...], dict[str, tuple[tuple[str, int], ...]], str | None]:
            total, matching, hits = _page(searcher, plan, order, limit, page, scoring, all_versions)
            counted = count_facets(searcher, matching, wanted, facet_top) if wanted else {}
            return total, hits, counted, suggest(searcher, plan, total) if text.strip() else None

        total, hits, counted, suggestion = self._reading(work)  # one snapshot of the index for all of it
        took_ms = (time.perf_counter() - started) * 1000
        return SearchResults(
            query=text,
            total=total,
            hits=hits,
            page=page,
            limit=limit,
            took_ms=took_ms,
            suggestion=suggestion,
            facets=counted,
        )

    def rank(
        self,
        text: str,
        *,
        require_all: bool = False,
        limit: int = 10,
        plain: bool = False,
        expand: bool = False,
        recency_half_life: float | None = None,
    ) -> list[tuple[str, float]]:
        """The ids and scores of the best `limit` stories for `text`, best first, as `search` ranks them.

        No story is read and no snippet made: the fast path for batch runs and evaluations.
        """
        check_half_life(recency_half_life)
        scoring = _Scoring(expand, require_all, recency_half_life)
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        plan = self._plan(text, None, None, (), None, None, require_all, plain=plain)
        order = "relevance" if plan.has_words else "-date"

        def ids(searcher: Searcher) -> list[tuple[str, float]]:
            _, ranking = _ranking(searcher, plan, order, scoring)
            return [(searcher.stored_fields(docnum)["id"], score) for docnum, score in ranking(limit)]

        return self._reading(ids)

    def timeline(
        self,
        queries: str | Sequence[str],
        *,
        by: str = "year",
        start: str | date | None = None,
        end: str | date | None = None,
        bylines: Iterable[str] = (),
        location: str | None = None,
        source: str | None = None,
        require_all: bool = False,
        plain: bool = False,
        fuzzy: bool = False,
        since: str | None = None,
    ) -> Timeline:
        """Stories matching each query per day, ISO week, month or year: one series per query.

        Every period from `start` to `end` is listed, zeros included (by default from the earliest to the
        latest matching story); matching stories without a date are counted apart, in `Series.undated`.
        The other arguments are those of `search`; an empty query with no filter counts every story.
        """
        period = check_period(by)
        texts = (queries,) if isinstance(queries, str) else tuple(queries)
        if not texts:
            raise UsageError("give at least one query for the timeline")
        bylines = tuple(name for name in _names(bylines) if name.strip())
        everything = QueryPlan("", query_module.Every(), None, (), None, None, has_words=False)
        plans = [
            everything
            if not (text.strip() or start or end or since or bylines or location or source)
            else self._plan(
                text, start, end, bylines, location, source, require_all, plain=plain, fuzzy=fuzzy, since=since
            )
            for text in texts
        ]

        def work(searcher: Searcher) -> list[tuple[Counter[int], int]]:
            # Matched without their date range, so that undated stories are counted too; the range bounds the periods.
            undated_too = [dataclasses.replace(plan, start=None, end=None) for plan in plans]
            return [count_days(searcher, _every_match(searcher, plan)) for plan in undated_too]

        counted = []
        for text, plan, (per_day, undated) in zip(texts, plans, self._reading(work), strict=True):
            if plan.start is not None or plan.end is not None:  # this query's own range (`date:` in its text)
                low = -(2**31) if plan.start is None else seconds_to_day(plan.start)
                high = 2**31 if plan.end is None else seconds_to_day(plan.end)
                per_day = Counter({day: count for day, count in per_day.items() if low <= day <= high})
            counted.append((text, per_day, undated))
        starts = [plan.start for plan in plans if plan.start is not None]
        ends = [plan.end for plan in plans if plan.end is not None]
        first = seconds_to_day(min(starts)) if len(starts) == len(plans) else None
        last = seconds_to_day(max(ends)) if len(ends) == len(plans) else None
        if first is not None and last is not None and first > last:
            raise UsageError(
                f"the timeline starts ({day_to_date(first)}) after it ends ({day_to_date(last)}): swap the dates"
            )
        return build_timeline(period, counted, first, last)

    def stories(
        self,
        text: str = "",
        *,
        start: str | date | None = None,
        end: str | date | None = None,
        bylines: Iterable[str] = (),
        location: str | None = None,
        source: str | None = None,
        require_all: bool = False,
    ) -> Iterator[Story]:
        """Every story matching `text` and the filters (every story when there are none), oldest first,
        undated ones last; the arguments are those of `search`. Streams: memory stays flat.

        The stories are those of the index as it was when iteration began, whatever commits land meanwhile.
        """
        bylines = tuple(name for name in _names(bylines) if name.strip())
        plan = None
        if text.strip() or start or end or bylines or location or source:
            plan = self._plan(text, start, end, bylines, location, source, require_all)
        self._follow_rebuild()
        searcher = self._whoosh.searcher()  # its own: a generator outlives the calls around it on this thread
        try:
            for docnum in _matching_by_date(searcher, plan):
                yield story_from_stored(searcher.stored_fields(docnum))
        finally:
            searcher.close()

    def _plan(
        self,
        text: str,
        start: str | date | None,
        end: str | date | None,
        bylines: Iterable[str],
        location: str | None,
        source: str | None,
        require_all: bool,
        *,
        plain: bool = False,
        fuzzy: bool = False,
        since: str | None = None,
    ) -> QueryPlan:
        first = _bound(start, end=False)
        if since is not None:
            first = _since(since) if first is None else max(first, _since(since))
        return parse_query(
            text,
            self._schema,
            require_all=require_all,
            start=first,
            end=_bound(end, end=True),
            bylines=_names(bylines),
            location=location,
            source=source,
            plain=plain,
            fuzzy=fuzzy,
        )

    def get(self, story_id: str) -> Story | None:
        """The story with this id, or None."""
        stored = self._reading(lambda searcher: searcher.document(id=story_id))
        return story_from_stored(stored) if stored else None

    def similar(self, story_id: str, *, limit: int = 10, all_versions: bool = False) -> SearchResults:
        """The stories most like story `story_id` (more like this on its key terms), best first.

        The story and its own duplicates are left out; other stories' copies fold into one hit as in
        `search` (unless `all_versions`). StoryNotFoundError if no story has this id.
        """
        started = time.perf_counter()
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        hits = self._reading(lambda searcher: _similar(searcher, story_id, limit, all_versions))
        if hits is None:
            raise StoryNotFoundError(f"no story with id {story_id!r} in {self._path}; search prints the ids")
        took_ms = (time.perf_counter() - started) * 1000
        return SearchResults(query=story_id, total=len(hits), hits=hits, page=1, limit=limit, took_ms=took_ms)

    def count(self) -> int:
        """How many stories the index holds."""
        return int(self._reading(lambda searcher: searcher.doc_count()))

    def stats(self, *, top: int = 10) -> IndexStats:
        """Story count, date span, stories per year and the most frequent bylines, locations and sources."""
        return self._reading(lambda searcher: _stats(searcher, top))

    def _reading(self, work: Callable[[Searcher], _T]) -> _T:
        """Run `work` on this thread's searcher; again on a fresh one if a commit removed files under it.

        Whoosh deletes the files of replaced segments as soon as a commit lands, and opens some files
        only when first needed: a searcher opened just before a commit may find them gone.
        """
        for attempt in range(_READ_ATTEMPTS):
            try:
                with self._searcher() as searcher:
                    return work(searcher)
            except FileNotFoundError:
                self._local.searcher = None
                if attempt == _READ_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    @contextmanager
    def _searcher(self) -> Iterator[Searcher]:
        """This thread's searcher, brought up to the latest commit (of this or any other process)."""
        self._follow_rebuild()
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is None or searcher.is_closed or searcher._ix is not self._whoosh:
            searcher = self._searchers.add(self._whoosh.searcher(weighting=weighting()))
        elif not searcher.up_to_date():
            # A new searcher, not Whoosh's refresh(): refresh reuses the readers of segments it already had
            # and so misses deletions made in them since (and it fails outright on an empty index).
            searcher = self._searchers.replace(searcher, self._whoosh.searcher(weighting=weighting()))
        self._local.searcher = searcher
        try:
            yield searcher
        except _DAMAGE as error:
            raise IndexDamagedError(
                f"index at {self._path} could not be read ({type(error).__name__}: {error}); "
                f"run `newsindex check --index {self._path}`"
            ) from error

    def _follow_rebuild(self) -> None:
        """After a rebuild (here or in another process) the manifest names a new Whoosh index: switch to it."""
        try:
            stamp = (self._path / MANIFEST).stat().st_mtime_ns
        except FileNotFoundError:
            return
        if stamp == self._manifest_stamp:  # a stat per search, not a read and a parse
            return
        self._manifest_stamp = stamp
        manifest = _read_manifest(self._path)
        if manifest is not None and manifest["index_name"] != self._manifest["index_name"]:
            fresh = NewsIndex.open(self._path)
            self._searchers.close_all()
            self._whoosh, self._schema, self._manifest = fresh._whoosh, fresh._schema, fresh._manifest

    def rebuild_files(
        self,
        paths: Sequence[str],
        *,
        format: str | None = None,
        procs: int | None = None,
        lock_timeout: float = 30.0,
        on_file: Callable[[int, int], None] | None = None,
        on_story: Callable[[Story], None] | None = None,
    ) -> IndexReport:
        """Index `paths` from scratch into a fresh index that replaces this one only once it is complete.

        Until then searches see the old stories; a crash or Ctrl-C leaves the old index as it was.
        """
        with write_lock(self._whoosh, timeout=lock_timeout):  # no other writer until the switch
            name = _new_index_name()
            old_name = self._manifest["index_name"]
            fsync = self._whoosh.storage.fsync
            whoosh_ix = _create_whoosh(self._path, name, fsync=fsync)
            fresh = NewsIndex(
                self._path, whoosh_ix, {**self._manifest, "index_name": name}, other_live=frozenset({old_name})
            )
            try:
                report = fresh.add_files(paths, format=format, procs=procs, on_file=on_file, on_story=on_story)
            except BaseException:
                fresh.close()
                _remove_whoosh_files(self._path, name)
                raise
            _write_manifest(self._path, {**self._manifest, "index_name": name})
        self.close()
        self._whoosh, self._schema = fresh._whoosh, fresh._schema
        self._manifest = {**self._manifest, "index_name": name}
        _remove_whoosh_files(self._path, old_name)
        return report


class _Searchers:
    """The Whoosh searchers a NewsIndex has opened, one per thread, so that they can all be closed."""

    def __init__(self) -> None:
        self._open: list[Searcher] = []
        self._lock = threading.Lock()

    def add(self, searcher: Searcher) -> Searcher:
        with self._lock:
            self._open.append(searcher)
        return searcher

    def replace(self, old: Searcher, new: Searcher) -> Searcher:
        with self._lock:
            self._open = [new if known is old else known for known in self._open]
        old.close()
        return new

    def close_all(self) -> None:
        with self._lock:
            searchers, self._open = self._open, []
        for searcher in searchers:
            searcher.close()


# -- searching, the Whoosh side ----------------------------------------------------------------------


def _names(values: Iterable[str]) -> tuple[str, ...]:
    """`bylines` as given: one name is a name, not the letters of one (`bylines="Benet Koleka"`)."""
    return (values,) if isinstance(values, str) else tuple(values)


class _Scoring(NamedTuple):
    """How a search ranks by relevance beyond BM25F: feedback expansion and recency."""

    expand: bool = False
    require_all: bool = False
    half_life: float | None = None

    def recency(self, searcher: Searcher) -> Recency | None:
        return Recency(searcher, "published", self.half_life) if self.half_life else None


def _page(
    searcher: Searcher,
    plan: QueryPlan,
    order: str,
    limit: int,
    page: int,
    scoring: _Scoring = _Scoring(),
    all_versions: bool = False,
) -> tuple[int, set[int], tuple[Hit, ...]]:
    """The total, every matching story (document numbers) and one page of hits of `plan`, ranked by
    `order`; duplicate groups fold into their best story and count once unless `all_versions`."""
    plan = check_expansion(plan, searcher.reader())  # fuzzy words as the index words they stand for
    terms = plan.marked_words(searcher.reader())  # the user's words, not the words expansion adds
    wanted = page * limit
    matching, rank = _ranking(searcher, plan, order, scoring)
    groups = None if all_versions else story_groups(searcher)
    if groups is None:
        found, total = [Folded(docnum, score) for docnum, score in rank(wanted)], len(matching)
    else:
        found, total = groups.fold(rank, wanted, matching), groups.count(matching)
    hits = []
    for rank_number, folded in enumerate(found[wanted - limit : wanted], start=wanted - limit + 1):
        story = story_from_stored(searcher.stored_fields(folded.docnum))
        marked = snippet(story.body, terms, index_words(story.body, _body_analyzer(searcher)), fallback=story.lead)
        duplicates = tuple(searcher.stored_fields(docnum)["id"] for docnum in folded.duplicates)
        hits.append(Hit(story=story, score=folded.score, rank=rank_number, snippet=marked, duplicates=duplicates))
    return total, matching, tuple(hits)


def _body_analyzer(searcher: Searcher) -> Any:
    """The analyzer the index cuts bodies with (an older index keeps its own)."""
    return searcher.schema["body"].analyzer


def _ranking(
    searcher: Searcher, plan: QueryPlan, order: str, scoring: _Scoring
) -> tuple[set[int], Callable[[int], list[tuple[int, float]]]]:
    """Every story matching `plan` (document numbers), and its ranking in `order`: a function giving the
    first `depth` (docnum, score) pairs."""
    plan = check_expansion(plan, searcher.reader())
    recency = scoring.recency(searcher)
    allowed = _allowed_docnums(searcher, plan)
    if order == "relevance" and scoring.expand:
        plan = _expanded(searcher, plan, allowed, recency, require_all=scoring.require_all)
    matching = _allowed_matches(searcher, plan, allowed)
    # With a filter, only the stories that match and pass it are scored: often far fewer.
    narrowed = None if allowed is None else matching

    def rank(depth: int) -> list[tuple[int, float]]:
        if not matching:  # Whoosh reads an empty filter as no filter at all
            return []
        if order != "relevance":
            return _by_date(searcher, plan.query, narrowed, depth, newest_first=order == "-date")
        return _ranked(searcher, plan, narrowed, depth, recency)

    return matching, rank


def _every_match(searcher: Searcher, plan: QueryPlan) -> set[int]:
    """Every story matching `plan` (document numbers)."""
    plan = check_expansion(plan, searcher.reader())
    return _allowed_matches(searcher, plan, _allowed_docnums(searcher, plan))


def _allowed_matches(searcher: Searcher, plan: QueryPlan, allowed: set[int] | None) -> set[int]:
    """The stories matching `plan`'s query among those its filters allow (`allowed`, None for all)."""
    if allowed is not None and (not allowed or not plan.has_words):
        return allowed  # filters alone: what passes them is the answer
    matching = _matching(searcher, plan.query)
    return matching if allowed is None else matching & allowed


def _expanded(
    searcher: Searcher, plan: QueryPlan, allowed: set[int] | None, recency: Recency | None, *, require_all: bool
) -> QueryPlan:
    """`plan` with the words of its best stories added (RM3, see newsindex.expansion)."""
    first = _ranked(searcher, plan, allowed, expansion.FEEDBACK_STORIES + 1, recency)
    share = feedback_share(first)
    if share <= 0:
        return plan  # one story stands out: the query has its answer, feedback would only drift
    feedback = feedback_weights(first)
    texts = []
    for docnum, score in feedback:
        story = story_from_stored(searcher.stored_fields(docnum))
        texts.append((f"{story.headline or ''}\n{story.body}", score))
    reader = searcher.reader()
    stories = max(1, reader.doc_count())
    analyzer = _body_analyzer(searcher)
    model = relevance_model(texts, share=lambda term: reader.doc_frequency("body", term) / stories, analyzer=analyzer)
    return expanded_plan(plan, model, require_all=require_all, share=share)


def _similar(searcher: Searcher, story_id: str, limit: int, all_versions: bool) -> tuple[Hit, ...] | None:
    """The hits of `NewsIndex.similar`, or None if there is no such story."""
    from newsindex.similar import key_terms, more_like

    docnum = searcher.document_number(id=story_id)
    if docnum is None:
        return None
    story = story_from_stored(searcher.stored_fields(docnum))
    weighted = key_terms(searcher, f"{story.headline or ''}\n{story.body}")
    found = more_like(searcher, docnum, weighted, limit, all_versions=all_versions)
    terms = {term for term, _ in weighted}
    hits = []
    for rank, folded in enumerate(found, start=1):
        other = story_from_stored(searcher.stored_fields(folded.docnum))
        marked = snippet(other.body, terms, index_words(other.body, _body_analyzer(searcher)), fallback=other.lead)
        duplicates = tuple(searcher.stored_fields(number)["id"] for number in folded.duplicates)
        hits.append(Hit(story=other, score=folded.score, rank=rank, snippet=marked, duplicates=duplicates))
    return tuple(hits)


def _matching_by_date(searcher: Searcher, plan: QueryPlan | None) -> list[int]:
    """The document numbers matching `plan` (every live one if None), oldest first, undated last."""
    if plan is None:
        matching: Iterable[int] = searcher.reader().all_doc_ids()
    else:
        matching = _every_match(searcher, plan)
    dates: dict[int, int] = {}
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        if reader.has_column("published"):
            column = reader.column_reader("published", translate=False)
            dates.update((offset + docnum, column[docnum]) for docnum in range(reader.doc_count_all()))
    undated = PublishedField.MISSING
    return sorted(matching, key=lambda docnum: (dates.get(docnum, undated) == undated, dates.get(docnum, 0), docnum))


def _stats(searcher: Searcher, top: int) -> IndexStats:
    reader = searcher.reader()
    dated = [
        from_seconds(value) for leaf, _ in searcher.leaf_searchers() for value in live_dates(leaf.reader(), "published")
    ]
    years = Counter(moment.year for moment in dated)
    span = range(min(years), max(years) + 1) if years else range(0)
    return IndexStats(
        stories=reader.doc_count(),
        first_published=min(dated).date() if dated else None,
        last_published=max(dated).date() if dated else None,
        undated=reader.doc_count() - len(dated),
        years=tuple((year, years.get(year, 0)) for year in span),
        top_bylines=_top_values(reader, "byline_exact", top),
        top_locations=_top_values(reader, "location_exact", top),
        top_sources=_top_values(reader, "source_exact", top),
    )


def _read_through(searcher: Searcher) -> list[str]:
    """Read every stored story, column and posting list of every segment; one line per failure."""
    problems = []
    for leaf, _ in searcher.leaf_searchers():
        reader = leaf.reader()
        if reader.segment() is None:  # an empty index has no segment to read
            continue
        segment = reader.segment().segment_id()
        try:
            for docnum in range(reader.doc_count_all()):
                if not reader.is_deleted(docnum):
                    story_from_stored(reader.stored_fields(docnum))
            for fieldname in reader.schema.names():
                if reader.has_column(fieldname):
                    column = reader.column_reader(fieldname)
                    for docnum in range(reader.doc_count_all()):
                        column[docnum]
                if reader.schema[fieldname].indexed:
                    for term in reader.lexicon(fieldname):
                        _posting_docnums(reader.postings(fieldname, term))
        except Exception as error:
            problems.append(f"segment {segment} cannot be read: {type(error).__name__}: {error}")
    return problems


def _bound(value: str | date | None, *, end: bool) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return to_seconds(parse_bound(value.isoformat(), end=end))
    try:
        return to_seconds(parse_bound(value, end=end))
    except DateError as error:
        side = "end" if end else "start"
        raise QueryError(
            f"invalid {side} date: {error}; use YYYY, YYYY-MM, YYYY-MM-DD, a timestamp, or 7d, 2w, 3m, 1y, today, now"
        ) from None


def _since(value: str) -> int:
    try:
        return to_seconds(parse_since(value))
    except DateError as error:
        raise QueryError(f"{error}: use a number of days, weeks, months or years: 7d, 2w, 3m, 1y (or today)") from None


def _allowed_docnums(searcher: Searcher, plan: QueryPlan) -> set[int] | None:
    """The stories that pass the plan's date range and filters (None: every story passes)."""
    allowed: set[int] | None = None
    if plan.start is not None or plan.end is not None:
        allowed = date_filter(searcher, "published", plan.start, plan.end)
    for filter_query in plan.filters:
        matching = set(searcher.docs_for_query(filter_query))
        allowed = matching if allowed is None else allowed & matching
    return allowed


def _ranked(
    searcher: Searcher, plan: QueryPlan, allowed: set[int] | None, wanted: int, recency: Recency | None = None
) -> list[tuple[int, float]]:
    """The top `wanted` (docnum, score): stories matching every word first, then those matching some."""
    found: list[tuple[int, float]] = []
    for tier in (plan.ranked_first, plan.query):
        if tier is None or len(found) >= wanted:
            continue
        already = {docnum for docnum, _ in found}
        results = _timed_search(
            searcher, tier, limit=wanted - len(found), filter=allowed, mask=already or None, recency=recency
        )
        found.extend((hit.docnum, float(hit.score)) for hit in results)
    return found


def _by_date(
    searcher: Searcher, query: Any, allowed: set[int] | None, wanted: int, *, newest_first: bool
) -> list[tuple[int, float]]:
    """The first `wanted` matches by date; stories without a date come last either way."""
    dated = date_filter(searcher, "published", None, None)
    first = dated if allowed is None else allowed & dated
    results = _timed_search(searcher, query, limit=wanted, filter=first, sortedby="published", reverse=newest_first)
    found = [(hit.docnum, 0.0) for hit in results]
    if len(found) < wanted:
        results = _timed_search(searcher, query, limit=wanted - len(found), filter=allowed, mask=dated)
        found.extend((hit.docnum, 0.0) for hit in results)
    return found


def _timed_search(
    searcher: Searcher,
    query: Any,
    *,
    filter: set[int] | None = None,
    mask: set[int] | None = None,
    recency: Recency | None = None,
    **options: Any,
) -> Any:
    """Whoosh's search, stopped with QueryRejectedError after SEARCH_SECONDS."""
    if filter is not None and not filter:
        return []  # Whoosh reads an empty filter as no filter at all
    if filter is not None and len(filter) * SELECTIVE_FILTER <= searcher.doc_count_all():
        # A few allowed stories: score only those, rather than every match and then filter.
        query, filter = AllowedOnly(query, allowed_by_segment(searcher, filter)), None
    # The deadline wraps the ranking collector, the filter wraps both: Whoosh's own TimeLimitCollector
    # would bypass the filter, which lives in FilterCollector.collect_matches.
    ranking = recency.collector(options["limit"]) if recency else searcher.collector(**options)
    collector: Any = _Deadline(ranking, SEARCH_SECONDS)
    if filter is not None or mask:
        collector = FilterCollector(collector, allow=filter, restrict=mask or None)
    try:
        searcher.search_with_collector(query, collector)
    except TimeLimit:
        raise QueryRejectedError(
            f"the search took longer than {SEARCH_SECONDS:g} s and was stopped: make the query more specific"
        ) from None
    return collector.results()


class _Deadline(WrappingCollector):  # type: ignore[misc]
    """Raises TimeLimit when a search collects past its deadline."""

    def __init__(self, child: Any, seconds: float) -> None:
        super().__init__(child)
        self._seconds = seconds
        self._deadline = 0.0

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        self._deadline = time.monotonic() + self._seconds
        super().prepare(top_searcher, q, context)

    def collect(self, sub_docnum: int) -> Any:
        if time.monotonic() > self._deadline:
            raise TimeLimit
        return self.child.collect(sub_docnum)


def _matching(searcher: Searcher, query: Any) -> set[int]:
    """The stories matching `query`."""
    matching = _union_of_terms(searcher, query)
    return set(searcher.docs_for_query(query)) if matching is None else matching


def _union_of_terms(searcher: Searcher, query: Any) -> set[int] | None:
    """The stories matching any term of an OR-of-terms query, read a postings block at a time.

    Counting through Whoosh's matchers costs a Python call per story per term; plain keyword queries
    (terms OR-ed across fields) are most queries and can be counted from the postings directly.
    None when the query has other parts (phrases, AND, NOT, ranges).
    """
    if not _is_or_of_terms(query):
        return None
    found: set[int] = set()
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        for term in query.leaves():
            if (term.fieldname, term.text) not in reader:
                continue
            docnums = _posting_docnums(reader.postings(term.fieldname, term.text))
            found.update(docnums if offset == 0 else (docnum + offset for docnum in docnums))
    return found


def _is_or_of_terms(query: Any) -> bool:
    if isinstance(query, query_module.Term):
        return type(query) is query_module.Term  # not a Prefix, Wildcard or other subclass
    return isinstance(query, query_module.Or) and all(_is_or_of_terms(child) for child in query.children())


def _top_values(reader: Any, fieldname: str, top: int) -> tuple[tuple[str, int], ...]:
    counts: Counter[str] = Counter()
    for term in reader.lexicon(fieldname):
        postings = reader.postings(fieldname, term)
        counts[term.decode("utf-8")] = sum(1 for _ in postings.all_ids())
    return tuple((name, count) for name, count in counts.most_common(top) if count)


# -- the folder ---------------------------------------------------------------------------------------


def _create_whoosh(folder: Path, name: str, *, fsync: bool) -> Any:
    whoosh_ix = FileIndex.create(DurableStorage(str(folder), fsync=fsync), build_schema(), indexname=name)
    record_checksums(whoosh_ix)
    return whoosh_ix


def _new_index_name() -> str:
    return f"stories_{uuid.uuid4().hex[:12]}"


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise IndexDamagedError(f"{folder / MANIFEST} is unreadable ({error}); rebuild the index") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "newsindex" or "index_name" not in manifest:
        raise IndexDamagedError(f"{folder / MANIFEST} is not a newsindex manifest; rebuild the index")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexDamagedError(
            f"index at {folder} was built by another newsindex version (schema {manifest.get('schema_version')}, "
            f"this one reads {SCHEMA_VERSION}); rebuild it with `newsindex index --rebuild CORPUS`"
        )
    return manifest


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically: readers see the old one or the new one, never half of one."""
    temporary = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, folder / MANIFEST)
    sync_folder(folder)


def _remove_whoosh_files(folder: Path, index_name: str) -> None:
    """Delete the files of a replaced Whoosh index (its TOCs, segments and lock)."""
    for entry in folder.iterdir():
        if entry.name.startswith((f"_{index_name}_", f"{index_name}_")) and entry.is_file():
            entry.unlink(missing_ok=True)
