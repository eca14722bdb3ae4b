"""What the command line writes besides its answers: the exit codes, one `Error: …` line for every
failure, and stdout written so that a reader gone away is seen (exit 141)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import typer

from newsindex.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexIOError,
    IndexMissingError,
    InputError,
    NewsIndexError,
    QueryError,
    QueryRejectedError,
    UsageError,
)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_INDEX = 4
EXIT_IO = 5
EXIT_QUERY_REJECTED = 6
EXIT_SKIPPED = 7
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`'s `yes`

EXIT_CODES: dict[type[NewsIndexError], int] = {
    UsageError: EXIT_USAGE,
    QueryError: EXIT_USAGE,
    IndexBusyError: EXIT_BUSY,
    IndexMissingError: EXIT_INDEX,
    IndexDamagedError: EXIT_INDEX,
    IndexIOError: EXIT_IO,
    QueryRejectedError: EXIT_QUERY_REJECTED,
    InputError: EXIT_SKIPPED,
}


@contextmanager
def reported_errors(debug: bool) -> Iterator[None]:
    """Turn every failure into one `Error: …` line on stderr and the exit code of the contract."""
    try:
        yield
    except NewsIndexError as error:
        code = next((EXIT_CODES[kind] for kind in type(error).__mro__ if kind in EXIT_CODES), EXIT_INTERNAL)
        fail(str(error), code, debug)
    except KeyboardInterrupt:
        fail("interrupted; the index keeps its last commit", EXIT_INTERRUPTED, debug)
    except BrokenPipeError:
        pipe_closed()
    except OSError as error:
        fail(f"I/O error: {error.strerror or error} ({error.filename or 'no file named'})", EXIT_IO, debug)
    except typer.Exit:
        raise
    except Exception as error:
        fail(f"internal error: {type(error).__name__}: {error} (run with --debug for details)", EXIT_INTERNAL, debug)


PIPE_CHARS = 1024  # at most PIPE_BUF (4,096 bytes) once encoded: a pipe takes each such write whole or not at all


def echo(text: str, *, nl: bool = True) -> None:
    """`typer.echo` to stdout, written to a pipe in pieces it takes whole, so that a reader gone mid-output
    (`search --limit 1000 | head -2`) is a BrokenPipeError, exit 141, not a quiet exit 0 with output cut.

    One big write to a pipe whose reader leaves is taken in part, and Python's buffered stdout then drops
    the rest without an error (seen with CPython 3.11.7). A terminal gets the text in one write (it may
    hold colour codes, which click strips per write when the output is not a terminal).
    """
    if sys.stdout.isatty() or len(text) <= PIPE_CHARS:
        typer.echo(text, nl=nl)
        return
    text += "\n" if nl else ""
    for start in range(0, len(text), PIPE_CHARS):
        typer.echo(text[start : start + PIPE_CHARS], nl=False)  # click.echo flushes each piece


def pipe_closed() -> None:
    """The reader of stdout went away (`| head -2`): end quietly, as a Unix tool killed by SIGPIPE does.

    stdout is pointed at /dev/null first, so that the flush at exit finds nowhere to fail.
    """
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    raise typer.Exit(EXIT_PIPE_CLOSED)


def fail(message: str, code: int, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)
