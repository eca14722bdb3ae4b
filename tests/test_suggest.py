"""Did you mean: a noisy-channel choice over the index's words and their story counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsindex import NewsIndex, Story
from newsindex.search import suggest as suggest_module


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

    from newsindex.cli.commands import app

    runner = CliRunner()
    index = str(tmp_path / "index")
    seeds = Path(__file__).parent.parent / "seeds"
    assert runner.invoke(app, ["index", str(seeds), "-i", index, "-q"]).exit_code == 0
    result = runner.invoke(app, ["search", 'What (exactly) is "Iran" doing?', "--plain", "-i", index])
    assert result.exit_code == 0
    assert "Did you mean" not in result.stdout  # main: 'Did you mean: What (exactly) is "Iran" no??'
    assert "*Iran*" in result.stdout


def build(tmp_path: Path, *groups: list[Story]) -> NewsIndex:
    index = NewsIndex.create(tmp_path / "index", fsync=False)
    index.add([story for group in groups for story in group])
    return index


def written(text: str, count: int, name: str) -> list[Story]:
    return [Story(id=f"{name}-{number}", body=f"On day {number} {text}") for number in range(count)]


def test_a_letter_left_out_is_likelier_than_a_letter_typed_for_another(tmp_path: Path) -> None:
    # "plat": "plant" with its n left out, or "plan" with a t typed for the n; a given wrong letter is one
    # of several near keys, so "plant" wins while "plan" is under five times as common (main: "plan")
    index = build(tmp_path, stories("plant", 10), stories("plan", 30))
    assert index.search("plat").suggestion == "plant"


def test_a_word_one_edit_away_wins_over_a_commoner_one_two_edits_away(tmp_path: Path) -> None:
    # "macth": "match" with two letters swapped, or "march" two edits off and 200 times as common. Fewer
    # edits first, as Lucene's DirectSpellChecker and Elasticsearch's term suggester sort (before: "march")
    index = build(tmp_path, stories("match", 2), stories("march", 400))
    assert index.search("macth").suggestion == "match"


def test_the_spelling_shown_is_searched_past_the_first_stories(tmp_path: Path) -> None:
    # the first 30 stories of "forecast" never write "forecasting" (main: no suggestion at all)
    index = build(tmp_path, stories("forecast", 40), stories("forecasting", 2, start=40))
    assert index.search("froecasting").suggestion == "forecasting"


def test_a_short_rare_word_of_the_index_is_kept(tmp_path: Path) -> None:
    # a word of the index under five letters is an abbreviation or a ticker more often than a typo
    index = build(tmp_path, stories("acpt", 1), stories("act", 150))
    assert index.search("acpt").suggestion is None  # main: "act"


def test_a_rare_word_the_archive_writes_as_a_name_is_kept(tmp_path: Path) -> None:
    index = build(tmp_path, written("they met Varla.", 1, "name"), stories("varela", 150))
    assert index.search("varla").suggestion is None  # main: "varela"


def test_a_word_in_a_tag_field_is_a_word_of_the_index(tmp_path: Path) -> None:
    tagged = Story(id="tagged", body="Talks went on.", places=("brunei",))
    index = build(tmp_path, [tagged], stories("brunel", 150))
    assert index.search("brunei").suggestion is None  # main: "brunel"


def test_a_short_word_is_never_two_edits_off(tmp_path: Path) -> None:
    index = build(tmp_path, stories("uk", 100))
    assert index.search("urs").suggestion is None  # main: "uk", two edits from a three-letter word


def test_a_word_typed_in_capitals_is_corrected_only_to_a_word_written_so(tmp_path: Path) -> None:
    index = build(tmp_path, stories("tax", 50), written("OPEC met.", 20, "opec"))
    assert index.search("TRX").suggestion is None  # a ticker, not "TAX" (main: "TAX")
    assert index.search("oil OPCE").suggestion == "oil OPEC"  # an acronym the archive writes in capitals


def test_a_capitalised_word_inside_a_query_is_corrected_only_to_a_name(tmp_path: Path) -> None:
    index = build(tmp_path, stories("brand", 60), written("they met Varela.", 60, "name"))
    assert index.search("met Brane").suggestion is None  # a name, not "Brand" (main: "met Brand")
    assert index.search("met Varelo").suggestion == "met Varela"
    assert index.search("Brane").suggestion == "Brand"  # a query's first word is capitalised anyway


def test_a_suggestion_that_finds_nothing_better_than_the_query_typed_is_not_made(tmp_path: Path) -> None:
    index = NewsIndex.create(tmp_path / "index", fsync=False)
    index.add(
        [
            *[Story(id=f"cw-{n}", body=f"Caesars World Inc said on day {n} it sold a casino.") for n in range(5)],
            *stories("car", 30),
            *[Story(id=f"op-{n}", body=f"The oil price rose on day {n}.") for n in range(5)],
        ]
    )
    assert index.search("caw").suggestion == "car"  # alone it finds nothing: the spelling is the one help
    assert index.search("caesars world caw").suggestion is None  # a ticker: "caesars world car" finds no more
    assert index.search("oil pirce").suggestion == "oil price"  # the correction finds every word
