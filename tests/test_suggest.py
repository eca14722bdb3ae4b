"""Did you mean: a noisy-channel choice over the index's words and their story counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsindex import NewsIndex, Story
from newsindex import suggest as suggest_module


def stories(word: str, count: int, start: int = 0) -> list[Story]:
    return [
        Story(id=f"{word}-{start + number}", body=f"Traders spoke of {word} on day {number}.")
        for number in range(count)
    ]


@pytest.fixture
def news(tmp_path: Path) -> NewsIndex:
    index = NewsIndex.create(tmp_path / "index", fsync=False)
    index.add(
        [
            *stories("coffee", 6),
            *stories("quota", 6),
            *stories("off", 12),  # "coffe" without its first letter: more common, but the first letter is rarely wrong
            *stories("foiled", 40),
            *stories("oil", 2),  # rare, but a word of the index: "foiled" is not 100 times as common
            *stories("brazil", 12),
            *stories("supports", 3),
            *stories("support", 9),
        ]
    )
    return index


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("coffe qouta", "coffee quota"),  # main suggested "off quota"
        ("Coffe AND qouta", "Coffee AND quota"),  # case and operators kept
        ('"coffe qouta" -oil', '"coffee quota" -oil'),
        ("brasill", "brazil"),  # two edits, to a word in enough stories
        ("supprts", "supports"),  # one edit away beats two: the spelling shown is the one typed nearest
    ],
)
def test_misspellings_are_corrected_to_the_likeliest_word(news: NewsIndex, query: str, suggestion: str) -> None:
    assert news.search(query).suggestion == suggestion


@pytest.mark.parametrize("query", ["oil is rising", "oil", "coffee quota", "off", "foiled"])
def test_words_of_the_index_are_not_corrected(news: NewsIndex, query: str) -> None:
    assert news.search(query).suggestion is None  # main: "oil is rising" → "foiled is rising"


def test_a_rare_word_gives_way_to_a_neighbour_a_hundred_times_as_common(tmp_path: Path) -> None:
    index = NewsIndex.create(tmp_path / "index", fsync=False)
    index.add([*stories("strem", 1), *stories("stream", 99)])
    assert index.search("strem").suggestion is None  # 99 times: kept
    index.add(stories("stream", 2, start=99))
    assert index.search("strem").suggestion == "stream"  # 101 times, and only one story matched


def test_word_tables_are_built_once_per_segment_and_only_when_a_word_is_unknown(news: NewsIndex) -> None:
    before = suggest_module.built_tables
    assert news.search("coffee quota").suggestion is None
    assert suggest_module.built_tables == before  # every word known: no table looked at
    assert news.search("coffe").suggestion == "coffee"
    built = suggest_module.built_tables
    assert built > before
    assert news.search("qouta").suggestion == "quota"
    assert suggest_module.built_tables == built  # cached
    news.add(stories("cocoa", 3))  # a new segment: its table only
    assert news.search("cocao").suggestion == "cocoa"
    assert built < suggest_module.built_tables <= built + 2  # body and headline of the new segment


def test_the_readme_plain_example_gets_no_bogus_suggestion(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from newsindex.cli import app

    runner = CliRunner()
    index = str(tmp_path / "index")
    seeds = Path(__file__).parent.parent / "seeds"
    assert runner.invoke(app, ["index", str(seeds), "-i", index, "-q"]).exit_code == 0
    result = runner.invoke(app, ["search", 'What (exactly) is "Iran" doing?', "--plain", "-i", index])
    assert result.exit_code == 0
    assert "Did you mean" not in result.stdout  # main: 'Did you mean: What (exactly) is "Iran" no??'
    assert "*Iran*" in result.stdout
