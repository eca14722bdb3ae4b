"""Facet counts on search: every matching story counted, not just the page; API, JSON and text."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, Story, UsageError
from newsindex.cli.commands import app

runner = CliRunner()
ALL = ("bylines", "location", "source", "year", "month")


def test_facets_count_every_match_not_just_the_page(news: NewsIndex) -> None:
    found = news.search("iran", limit=1, facets=ALL)
    assert (found.total, len(found.hits)) == (4, 1)
    assert found.facets["year"] == (("2019", 3),)  # the undated story has no year
    assert found.facets["month"] == (("2019-06", 1), ("2019-10", 1), ("2019-12", 1))
    assert found.facets["source"] == (("Reuters", 4),)
    assert found.facets["location"] == (("Dubai", 1), ("Tehran", 1), ("Tirana", 1), ("Washington/London", 1))
    # A story with two reporters counts for each; ties are listed by name.
    assert found.facets["bylines"] == (("Benet Koleka", 1), ("Jane Doe", 1), ("John Smith", 1), ("Parisa Hafezi", 1))


def test_facets_are_only_those_asked_for_and_absent_by_default(news: NewsIndex) -> None:
    assert news.search("iran").facets == {}
    assert "facets" not in news.search("iran").to_dict()
    found = news.search("albania", facets=["year", "year", "source"])
    assert list(found.facets) == ["year", "source"]


def test_facets_follow_the_filters(news: NewsIndex) -> None:
    found = news.search("iran", filters=Filters(start="2019-10"), facets=["month"])
    assert found.total == 2
    assert found.facets["month"] == (("2019-10", 1), ("2019-12", 1))
    assert news.search("iran", filters=Filters(source="AFP"), facets=["year"]).facets == {"year": ()}


def test_facet_top_keeps_the_most_frequent_names(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    names = ["Ann"] * 5 + ["Bob"] * 3 + ["Cy"] * 2 + ["Di"]
    news.add(Story(id=f"s{n}", body="Talks went on.", bylines=(name,)) for n, name in enumerate(names))
    found = news.search("talks", limit=2, facets=["bylines"], facet_top=2)
    assert found.facets["bylines"] == (("Ann", 5), ("Bob", 3))


def test_facets_count_across_segments_and_skip_replaced_stories(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    start = date(2020, 1, 1)
    for batch in range(3):  # three commits: three segments
        news.add(
            Story(
                id=f"b{batch}-{n}",
                body=f"Storm news {batch} {n}.",
                published=start + timedelta(days=40 * n),
                location=f"Place{n % 3}",
                source="AP" if batch else "Reuters",
            )
            for n in range(20)
        )
    news.add([Story(id="b0-0", body="Storm news, corrected.", location="Elsewhere", source="AP")])  # replaces one
    found = news.search("storm", limit=5, facets=["location", "source", "year"])
    assert found.total == 60
    assert dict(found.facets["source"]) == {"AP": 41, "Reuters": 19}
    assert dict(found.facets["location"]) == {"Place0": 20, "Place1": 21, "Place2": 18, "Elsewhere": 1}
    assert sum(count for _, count in found.facets["year"]) == 59  # the correction has no date


def test_unknown_facet_is_a_usage_error(news: NewsIndex) -> None:
    with pytest.raises(UsageError, match="unknown facet 'colour'"):
        news.search("iran", facets=["colour"])
    with pytest.raises(UsageError, match="facet_top must be 1 or more"):
        news.search("iran", facets=["bylines"], facet_top=0)


def test_cli_search_prints_facets_in_text_and_json(index_path: str) -> None:
    result = runner.invoke(app, ["search", "iran", "-n", "1", "--facet", "year", "--facet", "source", "-i", index_path])
    assert result.exit_code == 0, result.output
    assert "year (every matching story, copies included):\n  2019         3  █" in result.stdout
    assert "source (every matching story, copies included):\n         4  Reuters" in result.stdout

    result = runner.invoke(app, ["search", "iran", "-n", "1", "--facet", "bylines", "--json", "-i", index_path])
    body = json.loads(result.stdout)
    assert len(body["hits"]) == 1
    assert body["facets"] == {
        "bylines": [
            {"name": "Benet Koleka", "stories": 1},
            {"name": "Jane Doe", "stories": 1},
            {"name": "John Smith", "stories": 1},
            {"name": "Parisa Hafezi", "stories": 1},
        ]
    }


def test_cli_facet_top_and_bad_facet(index_path: str) -> None:
    result = runner.invoke(
        app, ["search", "iran", "--facet", "bylines", "--facet-top", "1", "--json", "-i", index_path]
    )
    assert json.loads(result.stdout)["facets"]["bylines"] == [{"name": "Benet Koleka", "stories": 1}]
    result = runner.invoke(app, ["search", "iran", "--facet", "colour", "-i", index_path])
    assert result.exit_code == 2
    assert "colour" in result.stderr


def test_one_name_given_as_a_string_is_one_name_not_its_letters(news: NewsIndex) -> None:
    assert news.search("iran", facets="year").facets == news.search("iran", facets=("year",)).facets
    listed = news.search("", filters=Filters(bylines=("Benet Koleka",)))
    assert listed.total > 0
    assert news.search("", filters=Filters(bylines="Benet Koleka")).total == listed.total
    assert news.timeline("", filters=Filters(bylines="Benet Koleka")).series[0].total == listed.total
    assert len(list(news.stories(filters=Filters(bylines="Benet Koleka")))) == listed.total


def test_one_person_is_one_facet_value_whatever_the_spelling(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    spellings = ["Peter Torday"] * 3 + ["PETER TORDAY"] * 5 + ["José Pérez", "Jose Perez", "St. Louis"]
    news.add(
        Story(id=f"s{n}", body="Talks went on.", bylines=(name,), location="ST LOUIS" if n < 2 else None)
        for n, name in enumerate(spellings)
    )
    found = news.search("talks", facets=["bylines", "location"])
    # the cased spelling is shown, the counts of every spelling summed
    assert found.facets["bylines"] == (("Peter Torday", 8), ("José Pérez", 2), ("St. Louis", 1))
    assert found.facets["location"] == (("ST LOUIS", 2),)  # shown as stored when no spelling is cased
    assert news.stats().top_bylines[0] == ("Peter Torday", 8)
    filtered = news.search(
        "talks", filters=Filters(bylines=["peter torday"]), facets=["bylines"]
    )  # matches every spelling
    assert filtered.facets["bylines"] == (("Peter Torday", 8),)


def test_facets_and_days_count_the_same_from_a_set_or_an_array_of_matches(news: NewsIndex) -> None:
    import numpy as np

    from newsindex.search.facets import count_days, count_facets

    with news._searcher() as searcher:
        matching = set(range(searcher.doc_count_all()))
        as_array = np.array(sorted(matching), dtype=np.int32)
        counted = count_facets(searcher, matching, ALL, 10)
        assert counted == count_facets(searcher, as_array, ALL, 10)  # type: ignore[arg-type]
        assert count_days(searcher, matching) == count_days(searcher, as_array)  # type: ignore[arg-type]
        assert sum(count_days(searcher, matching)[0].values()) + count_days(searcher, matching)[1] == len(matching)
