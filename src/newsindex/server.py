"""`newsindex serve`: the JSON API and the search page over HTTP, read-only (FastAPI on uvicorn).

Needs the `serve` extra (`pip install 'newsindex[serve]'`). The API mirrors the Python API: every
route is a thin layer over `NewsIndex` (`browsing` renames facets to the page's words and picks a
timeline scale). Errors are JSON with a fitting status, never a traceback.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import socket
import threading
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from newsindex import __version__
from newsindex.browsing import FACETS, Filters, page_facets, timeline_body
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
from newsindex.models import Hit
from newsindex.ranking import half_life_for

INDEX_VARIABLE = "NEWSINDEX_INDEX"
STATIC = Path(__file__).parent / "static"
MAX_PAGE_SIZE = 100
MAX_DEPTH = 10_000  # page × limit: deeper pages cost a ranking of that many stories
MAX_TARGET_BYTES = 8 * 1024  # path and query string of one request
MAX_BODY_BYTES = 1024  # every route is a GET: a body is a mistake or an attack
THREADS = 16  # searches at once; each thread keeps a Whoosh searcher, and the GIL runs one at a time anyway

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
_log = logging.getLogger("newsindex.server")

Sort = Literal["relevance", "date", "-date"]
Facet = Literal["bylines", "locations", "sources", "years", "region", "topic", "place", "org", "person", "all"]
By = Literal["year", "month", "day", "auto"]


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
    """Opens the index on first use, and again after a failure: a server may start before its index."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._news: NewsIndex | None = None
        self._lock = threading.Lock()

    def get(self) -> NewsIndex:
        news = self._news
        if news is None:
            with self._lock:
                if self._news is None:
                    self._news = NewsIndex.open(self._path, fsync=False)  # never writes
                news = self._news
        return news


def create_app(index_path: str | os.PathLike[str]) -> ASGIApp:
    """The ASGI app serving the index at `index_path` (opened on the first request)."""
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
    _add_error_handlers(app)

    @app.get("/api/search", response_model=None, responses={200: {"model": SearchBody}, **_ERRORS}, tags=["search"])
    def search(
        q: Annotated[str, Query(description="Query text in the query syntax (or plain words with `plain`).")] = "",
        start: Annotated[
            str | None, Query(alias="from", description="Earliest date, inclusive: YYYY, YYYY-MM or YYYY-MM-DD.")
        ] = None,
        end: Annotated[
            str | None, Query(alias="to", description="Latest date, inclusive: `to=2019-10` includes Oct 31.")
        ] = None,
        bylines: Annotated[list[str], Query(description="Only stories by one of these reporters (repeatable).")] = [],  # noqa: B006 (FastAPI copies it)
        location: Annotated[str | None, Query(description="Only stories datelined here.")] = None,
        source: Annotated[str | None, Query(description="Only stories from this agency or outlet.")] = None,
        region: Annotated[str | None, Query(description="Only stories datelined in this state or country.")] = None,
        topic: Annotated[list[str], Query(description="Only stories with one of these topics.")] = [],  # noqa: B006
        place: Annotated[list[str], Query(description="Only stories tagged with one of these places.")] = [],  # noqa: B006
        org: Annotated[list[str], Query(description="Only stories tagged with one of these orgs.")] = [],  # noqa: B006
        person: Annotated[list[str], Query(description="Only stories tagged with one of these people.")] = [],  # noqa: B006
        all: Annotated[bool, Query(description="Every word must match.")] = False,
        sort: Annotated[
            Sort, Query(description="relevance, date (oldest first) or -date (newest first).")
        ] = "relevance",
        page: Annotated[int, Query(ge=1, description="Page number.")] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Stories per page.")] = 10,
        facet: Annotated[
            list[Facet],
            Query(
                description="Count matching stories per bylines, locations, sources, years, region, topic, place, "
                "org, person (or all)."
            ),
        ] = [],  # noqa: B006
        plain: Annotated[bool, Query(description="Read `q` as plain words: no operator, field or quote.")] = False,
        since: Annotated[
            str | None, Query(description="Only stories from this long ago on: 7d, 2w, 3m, 1y or today.")
        ] = None,
        fuzzy: Annotated[bool, Query(description="Let every word of 3+ letters match words one edit away.")] = False,
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
        timeline: Annotated[
            By | None, Query(description="Add the timeline of /api/timeline, by year, month, day or auto.")
        ] = None,
    ) -> dict[str, Any]:
        """Search: one page of ranked stories, with facet counts when asked for."""
        if page * limit > MAX_DEPTH:
            raise UsageError(
                f"results stop at story {MAX_DEPTH:,}: page × limit is {page * limit:,}; narrow the search"
            )
        filters = _filters(q, start, end, bylines, location, source, all, plain, fuzzy, since)
        filters = _with_tags(filters, region, topic, place, org, person)
        news = holder.get()
        asked = list(FACETS) if "all" in facet else list(dict.fromkeys(name for name in facet if name != "all"))
        results = filters.search(
            news,
            sort=sort,
            limit=limit,
            page=page,
            facets=asked,
            all_versions=not collapse,
            expand=expand,
            recency_half_life=half_life_for(recent, half_life),
        )
        body = results.to_dict()
        body["plain"] = plain
        body["pages"] = min(math.ceil(results.total / limit), MAX_DEPTH // limit)
        if collapse:
            body["hits"] = [_hit_with_versions(news, hit) for hit in results.hits]
        if facet:  # exact: every matching story is counted
            body["facets"] = page_facets(results)
            body["facets_exact"] = True
            body["facets_counted"] = results.total
        if timeline:
            body["timeline"] = {**timeline_body(news, filters, timeline), "query": q}
        return body

    @app.get(
        "/api/stories/{story_id:path}",
        response_model=None,
        responses={200: {"model": StoryBody}, 404: {"model": ErrorBody, "description": "No such story"}, **_ERRORS},
        tags=["stories"],
    )
    def story(story_id: str) -> Any:
        """One story in full."""
        found = holder.get().get(story_id)
        if found is None:
            return _unknown_story(story_id)
        return found.to_dict()

    @app.get(
        "/api/similar/{story_id:path}",
        response_model=None,
        responses={200: {"model": SimilarBody}, 404: {"model": ErrorBody, "description": "No such story"}, **_ERRORS},
        tags=["stories"],
    )
    def similar(story_id: str, limit: Annotated[int, Query(ge=1, le=20)] = 5) -> Any:
        """Stories like this one (more like this on its key terms), its own copies left out."""
        news = holder.get()
        if news.get(story_id) is None:
            return _unknown_story(story_id)
        return {"id": story_id, "hits": [hit.to_dict() for hit in news.similar(story_id, limit=limit).hits]}

    @app.get("/api/timeline", response_model=None, responses={200: {"model": TimelineBody}, **_ERRORS}, tags=["search"])
    def timeline(
        q: str = "",
        by: Annotated[
            By, Query(description="year, month, day, or auto (by the span of the matching stories).")
        ] = "year",
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        bylines: Annotated[list[str], Query()] = [],  # noqa: B006
        location: str | None = None,
        source: str | None = None,
        region: str | None = None,
        topic: Annotated[list[str], Query()] = [],  # noqa: B006
        place: Annotated[list[str], Query()] = [],  # noqa: B006
        org: Annotated[list[str], Query()] = [],  # noqa: B006
        person: Annotated[list[str], Query()] = [],  # noqa: B006
        all: bool = False,
        plain: bool = False,
        fuzzy: bool = False,
        since: Annotated[str | None, Query(description="Only stories from this long ago on: 7d, 2w, 3m, 1y.")] = None,
    ) -> dict[str, Any]:
        """Matching stories per year, month or day, every one counted; `undated` ones apart."""
        filters = _filters(q, start, end, bylines, location, source, all, plain, fuzzy, since)
        filters = _with_tags(filters, region, topic, place, org, person)
        return {**timeline_body(holder.get(), filters, by), "query": q}  # no query and no filter: every story

    @app.get(
        "/api/stats", response_model=None, responses={200: {"model": StatsBody}, 503: _ERRORS[503]}, tags=["index"]
    )
    def stats(top: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        """What the index holds: story count, date span, stories per year, most frequent names."""
        return holder.get().stats(top=top).to_dict()

    @app.get("/health", response_model=None, responses={200: {"model": HealthBody}, 503: _ERRORS[503]}, tags=["index"])
    def health() -> dict[str, Any]:
        """200 while the index can be searched, 503 when it is missing or damaged."""
        return {"status": "ok", "stories": holder.get().count()}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return _Guard(app)


def app_from_environment() -> ASGIApp:
    """The app for the index named by $NEWSINDEX_INDEX (default ./index): uvicorn's factory for workers."""
    return create_app(os.environ.get(INDEX_VARIABLE) or "index")


def serve(
    index_path: str | os.PathLike[str], *, host: str, port: int, workers: int = 1, access_log: bool = False
) -> None:
    """Serve the index until interrupted; UsageError when the address cannot be bound."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    _check_address(host, port)
    logging_config = copy.deepcopy(LOGGING_CONFIG)
    logging_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout is for results only
    os.environ[INDEX_VARIABLE] = str(Path(index_path).resolve())  # how worker processes learn it
    uvicorn.run(
        "newsindex.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=access_log,
        log_config=logging_config,
        server_header=False,
        timeout_graceful_shutdown=5,
        limit_concurrency=1000,  # beyond this many open connections, 503 at once rather than a pile-up
    )


def _check_address(host: str, port: int) -> None:
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


def _filters(
    q: str,
    start: str | None,
    end: str | None,
    bylines: list[str],
    location: str | None,
    source: str | None,
    require_all: bool,
    plain: bool,
    fuzzy: bool,
    since: str | None,
) -> Filters:
    return Filters(
        text=q,
        start=start or None,
        end=end or None,
        bylines=tuple(name for name in bylines if name.strip()),
        location=location or None,
        source=source or None,
        require_all=require_all,
        plain=plain,
        fuzzy=fuzzy,
        since=since or None,
    )


def _with_tags(
    filters: Filters, region: str | None, topics: list[str], places: list[str], orgs: list[str], people: list[str]
) -> Filters:
    """`filters` with the region and tag filters (topic, place, org, person) of a request, blank ones left out."""

    def kept(values: list[str]) -> tuple[str, ...]:
        return tuple(value for value in values if value.strip())

    return dataclasses.replace(
        filters,
        region=region or None,
        topics=kept(topics),
        places=kept(places),
        orgs=kept(orgs),
        people=kept(people),
    )


def _hit_with_versions(news: NewsIndex, hit: Hit) -> dict[str, Any]:
    """The hit with date, place and source of each of its duplicates, for the page to list."""
    body = hit.to_dict()
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


def _add_error_handlers(app: FastAPI) -> None:
    async def on_news_error(_request: Request, error: Exception) -> JSONResponse:
        for kind, status, code in _ERROR_STATUS:
            if isinstance(error, kind):
                return _error(status, code, str(error))
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
        return _error(500, "internal", "internal error; the server log has the details")

    app.add_exception_handler(NewsIndexError, on_news_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_any_error)


class _Guard:
    """Caps request size and adds the security headers to every response (plain ASGI: no per-request cost)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
            await send(message)

        await self.app(scope, receive, send_with_headers)
