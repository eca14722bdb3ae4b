"""Batch searching: a file of topics (id TAB text) run against an index, for `newsindex batch` and evaluations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from newsindex.errors import QueryError, QueryRejectedError, UsageError
from newsindex.models import Filters, Problem

if TYPE_CHECKING:
    from newsindex.index import NewsIndex
    from newsindex.models import SearchResults

_R = TypeVar("_R")
_PLAIN_ANY = Filters(plain=True, match="any")  # topics are words, not query syntax: stories with some of them


@dataclass(frozen=True, slots=True)
class Topic:
    """One query of a batch: its id (the run's topic id), its text and where it was read."""

    id: str
    text: str
    line: int | None = None


def read_topics(path: str | Path, *, on_problem: Callable[[Problem], None]) -> list[Topic]:
    """The topics of a file, one `id TAB text` per line (blank lines skipped).

    A line without a tab or text, or with an id seen before, is reported to `on_problem` and skipped.
    UsageError when the file cannot be read.
    """
    topics: list[Topic] = []
    seen: set[str] = set()
    try:
        with open(path, encoding="utf-8-sig") as file:
            lines = file.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such topics file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a topics file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (not UTF-8)") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        topic_id, tab, text = line.partition("\t")
        topic_id = topic_id.strip()
        if not tab or not topic_id or not text.strip():
            problem = "no tab between id and text" if not tab else "no id" if not topic_id else "no text"
            on_problem(Problem(str(path), f"{problem} (expected: id TAB text)", record=number))
        elif any(char.isspace() for char in topic_id):
            on_problem(Problem(str(path), f"the id {topic_id!r} has white space", record=number))
        elif topic_id in seen:
            on_problem(Problem(str(path), f"topic {topic_id} appears again; the first one was kept", record=number))
        else:
            seen.add(topic_id)
            topics.append(Topic(topic_id, " ".join(text.split()), number))
    return topics


def run_topics(
    news: NewsIndex,
    topics: Iterable[Topic],
    *,
    limit: int = 1000,
    on_failure: Callable[[Topic, Exception], None] | None = None,
    expand: bool = False,
) -> Iterator[tuple[Topic, SearchResults]]:
    """Search each topic for its best `limit` stories, its text read as plain words (`search(plain=True)`)
    and as a ranking, not a filter: stories with some of the words count too, those with every word first
    (`match="any"`; a topic of ten words seldom has a story with all ten).

    A topic that cannot be searched (only common words) or is refused as too costly goes to `on_failure`
    and is left out; any other error (a missing or damaged index) stops the batch.
    """
    return _each(topics, lambda text: news.search(text, filters=_PLAIN_ANY, limit=limit, expand=expand), on_failure)


def rank_topics(
    news: NewsIndex,
    topics: Iterable[Topic],
    *,
    limit: int = 1000,
    on_failure: Callable[[Topic, Exception], None] | None = None,
    expand: bool = False,
) -> Iterator[tuple[Topic, list[tuple[str, float]]]]:
    """As `run_topics`, but only the ids and scores of each topic's stories (NewsIndex.rank: no stories read)."""
    return _each(topics, lambda text: news.rank(text, filters=_PLAIN_ANY, limit=limit, expand=expand), on_failure)


def _each(
    topics: Iterable[Topic], run: Callable[[str], _R], on_failure: Callable[[Topic, Exception], None] | None
) -> Iterator[tuple[Topic, _R]]:
    for topic in topics:
        try:
            found = run(topic.text)
        except (QueryError, QueryRejectedError) as error:
            if on_failure:
                on_failure(topic, error)
            continue
        yield topic, found
