"""The matching rule and the Boolean operators, the same on every surface: Python, CLI, HTTP.

Words side by side must all match; AND, OR, NOT, +, - and parentheses mean what they say. When no story
has every word the stories with some are shown, and every surface says so. `total`, facets, timelines,
exports and date-sorted lists count and list the same stories.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, QueryError, UsageError
from newsindex.cli.commands import app
from newsindex.models import Match
from newsindex.server.app import create_app

runner = CliRunner()
BOTH = ["albania-iran-deep.txt", "albania-iran-ties.txt"]  # the two stories with Albania and Iran
NOTE = "no story has every word; showing stories with some"


@pytest.fixture
def client(index_path: str) -> Iterator[TestClient]:
    with TestClient(create_app(index_path)) as test_client:
        yield test_client


def found(news: NewsIndex, text: str, **options: Any) -> list[str]:
    return sorted(hit.story.id for hit in news.search(text, limit=50, all_versions=True, **options).hits)


def cli_json(index_path: str, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--json", "-i", index_path])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# Each query's stories (any order): what the operators say, nothing wider.
OPERATORS = [
    ("albania iran", BOTH),
    ("albania AND iran", BOTH),
    ("+albania +iran", BOTH),
    ("iran AND oil AND kharg", ["iran-oil.txt"]),
    ("iran AND crude AND oil", ["albania-iran-deep.txt", "iran-oil.txt"]),
    ("iran oil kharg", ["iran-oil.txt"]),
    ("albania OR kharg", ["albania-football.txt", "albania-iran-deep.txt", "albania-iran-ties.txt", "iran-oil.txt"]),
    ("albania NOT iran", ["albania-football.txt"]),
    ("albania -iran", ["albania-football.txt"]),
    ("(kharg OR kosovo) AND albania", ["albania-football.txt"]),
    ("(kharg OR kosovo) albania", ["albania-football.txt"]),
    ("albania AND (kharg OR kosovo OR diplomats)", ["albania-football.txt", "albania-iran-ties.txt"]),
]


@pytest.mark.parametrize(("query", "expected"), OPERATORS)
def test_operators_in_python(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert found(news, query) == expected
    results = news.search(query, limit=50, all_versions=True)
    assert results.total == len(expected) and results.matched == "all" and results.message is None
    assert sorted(story.id for story in news.stories(query)) == expected
    series = news.timeline(query).series[0]
    assert series.total + series.undated == len(expected)


@pytest.mark.parametrize(("query", "expected"), OPERATORS)
def test_operators_on_the_command_line(index_path: str, query: str, expected: list[str], tmp_path: Path) -> None:
    data = cli_json(index_path, "search", query, "--all-versions", "-n", "50")
    assert (sorted(hit["id"] for hit in data["hits"]), data["total"], data["matched"]) == (
        expected,
        len(expected),
        "all",
    )
    series = cli_json(index_path, "timeline", query)["series"][0]
    assert series["total"] + series["undated"] == len(expected)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", query, "-o", str(out), "-q", "-i", index_path])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(line)["id"] for line in out.read_text().splitlines()) == expected


@pytest.mark.parametrize(("query", "expected"), OPERATORS)
def test_operators_over_http(client: TestClient, query: str, expected: list[str]) -> None:
    body = client.get("/api/search", params={"q": query, "collapse": "false", "limit": 50}).json()
    assert (sorted(hit["id"] for hit in body["hits"]), body["total"], body["matched"]) == (
        expected,
        len(expected),
        "all",
    )
    timeline = client.get("/api/timeline", params={"q": query}).json()
    assert timeline["total"] == len(expected)


def test_and_binds_even_when_asked_for_any_word(news: NewsIndex, client: TestClient) -> None:
    assert found(news, "albania AND iran", filters=Filters(match="any")) == BOTH
    assert found(news, "iran AND oil AND kharg", filters=Filters(match="any")) == ["iran-oil.txt"]
    body = client.get("/api/search", params={"q": "albania AND iran", "match": "any", "collapse": "false"}).json()
    assert sorted(hit["id"] for hit in body["hits"]) == BOTH


def test_any_word_ranks_the_stories_with_every_word_first(news: NewsIndex, index_path: str) -> None:
    results = news.search("albania iran", filters=Filters(match="any"), limit=50)
    assert (results.matched, results.message, results.total) == ("any", None, 5)
    assert sorted(hit.story.id for hit in results.hits[:2]) == BOTH
    data = cli_json(index_path, "search", "albania iran", "--any")
    assert [hit["id"] for hit in data["hits"]] == [hit.story.id for hit in results.hits]
    assert (data["matched"], data["total"]) == ("any", 5)


def test_no_story_with_every_word_falls_back_to_some_and_says_so(
    news: NewsIndex, index_path: str, client: TestClient
) -> None:
    albania = found(news, "albania")
    results = news.search("albania kharg", limit=50, all_versions=True)
    assert (results.matched, results.message) == ("any", NOTE)
    assert sorted(hit.story.id for hit in results.hits) == sorted([*albania, "iran-oil.txt"])

    result = runner.invoke(app, ["search", "albania kharg", "-i", index_path])
    assert result.exit_code == 0 and f"Note: {NOTE}" in result.stdout
    data = cli_json(index_path, "search", "albania kharg")
    assert (data["matched"], data["message"], data["total"]) == ("any", NOTE, results.total)
    result = runner.invoke(app, ["search", "albania kharg", "--jsonl", "-i", index_path])
    assert result.stderr == f"Note: {NOTE}\n"
    result = runner.invoke(app, ["timeline", "albania kharg", "-i", index_path])
    assert "albania kharg: no story has every word; counting stories with some" in result.stderr
    body = client.get("/api/search", params={"q": "albania kharg"}).json()
    assert (body["matched"], body["message"], body["total"]) == ("any", NOTE, results.total)
    assert client.get("/api/timeline", params={"q": "albania kharg"}).json()["matched"] == "any"


@pytest.mark.parametrize("query", ["albania AND kharg", "+albania +kharg", "(albania kharg) tirana"])
def test_explicit_and_never_falls_back(news: NewsIndex, query: str) -> None:
    results = news.search(query)
    assert (results.total, results.matched, results.message) == (0, "all", None)


def test_all_never_falls_back(news: NewsIndex, index_path: str, client: TestClient) -> None:
    assert news.search("albania kharg", filters=Filters(require_all=True)).total == 0
    assert cli_json(index_path, "search", "albania kharg", "--all")["total"] == 0
    assert client.get("/api/search", params={"q": "albania kharg", "all": "true"}).json()["total"] == 0
    with pytest.raises(UsageError, match="choose one"):
        news.search("albania kharg", filters=Filters(match="any", require_all=True))
    with pytest.raises(UsageError, match="unknown match 'some'"):
        news.search("albania kharg", filters=Filters(match="some"))  # type: ignore[arg-type]


def test_the_fallback_is_decided_inside_the_filters(news: NewsIndex) -> None:
    # both words exist in 2019 stories, but in 2018 only Albania's football story has one of them
    results = news.search("albania iran", filters=Filters(start="2018", end="2018"))
    assert (results.matched, [hit.story.id for hit in results.hits]) == ("any", ["albania-football.txt"])
    series = news.timeline("albania iran", filters=Filters(start="2018", end="2018")).series[0]
    assert (series.total, series.matched) == (1, "any")
    assert news.search("albania iran", filters=Filters(start="2019", end="2019")).matched == "all"


@pytest.mark.parametrize("match", ["all", "any"])
@pytest.mark.parametrize(
    "query", ["albania iran", "albania kharg", "iran", "iran date:2019", "albania OR oil", "iran -oil", '"iran" oil']
)
def test_total_timeline_and_facets_count_the_same_stories(news: NewsIndex, query: str, match: Match) -> None:
    results = news.search(query, filters=Filters(match=match), facets=["year", "source"], all_versions=True, limit=50)
    assert results.total == len(results.hits)  # every one listed on the page
    series = news.timeline(query, filters=Filters(match=match), by="month").series[0]
    assert series.matched == results.matched
    dated = sum(1 for hit in results.hits if hit.story.published is not None)
    assert sum(series.counts) == sum(count for _, count in results.facets["year"]) == dated
    # undated stories are in no date range; the timeline reports them apart whatever its range
    assert sum(series.counts) + (0 if "date:" in query else series.undated) == results.total
    assert len(list(news.stories(query, filters=Filters(match=match)))) == results.total
    by_date = news.search(query, filters=Filters(match=match), sort="-date", all_versions=True, limit=50)
    assert sorted(hit.story.id for hit in by_date.hits) == sorted(hit.story.id for hit in results.hits)


def test_date_sorted_lists_show_relevance_scores(news: NewsIndex, index_path: str) -> None:
    ranked = {hit.story.id: hit.score for hit in news.search("iran", limit=50, all_versions=True).hits}
    by_date = news.search("iran", sort="date", limit=50, all_versions=True).hits
    assert [hit.story.published is None for hit in by_date][-1]  # undated last
    assert {hit.story.id: hit.score for hit in by_date} == pytest.approx(ranked)
    assert all(hit.score > 0 for hit in by_date)
    result = runner.invoke(app, ["search", "iran", "--sort", "-date", "-i", index_path])
    assert "[0.00]" not in result.stdout


def test_export_lists_the_fallback_stories_and_says_so(index_path: str, tmp_path: Path, news: NewsIndex) -> None:
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", "albania kharg", "-o", str(out), "-i", index_path])
    assert result.exit_code == 0, result.output
    assert f"Note: {NOTE}" in result.stderr
    exported = sorted(json.loads(line)["id"] for line in out.read_text().splitlines())
    assert exported == found(news, "albania kharg")
    heard: list[str] = []
    assert len(list(news.stories("albania kharg", on_fallback=heard.append))) == len(exported)
    assert heard == [NOTE]


# -- impossible date ranges -----------------------------------------------------------------------------


def test_an_inverted_range_is_an_error_in_python(news: NewsIndex) -> None:
    message = r"the date range starts \(2019-01-01\) after it ends \(2018-12-31\): swap the dates"
    with pytest.raises(UsageError, match=message):
        news.search("iran", filters=Filters(start="2019", end="2018"))
    with pytest.raises(UsageError, match=message):
        news.timeline("iran", filters=Filters(start="2019", end="2018"))
    with pytest.raises(UsageError, match=message):
        list(news.stories("iran", filters=Filters(start="2019", end="2018")))
    with pytest.raises(QueryError, match=message):
        news.search("iran date:[2019 TO 2018]")
    with pytest.raises(QueryError, match="swap the dates"):
        news.search("iran date:2019", filters=Filters(end="2018"))  # the text's range and the argument's do not meet


@pytest.mark.parametrize(
    "args",
    [
        ["search", "iran", "--from", "2019", "--to", "2018"],
        ["search", "iran date:[2019 TO 2018]"],
        ["search", "date:[2019-06 TO 2019-05]"],
        ["timeline", "iran", "--from", "2019", "--to", "2018"],
        ["export", "iran", "--from", "2019", "--to", "2018", "-o", "-"],
    ],
)
def test_an_inverted_range_exits_2_with_one_line(index_path: str, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "-i", index_path])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "swap the dates" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("route", ["/api/search", "/api/timeline"])
def test_an_inverted_range_is_a_400_over_http(client: TestClient, route: str) -> None:
    response = client.get(route, params={"q": "iran", "from": "2019", "to": "2018"})
    assert response.status_code == 400
    assert "swap the dates" in response.json()["message"]
    response = client.get(route, params={"q": "iran date:[2019 TO 2018]"})
    assert response.status_code == 400


def test_timeline_auto_over_a_wide_range_is_answered(client: TestClient) -> None:
    for params in ({"from": "0001", "to": "9999"}, {"from": "1000"}):
        body = client.get("/api/timeline", params={"q": "iran", "by": "auto", **params}).json()
        assert body["by"] == "year", body
        assert sum(bucket["stories"] for bucket in body["buckets"]) == 3  # the dated Iran stories
        body = client.get("/api/search", params={"q": "iran", "timeline": "auto", **params}).json()
        assert body["timeline"]["by"] == "year"
    assert client.get("/api/timeline", params={"q": "iran", "by": "auto"}).json()["by"] == "month"
