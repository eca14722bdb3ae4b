"""`Filters`, the one value a search, timeline or export is filtered by, and how CLI and HTTP build it."""

from __future__ import annotations

import dataclasses
import inspect
import json
from datetime import date
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, QueryError, QueryRejectedError, UsageError
from newsindex.cli.commands import app
from newsindex.cli.options import SortOrder
from newsindex.models import SORTS, Sort
from newsindex.server.app import create_app

FILTER_FLAGS = (
    "--from", "--to", "--since", "--byline", "--location", "--source", "--region", "--topic", "--place", "--org",
    "--person", "--all", "--any", "--plain", "--fuzzy",
)  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_names_are_kept_as_tuples_and_blank_values_are_no_filter() -> None:
    filters = Filters(bylines="Benet Koleka", topics=["grain", " ", "wheat"], places=("usa",), start="", location="")
    assert (filters.bylines, filters.topics, filters.places) == (("Benet Koleka",), ("grain", "wheat"), ("usa",))
    assert (filters.start, filters.location) == (None, None)
    assert filters == Filters(bylines=("Benet Koleka",), topics=("grain", "wheat"), places=["usa"])
    assert hash(filters) == hash(Filters(bylines=["Benet Koleka"], topics=["grain", "wheat"], places=["usa"]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        filters.start = "2019"  # type: ignore[misc]


def test_what_narrows_and_what_only_shapes_the_query() -> None:
    assert not Filters().narrows
    assert not Filters(match="any", plain=True, fuzzy=True, require_all=False).narrows
    for narrowing in (
        Filters(since="7d"),
        Filters(end=date(2019, 1, 1)),
        Filters(people="volcker"),
        Filters(region="Calif."),
    ):
        assert narrowing.narrows, narrowing
    assert Filters(region="Calif.", topics="grain").tags() == {"region": ("Calif.",), "topic": ("grain",)}


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"start": "2019", "end": "2018"}, UsageError, r"starts \(2019-01-01\) after it ends \(2018-12-31\): swap"),
        ({"start": date(2019, 6, 1), "end": date(2019, 5, 31)}, UsageError, "swap the dates"),
        ({"since": "7d", "end": "2000"}, UsageError, "swap the dates"),
        ({"since": "seven days"}, QueryError, "use a number of days, weeks, months or years"),
        ({"end": "2019-02-30"}, QueryError, "invalid end date"),
        ({"match": "some"}, UsageError, "unknown match 'some'"),
        ({"match": "any", "require_all": True}, UsageError, "choose one"),
        ({"source": "x" * 201}, QueryRejectedError, "the source filter is 201 characters long"),
    ],
)
def test_bad_values_fail_when_the_filters_are_made(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Filters(**options)  # type: ignore[arg-type]


def test_the_searching_methods_take_one_filters_value() -> None:
    filter_names = {field.name for field in dataclasses.fields(Filters)}
    for method in (NewsIndex.search, NewsIndex.rank, NewsIndex.timeline, NewsIndex.stories, NewsIndex.grouped_stories):
        parameters = set(inspect.signature(method).parameters)
        assert "filters" in parameters, method
        assert not parameters & filter_names, (method, parameters & filter_names)


def test_the_cli_commands_share_every_filter_option() -> None:
    for command in ("search", "timeline", "export"):
        code, out, _ = run(command, "--help")
        assert code == 0
        assert [flag for flag in FILTER_FLAGS if f"  {flag} " not in out] == [], command


def test_a_bad_filter_option_is_exit_2_in_every_command(index_path: str) -> None:
    for command in (["search", "iran"], ["timeline", "iran"], ["export", "iran", "-o", "-"]):
        code, out, err = run(*command, "--from", "2019", "--to", "2018", "-i", index_path)
        assert (code, out) == (2, ""), command
        assert err.startswith("Error: the date range starts (2019-01-01) after it ends (2018-12-31)"), err


def test_export_takes_the_filters_search_takes(news: NewsIndex, index_path: str) -> None:
    def exported(*options: str) -> list[str]:
        code, out, err = run("export", *options, "-o", "-", "-q", "-i", index_path)
        assert code == 0, err
        return [json.loads(line)["id"] for line in out.splitlines()]

    searched = news.search("albnia", filters=Filters(fuzzy=True), all_versions=True, limit=50)
    assert sorted(exported("albnia", "--fuzzy")) == sorted(hit.story.id for hit in searched.hits) != []
    assert exported("albnia") == []
    assert exported("Albania (Irna", "--plain") == [story.id for story in news.stories("Albania Irna")]
    dated = [story.id for story in news.stories() if story.published is not None]
    assert exported("--since", "100y") == dated != [story.id for story in news.stories()]


def test_cli_http_and_python_count_the_same_stories_for_the_same_filters(news: NewsIndex, index_path: str) -> None:
    filters = Filters(start="2019", end="2019-10", bylines=["koleka", "Jane Doe"], match="any")
    expected = news.search("albania iran", filters=filters, all_versions=True).total
    code, out, _ = run(
        "search", "albania iran", "--from", "2019", "--to", "2019-10", "--byline", "koleka", "--byline", "Jane Doe",
        "--any", "--all-versions", "--json", "-i", index_path,
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["total"] == expected > 0
    params = {"q": "albania iran", "from": "2019", "to": "2019-10", "bylines": "koleka", "byline": "Jane Doe"}
    with TestClient(create_app(index_path)) as client:
        body = client.get("/api/search", params={**params, "match": "any", "all_versions": "true"}).json()
        timeline = client.get("/api/timeline", params={**params, "match": "any", "by": "year"}).json()
    assert body["total"] == expected
    assert timeline["total"] == news.timeline("albania iran", filters=filters).series[0].total == expected


def test_one_vocabulary_of_sort_orders() -> None:
    assert SORTS == get_args(Sort) == ("relevance", "date", "-date")
    assert tuple(order.value for order in SortOrder) == SORTS  # Typer needs an Enum; it must name the same orders
    with TestClient(create_app("no-index-needed")) as client:
        parameters = client.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]
    (sort,) = [parameter for parameter in parameters if parameter["name"] == "sort"]
    assert tuple(sort["schema"]["enum"]) == SORTS
