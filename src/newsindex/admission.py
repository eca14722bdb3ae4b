"""Which HTTP requests `serve` takes on, and the clock they run against.

A search the server cannot start soon is better refused at once than answered late: clients retry, and
`/health` must keep answering while the searches pile up. So, as each request arrives (`Admission`, an
ASGI layer in front of the app):

- its deadline starts (newsindex.deadline): time spent waiting for a thread counts against the same
  SEARCH_SECONDS as the work, so every request is answered or refused within them;
- a costly request (everything under /api) is admitted only while fewer than `RUNNING + QUEUED` are
  in the server; beyond that it gets 503 with `Retry-After` at once, without waiting;
- a costly request whose deadline passed while it waited for a thread is answered 503 without running
  (`refuse_if_late`, called when its handler starts);
- `/health` never enters the queue: it runs on a thread of its own (`HEALTH_LIMITER`).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from newsindex import deadline as deadlines

RUNNING = 16  # requests working at once (the server's thread pool; see server.THREADS)
QUEUED = 32  # requests waiting for one of those threads; beyond them, 503 at once
RETRY_AFTER_SECONDS = 1
COSTLY_PREFIX = "/api/"


def _refusal(message: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"status": 503, "error": "overloaded", "message": message}).encode()
    start = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        ],
    }
    return start, body


class Admission:
    """The ASGI layer that stamps each request's arrival and bounds the requests waiting (see the module)."""

    def __init__(self, app: ASGIApp, *, running: int | None = None, queued: int | None = None) -> None:
        self.app = app
        self.limit = (RUNNING if running is None else running) + (QUEUED if queued is None else queued)
        self.inside = 0  # costly requests admitted and not yet answered (changed on the event loop only)
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with deadlines.request():  # from now: the time waiting for a thread counts
            if not scope["path"].startswith(COSTLY_PREFIX):
                await self.app(scope, receive, send)
                return
            if self.inside >= self.limit:
                self.refused += 1
                start, body = _refusal(
                    f"the server is busy: {self.limit} searches are already under way or waiting; "
                    f"try again in {RETRY_AFTER_SECONDS} s"
                )
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            self.inside += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.inside -= 1


class LateRequest(Exception):
    """A request whose deadline passed before its work could start."""


def refuse_if_late() -> None:
    """Raise LateRequest when the request under way waited past its deadline (call as its work starts)."""
    if deadlines.current().expired():
        raise LateRequest(
            f"the server is busy: this request waited {deadlines.SEARCH_SECONDS:g} s for its turn; "
            f"try again in {RETRY_AFTER_SECONDS} s"
        )


def late_response_headers() -> MutableMapping[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


_health_limiters: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def health_limiter() -> Any:
    """The limiter `/health` runs under, apart from the searches' pool: its own two threads, made on
    first use in each event loop."""
    import asyncio

    import anyio

    loop = asyncio.get_running_loop()
    limiter = _health_limiters.get(loop)
    if limiter is None:
        limiter = _health_limiters[loop] = anyio.CapacityLimiter(2)
    return limiter
