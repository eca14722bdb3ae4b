"""NewsIndex: create, open, add, search, get — the facade over a Whoosh index folder."""

from __future__ import annotations

import dataclasses
import functools
import os
import pickle
import struct
import threading
import time
import weakref
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from whoosh import query as query_module
from whoosh.index import EmptyIndexError
from whoosh.searching import Searcher

from newsindex import deadline as deadlines
from newsindex.errors import (
    IndexDamagedError,
    IndexMissingError,
    NewsIndexError,
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
)
from newsindex.search.collapsing import story_groups
from newsindex.search.executor import (
    PAST_DEADLINE,
    Scoring,
    index_stats,
    matching_by_date,
    ranked_matches,
    read_through,
    search_page,
    similar_stories,
    stop_at_deadline,
    suggestion_finds_more,
    timeline_matches,
)
from newsindex.search.facets import check_facets, count_days, count_facets, seconds_to_day
from newsindex.search.query import FALLBACK_NOTE, QueryPlan, parse_query
from newsindex.search.ranking import (
    check_half_life,
    weighting,
)
from newsindex.search.suggest import suggest
from newsindex.store.manifest import (
    MANIFEST,
    create_whoosh,
    latest_toc,
    new_index_name,
    new_manifest,
    old_index_name,
    prepare_folder,
    read_manifest,
    remove_whoosh_files,
    segment_ids,
    upgraded_manifest,
    write_manifest,
)
from newsindex.store.schema import (
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
    read_checksums,
    remove_leftovers,
    zeroed_files,
)
from newsindex.timeline import Timeline, auto_timeline, build_timeline, check_period, day_to_date

_READ_ATTEMPTS = 4
_T = TypeVar("_T")
# What reading a damaged file raises inside Whoosh (decompression, unpacking, unpickling, decoding).
_DAMAGE = (zlib.error, struct.error, EOFError, pickle.UnpicklingError, UnicodeDecodeError)
MAX_LIMIT = 1000
MAX_DEPTH = 10_000  # page × limit: the ranked stories a page may reach down to
MAX_SERIES = 20  # queries in one timeline
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
        if read_manifest(folder) is not None and not overwrite:
            raise UsageError(f"an index already exists at {folder}: open it, or rebuild it with --rebuild")
        prepare_folder(folder)
        with folder_lock(folder, timeout=lock_timeout):
            return cls._create_locked(folder, overwrite=overwrite, fsync=fsync)

    @classmethod
    def _create_locked(cls, folder: Path, *, overwrite: bool, fsync: bool) -> NewsIndex:
        """`create`, with the folder's write lock held by the caller."""
        old = read_manifest(folder)
        if old is not None and not overwrite:
            raise UsageError(f"an index already exists at {folder}: open it, or rebuild it with --rebuild")
        name = new_index_name()
        manifest = new_manifest(name)
        whoosh_ix = create_whoosh(folder, name, fsync=fsync)
        write_manifest(folder, manifest)
        if old is not None:
            remove_whoosh_files(folder, old["index_name"])
        return cls._from_parts(folder, whoosh_ix, manifest)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True) -> NewsIndex:
        """Open the index in folder `path`: IndexMissingError if there is none, IndexDamagedError if unreadable."""
        folder = Path(path)
        manifest = read_manifest(folder)
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
        if read_manifest(folder) is None:
            prepare_folder(folder)
            with folder_lock(folder, timeout=lock_timeout):
                if read_manifest(folder) is None:
                    return cls._create_locked(folder, overwrite=False, fsync=fsync)
        return cls.open(path, fsync=fsync)

    @classmethod
    def check(cls, path: str | os.PathLike[str]) -> CheckReport:
        """Verify an index in full: every file against its checksum, then every segment read through.

        Works on an index that `open` refuses; IndexMissingError if there is none.
        """
        folder = Path(path)
        manifest = read_manifest(folder)
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
                        problems += read_through(searcher)
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
            self._manifest = upgraded_manifest(self._path, self._manifest)
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
            self._manifest = upgraded_manifest(self._path, self._manifest)
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
        scoring = Scoring(expand, bool(filters and filters.require_all), recency_half_life)
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
            total, matching, hits, searched = search_page(
                searcher, plan, order, limit, page, scoring, all_versions, notes
            )
            counted: dict[str, tuple[tuple[str, int], ...]] = {}
            for name in wanted:  # the deadline looked at between facets: each is one pass over the matches
                if deadline.expired():
                    notes.append(f"facets not counted ({', '.join(wanted[len(counted) :])}): {PAST_DEADLINE}")
                    break
                counted.update(count_facets(searcher, matching, (name,), facet_top))
            guess = suggest(searcher, plan, total) if text.strip() and not deadline.expired() else None
            if guess is not None and not suggestion_finds_more(searcher, self._plan(guess, filters), total, deadline):
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
        scoring = Scoring(expand, filters.require_all, recency_half_life)
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        plan = self._plan(text, filters)
        order = "relevance" if plan.has_words else "-date"

        def ids(searcher: Searcher) -> list[tuple[str, float]]:
            from newsindex.search.vector import story_ids

            _, ranking, _ = ranked_matches(searcher, plan, order, scoring)
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
        """Stories matching each query per day, ISO week, month or year (`"auto"`: years, months or days by
        the span of the matching stories, see `timeline.auto_timeline`): one series per query.

        Every period of the filters' date range is listed, zeros included (by default from the earliest to
        the latest matching story); matching stories without a date are counted apart, in `Series.undated`.
        `filters` are those of `search`, and each series counts the stories `search` counts in
        its `total` (with `all_versions`): every word, or some when no story has every word (then the
        series' `matched` is "any"). An empty query with no filter counts every story.
        """
        period = None if by == "auto" else check_period(by)
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
                stop_at_deadline(deadlines.current())
                matched, matching = timeline_matches(searcher, plan)
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
        found = auto_timeline(counted, first, last) if period is None else build_timeline(period, counted, first, last)
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
                found = matching_by_date(searcher, plan, on_fallback)
            for docnum in found:
                if request is not None:
                    stop_at_deadline(request)
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
        hits = self._reading(lambda searcher: similar_stories(searcher, story_id, limit, all_versions, notes))
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
            counted = index_stats(searcher, top)
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
            manifest = read_manifest(self._path)
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
        prepare_folder(folder)
        with folder_lock(folder, timeout=lock_timeout):  # no other writer until the switch
            old_name = old_index_name(folder)
            name = new_index_name()
            manifest = new_manifest(name)
            whoosh_ix = create_whoosh(folder, name, fsync=fsync)
            live = frozenset({old_name} if old_name else ())
            fresh = cls._from_parts(folder, whoosh_ix, manifest)
            fresh._other_live, fresh._lock_held = live, True
            try:
                report = fresh.add_files(paths, format=format, procs=procs, on_file=on_file, on_story=on_story)
            except BaseException:
                fresh.close()
                remove_whoosh_files(folder, name)
                raise
            fresh.close()
            write_manifest(folder, manifest)  # the switch: readers follow the manifest
            if old_name is not None:
                remove_whoosh_files(folder, old_name)
            remove_leftovers(folder, name, latest_toc(whoosh_ix), segment_ids(whoosh_ix))  # and any others'
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
