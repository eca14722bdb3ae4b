"""Searching: ranking, date ranges, filters, paging, sorting, the query language and its errors."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from newsindex import Filters, NewsIndex, QueryError, Story, UsageError


def ids(news: NewsIndex, text: str, **options: object) -> list[str]:
    return [hit.story.id for hit in news.search(text, limit=50, **options).hits]  # type: ignore[arg-type]


# A ranking change shows up as a diff of this table.
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # every word (headline/lead match above a passing mention)
        ("Albania Iran", ["albania-iran-ties.txt", "albania-iran-deep.txt"]),
        ("attack", ["running-attacks.txt", "albania-iran-ties.txt"]),  # stemming: attacks, attacking
        ("running stopped", ["running-attacks.txt"]),  # PyStemmer: running → run, stopped → stop
        ('"iranian agents"', ["agents-phrase.txt"]),
        ("football OR crude", ["albania-football.txt", "iran-oil.txt", "albania-iran-deep.txt"]),
        ("iran NOT oil", ["albania-iran-ties.txt", "undated-iran.txt"]),  # the deep story mentions oil prices
        ("iran -oil", ["albania-iran-ties.txt", "undated-iran.txt"]),
        ("al-qaeda OR 2019-10", []),  # hyphens inside words are not minus signs
        ("(football OR carnival) AND streets", ["leap-day.txt", "albania-football.txt"]),
    ],
)
def test_golden_queries(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert ids(news, query) == expected


def test_stories_matching_every_word_rank_above_those_matching_some(news: NewsIndex) -> None:
    found = ids(news, "Albania Iran", filters=Filters(match="any"))
    both = {"albania-iran-ties.txt", "albania-iran-deep.txt"}
    assert set(found[:2]) == both
    assert set(found[2:]) == {"iran-oil.txt", "albania-football.txt", "undated-iran.txt"}


def test_a_word_in_the_lead_ranks_above_a_passing_mention(news: NewsIndex) -> None:
    found = ids(news, "Albania Iran")
    assert found.index("albania-iran-ties.txt") < found.index("albania-iran-deep.txt")


def test_require_all_drops_partial_matches(news: NewsIndex) -> None:
    assert sorted(ids(news, "Albania Iran", filters=Filters(require_all=True))) == [
        "albania-iran-deep.txt",
        "albania-iran-ties.txt",
    ]


def test_hit_carries_the_story_and_a_marked_snippet(news: NewsIndex) -> None:
    results = news.search("Albania Iran", limit=1)
    hit = results.hits[0]
    assert (hit.rank, results.total) == (1, 2)
    assert hit.score > 0
    assert hit.story.published is not None and hit.story.published.isoformat() == "2019-10-23"
    assert hit.story.bylines == ("Benet Koleka",)
    assert (hit.story.location, hit.story.source) == ("Tirana", "Reuters")
    # No headline: the lead is shown as the title, so the snippet is the passage after it, not the lead again
    assert hit.story.headline is None and hit.story.lead.startswith("Albania expelled")
    assert hit.snippet == "The foreign ministry said the diplomats had damaged national security."
    (marked,) = news.search("Albania diplomats security", filters=Filters(require_all=True)).hits
    assert (
        marked.snippet
        == "The foreign ministry said the <mark>diplomats</mark> had damaged national <mark>security</mark>."
    )


# Both ends are inclusive at every granularity; a partial end means the end of its period.
@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2019", "2019", ["albania-iran-deep.txt", "albania-iran-ties.txt", "iran-oil.txt", "new-year.txt"]),
        ("2019-01-01", "2019-01-01", ["new-year.txt"]),
        ("2019-12", "2019-12", ["albania-iran-deep.txt"]),
        ("2019-12-31", None, ["albania-iran-deep.txt", "leap-day.txt", "running-attacks.txt"]),
        (None, "2018-03-01", ["agents-phrase.txt", "albania-football.txt", "phrase-reversed.txt"]),
        ("2020-02", "2020-02", ["leap-day.txt"]),  # a leap-year February ends on the 29th
        ("2020-02-29T00:00:00", "2020-02-29T23:59:59", ["leap-day.txt"]),
        ("2019-06-16", "2019-10-22", []),
    ],
)
def test_date_ranges_are_inclusive_at_every_granularity(
    news: NewsIndex, start: str | None, end: str | None, expected: list[str]
) -> None:
    assert sorted(ids(news, "", filters=Filters(start=start, end=end))) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("date:2019-12", ["albania-iran-deep.txt"]),
        ("iran date:[2019-01-01 TO 2019-06-30]", ["iran-oil.txt"]),
        ("iran date:[2019-07 TO 2019]", ["albania-iran-deep.txt", "albania-iran-ties.txt"]),
        ("iran date:>=2019-10", ["albania-iran-deep.txt", "albania-iran-ties.txt"]),
        ("iran date:<2019-10", ["iran-oil.txt"]),
        ("iran (date:2017 OR date:2019-06)", ["iran-oil.txt"]),
    ],
)
def test_dates_in_the_query_text(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert sorted(ids(news, query)) == expected


def test_undated_stories_match_no_date_range_but_plain_searches(news: NewsIndex) -> None:
    assert "undated-iran.txt" in ids(news, "iran")
    assert "undated-iran.txt" not in ids(news, "iran", filters=Filters(start="1900", end="2100"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"bylines": ["Benet Koleka"]}, ["albania-iran-ties.txt"]),
        ({"bylines": ["koleka"]}, ["albania-iran-ties.txt"]),
        ({"bylines": ["Jane Doe", "Ahmed Ali"]}, ["albania-iran-deep.txt", "leap-day.txt", "new-year.txt"]),
        ({"location": "TIRANA"}, ["albania-football.txt", "albania-iran-ties.txt"]),
        ({"location": "london"}, ["albania-iran-deep.txt"]),
        ({"source": "AFP"}, ["running-attacks.txt"]),
        ({"location": "Tirana", "start": "2019"}, ["albania-iran-ties.txt"]),
    ],
)
def test_filters(news: NewsIndex, options: dict[str, Any], expected: list[str]) -> None:
    assert sorted(ids(news, "", filters=Filters(**options))) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("byline:koleka", ["albania-iran-ties.txt"]),
        ('author:"john smith"', ["albania-iran-deep.txt", "running-attacks.txt"]),
        ('location:"new york"', ["new-year.txt"]),
        ("iran location:tirana", ["albania-iran-ties.txt"]),
        ("source:afp", ["running-attacks.txt"]),
        ("headline:anything", []),
    ],
)
def test_field_clauses_filter(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert sorted(ids(news, query)) == expected


def test_pages_partition_the_ranking(news: NewsIndex) -> None:
    everything = ids(news, "iran OR albania OR streets")
    pages = [news.search("iran OR albania OR streets", limit=2, page=page) for page in (1, 2, 3, 4)]
    assert [hit.story.id for page in pages for hit in page.hits] == everything
    assert {page.total for page in pages} == {len(everything)}
    assert [hit.rank for hit in pages[1].hits] == [3, 4]


def test_page_past_the_end_is_empty_not_an_error(news: NewsIndex) -> None:
    results = news.search("iran", page=99)
    assert results.hits == () and results.total == 4


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("date", ["albania-iran-ties.txt", "albania-iran-deep.txt", "undated-iran.txt"]),
        ("-date", ["albania-iran-deep.txt", "albania-iran-ties.txt", "undated-iran.txt"]),
    ],
)
def test_sorting_by_date_puts_undated_stories_last(news: NewsIndex, sort: str, expected: list[str]) -> None:
    assert ids(news, "iran NOT kharg", sort=sort) == expected


def test_filters_alone_list_newest_first(news: NewsIndex) -> None:
    assert ids(news, "", filters=Filters(location="Tirana")) == ["albania-iran-ties.txt", "albania-football.txt"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"iran albania', "unbalanced quote"),
        ("(iran OR albania", "unbalanced parenthesis"),
        ("iran)", "unbalanced parenthesis"),
        ("colour:red", "unknown field 'colour'"),
        ("date:2019-02-30", "2019-02-30"),
        ("date:[2019-13 TO 2020]", "2019-13"),
        ("the of", "nothing to search for"),
        ("", "nothing to search for"),
    ],
)
def test_unreadable_queries_are_errors_not_empty_results(news: NewsIndex, query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        news.search(query)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"start": "last tuesday"}, "invalid start date"), ({"end": "2019-02-30"}, "invalid end date")],
)
def test_bad_dates_are_refused_when_the_filters_are_made(options: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Filters(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"limit": 0}, UsageError),
        ({"page": 0}, UsageError),
        ({"sort": "size"}, UsageError),
    ],
)
def test_bad_options_are_errors(news: NewsIndex, options: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        news.search("iran", **options)  # type: ignore[arg-type]


def test_accents_and_case_are_folded(news: NewsIndex) -> None:
    assert ids(news, "ALBANIA FOOTBALL", filters=Filters(require_all=True)) == ["albania-football.txt"]
    assert ids(news, "fóotball") == ["albania-football.txt"]


def test_get_returns_the_story_or_none(news: NewsIndex) -> None:
    story = news.get("albania-iran-ties.txt")
    assert story is not None
    assert story.credits[0].names == ("Benet Koleka",)
    assert story.lead.startswith("Albania expelled two Iran diplomats")
    assert news.get("no-such-story") is None


def test_stats(news: NewsIndex) -> None:
    stats = news.stats()
    assert stats.stories == 10
    assert stats.undated == 1
    assert (str(stats.first_published), str(stats.last_published)) == ("2017-05-05", "2020-03-15")
    assert dict(stats.years) == {2017: 2, 2018: 1, 2019: 4, 2020: 2}
    assert stats.top_locations[0] == ("Paris", 2) or stats.top_locations[0] == ("Tirana", 2)
    assert ("Jane Doe", 2) in stats.top_bylines


def test_stats_are_counted_once_per_commit(news: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsindex.index as index_module

    counted: list[int] = []
    count = index_module.index_stats  # type: ignore[attr-defined]

    def counting(*args: Any) -> Any:
        counted.append(1)
        return count(*args)

    monkeypatch.setattr(index_module, "index_stats", counting)
    first = news.stats()
    assert news.stats() == first and len(counted) == 1  # the same index: counted once
    assert news.stats(top=3) != first and len(counted) == 2  # another top is another count
    news.add([Story(id="late.txt", body="PARIS (Reuters) - A late story.", published=date(2021, 1, 2))])
    after = news.stats()
    assert (after.stories, str(after.last_published)) == (11, "2021-01-02")  # a commit: counted again


def test_the_lead_sentence_weighs_more_than_the_rest_of_the_body(tmp_path: Path) -> None:
    filler = "Markets were calm and trading was thin across the region."
    stories = [
        Story(id="late", body=f"ROME (Reuters) - {filler} {filler}\n\nThe harbour reopened on Monday."),
        Story(id="lead", body=f"ROME (Reuters) - The harbour reopened on Monday.\n\n{filler} {filler}"),
    ]
    news = NewsIndex.create(tmp_path / "index")
    news.add(stories)
    # The two are copies of one story by their words (a duplicate group): all versions, to rank both.
    assert [hit.story.id for hit in news.search("harbour", all_versions=True).hits] == ["lead", "late"]


def test_stories_streams_every_match_oldest_first(news: NewsIndex) -> None:
    every = [story.id for story in news.stories()]
    assert len(every) == 10
    assert (every[0], every[-1]) == ("agents-phrase.txt", "undated-iran.txt")
    assert [story.id for story in news.stories("iran", filters=Filters(start="2019"))] == [
        "iran-oil.txt",
        "albania-iran-ties.txt",
        "albania-iran-deep.txt",
    ]
    assert [story.id for story in news.stories(filters=Filters(location="Tirana"))] == [
        "albania-football.txt",
        "albania-iran-ties.txt",
    ]


def test_stories_is_a_snapshot_while_commits_land(news: NewsIndex) -> None:
    stream = news.stories()
    first = next(stream)
    news.add([Story(id="late", body="ROME (Reuters) - A story added meanwhile.")])
    assert [first.id, *(story.id for story in stream)] == [story.id for story in news.stories()][:10]
    assert news.count() == 11


_WORDS = [
    "storm",
    "harbour",
    "ferry",
    "warning",
    "port",
    "tide",
    "crew",
    "cargo",
    "pier",
    "wind",
    "rain",
    "fog",
    "dock",
    "coast",
    "gale",
]


@pytest.mark.parametrize("words", ["storm", "storm harbour", "harbour OR ferry OR tide", '"storm warning"'])
def test_a_selective_date_filter_ranks_as_the_unfiltered_search_does(tmp_path: Path, words: str) -> None:
    # Few stories pass the filter: it is applied inside the matcher, and must keep the scores and
    # order of the unfiltered ranking (pages smaller than the matches included).
    draw = random.Random(7)
    stories = [
        Story(
            id=f"s{number:03d}",
            headline=" ".join(draw.choices(_WORDS, k=3)),
            body=" ".join(draw.choices(_WORDS, k=draw.randint(5, 120))),
            published=date(1995 + number % 30, 1 + number % 12, 1),
        )
        for number in range(900)
    ]
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add(stories)
    everything = news.search(words, limit=900).hits
    in_2001 = [(hit.story.id, hit.score) for hit in everything if hit.story.published.year == 2001]  # type: ignore[union-attr]
    assert len(in_2001) > 3
    for limit in (3, 10):
        found = news.search(words, filters=Filters(start="2001", end="2001"), limit=limit)
        assert found.total == len(in_2001)
        assert [(hit.story.id, hit.score) for hit in found.hits] == in_2001[:limit]
