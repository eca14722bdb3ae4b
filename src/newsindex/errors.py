"""NewsIndexError and its subclasses: every failure a user can cause or meet has one."""

from __future__ import annotations


class NewsIndexError(Exception):
    """The root of every error newsindex raises on purpose; its message is one line for a user."""


class UsageError(NewsIndexError, ValueError):
    """An argument that cannot work: a corpus path that does not exist, an unknown story id."""


class QueryError(NewsIndexError, ValueError):
    """The query text cannot be read: an unbalanced quote, an unknown field, an invalid date."""


class QueryRejectedError(NewsIndexError, ValueError):
    """The query is readable but would cost too much (a bare `*`, too many clauses)."""


class IndexMissingError(NewsIndexError, FileNotFoundError):
    """There is no newsindex index at the given path."""


class IndexDamagedError(NewsIndexError):
    """The index exists but cannot be read as a newsindex index."""


class IndexBusyError(NewsIndexError):
    """Another process holds the index's write lock and did not let go in time."""


class IndexIOError(NewsIndexError, OSError):
    """The disk refused: full, read-only, or no permission."""


class InputError(NewsIndexError):
    """Some inputs were skipped and the caller asked for strictness."""


class StoryNotFoundError(UsageError):
    """No story in the index has the given id."""
