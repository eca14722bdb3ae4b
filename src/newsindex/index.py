"""NewsIndex: create, open, add, search, get — the facade over a Whoosh index folder."""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import os
import pickle
import re
import struct
import threading
import time
import uuid
import weakref
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from whoosh import query as query_module
from whoosh.collectors import FilterCollector, WrappingCollector
from whoosh.index import EmptyIndexError
from whoosh.searching import Searcher, TimeLimit

from newsindex import deadline as deadlines
from newsindex.deadline import SEARCH_SECONDS
from newsindex.errors import (
    IndexDamagedError,
    IndexMissingError,
    NewsIndexError,
    QueryRejectedError,
    StoryNotFoundError,
    UsageError,
)
from newsindex.models import (
    NO_FILTERS,
    SORTS,
    CheckReport,
    Filters,
    Hit,
    IndexReport,
    IndexStats,
    Match,
    Problems,
    SearchResults,
    Sort,
    Story,
    lead_span,
)
from newsindex.search import expansion
from newsindex.search.collapsing import Folded, story_groups
from newsindex.search.expansion import expanded_plan, feedback_share, feedback_weights, kept_first, relevance_model
from newsindex.search.facets import check_facets, count_days, count_facets, seconds_to_day
from newsindex.search.facets import posting_docnums as _posting_docnums
from newsindex.search.query import FALLBACK_NOTE, QueryPlan, check_expansion, parse_query, query_marks
from newsindex.search.ranking import (
    Recency,
    SummedUnions,
    check_half_life,
    first_stage_depth,
    query_words,
    weighting,
    with_proximity,
)
from newsindex.search.snippets import SCAN_CHARS, snippet
from newsindex.search.suggest import suggest
from newsindex.store.dateindex import AllowedOnly, allowed_by_segment, date_filter, live_dates
from newsindex.store.schema import (
    ANALYSIS_VERSION,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    PublishedField,
    build_schema,
    index_words,
    matched_words,
    story_from_stored,
    with_new_fields,
)
from newsindex.store.storage import (
    DurableStorage,
    SafeFileIndex,
    check_trusted,
    check_trusted_files,
    damaged_files,
    folder_lock,
    make_private,
    read_checksums,
    record_checksums,
    remove_leftovers,
    sums_name,
    sync_folder,
    zeroed_files,
)
from newsindex.text.dates import from_seconds
from newsindex.text.names import merge_spellings
from newsindex.timeline import Timeline, build_timeline, check_period, day_to_date

MANIFEST = "newsindex.json"
_READ_ATTEMPTS = 4
_T = TypeVar("_T")
# What reading a damaged file raises inside Whoosh (decompression, unpacking, unpickling, decoding).
_DAMAGE = (zlib.error, struct.error, EOFError, pickle.UnpicklingError, UnicodeDecodeError)
MAX_LIMIT = 1000
MAX_DEPTH = 10_000  # page × limit: the ranked stories a page may reach down to
MAX_SERIES = 20  # queries in one timeline
SELECTIVE_FILTER = 10  # a filter passing at most 1/10 of the stories is applied inside the matcher
PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this much input, starting worker processes costs more than it saves


_F = TypeVar("_F", bound=Callable[..., Any])


def _within_deadline(method: _F) -> _F:
    """`method` with one deadline (newsindex.deadline) for all of its work."""

    @functools.wraps(method)
    def within(*args: Any, **kwargs: Any) -> Any:
        with deadlines.request():
            return method(*args, **kwargs)

    return within  # type: ignore[return-value]


class NewsIndex:
    """A searchable collection of news stories in one folder; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        """Open the index in folder `path`, as `NewsIndex.open(path)` does."""
        opened = NewsIndex.open(path, fsync=fsync)
        self._attach(opened._path, opened._whoosh, opened._manifest)

    @classmethod
    def _from_parts(cls, path: Path, whoosh_ix: Any, manifest: dict[str, Any]) -> NewsIndex:
        """A NewsIndex over a Whoosh index already opened or made (by `create` or `rebuild`)."""
        news = cls.__new__(cls)
        news._attach(path, whoosh_ix, manifest)
        return news

    def _attach(self, path: Path, whoosh_ix: Any, manifest: dict[str, Any]) -> None:
        self._path = path
        self._whoosh = whoosh_ix
        self._schema = with_new_fields(whoosh_ix.schema)  # fixed at creation; Whoosh would re-read the TOC for it
        self._manifest = manifest
        self._manifest_stamp: tuple[int, int, int] | None = None  # the manifest as last read by _follow_rebuild
        self._switching = threading.Lock()
        self._other_live: frozenset[str] = frozenset()  # during a rebuild, the index being replaced
        self._lock_held = False  # during a rebuild, the rebuild holds the folder's write lock
        # One Whoosh searcher per thread (a searcher is not safe to share), kept between calls because
        # opening one costs more than most searches; each is refreshed when a commit lands.
        self._local = threading.local()
        self._searchers = _Searchers()
        # stats() of the index as last counted: (Whoosh index, generation, top) → stats. A commit or a
        # rebuild makes a new key; until then every caller (a page's header, /api/stats) gets the same.
        self._stats: tuple[tuple[Any, int, int], IndexStats] | None = None
        weakref.finalize(self, self._searchers.close_all)  # files closed even if close() never is

    # -- opening ------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], *, overwrite: bool = False, fsync: bool = True, lock_timeout: float = 30.0
    ) -> NewsIndex:
        """Make a new empty index in folder `path` (created if needed); UsageError if one is there.

        With `fsync=False` commits are not forced to disk: faster, for throwaway indexes only. The index
        is made under the folder's write lock (IndexBusyError after `lock_timeout` s).
        """
        folder = Path(path)
        if _read_manifest(folder) is not None and not overwrite:
            raise UsageError(f"an index already exists at {folder}: open it, or rebuild it with --rebuild")
        _prepare_folder(folder)
        with folder_lock(folder, timeout=lock_timeout):
            return cls._create_locked(folder, overwrite=overwrite, fsync=fsync)

    @classmethod
    def _create_locked(cls, folder: Path, *, overwrite: bool, fsync: bool) -> NewsIndex:
        """`create`, with the folder's write lock held by the caller."""
        old = _read_manifest(folder)
        if old is not None and not overwrite:
            raise UsageError(f"an index already exists at {folder}: open it, or rebuild it with --rebuild")
        name = _new_index_name()
        manifest = _new_manifest(name)
        whoosh_ix = _create_whoosh(folder, name, fsync=fsync)
        _write_manifest(folder, manifest)
        if old is not None:
            _remove_whoosh_files(folder, old["index_name"])
        return cls._from_parts(folder, whoosh_ix, manifest)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True) -> NewsIndex:
        """Open the index in folder `path`: IndexMissingError if there is none, IndexDamagedError if unreadable."""
        folder = Path(path)
        manifest = _read_manifest(folder)
        if manifest is None:
            raise IndexMissingError(f"no index at {folder}: build one with `newsindex index CORPUS --index {folder}`")
        check_trusted(folder)  # before anything is unpickled
        check_trusted_files(folder)
        problems = damaged_files(folder, manifest["index_name"])
        if problems:
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise IndexDamagedError(
                f"index at {folder} is damaged: {problems[0]}{more}; "
                f"rebuild it with `newsindex index --rebuild CORPUS --index {folder}`"
            )
        try:
            whoosh_ix = SafeFileIndex(DurableStorage(str(folder), fsync=fsync), indexname=manifest["index_name"])
        except IndexDamagedError as error:
            raise IndexDamagedError(
                f"index at {folder} is damaged: {error}; rebuild it with `newsindex index --rebuild CORPUS --index {folder}`"
            ) from error
        except Exception as error:
            raise IndexDamagedError(
                f"index at {folder} cannot be opened ({type(error).__name__}: {error}); "
                f"rebuild it with `newsindex index --rebuild CORPUS --index {folder}`"
            ) from error
        return cls._from_parts(folder, whoosh_ix, manifest)

    @classmethod
    def open_or_create(
        cls, path: str | os.PathLike[str], *, fsync: bool = True, lock_timeout: float = 30.0
    ) -> NewsIndex:
        """Open the index in `path`, or make an empty one there if there is none.

        Two processes doing this at once on a new folder make one index: the second waits for the
        folder's write lock (IndexBusyError after `lock_timeout` s), then opens what the first made.
        """
        folder = Path(path)
        if _read_manifest(folder) is None:
            _prepare_folder(folder)
            with folder_lock(folder, timeout=lock_timeout):
                if _read_manifest(folder) is None:
                    return cls._create_locked(folder, overwrite=False, fsync=fsync)
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
        check_trusted_files(folder)
        name = manifest["index_name"]
        problems = damaged_files(folder, name, full=True)
        record = read_checksums(folder, name)
        if record is None:  # nothing to compare with: at least what a crash or a failing disk leaves
            problems += zeroed_files(folder, name)
        record = record or {"files": {}}
        stories = 0
        if not problems:
            try:
                news = cls.open(folder, fsync=False)
                try:
                    stories = news.count()
                    with news._searcher() as searcher:
                        problems += _read_through(searcher)
                finally:
                    news.close()
            except NewsIndexError as error:
                problems.append(str(error))
            except Exception as error:  # whatever a damaged file makes Whoosh raise is a finding, not a crash
                problems.append(f"index at {folder} cannot be read: {type(error).__name__}: {error}")
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
        """Add stories, replacing changed ones with the same id and skipping unchanged ones.

        UsageError for an item that is not a Story: nothing of this call is then written.
        """
        from newsindex.store.indexer import Indexer  # the write path: not imported by a search (CLI start-up)

        if isinstance(stories, Story):
            raise UsageError("NewsIndex.add takes an iterable of Story objects: write add([story])")
        with Indexer(
            self._whoosh,
            lock_timeout=lock_timeout,
            on_story=on_story,
            other_live=self._other_live,
            lock_held=self._lock_held,
        ) as indexer:
            self._manifest = _upgraded_manifest(self._path, self._manifest)
            for number, story in enumerate(stories, start=1):
                if not isinstance(story, Story):
                    raise UsageError(
                        f"NewsIndex.add takes Story objects: item {number} is a {type(story).__name__} ({story!r:.60})"
                    )
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
        from newsindex.ingest.readers import read_source
        from newsindex.ingest.sources import find_sources, roots
        from newsindex.store.indexer import Indexer  # the write path: not imported by a search (CLI start-up)

        problems = Problems()  # every problem counted, the first KEPT_PROBLEMS kept
        sources = list(find_sources(paths, format=format, on_problem=problems.append))
        if procs is None:
            size = sum(source.size or PARALLEL_MIN_BYTES for source in sources)
            procs = (os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 1
        with Indexer(
            self._whoosh,
            lock_timeout=lock_timeout,
            on_story=on_story,
            procs=procs,
            other_live=self._other_live,
            lock_held=self._lock_held,
        ) as indexer:
            self._manifest = _upgraded_manifest(self._path, self._manifest)
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

    @_within_deadline
    def search(
        self,
        text: str,
        *,
        filters: Filters | None = None,
        sort: Sort = "relevance",
        limit: int = 10,
        page: int = 1,
        expand: bool = False,
        recency_half_life: float | None = None,
        facets: Iterable[str] = (),
        facet_top: int = 10,
        all_versions: bool = False,
    ) -> SearchResults:
        """The stories best matching `text` among those `filters` let through (newsindex.models.Filters),
        one page of them, best first (or by date with `sort`).

        Stories must match every word (every clause written side by side; clauses joined by AND, OR, NOT,
        + and - and parentheses as written). When no story has every word, the stories with some are
        searched instead and `matched` is "any", with `message` saying so; `Filters(require_all=True)`
        never falls back, `Filters(match="any")` asks for stories with some of the words, those with every
        word ranked first. `total`, `facets` and every order (`sort`) are of the same set of stories.
        When few stories match and a word is unknown, `suggestion` is the query with that word corrected.
        `expand` adds words of the best stories to the query (pseudo-relevance feedback, see
        newsindex.search.expansion); `recency_half_life` (days) halves a story's relevance for every that many
        days it is older than the newest story (see newsindex.search.ranking). Both change relevance order only.
        `facets` (bylines, location, source, region, topic, place, org, person, year, month) counts every
        matching story, not just the page's: the `facet_top` most frequent names, every year or month with stories.
        Copies of one story (a duplicate group) show as one hit, its best, with the others' ids in
        `Hit.duplicates`, and `total` counts groups; `all_versions` shows and counts every story.
        """
        started = time.perf_counter()
        check_half_life(recency_half_life)
        scoring = _Scoring(expand, bool(filters and filters.require_all), recency_half_life)
        if sort not in SORTS:
            raise UsageError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if page < 1:
            raise UsageError(f"page must be 1 or more, not {page}")
        if page * limit > MAX_DEPTH:
            raise UsageError(
                f"page {page} of {limit} stories reaches past the first {MAX_DEPTH:,}: narrow the search instead"
            )
        wanted = check_facets(facets, facet_top)
        filters = filters or NO_FILTERS
        plan = self._plan(text, filters)
        order = "-date" if sort == "relevance" and not plan.has_words else sort  # nothing to rank by: newest first

        def work(
            searcher: Searcher,
        ) -> tuple[int, tuple[Hit, ...], dict[str, tuple[tuple[str, int], ...]], str | None, list[str], QueryPlan]:
            deadline = deadlines.current()
            notes: list[str] = []
            total, matching, hits, searched = _page(searcher, plan, order, limit, page, scoring, all_versions, notes)
            counted: dict[str, tuple[tuple[str, int], ...]] = {}
            for name in wanted:  # the deadline looked at between facets: each is one pass over the matches
                if deadline.expired():
                    notes.append(f"facets not counted ({', '.join(wanted[len(counted) :])}): {_PAST_DEADLINE}")
                    break
                counted.update(count_facets(searcher, matching, (name,), facet_top))
            guess = suggest(searcher, plan, total) if text.strip() and not deadline.expired() else None
            if guess is not None and not _suggestion_finds_more(searcher, self._plan(guess, filters), total, deadline):
                guess = None
            return total, hits, counted, guess, notes, searched

        total, hits, counted, suggestion, notes, searched = self._reading(
            work
        )  # one snapshot of the index for all of it
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
            matched=searched.matched,
            message=FALLBACK_NOTE if searched.fell_back else None,
            notes=tuple(notes),
        )

    def rank(
        self,
        text: str,
        *,
        filters: Filters | None = None,
        limit: int = 10,
        expand: bool = False,
        recency_half_life: float | None = None,
    ) -> list[tuple[str, float]]:
        """The ids and scores of the best `limit` stories for `text`, best first, as `search` ranks them
        (`filters` as in `search`).

        No story is read and no snippet made: the fast path for batch runs and evaluations.
        """
        check_half_life(recency_half_life)
        filters = filters or NO_FILTERS
        scoring = _Scoring(expand, filters.require_all, recency_half_life)
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        plan = self._plan(text, filters)
        order = "relevance" if plan.has_words else "-date"

        def ids(searcher: Searcher) -> list[tuple[str, float]]:
            from newsindex.search.vector import story_ids

            _, ranking, _ = _ranking(searcher, plan, order, scoring)
            found = ranking(limit)
            return list(
                zip(story_ids(searcher, [docnum for docnum, _ in found]), [score for _, score in found], strict=True)
            )

        return self._reading(ids)

    @_within_deadline
    def timeline(
        self,
        queries: str | Sequence[str],
        *,
        by: str = "year",
        filters: Filters | None = None,
    ) -> Timeline:
        """Stories matching each query per day, ISO week, month or year: one series per query.

        Every period of the filters' date range is listed, zeros included (by default from the earliest to
        the latest matching story); matching stories without a date are counted apart, in `Series.undated`.
        `filters` are those of `search`, and each series counts the stories `search` counts in
        its `total` (with `all_versions`): every word, or some when no story has every word (then the
        series' `matched` is "any"). An empty query with no filter counts every story.
        """
        period = check_period(by)
        texts = (queries,) if isinstance(queries, str) else tuple(queries)
        if not texts:
            raise UsageError("give at least one query for the timeline")
        if len(texts) > MAX_SERIES:
            raise UsageError(f"{len(texts):,} queries for one timeline; the limit is {MAX_SERIES}")
        filters = filters or NO_FILTERS
        everything = QueryPlan("", query_module.Every(), None, (), None, None, has_words=False)
        plans = [self._plan(text, filters) if text.strip() or filters.narrows else everything for text in texts]

        def work(searcher: Searcher) -> list[tuple[tuple[Counter[int], int], Match]]:
            counts = []
            for plan in plans:
                _stop_at_deadline(deadlines.current())
                matched, matching = _timeline_matches(searcher, plan)
                counts.append((count_days(searcher, matching), matched))
            return counts

        counted = []
        matched_sets: list[Match] = []
        for text, plan, ((per_day, undated), matched) in zip(texts, plans, self._reading(work), strict=True):
            matched_sets.append(matched)
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
        found = build_timeline(period, counted, first, last)
        series = zip(found.series, matched_sets, strict=True)
        return dataclasses.replace(found, series=tuple(dataclasses.replace(one, matched=how) for one, how in series))

    def stories(
        self,
        text: str = "",
        *,
        filters: Filters | None = None,
        on_fallback: Callable[[str], None] | None = None,
    ) -> Iterator[Story]:
        """Every story matching `text` and `filters` (every story when there are none), oldest first,
        undated ones last; the arguments are those of `search`, and the stories those `search` counts
        (with `all_versions`). When no story has every word and the stories with some are listed instead,
        `on_fallback` is called with the message saying so, before the first story. Streams: memory stays flat.
        Finding the stories is held to the deadline of a search (QueryRejectedError past it); listing them
        too when the call is part of a request (`newsindex.deadline.request`, as each of `serve`'s is).

        The stories are those of the index as it was when iteration began, whatever commits land meanwhile.
        """
        for story, _ in self.grouped_stories(text, filters=filters, on_fallback=on_fallback):
            yield story

    def grouped_stories(
        self,
        text: str = "",
        *,
        filters: Filters | None = None,
        on_fallback: Callable[[str], None] | None = None,
    ) -> Iterator[tuple[Story, str | None]]:
        """`stories`, each with its duplicate group: a label its copies share (None in an index built
        before duplicate groups). What `newsindex export` writes as `duplicate_group`."""
        filters = filters or NO_FILTERS
        plan = self._plan(text, filters) if text.strip() or filters.narrows else None
        self._follow_rebuild()
        searcher = self._whoosh.searcher()  # its own: a generator outlives the calls around it on this thread
        request = deadlines.enclosing()  # the stories stream on past SEARCH_SECONDS only outside any request
        try:
            with deadlines.request():  # finding them is a search: within its deadline (no yield inside)
                groups = story_groups(searcher)
                found = _matching_by_date(searcher, plan, on_fallback)
            for docnum in found:
                if request is not None:
                    _stop_at_deadline(request)
                label = groups.key(docnum) if groups is not None else None
                yield story_from_stored(searcher.stored_fields(docnum)), label if isinstance(label, str) else None
        finally:
            searcher.close()

    def _plan(self, text: str, filters: Filters) -> QueryPlan:
        start, end = filters.bounds()
        return parse_query(
            text,
            self._schema,
            require_all=filters.require_all,
            match=filters.match,
            start=start,
            end=end,
            bylines=filters.bylines,
            location=filters.location,
            source=filters.source,
            plain=filters.plain,
            fuzzy=filters.fuzzy,
            tags=filters.tags(),
        )

    def get(self, story_id: str) -> Story | None:
        """The story with this id, or None."""
        stored = self._reading(lambda searcher: searcher.document(id=story_id))
        return story_from_stored(stored) if stored else None

    @_within_deadline
    def similar(self, story_id: str, *, limit: int = 10, all_versions: bool = False) -> SearchResults:
        """The stories most like story `story_id` (more like this on its key terms), best first.

        The story and its own duplicates are left out; other stories' copies fold into one hit as in
        `search` (unless `all_versions`). StoryNotFoundError if no story has this id.
        """
        started = time.perf_counter()
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        notes: list[str] = []
        hits = self._reading(lambda searcher: _similar(searcher, story_id, limit, all_versions, notes))
        if hits is None:
            raise StoryNotFoundError(f"no story with id {story_id!r} in {self._path}; search prints the ids")
        took_ms = (time.perf_counter() - started) * 1000
        return SearchResults(
            query=story_id, total=len(hits), hits=hits, page=1, limit=limit, took_ms=took_ms, notes=tuple(notes)
        )

    def count(self) -> int:
        """How many stories the index holds."""
        return int(self._reading(lambda searcher: searcher.doc_count()))

    def stats(self, *, top: int = 10) -> IndexStats:
        """Story count, date span, stories per year and the most frequent bylines, locations and sources."""

        def work(searcher: Searcher) -> IndexStats:
            key = (searcher._ix, searcher.reader().generation(), top)
            known = self._stats
            if known is not None and known[0] == key:
                return known[1]
            counted = _stats(searcher, top)
            self._stats = (key, counted)
            return counted

        return self._reading(work)

    def _reading(self, work: Callable[[Searcher], _T]) -> _T:
        """Run `work` on this thread's searcher; again on a fresh one if a commit removed files under it.

        Whoosh deletes the files of replaced segments as soon as a commit lands, and opens some files
        only when first needed: a searcher opened just before a commit may find them gone.
        """
        for attempt in range(_READ_ATTEMPTS):
            try:
                with self._searcher() as searcher:
                    return work(searcher)
            except (FileNotFoundError, EmptyIndexError):  # a commit or a rebuild's switch-over removed files
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
        except IndexDamagedError as error:  # a block failed its checksum (newsindex.store.codec)
            raise IndexDamagedError(
                f"index at {self._path} is damaged: {error}; "
                f"rebuild it with `newsindex index --rebuild CORPUS --index {self._path}`"
            ) from error
        except _DAMAGE as error:
            raise IndexDamagedError(
                f"index at {self._path} could not be read ({type(error).__name__}: {error}); "
                f"run `newsindex check --index {self._path}`"
            ) from error

    def _follow_rebuild(self) -> None:
        """After a rebuild (here or in another process) the manifest names a new Whoosh index: switch to it.

        Safe while other threads search: each thread's searcher of the old index is replaced the next
        time that thread reads (see `_searcher`), never closed under it.
        """
        try:
            info = (self._path / MANIFEST).stat()
        except FileNotFoundError:
            return
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)  # replaced atomically: a new inode each time
        if stamp == self._manifest_stamp:  # a stat per search, not a read and a parse
            return
        with self._switching:
            if stamp == self._manifest_stamp:
                return
            manifest = _read_manifest(self._path)
            if manifest is not None and manifest["index_name"] != self._manifest["index_name"]:
                fresh = NewsIndex.open(self._path)
                self._whoosh, self._schema, self._manifest = fresh._whoosh, fresh._schema, fresh._manifest
            self._manifest_stamp = stamp

    @classmethod
    def rebuild(
        cls,
        path: str | os.PathLike[str],
        paths: Sequence[str],
        *,
        format: str | None = None,
        procs: int | None = None,
        lock_timeout: float = 30.0,
        fsync: bool = True,
        on_file: Callable[[int, int], None] | None = None,
        on_story: Callable[[Story], None] | None = None,
    ) -> IndexReport:
        """Index `paths` from scratch into a fresh index in folder `path`, and switch to it once complete.

        Works whatever state the old index is in (damaged segments, TOC or manifest, another schema
        version, none at all): the old one is never opened. Until the switch, searches see the old
        stories and the old index keeps its checksum record; a crash or Ctrl-C leaves it as it was, and
        the next write removes what the abandoned rebuild left.
        """
        folder = Path(path)
        _prepare_folder(folder)
        with folder_lock(folder, timeout=lock_timeout):  # no other writer until the switch
            old_name = _old_index_name(folder)
            name = _new_index_name()
            manifest = _new_manifest(name)
            whoosh_ix = _create_whoosh(folder, name, fsync=fsync)
            live = frozenset({old_name} if old_name else ())
            fresh = cls._from_parts(folder, whoosh_ix, manifest)
            fresh._other_live, fresh._lock_held = live, True
            try:
                report = fresh.add_files(paths, format=format, procs=procs, on_file=on_file, on_story=on_story)
            except BaseException:
                fresh.close()
                _remove_whoosh_files(folder, name)
                raise
            fresh.close()
            _write_manifest(folder, manifest)  # the switch: readers follow the manifest
            if old_name is not None:
                _remove_whoosh_files(folder, old_name)
            remove_leftovers(folder, name, _latest_toc(whoosh_ix), _segment_ids(whoosh_ix))  # and any others'
        return report

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
        report = NewsIndex.rebuild(
            self._path,
            paths,
            format=format,
            procs=procs,
            lock_timeout=lock_timeout,
            fsync=self._whoosh.storage.fsync,
            on_file=on_file,
            on_story=on_story,
        )
        self._follow_rebuild()
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
    notes: list[str] | None = None,
) -> tuple[int, set[int], tuple[Hit, ...], QueryPlan]:
    """The total, every matching story (document numbers), one page of hits of `plan`, ranked by
    `order`, and the plan searched (its fallback when no story has every word); duplicate groups fold
    into their best story and count once unless `all_versions`. Hits in date order carry their
    relevance score too. What the deadline cut short is said in `notes`."""
    plan = check_expansion(plan, searcher.reader())  # fuzzy words as the index words they stand for
    # the user's words, not the words expansion adds; a phrase's words only where they stand as the phrase
    terms, phrases = query_marks(plan.query, plan.marked_words(searcher.reader()))
    wanted = page * limit
    matching, rank, searched = _ranking(searcher, plan, order, scoring)
    groups = None if all_versions else story_groups(searcher)
    if groups is None:
        found, total = [Folded(docnum, score) for docnum, score in rank(wanted)], len(matching)
    else:
        found, total = groups.fold(rank, wanted, matching), groups.count(matching)
    shown = found[wanted - limit : wanted]
    if order != "relevance" and searched.has_words and shown:
        scores = _scores(searcher, searched.query, {folded.docnum for folded in shown})
        scores = dict(with_proximity(searcher, list(scores.items()), query_words(searched.query)))  # as ranked
        shown = [dataclasses.replace(folded, score=scores.get(folded.docnum, 0.0)) for folded in shown]
    hits = _hits(
        searcher,
        [(folded.docnum, folded.score, folded.duplicates) for folded in shown],
        wanted - limit + 1,
        terms,
        phrases,
        notes,
    )
    return total, matching, hits, searched


_PAST_DEADLINE = f"the {deadlines.SEARCH_SECONDS:g} s deadline passed"


def _hits(
    searcher: Searcher,
    shown: Sequence[tuple[int, float, Sequence[int]]],
    first_rank: int,
    terms: set[str],
    phrases: Sequence[Any],
    notes: list[str] | None,
) -> tuple[Hit, ...]:
    """The hits of (docnum, score, duplicates' docnums), ranked from `first_rank`: their stories read and
    snippets made until the request's deadline; past it, the lead stands for the snippet and the
    duplicates' ids are not read (a note says so)."""
    deadline = deadlines.current()
    hits = []
    cut = 0
    duplicates: tuple[str, ...]
    for rank_number, (docnum, score, duplicate_docnums) in enumerate(shown, start=first_rank):
        stored = searcher.stored_fields(docnum)
        story = story_from_stored(stored)
        if deadline.expired():
            cut += 1
            marked, duplicates = html.escape(story.lead, quote=False), ()
        else:
            after = 0 if story.headline else lead_span(story.body)[1]  # the lead is shown as the title
            analyzer = _body_analyzer(searcher)
            words = (  # every word's place for phrases; else the query's words only
                index_words(story.body, analyzer)
                if phrases
                else matched_words(story.body, terms, analyzer, limit=SCAN_CHARS)
            )
            marked = snippet(
                story.body, terms, words, fallback=story.lead, phrases=phrases, after=after, expired=deadline.expired
            )
            duplicates = tuple(_ids(searcher, duplicate_docnums, deadline))
        hits.append(Hit(story, score, rank_number, marked, duplicates=duplicates, revises=stored.get("revises")))
    if cut and notes is not None:
        notes.append(f"{cut} of {len(shown)} hits shown without a snippet or versions: {_PAST_DEADLINE}")
    return tuple(hits)


def _ids(searcher: Searcher, docnums: Iterable[int], deadline: deadlines.Deadline) -> Iterator[str]:
    """The story ids of `docnums`, until the deadline: from the id column, no stored story read."""
    column: Any = None
    for docnum in docnums:
        if deadline.expired():
            return
        if column is None:
            reader = searcher.reader()
            column = reader.column_reader("id") if reader.has_column("id") else False
        yield column[docnum] if column else searcher.stored_fields(docnum)["id"]


def _body_analyzer(searcher: Searcher) -> Any:
    """The analyzer the index cuts bodies with (an older index keeps its own)."""
    return searcher.schema["body"].analyzer


def _ranking(
    searcher: Searcher, plan: QueryPlan, order: str, scoring: _Scoring
) -> tuple[set[int], Callable[[int], list[tuple[int, float]]], QueryPlan]:
    """Every story matching `plan` (document numbers), its ranking in `order` (a function giving the
    first `depth` (docnum, score) pairs) and the plan searched: its fallback when no story has every word."""
    plan = check_expansion(plan, searcher.reader())
    recency = scoring.recency(searcher)
    from newsindex.search import vector  # NumPy: imported when a search first ranks, not when the CLI starts

    evaluated = vector.ranking(searcher, plan, order, recency, scoring.expand)
    if evaluated is not None:  # the shapes people type, scored with arrays; the rest through Whoosh
        return evaluated
    allowed = _allowed_docnums(searcher, plan)
    plan, matching = _settled(searcher, plan, allowed)
    searched = plan
    kept: list[int] = []  # the first run's best stories, which keep their place (see expansion.FEEDBACK_KEEP)
    if order == "relevance" and scoring.expand:  # the feedback words also match, unless `require_all`
        plan, kept = _expanded(searcher, plan, allowed, recency, require_all=scoring.require_all)
        matching = _allowed_matches(searcher, plan, allowed)
    # With a filter, only the stories that match and pass it are scored: often far fewer.
    narrowed = None if allowed is None else matching

    def rank(depth: int) -> list[tuple[int, float]]:
        if not matching:  # Whoosh reads an empty filter as no filter at all
            return []
        if order != "relevance":
            return _by_date(searcher, plan.query, narrowed, depth, newest_first=order == "-date")
        return kept_first(_ranked(searcher, plan, narrowed, depth + len(kept), recency, words), kept)[:depth]

    words = query_words(searched.query)  # the user's words: not those feedback adds
    return matching, rank, searched


def _suggestion_finds_more(searcher: Searcher, plan: QueryPlan, typed_total: int, deadline: deadlines.Deadline) -> bool:
    """Whether to offer a suggested query: always when the query typed found nothing (the spelling is then
    the one help there is), else only when the suggestion, searched as `search` would (filters, the
    every-word rule and its fallback), finds stories with every word (under `match="any"`: more stories).

    The query typed found something, so a suggestion that finds nothing better is not made, as
    Elasticsearch's phrase suggester prunes with `collate`: `caesars world caw` (a ticker no story names,
    the other words found) is not "corrected" to `caesars world car`, which no story has either. Past
    the deadline, no suggestion."""
    if typed_total == 0:
        return True
    if deadline.expired():
        return False
    try:
        searched, matching = _every_match(searcher, plan)
    except QueryRejectedError:  # the request's time ran out while looking: the search stands without it
        return False
    if plan.fallback is None and plan.matched == "any":  # the user asked for any of the words
        return len(matching) > typed_total
    return bool(matching) and searched.matched == "all"


def _settled(searcher: Searcher, plan: QueryPlan, allowed: set[int] | None) -> tuple[QueryPlan, set[int]]:
    """The plan to search and the stories it matches among those the filters allow: `plan`, or its
    fallback (some of the words) when no allowed story has every word."""
    matching = _allowed_matches(searcher, plan, allowed)
    if not matching and plan.fallback is not None and (allowed is None or allowed):
        plan = plan.fall_back()
        matching = _allowed_matches(searcher, plan, allowed)
    return plan, matching


def _every_match(searcher: Searcher, plan: QueryPlan) -> tuple[QueryPlan, set[int]]:
    """Every story matching `plan` (document numbers), and the plan searched (see `_settled`)."""
    plan = check_expansion(plan, searcher.reader())
    return _settled(searcher, plan, _allowed_docnums(searcher, plan))


def _timeline_matches(searcher: Searcher, plan: QueryPlan) -> tuple[Match, set[int]]:
    """The stories a timeline of `plan` counts, with its date range left out (undated stories are
    counted apart; the range bounds the periods), and which set they are. Whether to fall back to some
    of the words is decided inside the range, as `search` decides it."""
    plan = check_expansion(plan, searcher.reader())
    if plan.start is not None or plan.end is not None:
        if plan.fallback is not None:
            plan, _ = _settled(searcher, plan, _allowed_docnums(searcher, plan))
        plan = dataclasses.replace(plan, start=None, end=None, fallback=None)
    plan, matching = _settled(searcher, plan, _allowed_docnums(searcher, plan))
    return plan.matched, matching


def _scores(searcher: Searcher, query: Any, docnums: set[int]) -> dict[int, float]:
    """The relevance score of each of these stories for `query`."""
    results = _timed_search(searcher, query, limit=len(docnums), filter=docnums)
    return {hit.docnum: float(hit.score) for hit in results}


def _allowed_matches(searcher: Searcher, plan: QueryPlan, allowed: set[int] | None) -> set[int]:
    """The stories matching `plan`'s query among those its filters allow (`allowed`, None for all)."""
    if allowed is not None and (not allowed or not plan.has_words):
        return allowed  # filters alone: what passes them is the answer
    matching = _matching(searcher, plan.query)
    return matching if allowed is None else matching & allowed


def _expanded(
    searcher: Searcher, plan: QueryPlan, allowed: set[int] | None, recency: Recency | None, *, require_all: bool
) -> tuple[QueryPlan, list[int]]:
    """`plan` with the words of its best stories added (RM3, see newsindex.search.expansion), and the first
    run's best FEEDBACK_KEEP stories, which keep their place."""
    first = _ranked(searcher, plan, allowed, expansion.FEEDBACK_STORIES + 1, recency)
    share = feedback_share(first)
    if share <= 0:
        return plan, []  # one story stands out: the query has its answer, feedback would only drift
    feedback = feedback_weights(first)
    texts = []
    for docnum, score in feedback:
        story = story_from_stored(searcher.stored_fields(docnum))
        texts.append((f"{story.headline or ''}\n{story.body}", score))
    reader = searcher.reader()
    stories = max(1, reader.doc_count())
    analyzer = _body_analyzer(searcher)
    model = relevance_model(texts, share=lambda term: reader.doc_frequency("body", term) / stories, analyzer=analyzer)
    kept = [docnum for docnum, _ in first[: expansion.FEEDBACK_KEEP]]
    return expanded_plan(plan, model, require_all=require_all, share=share), kept


def _similar(
    searcher: Searcher, story_id: str, limit: int, all_versions: bool, notes: list[str] | None = None
) -> tuple[Hit, ...] | None:
    """The hits of `NewsIndex.similar`, or None if there is no such story."""
    from newsindex.search.similar import KEY_TERMS_CHARS, key_terms, more_like

    docnum = searcher.document_number(id=story_id)
    if docnum is None:
        return None
    story = story_from_stored(searcher.stored_fields(docnum))
    weighted = key_terms(searcher, f"{story.headline or ''}\n{story.body[:KEY_TERMS_CHARS]}")

    def search(query: Any, depth: int, left_out: set[int]) -> list[tuple[int, float]]:
        return [(hit.docnum, float(hit.score)) for hit in _timed_search(searcher, query, limit=depth, mask=left_out)]

    found = more_like(searcher, docnum, weighted, limit, all_versions=all_versions, search=search)
    shown = [(folded.docnum, folded.score, folded.duplicates) for folded in found]
    return _hits(searcher, shown, 1, {term for term, _ in weighted}, (), notes)


def _matching_by_date(
    searcher: Searcher, plan: QueryPlan | None, on_fallback: Callable[[str], None] | None = None
) -> list[int]:
    """The document numbers matching `plan` (every live one if None), oldest first, undated last;
    `on_fallback` hears the message when no story has every word and those with some are listed."""
    if plan is None:
        matching: Iterable[int] = searcher.reader().all_doc_ids()
    else:
        plan, matching = _every_match(searcher, plan)
        if plan.fell_back and on_fallback is not None:
            on_fallback(FALLBACK_NOTE)
    dates: dict[int, int] = {}
    for leaf, offset in searcher.leaf_searchers():
        _stop_at_deadline(deadlines.current())
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


def _allowed_docnums(searcher: Searcher, plan: QueryPlan) -> set[int] | None:
    """The stories that pass the plan's date range and filters (None: every story passes)."""
    allowed: set[int] | None = None
    if plan.start is not None or plan.end is not None:
        allowed = date_filter(searcher, "published", plan.start, plan.end)
    for filter_query in plan.filters:
        matching = _docs_within_deadline(searcher, filter_query)
        allowed = matching if allowed is None else allowed & matching
    return allowed


def _ranked(
    searcher: Searcher,
    plan: QueryPlan,
    allowed: set[int] | None,
    wanted: int,
    recency: Recency | None = None,
    words: Sequence[str] | None = None,
) -> list[tuple[int, float]]:
    """The top `wanted` (docnum, score): stories matching every word first, then those matching some;
    within each, the best ranked again with the proximity of the query's `words` (the user's words in
    order, by default those of `plan.query`: see `ranking.with_proximity`)."""
    words = query_words(plan.query) if words is None else words
    found: list[tuple[int, float]] = []
    for tier in (plan.ranked_first, plan.query):
        if tier is None or len(found) >= wanted:
            continue
        already = {docnum for docnum, _ in found}
        depth = first_stage_depth(wanted - len(found))
        results = _timed_search(searcher, tier, limit=depth, filter=allowed, mask=already or None, recency=recency)
        tier_found = with_proximity(searcher, [(hit.docnum, float(hit.score)) for hit in results], words, recency)
        found.extend(tier_found[: wanted - len(found)])
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
    """Whoosh's search, stopped with QueryRejectedError when the request's deadline passes."""
    if filter is not None and not filter:
        return []  # Whoosh reads an empty filter as no filter at all
    query = SummedUnions(query)  # true score bounds for its ORs (newsindex.search.ranking)
    if filter is not None and len(filter) * SELECTIVE_FILTER <= searcher.doc_count_all():
        # A few allowed stories: score only those, rather than every match and then filter.
        query, filter = AllowedOnly(query, allowed_by_segment(searcher, filter)), None
    # The deadline wraps the ranking collector, the filter wraps both: Whoosh's own TimeLimitCollector
    # would bypass the filter, which lives in FilterCollector.collect_matches.
    ranking = recency.collector(options["limit"]) if recency else searcher.collector(**options)
    collector: Any = _Deadline(ranking, deadlines.current())
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

    def __init__(self, child: Any, deadline: deadlines.Deadline) -> None:
        super().__init__(child)
        self._deadline = deadline

    def collect(self, sub_docnum: int) -> Any:
        if self._deadline.expired():
            raise TimeLimit
        return self.child.collect(sub_docnum)


def _matching(searcher: Searcher, query: Any) -> set[int]:
    """The stories matching `query`."""
    matching = _union_of_terms(searcher, query)
    if matching is None and isinstance(query, query_module.And) and query.subqueries:
        # every word (the default): each word's stories from the postings, intersected, rarest first
        parts = [_union_of_terms(searcher, part) for part in query.subqueries]
        if all(part is not None for part in parts):
            found = sorted((part for part in parts if part is not None), key=len)
            return found[0].intersection(*found[1:])
    return _docs_within_deadline(searcher, query) if matching is None else matching


def _docs_within_deadline(searcher: Searcher, query: Any) -> set[int]:
    """Whoosh's `docs_for_query`, stopped with QueryRejectedError when the request's deadline passes."""
    deadline = deadlines.current()
    found: set[int] = set()
    for docnum in searcher.docs_for_query(query):
        _stop_at_deadline(deadline)
        found.add(docnum)
    return found


def _stop_at_deadline(deadline: deadlines.Deadline) -> None:
    """QueryRejectedError once `deadline` has passed."""
    if deadline.expired():
        raise QueryRejectedError(
            f"the search took longer than {SEARCH_SECONDS:g} s and was stopped: make the query more specific"
        )


def _union_of_terms(searcher: Searcher, query: Any) -> set[int] | None:
    """The stories matching any term of an OR-of-terms query, read a postings block at a time.

    Counting through Whoosh's matchers costs a Python call per story per term; plain keyword queries
    (terms OR-ed across fields) are most queries and can be counted from the postings directly.
    None when the query has other parts (phrases, AND, NOT, ranges).
    """
    if not _is_or_of_terms(query):
        return None
    found: set[int] = set()
    deadline = deadlines.current()
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        for term in query.leaves():
            _stop_at_deadline(deadline)
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
    merged = Counter(merge_spellings(counts))  # "Peter Torday" and "PETER TORDAY" are one name
    return tuple((name, count) for name, count in merged.most_common(top) if count)


# -- the folder ---------------------------------------------------------------------------------------


def _latest_toc(whoosh_ix: Any) -> int:
    return int(whoosh_ix.latest_generation())


def _segment_ids(whoosh_ix: Any) -> set[str]:
    return {segment.segment_id() for segment in whoosh_ix._read_toc().segments}


def _prepare_folder(folder: Path) -> None:
    """Make the index folder if needed, private to its owner, and refuse one others could write to."""
    folder.mkdir(parents=True, exist_ok=True)
    make_private(folder)
    check_trusted(folder)


def _old_index_name(folder: Path) -> str | None:
    """The Whoosh index the manifest names, whatever else is wrong with it (None: no readable name)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = manifest.get("index_name") if isinstance(manifest, dict) else None
    return name if isinstance(name, str) and re.fullmatch(r"stories_[0-9a-f]{12}", name) else None


def _create_whoosh(folder: Path, name: str, *, fsync: bool) -> Any:
    whoosh_ix = SafeFileIndex.create(DurableStorage(str(folder), fsync=fsync), build_schema(), indexname=name)
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
    version = manifest.get("schema_version")
    if version not in READABLE_VERSIONS:
        readable = " and ".join(map(str, sorted(READABLE_VERSIONS)))
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise IndexDamagedError(
                f"index at {folder} was written by a newer newsindex ({manifest.get('written_by', 'format')} "
                f"{version}; this one reads format {readable}): upgrade newsindex "
                "(`pip install -U newsindex-search`), or rebuild it with `newsindex index --rebuild CORPUS`"
            )
        raise IndexDamagedError(
            f"index at {folder} has index format {version!r}, which this newsindex does not read (it reads "
            f"{readable}); rebuild it with `newsindex index --rebuild CORPUS`"
        )
    return manifest


def _new_manifest(index_name: str) -> dict[str, Any]:
    """The manifest of a new index: its format version, who wrote it, its layout and analysis."""
    from newsindex import __version__

    return {
        "format": "newsindex",
        "schema_version": SCHEMA_VERSION,
        "index_name": index_name,
        "written_by": f"newsindex {__version__}",
        "codec": "newsindex packed blocks, CRC-32 per block",
        "analysis": f"analysis {ANALYSIS_VERSION}: news tokens (U.S., AT&T, tickers), accents folded, "
        "Snowball English stems (PyStemmer), stop words after stemming",
    }


def _upgraded_manifest(folder: Path, known: dict[str, Any]) -> dict[str, Any]:
    """Before this code first writes to an index of an older format version (with the write lock held):
    the manifest says the index may now hold segments of this version, which the older release cannot
    read, and who wrote them. Read again from disk: another process may have replaced it since."""
    if known.get("schema_version") == SCHEMA_VERSION:
        return known
    manifest = _read_manifest(folder)
    if manifest is None or manifest.get("schema_version") == SCHEMA_VERSION:
        return manifest or known
    from newsindex import __version__

    upgraded = {**manifest, "schema_version": SCHEMA_VERSION, "written_by": f"newsindex {__version__}"}
    upgraded.setdefault("created_as", manifest.get("schema_version"))
    _write_manifest(folder, upgraded)
    return upgraded


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
    (folder / sums_name(index_name)).unlink(missing_ok=True)
