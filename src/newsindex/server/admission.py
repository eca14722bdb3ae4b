"""Which HTTP requests `serve` takes on, and the clock they run against.

A search the server cannot start soon is better refused at once than answered late: clients retry, and
`/health` must keep answering while the searches pile up. So, as each request arrives (`Admission`, an
ASGI layer in front of the app):

- its deadline starts (newsindex.deadline): time spent waiting for a thread counts against the same
  SEARCH_SECONDS as the work (less ANSWER_RESERVE_SECONDS, kept for answering), so every request is
  answered or refused within them;
- a costly request (everything under /api) is admitted only while fewer than `WORKING + QUEUED` are
  in the server; beyond that it gets 503 with `Retry-After` at once, without waiting;
- WORKING of them work at once (`turn`, taken when a handler starts), the others wait, off the
  interpreter lock: searches are pure Python, so more at once only slows each, and every short
  request (/health) waits behind each of them for its turn on the interpreter;
- a costly request whose deadline passes while it waits (for a thread or its turn) is answered 503
  without running;
- `/health` never enters the queue: it runs on a thread of its own (`HEALTH_LIMITER`).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from newsindex import deadline as deadlines

WORKING = 4  # costly requests doing their work at once (pure Python: the interpreter runs one at a time)
# More requests waiting for their turn; beyond them, 503 at once. Enough for 50 clients on keep-alive
# connections to wait rather than be refused: with 32, the 14 refused at once asked again at once, and
# answering those refusals (36,000 in 30 s) took the CPU the searches needed (benchmarks/RESULTS-serve.md,
# session 9: 25.7 → 59.8 searches/s). One waiting past its deadline is still refused at it.
QUEUED = 64
RETRY_AFTER_SECONDS = 1
# The work of a request stops this long before its SEARCH_SECONDS are up, to leave time for the answer
# (the last step, the JSON, the threads it waits behind): measured, the work overran its deadline by up
# to 0.9 s with 16 costly searches at once on 2 cores (benchmarks/RELIABILITY.md, hostile).
ANSWER_RESERVE_SECONDS = 1.0
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

    def __init__(self, app: ASGIApp, *, working: int | None = None, queued: int | None = None) -> None:
        self.app = app
        working = WORKING if working is None else working
        self.limit = working + (QUEUED if queued is None else queued)
        self.turns = threading.BoundedSemaphore(working)
        self.inside = 0  # costly requests admitted and not yet answered (changed on the event loop only)
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # From now: the time waiting for a thread counts.
        with deadlines.request(deadlines.SEARCH_SECONDS - ANSWER_RESERVE_SECONDS):
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
            token = _turns.set(self.turns)
            try:
                await self.app(scope, receive, send)
            finally:
                _turns.reset(token)
                self.inside -= 1


class LateRequest(Exception):
    """A request whose deadline passed before its work could start."""


_turns: ContextVar[threading.BoundedSemaphore | None] = ContextVar("newsindex_turns", default=None)


@contextmanager
def turn() -> Iterator[None]:
    """Wait for this request's turn to work (one of WORKING), at most until its deadline: LateRequest then,
    and when it already waited past its deadline for a thread. Call as the request's work starts."""
    deadline = deadlines.current()
    turns = _turns.get()
    if deadline.expired() or (turns is not None and not turns.acquire(timeout=deadline.remaining())):
        raise LateRequest(
            f"the server is busy: this request waited for its turn past its {deadlines.SEARCH_SECONDS:g} s deadline; "
            f"try again in {RETRY_AFTER_SECONDS} s"
        )
    try:
        yield
    finally:
        if turns is not None:
            turns.release()


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


SWITCH_SECONDS = 0.001  # how long a thread may hold the interpreter while another waits (Python's default: 5 ms)


def share_the_interpreter() -> None:
    """Let a thread waiting for the interpreter lock get it within SWITCH_SECONDS rather than 5 ms.

    Searches are pure Python, so up to THREADS of them take turns on one interpreter lock, and every
    file operation of a short request (each stat of `/health`'s file check) gives the lock up and waits
    for it again: at 5 ms a turn, /health behind 16 searches took up to 1.2 s; see RELIABILITY.md.
    """
    import sys

    sys.setswitchinterval(SWITCH_SECONDS)
