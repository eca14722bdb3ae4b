"""The query language beyond words: proximity, fuzzy words, boosts, relative dates, plain mode, did you mean."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, QueryError, QueryRejectedError, Story
from newsindex.cli.commands import app
from newsindex.search.query import MAX_WORDS
from newsindex.text import dates

runner = CliRunner()
NOW = datetime(2019, 12, 31, 12, 0)  # the clock of the relative-date tests: the day of the last 2019 story


def ids(news: NewsIndex, text: str, **options: object) -> list[str]:
    return [hit.story.id for hit in news.search(text, limit=50, **options).hits]  # type: ignore[arg-type]


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(dates, "now", lambda: NOW)
    return NOW


# A ranking change shows up as a diff of this table.
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # proximity: the words in this order, the second at most N words after the first (a common word
        # keeps its place): "Albania expelled two Iran" is 3 apart, "Albania and Iran" 2
        ('"albania iran"', []),
        ('"albania and iran"', ["albania-iran-deep.txt"]),
        ('"albania or iran"', ["albania-iran-deep.txt"]),  # any common word in between, as Lucene has it
        ('"albania iran"~2', ["albania-iran-deep.txt"]),
        ('"albania iran"~3', ["albania-iran-ties.txt", "albania-iran-deep.txt"]),
        ('"iran albania"~5', []),
        # fuzzy words: one edit (a swap of neighbours counts as one), or two (a swap counts as two)
        ("carnaval", []),
        ("carnaval~1", ["leap-day.txt"]),
        ("irna~1", ["albania-iran-ties.txt", "undated-iran.txt", "iran-oil.txt", "albania-iran-deep.txt"]),
        ("irna~1/3", []),  # the first three letters exact: "irn", not "ira"
        ("irna~2", ["albania-iran-ties.txt", "albania-football.txt", "undated-iran.txt", "iran-oil.txt",
                    "albania-iran-deep.txt"]),
        ("byline:kolek~1", ["albania-iran-ties.txt"]),
        # boosts: every word, boosted or not
        ("albania^5 oil", ["albania-iran-deep.txt"]),
        # open-ended dates
        ("iran date:>2019-06", ["albania-iran-ties.txt", "albania-iran-deep.txt"]),
        ("iran date:>=2019-06", ["albania-iran-ties.txt", "iran-oil.txt", "albania-iran-deep.txt"]),
        ("date:<=2018", ["albania-football.txt", "phrase-reversed.txt", "agents-phrase.txt"]),
        ("albania date:<2019", ["albania-football.txt"]),
        # an empty phrase excluded excludes nothing (Whoosh's matcher fails on an empty phrase)
        ('albania date:<2019 NOT ""', ["albania-football.txt"]),
        ('albania date:<2019 -""', ["albania-football.txt"]),
    ],
)  # fmt: skip
def test_golden_queries_of_the_query_language(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert ids(news, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("albania oil", ["albania-iran-deep.txt", "iran-oil.txt", "albania-football.txt", "albania-iran-ties.txt"]),
        ("albania^5 oil", ["albania-iran-deep.txt", "albania-football.txt", "albania-iran-ties.txt", "iran-oil.txt"]),
        ("albania oil^5", ["albania-iran-deep.txt", "iran-oil.txt", "albania-football.txt", "albania-iran-ties.txt"]),
    ],
)
def test_boosts_reorder_the_stories_with_some_words(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert ids(news, query, filters=Filters(match="any")) == expected  # the second tier (one word) by the weight given


def test_fuzzy_option_lets_every_word_match_near_spellings(news: NewsIndex) -> None:
    assert ids(news, "carnaval crowds") == ["leap-day.txt"]  # crowds alone
    assert ids(news, "diplomat exspelled") == ["albania-iran-ties.txt"]
    assert ids(news, "carnaval", filters=Filters(fuzzy=True)) == ["leap-day.txt"]
    assert ids(news, "Albnia Irn", filters=Filters(fuzzy=True))[:2] == [
        "albania-iran-ties.txt",
        "albania-iran-deep.txt",
    ]
    assert ids(news, "iran -oli", filters=Filters(fuzzy=True)) == ids(news, "iran -oli")  # excluded words stay exact


def test_fuzzy_words_rank_by_bm25_not_all_alike(news: NewsIndex) -> None:
    scores = {hit.story.id: hit.score for hit in news.search("irna~2", limit=10).hits}
    assert len(set(scores.values())) > 1


def test_too_fuzzy_a_word_is_refused(news: NewsIndex) -> None:
    with pytest.raises(QueryRejectedError, match="too many edits"):
        news.search("iran~3")


# -- relative dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("1d", ["albania-iran-deep.txt"]),  # from Dec 30 on
        ("7d", ["albania-iran-deep.txt"]),
        ("2w", ["albania-iran-deep.txt"]),
        ("3m", ["albania-iran-ties.txt", "albania-iran-deep.txt"]),  # from Sep 30 on
        ("1y", ["albania-iran-ties.txt", "iran-oil.txt", "albania-iran-deep.txt"]),  # from Dec 31, 2018 on
        ("today", ["albania-iran-deep.txt"]),
    ],
)
def test_since_keeps_stories_from_that_long_ago_on(
    news: NewsIndex, fixed_now: datetime, since: str, expected: list[str]
) -> None:
    assert ids(news, "iran", filters=Filters(since=since)) == expected


def test_since_and_from_together_keep_the_later_start(news: NewsIndex, fixed_now: datetime) -> None:
    assert ids(news, "iran", filters=Filters(start="2019-10", since="1y")) == [
        "albania-iran-ties.txt",
        "albania-iran-deep.txt",
    ]
    assert ids(news, "iran", filters=Filters(start="2019-12", since="3m")) == ["albania-iran-deep.txt"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("iran date:[-30d TO now]", ["albania-iran-deep.txt"]),
        ("iran date:[-3m TO -1m]", ["albania-iran-ties.txt"]),  # Sep 30 .. Nov 30
        ("iran date:>=-1y", ["albania-iran-ties.txt", "iran-oil.txt", "albania-iran-deep.txt"]),
        ("iran date:today", ["albania-iran-deep.txt"]),
        ("date:[-2y TO -1y]", ["albania-football.txt"]),  # Dec 31, 2017 .. Dec 31, 2018 (not Jan 1, 2019)
    ],
)
def test_relative_dates_in_the_query(news: NewsIndex, fixed_now: datetime, query: str, expected: list[str]) -> None:
    assert sorted(ids(news, query)) == sorted(expected)


def test_relative_bounds_resolve_against_the_clock(fixed_now: datetime) -> None:
    assert dates.parse_bound("7d") == datetime(2019, 12, 24)
    assert dates.parse_bound("-7d", end=True) == datetime(2019, 12, 24, 23, 59, 59, 999999)
    assert dates.parse_bound("1m") == datetime(2019, 11, 30)  # Dec 31 less a month: the last day of November
    assert dates.parse_bound("now", end=True) == NOW
    assert dates.parse_since("2w") == datetime(2019, 12, 17)


@pytest.mark.parametrize("since", ["7x", "7", "d", "-", "2019-10", "1.5d", "now-7d"])
def test_bad_since_exits_2_with_the_forms_named(index_path: str, since: str) -> None:
    result = runner.invoke(app, ["search", "iran", "--since", since, "-i", index_path])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: unreadable --since")
    assert "7d, 2w, 3m, 1y" in result.stderr


def test_since_on_the_command_line(index_path: str, fixed_now: datetime) -> None:
    result = runner.invoke(app, ["search", "iran", "--since", "3m", "--json", "-i", index_path])
    assert result.exit_code == 0, result.output
    assert [hit["id"] for hit in json.loads(result.stdout)["hits"]] == [
        "albania-iran-ties.txt",
        "albania-iran-deep.txt",
    ]


# -- plain mode ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "like"),
    [
        ('albania AND (iran "', "albania iran"),
        ("byline:koleka location:Tirana", "koleka tirana"),
        ('"iranian agents"', "iranian agents"),
        ("iran -oil", "iran oil"),
        ("terror* ~2 ^3 [2019 TO 2020] {x} date:2019", "terror 2019 2020 x 2019"),
        ("albania NOT iran OR", "albania iran"),
    ],
)
def test_plain_mode_searches_the_words_and_nothing_else(news: NewsIndex, text: str, like: str) -> None:
    assert ids(news, text, filters=Filters(plain=True)) == ids(news, like)


def test_plain_mode_searches_the_first_distinct_words_of_a_long_text(news: NewsIndex) -> None:
    text = "albania " + " ".join(f"w{n}" for n in range(MAX_WORDS + 100)) + " iran"  # under 2,000 characters
    assert ids(news, text, filters=Filters(plain=True)) == ids(news, "albania")  # iran is past the first 200 words
    with pytest.raises(QueryRejectedError, match="distinct words"):
        news.search(text)


def test_plain_mode_with_only_common_words_has_nothing_to_search_for(news: NewsIndex) -> None:
    with pytest.raises(QueryError, match="nothing to search for"):
        news.search('"the" AND (of *', filters=Filters(plain=True))
    assert ids(news, "the of", filters=Filters(bylines=["Koleka"], plain=True)) == [
        "albania-iran-ties.txt"
    ]  # filters still work


def test_plain_option_on_the_command_line(index_path: str) -> None:
    assert runner.invoke(app, ["search", 'albania AND (iran "', "-i", index_path]).exit_code == 2
    result = runner.invoke(app, ["search", 'albania AND (iran "', "--plain", "--json", "-i", index_path])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hits"][0]["id"] == "albania-iran-ties.txt"


# -- did you mean --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("Albania Irna", "Albania Iran"),
        ("albania irna", "albania iran"),  # the user's case
        ("ALBANIAA IRAN", "ALBANIA IRAN"),  # in capitals, a word over 5 letters
        ("attaks", "attacks"),  # the spelling nearest to what was typed, not the stem "attack"
        ('"irna albania" date:2019', '"iran albania" date:2019'),  # phrases corrected, fields kept
        ("Albnia AND date:>2019-01", "Albania AND date:>2019-01"),
        ("byline:kolka", "byline:koleka"),  # names corrected against names
        ("carnaval crowds", "carnival crowds"),
        ("Albania Irna", "Albania Iran"),
    ],
)
def test_suggestion_corrects_unknown_words_and_keeps_the_rest(news: NewsIndex, query: str, suggestion: str) -> None:
    assert news.search(query).suggestion == suggestion


@pytest.mark.parametrize(
    "query",
    # "ALBANIA IRNA": a short word in capitals is an acronym, corrected only to one the stories write so
    [
        "Albania Iran",
        "iran -irna",
        "ir",
        "zzzzqqq",
        "terro*",
        "1987",
        "carnaval",
        "Albania Irna~2",
        '"iran"',
        "ALBANIA IRNA",
    ],
)
def test_no_suggestion_for_known_excluded_short_or_hopeless_words(news: NewsIndex, query: str) -> None:
    expected = "carnival" if query == "carnaval" else None
    assert news.search(query).suggestion == expected


def test_plain_mode_suggests_in_the_text_as_typed(news: NewsIndex) -> None:
    assert news.search("Albania (Irna", filters=Filters(plain=True)).suggestion == "Albania (Iran"


def test_suggestion_on_the_command_line(index_path: str) -> None:
    result = runner.invoke(app, ["search", "Albania Irna", "-i", index_path])
    assert result.exit_code == 0
    assert result.stdout.startswith("Did you mean: Albania Iran?\n")
    assert result.stderr == ""

    data = json.loads(runner.invoke(app, ["search", "Albania Irna", "--json", "-i", index_path]).stdout)
    assert data["suggestion"] == "Albania Iran"
    assert (
        json.loads(runner.invoke(app, ["search", "Albania", "--json", "-i", index_path]).stdout)["suggestion"] is None
    )

    result = runner.invoke(app, ["search", "Albania Irna", "--jsonl", "-i", index_path])
    # stdout stays one hit per line; no story has both words, so the hits are the stories with one
    assert result.stderr == "Did you mean: Albania Iran?\nNote: no story has every word; showing stories with some\n"
    assert all(json.loads(line)["id"] for line in result.stdout.splitlines())


def test_fuzzy_words_and_suggestions_span_every_segment(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add([Story(id="a", body="Carnival in Salvador")])
    news.add([Story(id="b", body="Carnival crowds in Rio")])  # a second commit: a second segment
    assert sorted(ids(news, "carnaval~1")) == ["a", "b"]
    assert sorted(ids(news, "carnaval", filters=Filters(fuzzy=True))) == ["a", "b"]
    assert news.search("carnaval").suggestion == "carnival"


def test_fuzzy_option_on_the_command_line(index_path: str) -> None:
    plain = json.loads(runner.invoke(app, ["search", "carnaval", "--json", "-i", index_path]).stdout)
    fuzzy = json.loads(runner.invoke(app, ["search", "carnaval", "--fuzzy", "--json", "-i", index_path]).stdout)
    assert (plain["total"], [hit["id"] for hit in fuzzy["hits"]]) == (0, ["leap-day.txt"])
    assert plain["suggestion"] == fuzzy["suggestion"] == "carnival"


def test_the_readme_did_you_mean_example_on_the_seed_story(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    seeds = Path(__file__).parent.parent / "seeds"
    assert runner.invoke(app, ["index", str(seeds), "-i", index, "-q"]).exit_code == 0
    result = runner.invoke(app, ["search", "Albania Iarn date:2019", "-i", index])  # as README shows it
    assert result.stdout.startswith("Did you mean: Albania Iran date:2019?\n")
    data = json.loads(runner.invoke(app, ["search", "ALBNIA IRAN", "--json", "-i", index]).stdout)
    assert data["suggestion"] == "ALBANIA IRAN"  # in the case typed
    data = json.loads(runner.invoke(app, ["search", "ALBANIA IARN", "--json", "-i", index]).stdout)
    assert data["suggestion"] is None  # a short word in capitals: an acronym, and no story writes IRAN so


def test_snippets_mark_the_words_that_patterns_and_fuzzy_words_matched(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(
        [
            Story(
                id="s",
                headline="Night",
                body="The carnival went on. Police said terrorists planned nothing for the women.",
            )
        ]
    )
    for text, filters, marked in [
        ("terror*", Filters(), "<mark>terrorists</mark>"),
        ("wom?n", Filters(), "<mark>women</mark>"),
        ("carnaval~", Filters(), "<mark>carnival</mark>"),
        ("carnaval", Filters(fuzzy=True), "<mark>carnival</mark>"),
        ("carnaval police", Filters(fuzzy=True, plain=True), "<mark>carnival</mark>"),
    ]:
        (hit,) = news.search(text, filters=filters).hits
        assert marked in hit.snippet, (text, hit.snippet)


BOOST_ERROR = (
    "Error: a boost must be a number above 0 and at most 1,000,000, as in iran^2 (twice the weight) or iran^0.5\n"
)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("iran^0", 2),
        ('"iran albania"^0', 2),
        ("iran^nan", 2),  # nan and inf made every score nan or inf: no story matched, exit 0
        ("iran^inf", 2),
        ("iran^-inf", 2),
        ("iran^1e308", 2),
        ("iran~2/99", 0),
        ("iran~1/4", 0),
    ],
)
def test_a_zero_boost_and_a_prefix_longer_than_the_word_are_no_internal_errors(
    index_path: str, query: str, code: int
) -> None:
    result = runner.invoke(app, ["search", query, "-i", index_path])
    assert result.exit_code == code, result.output
    if code:
        assert result.stderr == BOOST_ERROR
    else:
        assert "iran" in result.stdout.lower()
