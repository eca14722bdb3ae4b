"""The deadline of one request: one clock for all the work of a search, `similar` or timeline.

`NewsIndex.search` (and `similar`, `timeline`, and the finding of the stories `stories` lists) starts a
deadline of SEARCH_SECONDS; `serve` starts one as each request arrives. Everything below reads the same one
(`current()`): pattern expansion, collecting the matches (stopped with QueryRejectedError), facets, the
suggestion, stored reads of the hits' duplicates and snippets (cut short, and the results say so). Work
started outside any request gets a deadline of its own, from when it asks.

The clock is `clock` of this module, so that tests can move time by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SEARCH_SECONDS = 5.0
clock: Callable[[], float] = time.monotonic


class Deadline:
    """A moment on `clock`, `seconds` from when it was made."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float = SEARCH_SECONDS) -> None:
        self.seconds = seconds
        self.at = clock() + seconds

    def expired(self) -> bool:
        return clock() > self.at

    def remaining(self) -> float:
        return max(0.0, self.at - clock())


_current: ContextVar[Deadline | None] = ContextVar("newsindex_deadline", default=None)


@contextmanager
def request(seconds: float = SEARCH_SECONDS) -> Iterator[Deadline]:
    """A deadline for the work done inside the block (an enclosing request's, if there is one)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    deadline = Deadline(seconds)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def enclosing() -> Deadline | None:
    """The deadline of the request under way, or None outside any (work that may run as long as it likes:
    a stream of every story to an export file)."""
    return _current.get()


def current() -> Deadline:
    """The deadline of the request under way, or a new one for work outside any."""
    return _current.get() or Deadline()
