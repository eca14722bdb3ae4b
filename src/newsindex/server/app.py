"""`newsindex serve`: the JSON API and the search page over HTTP, read-only (FastAPI on uvicorn).

Needs the `serve` extra (`pip install 'newsindex-search[serve]'`). The API mirrors the Python API: every
route is a thin layer over `NewsIndex` (`browsing` renames facets to the page's words and picks a
timeline scale). Errors are JSON with a fitting status, never a traceback.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import logging
import math
import os
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from newsindex import __version__
from newsindex import deadline as deadlines
from newsindex.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexIOError,
    IndexMissingError,
    NewsIndexError,
    QueryError,
    QueryRejectedError,
    UsageError,
)
from newsindex.index import NewsIndex
from newsindex.models import Filters, Hit, Match, Sort
from newsindex.search.ranking import half_life_for
from newsindex.server import admission
from newsindex.server.browsing import facet_names, named_facets, timeline_body
from newsindex.store.manifest import MANIFEST, read_manifest
from newsindex.store.storage import SUMS, damaged_files, read_checksums, sums_name

INDEX_VARIABLE = "NEWSINDEX_INDEX"
HOSTS_VARIABLE = "NEWSINDEX_ALLOWED_HOSTS"  # how worker processes learn the names they answer for
HEADER_SECONDS = 10.0  # a connection that has not sent a whole request head by then is closed
STATIC = Path(__file__).parent / "static"
MAX_PAGE_SIZE = 100
MAX_DEPTH = 10_000  # page × limit: deeper pages cost a ranking of that many stories
MAX_TARGET_BYTES = 8 * 1024  # path and query string of one request
MAX_BODY_BYTES = 1024  # every route is a GET: a body is a mistake or an attack
THREADS = 16  # request threads; each keeps a Whoosh searcher, and admission.WORKING of them work at once

# The page loads nothing from elsewhere, and this says so to the browser too.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]
_ERROR_STATUS: list[tuple[type[NewsIndexError], int, str]] = [
    (QueryRejectedError, 400, "query_rejected"),
    (QueryError, 400, "bad_query"),
    (UsageError, 400, "bad_request"),
    (IndexMissingError, 503, "index_unavailable"),
    (IndexDamagedError, 503, "index_unavailable"),
    (IndexBusyError, 503, "index_unavailable"),
    (IndexIOError, 503, "index_unavailable"),
]
_log = logging.getLogger("newsindex.server.app")

By = Literal["year", "month", "week", "day", "auto"]
_MATCH_HELP = (
    "all (default): stories with every word, or with some when none has every word (then `matched` is any "
    "and `message` says so); any: stories with some of the words, those with every word first."
)


# -- response shapes, for the OpenAPI description (routes return plain dicts: no validation cost) ------


class ErrorBody(BaseModel):
    """Every error: the HTTP status, a stable code and a message for people."""

    status: int
    error: str
    message: str


class Version(BaseModel):
    id: str
    published: str | None
    location: str | None
    source: str | None


class HitBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # the keys of Hit.to_dict(), which may grow

    id: str
    rank: int
    score: float
    published: str | None
    headline: str | None
    lead: str
    bylines: list[str]
    location: str | None
    region: str | None = None
    source: str | None
    topics: list[str] = []
    places: list[str] = []
    orgs: list[str] = []
    people: list[str] = []
    snippet: str
    path: str | None
    duplicates: list[str]
    revises: str | None = None  # the earlier story this one updates with other figures
    versions: list[Version] | None = None


class FacetValue(BaseModel):
    name: str
    stories: int


class Bucket(BaseModel):
    period: str
    stories: int


class TimelineBody(BaseModel):
    query: str
    by: str
    total: int
    counted: int
    exact: bool
    undated: int
    matched: str
    buckets: list[Bucket]


class SearchBody(BaseModel):
    query: str
    plain: bool
    total: int
    page: int
    pages: int
    limit: int
    took_ms: float
    suggestion: str | None
    matched: str
    message: str | None
    notes: list[str] | None = None  # what was cut short to answer inside the deadline
    hits: list[HitBody]
    facets: dict[str, list[FacetValue]] | None = None
    facets_exact: bool | None = None
    facets_counted: int | None = None
    timeline: TimelineBody | None = None


class StoryBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # the keys of Story.to_dict(), which may grow

    id: str
    headline: str | None
    published: str | None
    bylines: list[str]
    location: str | None
    region: str | None = None
    source: str | None
    credits: dict[str, list[str]]
    topics: list[str] = []
    places: list[str] = []
    orgs: list[str] = []
    people: list[str] = []
    lead: str
    body: str
    path: str | None


class SimilarBody(BaseModel):
    id: str
    hits: list[HitBody]


class NameCount(BaseModel):
    name: str
    stories: int


class StatsBody(BaseModel):
    stories: int
    first_published: str | None
    last_published: str | None
    undated: int
    years: dict[str, int]
    top_bylines: list[NameCount]
    top_locations: list[NameCount]
    top_sources: list[NameCount]


class HealthBody(BaseModel):
    status: str
    stories: int


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad query or parameter"},
    503: {"model": ErrorBody, "description": "Index missing, damaged or unreadable"},
}


# -- the app ----------------------------------------------------------------------------------------


class _IndexHolder:
    """Opens the index on first use, and again after a failure: a server may start before its index.

    Every request first looks at the files of the last commit (a stat each, from the checksum record):
    when any changed since they were last verified, they are verified again against their checksums,
    as at open, before the request is answered. Files damaged, gone or moved away under a running
    server so give 503, not answers from what is left of them.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._news: NewsIndex | None = None
        self._lock = threading.Lock()
        self._verified: tuple[Any, ...] | None = None  # the files' state when last verified, if found whole
        self._whole: dict[str, Any] = {}  # path → stamp of each file when the index was last found whole
        # The manifest's stamp and the checksum record it leads to (one per Whoosh index, so a rebuild's
        # switch-over changes it); the record's stamp, and the paths to look at: the manifest, the record,
        # every file it names.
        self._record_of: tuple[tuple[int, int] | None, str] = (None, os.path.join(path, SUMS))
        self._recorded: tuple[tuple[int, int] | None, tuple[str, ...]] = (None, ())

    def get(self) -> NewsIndex:
        seen = self._state()
        news = self._news
        if news is None or seen != self._verified:
            with self._lock:
                if self._news is None or seen != self._verified:
                    self._verify(seen)
                news = self._news
            assert news is not None
        return news

    def damage(self) -> list[str]:
        """What is wrong with the index's files, read through in full (empty: nothing found)."""
        try:
            manifest = read_manifest(self._path)
            return [] if manifest is None else damaged_files(self._path, manifest["index_name"], full=True)
        except NewsIndexError as error:
            return [str(error)]
        except OSError as error:
            return [f"{error.strerror or error}"]

    def _verify(self, seen: tuple[Any, ...]) -> None:
        self._verified = None
        try:
            manifest = read_manifest(self._path)
        except NotADirectoryError:
            manifest = None
        if manifest is None:
            self._news = None  # its open files are closed once the requests using it are done
            raise IndexMissingError(f"no index at {self._path}: build one with `newsindex index CORPUS`")
        problems = damaged_files(self._path, manifest["index_name"]) or self._changed_contents(
            manifest["index_name"], seen
        )
        if problems:
            self._news = None
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise IndexDamagedError(
                f"index is damaged: {problems[0]}{more}; rebuild it with `newsindex index --rebuild CORPUS`"
            )
        if self._news is None:
            self._news = NewsIndex.open(self._path, fsync=False)  # never writes
        self._verified = seen
        self._whole = dict(seen)

    def _changed_contents(self, index_name: str, seen: tuple[Any, ...]) -> list[str]:
        """Recorded files whose stamp changed since the index was found whole, read against their checksum.

        A file of a commit is never rewritten: a new stamp with the recorded size is damage in place, which
        the check at open sees only in indexes of up to 32 MB. Here any size: only the changed files are read.
        """
        record = read_checksums(self._path, index_name)
        if record is None:
            return []
        problems = []
        for path, stamp in seen:
            name = os.path.basename(path)
            known = record["files"].get(name)
            before = self._whole.get(path)
            if known is None or stamp is None or before is None or before == stamp or stamp[0] != known["size"]:
                continue
            if file_crc32(Path(path)) != known["crc32"]:
                problems.append(f"{name} is damaged: its contents changed since they were written")
        return problems

    @property
    def path(self) -> Path:
        return self._path

    def _state(self) -> tuple[tuple[str, tuple[int, int] | None], ...]:
        """(path, size and change time) of the manifest, the checksum record and every file it names."""
        manifest = _stamp(os.path.join(self._path, MANIFEST))
        if manifest != self._record_of[0]:
            self._record_of = (manifest, _record_path(self._path))
            self._recorded = (None, ())
        sums = self._record_of[1]
        record = _stamp(sums)
        if record != self._recorded[0] or not self._recorded[1]:
            names = (MANIFEST, os.path.basename(sums), *_recorded_files(sums))
            self._recorded = (record, tuple(os.path.join(self._path, name) for name in names))
        return tuple((path, _stamp(path)) for path in self._recorded[1])


def _record_path(folder: Path) -> str:
    """The checksum record of the index the manifest names (the folder-wide one of older indexes if none)."""
    import json

    try:
        name = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["index_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return os.path.join(folder, SUMS)
    own = os.path.join(folder, sums_name(str(name)))
    return own if os.path.exists(own) else os.path.join(folder, SUMS)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns)


def file_crc32(path: Path) -> int:
    """The CRC-32 of a file's contents, as the checksum record holds it."""
    import zlib

    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _recorded_files(path: str) -> tuple[str, ...]:
    import json

    try:
        with open(path, encoding="utf-8") as file:
            files = json.load(file).get("files", {})
    except (OSError, ValueError, AttributeError):
        return ()
    return tuple(sorted(name for name in files if isinstance(name, str))) if isinstance(files, dict) else ()


def create_app(index_path: str | os.PathLike[str], *, allowed_hosts: Iterable[str] | None = None) -> ASGIApp:
    """The ASGI app serving the index at `index_path` (opened on the first request).

    `allowed_hosts`: the host names requests may be addressed to (the `Host` header; IP addresses and
    `localhost` always pass), against DNS rebinding; None (the default) checks nothing, `*` allows all.
    `newsindex serve` always checks (see `serve_hosts`).
    """
    holder = _IndexHolder(Path(index_path))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield

    app = FastAPI(
        title="newsindex",
        version=__version__,
        summary="Full-text search over a news corpus: the JSON API of `newsindex serve`.",
        description=(
            "Read-only. Every route is a GET. Errors are JSON `{status, error, message}`: "
            "400 for a bad query or parameter, 404 for an unknown story, 503 when the index is missing or damaged."
        ),
        docs_url=None,  # the interactive docs load their scripts from a CDN; the description is at /openapi.json
        redoc_url=None,
        lifespan=lifespan,
    )
    _add_error_handlers(app, holder)

    @app.get("/api/search", response_model=None, responses={200: {"model": SearchBody}, **_ERRORS}, tags=["search"])
    @_within_deadline
    def search(
        *,
        q: Annotated[str, Query(description="Query text in the query syntax (or plain words with `plain`).")] = "",
        filters: Annotated[Filters, Depends(request_filters)],
        sort: Annotated[
            Sort, Query(description="relevance, date (oldest first) or -date (newest first).")
        ] = "relevance",
        page: Annotated[int, Query(ge=1, description="Page number.")] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Stories per page.")] = 10,
        facet: Annotated[
            list[str],
            Query(
                description="Count matching stories per bylines, location, source, region, topic, place, org, person, "
                "year or month (repeatable; all: every one); as `newsindex search --facet`. locations, sources, years: "
                "older names, still taken."
            ),
        ] = [],  # noqa: B006
        facet_top: Annotated[int, Query(ge=1, le=1000, description="Names listed per name facet.")] = 10,
        expand: Annotated[
            bool, Query(description="Add words of the best stories to the query (pseudo-relevance feedback).")
        ] = False,
        recent: Annotated[
            bool, Query(description="Rank newer stories higher: relevance halves for every 30 days of age.")
        ] = False,
        half_life: Annotated[
            float | None, Query(description="Days in which relevance halves (implies `recent`).")
        ] = None,
        collapse: Annotated[
            bool,
            Query(
                description="Fold the copies of a story (its duplicate group) into its best hit, listed in "
                "`versions`; `total` then counts groups. false: every version is a hit of its own."
            ),
        ] = True,
        all_versions: Annotated[
            bool, Query(description="Every version is a hit of its own (`collapse=false`; the CLI's `--all-versions`).")
        ] = False,
        timeline: Annotated[
            By | None, Query(description="Add the timeline of /api/timeline, by year, month, week, day or auto.")
        ] = None,
    ) -> dict[str, Any]:
        """Search: one page of ranked stories, with facet counts when asked for."""
        if page * limit > MAX_DEPTH:
            raise UsageError(
                f"results stop at story {MAX_DEPTH:,}: page × limit is {page * limit:,}; narrow the search"
            )
        asked = facet_names(facet)
        all_versions = all_versions or not collapse  # two names of one choice: the CLI's, and the page's
        news = holder.get()
        results = news.search(
            q,
            filters=filters,
            sort=sort,
            limit=limit,
            page=page,
            facets=list(asked.values()),
            facet_top=facet_top,
            all_versions=all_versions,
            expand=expand,
            recency_half_life=half_life_for(recent, half_life),
        )
        body = results.to_dict()
        body["plain"] = filters.plain
        body["pages"] = min(math.ceil(results.total / limit), MAX_DEPTH // limit)
        body["hits"] = [_hit_body(hit) if all_versions else _hit_with_versions(news, hit) for hit in results.hits]
        if facet:  # exact: every matching story is counted
            body["facets"] = named_facets(results, asked)
            body["facets_exact"] = True
            body["facets_counted"] = results.total
        if timeline and deadlines.current().expired():
            body.setdefault("notes", []).append(
                f"timeline not counted: the {deadlines.SEARCH_SECONDS:g} s deadline passed"
            )
        elif timeline:
            body["timeline"] = {**timeline_body(news, q, filters, timeline), "query": q}
        return body

    @app.get(
        "/api/stories/{story_id:path}",
        response_model=None,
        responses={200: {"model": StoryBody}, 404: {"model": ErrorBody, "description": "No such story"}, **_ERRORS},
        tags=["stories"],
    )
    @_within_deadline
    def story(story_id: str) -> Any:
        """One story in full."""
        found = holder.get().get(story_id)
        if found is None:
            return _unknown_story(story_id)
        return {**found.to_dict(), "path": public_path(found.id, found.path)}

    @app.get(
        "/api/similar/{story_id:path}",
        response_model=None,
        responses={200: {"model": SimilarBody}, 404: {"model": ErrorBody, "description": "No such story"}, **_ERRORS},
        tags=["stories"],
    )
    @_within_deadline
    def similar(story_id: str, limit: Annotated[int, Query(ge=1, le=20)] = 5) -> Any:
        """Stories like this one (more like this on its key terms), its own copies left out."""
        news = holder.get()
        if news.get(story_id) is None:
            return _unknown_story(story_id)
        return {"id": story_id, "hits": [_hit_body(hit) for hit in news.similar(story_id, limit=limit).hits]}

    @app.get("/api/timeline", response_model=None, responses={200: {"model": TimelineBody}, **_ERRORS}, tags=["search"])
    @_within_deadline
    def timeline(
        *,
        q: str = "",
        by: Annotated[
            By, Query(description="year, month, week (ISO 8601), day, or auto (by the span of the matching stories).")
        ] = "year",
        filters: Annotated[Filters, Depends(request_filters)],
    ) -> dict[str, Any]:
        """Matching stories per year, month, week or day, every one counted; `undated` ones apart."""
        return {**timeline_body(holder.get(), q, filters, by), "query": q}  # no query and no filter: every story

    @app.get(
        "/api/stats", response_model=None, responses={200: {"model": StatsBody}, 503: _ERRORS[503]}, tags=["index"]
    )
    @_within_deadline
    def stats(top: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        """What the index holds: story count, date span, stories per year, most frequent names."""
        return holder.get().stats(top=top).to_dict()

    @app.get("/health", response_model=None, responses={200: {"model": HealthBody}, 503: _ERRORS[503]}, tags=["index"])
    async def health() -> dict[str, Any]:
        """200 while the index can be searched, 503 when it is missing or damaged (its files are checked
        against their checksums whenever they changed). Answered on threads of its own: never queued
        behind searches."""
        count = await anyio.to_thread.run_sync(lambda: holder.get().count(), limiter=admission.health_limiter())
        return {"status": "ok", "stories": count}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    hosts = None if allowed_hosts is None else frozenset(name.lower() for name in allowed_hosts)
    return _Guard(admission.Admission(app), hosts)


def app_from_environment() -> ASGIApp:
    """The app for the index named by $NEWSINDEX_INDEX (default ./index): uvicorn's factory for workers.

    $NEWSINDEX_ALLOWED_HOSTS, when set, holds the allowed host names, comma-separated.
    """
    hosts = os.environ.get(HOSTS_VARIABLE)
    allowed = None if hosts is None else [name for name in hosts.split(",") if name]
    admission.share_the_interpreter()  # a server process's own setting, so not in create_app
    return create_app(os.environ.get(INDEX_VARIABLE) or "index", allowed_hosts=allowed)


def serve_hosts(host: str, allowed: Iterable[str] = ()) -> list[str]:
    """The host names `newsindex serve --host HOST` answers for: `localhost`, HOST if it is a name, this
    machine's names when HOST is every address (0.0.0.0, ::), and those given (`--allowed-host`)."""
    names = ["localhost", *allowed]
    if not _is_address(host):
        names.append(host)
    elif ipaddress.ip_address(host).is_unspecified:
        names += [socket.gethostname(), socket.getfqdn()]
    return list(dict.fromkeys(name.lower().rstrip(".") for name in names if name))


def serve(
    index_path: str | os.PathLike[str],
    *,
    host: str,
    port: int,
    workers: int = 1,
    access_log: bool = False,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Serve the index until interrupted; UsageError when the address cannot be bound.

    Requests addressed to another host name than `serve_hosts(host, allowed_hosts)` are refused (421).
    """
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    check_address(host, port)
    logging_config = copy.deepcopy(LOGGING_CONFIG)
    logging_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout is for results only
    os.environ[INDEX_VARIABLE] = str(Path(index_path).resolve())  # how worker processes learn it
    os.environ[HOSTS_VARIABLE] = ",".join(serve_hosts(host, allowed_hosts))
    uvicorn.run(
        "newsindex.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=access_log,
        log_config=logging_config,
        server_header=False,
        http="newsindex.server.app:HeaderTimeoutProtocol",
        timeout_graceful_shutdown=5,
        limit_concurrency=1000,  # beyond this many open connections, 503 at once rather than a pile-up
    )


def check_address(host: str, port: int) -> None:
    """Bind once to find out early, with a message, that the port is taken (uvicorn would only log it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}: {error.strerror or error}; give another --host") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise UsageError(
                f"cannot listen on {host}:{port}: {error.strerror or error}; give another --port"
            ) from None


# -- helpers ----------------------------------------------------------------------------------------


def request_filters(
    start: Annotated[
        str | None, Query(alias="from", description="Earliest date, inclusive: YYYY, YYYY-MM or YYYY-MM-DD.")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="Latest date, inclusive: `to=2019-10` includes Oct 31.")
    ] = None,
    bylines: Annotated[list[str], Query(description="Only stories by one of these reporters (repeatable).")] = [],  # noqa: B006 (FastAPI copies it)
    byline: Annotated[list[str], Query(description="The same as `bylines` (the CLI's `--byline`).")] = [],  # noqa: B006
    location: Annotated[str | None, Query(description="Only stories datelined here.")] = None,
    source: Annotated[str | None, Query(description="Only stories from this agency or outlet.")] = None,
    region: Annotated[str | None, Query(description="Only stories datelined in this state or country.")] = None,
    topic: Annotated[list[str], Query(description="Only stories with one of these topics.")] = [],  # noqa: B006
    place: Annotated[list[str], Query(description="Only stories tagged with one of these places.")] = [],  # noqa: B006
    org: Annotated[list[str], Query(description="Only stories tagged with one of these orgs.")] = [],  # noqa: B006
    person: Annotated[list[str], Query(description="Only stories tagged with one of these people.")] = [],  # noqa: B006
    since: Annotated[
        str | None, Query(description="Only stories from this long ago on: 7d, 2w, 3m, 1y or today.")
    ] = None,
    all: Annotated[bool, Query(description="Every word must match, even when no story has them all.")] = False,
    match: Annotated[Match, Query(description=_MATCH_HELP)] = "all",
    plain: Annotated[bool, Query(description="Read `q` as plain words: no operator, field or quote.")] = False,
    fuzzy: Annotated[bool, Query(description="Let every word of 3+ letters match words one edit away.")] = False,
) -> Filters:
    """The Filters of a search or timeline request, from its query parameters (a FastAPI dependency);
    blank ones are no filter (an empty box of the page sends `from=`)."""
    return Filters(
        start=start,
        end=end,
        since=since,
        bylines=(*bylines, *byline),
        location=location,
        source=source,
        region=region,
        topics=topic,
        places=place,
        orgs=org,
        people=person,
        match=match,
        require_all=all,
        plain=plain,
        fuzzy=fuzzy,
    )


def public_path(story_id: str, path: str | None) -> str | None:
    """A story's file as HTTP shows it: relative to the corpus folder it was indexed from, never absolute.

    A story's id is its file's path under the folder given to `newsindex index` (or begins with it, for
    the records of a JSON Lines, CSV or zip file): the longest tail of `path` the id begins with is that
    relative path. When the id says nothing of it (records with ids of their own), the file's name.
    """
    if not path:
        return path
    parts = Path(path).parts
    for start in range(1, len(parts)):
        tail = "/".join(parts[start:])
        if story_id == tail or story_id.startswith((f"{tail}:", f"{tail}/")):
            return tail
    return parts[-1] if parts else None


def _hit_body(hit: Hit) -> dict[str, Any]:
    body = hit.to_dict()
    body["path"] = public_path(hit.story.id, hit.story.path)
    return body


def _hit_with_versions(news: NewsIndex, hit: Hit) -> dict[str, Any]:
    """The hit with date, place and source of each of its duplicates, for the page to list."""
    body = _hit_body(hit)
    versions = [version for version in map(news.get, hit.duplicates) if version is not None]
    body["versions"] = [
        {
            "id": version.id,
            "published": version.published.isoformat() if version.published else None,
            "location": version.location,
            "source": version.source,
        }
        for version in versions
    ]
    return body


def _unknown_story(story_id: str) -> JSONResponse:
    return _error(404, "unknown_story", f"no story with id {story_id!r}; search shows the ids")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "error": code, "message": message}, status_code=status)


# The CLI flags core messages name, and the HTTP parameters that stand for them.
_FLAG = re.compile(r"--([a-z][a-z-]*)")
_PARAMETERS = {"byline": "bylines", "all-versions": "collapse=false"}
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s:;,'\"`()]+/)*([^\s:;,'\"`()/]+)")


def http_message(message: str, *, index_path: Path | None = None) -> str:
    """A core error message as an HTTP client should read it.

    CLI flags become the HTTP parameters that stand for them (`--since` → `since`, `--byline` →
    `bylines`), and no absolute filesystem path is shown: the index folder is named by its last part,
    any other path by its file name.
    """
    if index_path is not None:
        for shown in {str(index_path), str(index_path.resolve())}:
            message = message.replace(shown, index_path.name)
    message = _ABSOLUTE_PATH.sub(lambda match: match.group(1), message)
    if "`newsindex " in message:  # a command for the server's operator: its flags stay
        return message
    return _FLAG.sub(lambda match: f"`{_PARAMETERS.get(match.group(1), match.group(1).replace('-', '_'))}`", message)


def _add_error_handlers(app: FastAPI, holder: _IndexHolder) -> None:
    async def on_news_error(_request: Request, error: Exception) -> JSONResponse:
        for kind, status, code in _ERROR_STATUS:
            if isinstance(error, kind):
                return _error(status, code, http_message(str(error), index_path=holder.path))
        return await on_any_error(_request, error)

    async def on_invalid(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = []
        for problem in error.errors():
            where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {problem.get('msg', 'invalid')}")
        return _error(400, "bad_request", "; ".join(problems))

    async def on_http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        message = (
            "no such page; the API is under /api (see /openapi.json)" if error.status_code == 404 else str(error.detail)
        )
        return _error(error.status_code, code, message)

    async def on_any_error(_request: Request, error: Exception) -> JSONResponse:
        _log.error("internal error", exc_info=error)  # the traceback goes to the server's log, never to the client
        # Damaged or vanished files make Whoosh raise anything at all: if the index is not whole, say so.
        problems = await anyio.to_thread.run_sync(holder.damage)
        if problems or isinstance(error, FileNotFoundError):
            reason = problems[0] if problems else "a file of the index is gone"
            message = f"index is unavailable: {reason}; rebuild it with `newsindex index --rebuild CORPUS`"
            return _error(503, "index_unavailable", http_message(message, index_path=holder.path))
        return _error(500, "internal", "internal error; the server log has the details")

    app.add_exception_handler(NewsIndexError, on_news_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_any_error)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _host_name(header: bytes) -> str:
    """The name in a Host header, without its port or brackets, lower case."""
    host = header.decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":")[0]
    return host.rstrip(".")


def host_allowed(header: bytes | None, allowed: frozenset[str] | None) -> bool:
    """May a request with this Host header be answered? An IP address, `localhost` and its subdomains
    always; a name only if allowed (`*` allows every one). A request without Host (HTTP/1.0) is not a
    browser's, and passes."""
    if allowed is None or "*" in allowed or header is None:
        return True
    name = _host_name(header)
    return _is_address(name) or name == "localhost" or name.endswith(".localhost") or name in allowed


class _Guard:
    """Checks the Host header (DNS rebinding), caps request size, answers HEAD as GET without a body, and
    adds the security headers to every response (plain ASGI: no per-request cost)."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
        if not host_allowed(host, self.allowed_hosts):
            shown = _host_name(host or b"")[:100]
            await _error(
                421,
                "unknown_host",
                f"this server does not answer for host {shown!r} (a guard against DNS rebinding); its operator "
                "can allow the name with `newsindex serve --allowed-host NAME`",
            )(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        length = next((value for name, value in scope["headers"] if name == b"content-length"), b"0")
        if target > MAX_TARGET_BYTES:
            await _error(414, "uri_too_long", f"the request's URL is over {MAX_TARGET_BYTES:,} bytes")(
                scope, receive, send
            )
            return
        if (
            not length.isdigit()
            or int(length) > MAX_BODY_BYTES
            or any(n == b"transfer-encoding" for n, _ in scope["headers"])
        ):
            await _error(413, "too_large", "requests carry no body: every route is a GET")(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}  # the GET's headers, Content-Length included; no body
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _h11_protocol() -> type[Any]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


class HeaderTimeoutProtocol(_h11_protocol()):  # type: ignore[misc]
    """uvicorn's h11 protocol, closing a connection whose request head takes over HEADER_SECONDS.

    uvicorn times out idle keep-alive connections but not a request that trickles in: a few slow
    clients (Slowloris) could hold connections open as long as they liked.
    """

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_timer: Any = None
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._head_done_if_read()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_head()  # the next request of a kept-alive connection has the same time for its head

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self._head_timer = self.loop.call_later(HEADER_SECONDS, self._head_timeout)
            self._head_done_if_read()

    def _head_done_if_read(self) -> None:
        import h11

        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def _within_deadline(handler: _Handler) -> _Handler:
    """`handler` with one deadline for all its work (search, versions, facets, timeline), from when the
    request arrived (newsindex.server.admission); 503 without running when it waited past it."""

    @functools.wraps(handler)
    def within(*args: Any, **kwargs: Any) -> Any:
        with deadlines.request():
            try:
                with admission.turn():
                    return handler(*args, **kwargs)
            except admission.LateRequest as late:
                response = _error(503, "overloaded", str(late))
                response.headers.update(admission.late_response_headers())
                return response

    return within  # type: ignore[return-value]
