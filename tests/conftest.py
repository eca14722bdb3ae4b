"""Shared fixtures: a small crafted corpus written to tmp_path, and an index built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsindex import NewsIndex

SEED = Path(__file__).parent.parent / "seeds" / "000_4cb0f0b9dca24e99.txt"


def story_text(body: str, *, date: str | None = None, by: str | None = None) -> str:
    """A story in the corpus text format: the ` date … By …` line, a blank line, the body."""
    if date is None:
        return body + "\n"
    header = f" date {date}" + (f" By {by}" if by else "")
    return f"{header}\n\n{body}\n"


def write_story(folder: Path, name: str, body: str, *, date: str | None = None, by: str | None = None) -> Path:
    """Write one story file under `folder` (sub-folders in `name` are created)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(story_text(body, date=date, by=by), encoding="utf-8")
    return path


# id → (date, byline, body). Written so that each ranking and filter test has one clear answer.
CORPUS: dict[str, tuple[str | None, str | None, str]] = {
    "albania-iran-ties.txt": (
        "2019-10-23",
        "Benet Koleka",
        "TIRANA (Reuters) - Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks.\n\n"
        "The foreign ministry said the diplomats had damaged national security.\n\n"
        "(Reporting by Benet Koleka; Editing by David Holmes)",
    ),
    "iran-oil.txt": (
        "2019-06-15",
        "Parisa Hafezi",
        "DUBAI (Reuters) - Iran raised oil exports in June despite sanctions, shipping data showed.\n\n"
        "Tankers loaded crude at Kharg Island through the month.",
    ),
    "albania-football.txt": (
        "2018-03-01",
        None,
        "TIRANA (Reuters) - Albania beat Kosovo 3-1 in a friendly football match on Thursday.\n\n"
        "Fans celebrated in the streets of the capital until late.",
    ),
    "albania-iran-deep.txt": (
        "2019-12-31",
        "Jane Doe and John Smith",
        "WASHINGTON/LONDON (Reuters) - Oil prices rose on Tuesday as traders weighed supply worries.\n\n"
        "Analysts said markets were calm. Brent crude futures gained a dollar in thin holiday trade.\n\n"
        "Among other news, Albania and Iran were mentioned by one analyst in passing.",
    ),
    "new-year.txt": (
        "2019-01-01",
        "Jane Doe",
        "NEW YORK, Jan 1 (Reuters) - Stocks opened the year higher as investors bought shares of banks.",
    ),
    "leap-day.txt": (
        "2020-02-29",
        "Maria Garcia, Ahmed Ali and Li Wei",
        "SALVADOR, Feb 29 - Carnival crowds filled the streets of the city on the leap day.",
    ),
    "running-attacks.txt": (
        "2020-03-15",
        "John Smith",
        "GENEVA (AFP) — Officials stopped running the programme after attacks on aid workers.",
    ),
    "agents-phrase.txt": (
        "2017-05-05",
        None,
        "PARIS (Reuters) – Police said Iranian agents were behind the plot, and agents of another state were not.",
    ),
    "phrase-reversed.txt": (
        "2017-05-06",
        None,
        "PARIS (Reuters) - The agents, Iranian officials said, had left the country before the arrests.",
    ),
    "undated-iran.txt": (
        None,
        None,
        "TEHRAN (Reuters) - Iran said talks with European powers would continue next week.",
    ),
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of crafted stories in the corpus text format."""
    folder = tmp_path / "stories"
    for name, (date, by, body) in CORPUS.items():
        write_story(folder, name, body, date=date, by=by)
    return folder


@pytest.fixture
def news(tmp_path: Path, corpus: Path) -> NewsIndex:
    """An index of the crafted corpus, opened as an application opens it (fsync on)."""
    # Built without fsync (the same files, minus 0.2 s of waiting on the disk for each of ~160 tests):
    # the tests of durability build their own indexes.
    built = NewsIndex.create(tmp_path / "index", fsync=False)
    built.add_files([str(corpus)])
    built.close()
    return NewsIndex.open(built.path)


@pytest.fixture
def index_path(news: NewsIndex) -> str:
    """The folder of the crafted corpus's index, for CLI tests."""
    return str(news.path)
