"""Timelines: stories per period for one or more queries, zeros included, as text, JSON, CSV and charts."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, Story, UsageError
from newsindex.cli.commands import app
from newsindex.timeline import build_timeline, period_of

runner = CliRunner()


def test_months_without_stories_are_listed_as_zeros(news: NewsIndex) -> None:
    found = news.timeline("iran", by="month")
    assert found.periods == tuple(f"2019-{month:02d}" for month in range(6, 13))
    (series,) = found.series
    assert series.counts == (1, 0, 0, 0, 1, 0, 1)
    assert (series.query, series.total, series.undated) == ("iran", 3, 1)  # undated counted apart


def test_the_range_sets_the_periods_and_leaves_out_stories_outside(news: NewsIndex) -> None:
    found = news.timeline("iran", filters=Filters(start="2018", end="2020-06"), by="year")
    assert found.periods == ("2018", "2019", "2020")
    assert found.series[0].counts == (0, 3, 0)
    found = news.timeline("iran", filters=Filters(start="2019-10", end="2019-11"), by="month")
    assert (found.periods, found.series[0].counts) == (("2019-10", "2019-11"), (1, 0))
    assert found.series[0].undated == 1  # no range can hold an undated story: reported whatever the range


def test_several_queries_share_the_periods(news: NewsIndex) -> None:
    found = news.timeline(["iran", "albania", "no-such-word"], by="year")
    assert found.periods == ("2018", "2019")  # the span of every series together
    assert [(s.query, s.counts) for s in found.series] == [
        ("iran", (0, 3)),
        ("albania", (1, 2)),
        ("no-such-word", (0, 0)),
    ]


def test_filters_narrow_the_timeline(news: NewsIndex) -> None:
    found = news.timeline("iran", filters=Filters(bylines=["Jane Doe"]), by="year")
    assert (found.periods, found.series[0].counts, found.series[0].undated) == (("2019",), (1,), 0)


def test_iso_weeks_cross_year_ends() -> None:
    assert period_of(date(2019, 12, 29), "week") == "2019-W52"  # a Sunday
    assert period_of(date(2019, 12, 30), "week") == "2020-W01"  # the Monday after starts 2020's first week
    assert period_of(date(2021, 1, 3), "week") == "2020-W53"  # a year with 53 weeks
    assert period_of(date(2021, 1, 4), "week") == "2021-W01"


def test_week_timeline_counts_by_iso_week(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    days = [date(2019, 12, 22), date(2019, 12, 29), date(2019, 12, 30), date(2020, 1, 5), date(2020, 1, 20)]
    news.add(Story(id=f"s{n}", body="Floods spread.", published=day) for n, day in enumerate(days))
    found = news.timeline("floods", by="week")
    assert found.periods == ("2019-W51", "2019-W52", "2020-W01", "2020-W02", "2020-W03", "2020-W04")
    assert found.series[0].counts == (1, 1, 2, 0, 0, 1)
    assert found.to_dict()["weeks"].startswith("ISO 8601")


def test_day_timeline_lists_every_day(news: NewsIndex) -> None:
    found = news.timeline("paris agents", filters=Filters(end="2017-05-08"), by="day")
    assert found.periods == ("2017-05-05", "2017-05-06", "2017-05-07", "2017-05-08")
    assert found.series[0].counts == (1, 1, 0, 0)


def test_no_dated_match_gives_no_periods(news: NewsIndex) -> None:
    found = news.timeline("tehran")
    assert (found.periods, found.series[0].counts, found.series[0].undated) == ((), (), 1)


def test_bad_period_and_too_many_periods_are_usage_errors(news: NewsIndex) -> None:
    with pytest.raises(UsageError, match="unknown period 'hour'"):
        news.timeline("iran", by="hour")
    with pytest.raises(UsageError, match="use a longer --by"):
        build_timeline("day", [("x", Counter(), 0)], -700_000, 2_900_000)  # days: years 53 to 9909
    with pytest.raises(UsageError, match="at least one query"):
        news.timeline([])
    with pytest.raises(UsageError, match=r"starts \(2020-01-01\) after it ends \(2019-12-31\)"):
        news.timeline("iran", filters=Filters(start="2020", end="2019"))


# -- the command ------------------------------------------------------------------------------------


def test_cli_timeline_draws_bars_for_each_query(index_path: str) -> None:
    result = runner.invoke(app, ["timeline", "iran", "albania", "--by", "year", "-i", index_path])
    assert result.exit_code == 0, result.output
    iran, albania = result.stdout.strip().split("\n\n")
    assert iran.splitlines() == [
        "iran: 3 stories by year, 2018 to 2019 (and 1 undated, not shown)",
        "  2018         0",
        "  2019         3  " + "█" * 40,
    ]
    assert albania.splitlines()[0] == "albania: 3 stories by year, 2018 to 2019"
    assert albania.splitlines()[1] == "  2018         1  " + "█" * 13  # one scale for every query


def test_cli_timeline_json_shape(index_path: str) -> None:
    result = runner.invoke(
        app, ["timeline", "iran", "--by", "week", "--from", "2019-10-21", "--json", "-i", index_path]
    )
    body = json.loads(result.stdout)
    assert set(body) == {"by", "weeks", "from", "to", "periods", "series"}
    assert (body["by"], body["from"], body["to"]) == ("week", "2019-W43", "2020-W01")
    (series,) = body["series"]
    assert (series["query"], series["total"], series["undated"]) == ("iran", 2, 1)
    assert series["buckets"][0] == {"period": "2019-W43", "stories": 1}
    assert [bucket["period"] for bucket in series["buckets"]] == body["periods"]


def test_cli_timeline_csv_has_a_column_per_query(index_path: str) -> None:
    result = runner.invoke(app, ["timeline", "iran", "albania", "--by", "year", "--csv", "-i", index_path])
    assert result.exit_code == 0
    assert result.stdout == "period,iran,albania\n2018,0,1\n2019,3,2\n"
    assert "Note: iran: 1 undated story not in the rows" in result.stderr
    both = runner.invoke(app, ["timeline", "iran", "--csv", "--json", "-i", index_path])
    assert both.exit_code == 2


@pytest.mark.parametrize(("name", "magic"), [("chart.png", b"\x89PNG"), ("chart.svg", b"<?xml")])
def test_cli_timeline_plots_a_chart_file(index_path: str, tmp_path: Path, name: str, magic: bytes) -> None:
    chart = tmp_path / name
    result = runner.invoke(
        app, ["timeline", "iran", "albania", "--by", "month", "--plot", str(chart), "-i", index_path]
    )
    assert result.exit_code == 0, result.output
    assert chart.read_bytes().startswith(magic)
    assert f"Chart written to {chart}" in result.stderr
    assert result.stdout.startswith("iran: 3 stories by month")  # the text chart still goes to stdout
    if name.endswith(".svg"):
        assert "albania (3)" in chart.read_text(encoding="utf-8")  # the legend names each series


def test_cli_timeline_plot_refuses_other_formats(index_path: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["timeline", "iran", "--plot", str(tmp_path / "chart.gif"), "-i", index_path])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --plot writes .png or .svg files, not 'chart.gif'"


def test_cli_timeline_plot_without_matplotlib_says_what_to_install(
    index_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails as if not installed
    chart = tmp_path / "chart.png"
    result = runner.invoke(app, ["timeline", "iran", "--plot", str(chart), "-i", index_path])
    assert result.exit_code == 2
    before_any_work = runner.invoke(app, ["timeline", "iran", "--plot", str(chart), "-i", str(tmp_path / "none")])
    assert before_any_work.exit_code == 2  # not 4: the index was never opened
    assert result.stderr == (
        "Error: --plot needs matplotlib, which is not installed: pip install 'newsindex-search[plot]'\n"
    )
    assert not chart.exists()


def test_cli_timeline_bad_query_and_missing_index(index_path: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["timeline", '"iran', "-i", index_path]).exit_code == 2
    assert runner.invoke(app, ["timeline", "iran", "--by", "hour", "-i", index_path]).exit_code == 2
    assert runner.invoke(app, ["timeline", "iran", "-i", str(tmp_path / "none")]).exit_code == 4


def test_stats_draw_every_year_of_the_corpus(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add(
        [
            Story(id="a", body="One.", published=date(2015, 5, 1)),
            Story(id="b", body="Two.", published=date(2018, 5, 1)),
            Story(id="c", body="Three.", published=date(2018, 6, 1)),
            Story(id="d", body="Undated."),
        ]
    )
    result = runner.invoke(app, ["stats", "-i", str(news.path)])
    assert result.exit_code == 0
    assert "stories:   4 (1 undated)" in result.stdout
    assert (
        "stories per year:\n"
        f"  2015         1  {'█' * 15}\n"
        "  2016         0\n"
        "  2017         0\n"
        f"  2018         2  {'█' * 30}\n"
    ) in result.stdout
    years = json.loads(runner.invoke(app, ["stats", "--json", "-i", str(news.path)]).stdout)["years"]
    assert years == {"2015": 1, "2016": 0, "2017": 0, "2018": 2}


def test_an_empty_query_counts_every_story(news: NewsIndex, index_path: str) -> None:
    found = news.timeline("", by="year")
    assert found.periods == ("2017", "2018", "2019", "2020")
    assert (found.series[0].counts, found.series[0].undated) == ((2, 1, 4, 2), 1)
    result = runner.invoke(app, ["timeline", "", "--by", "month", "--csv", "-i", index_path])
    assert result.stdout.splitlines()[:3] == ["period,every story", "2017-05,2", "2017-06,0"]


def test_cli_timeline_takes_since_plain_and_fuzzy(index_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from newsindex.text import dates

    monkeypatch.setattr(dates, "now", lambda: datetime(2020, 1, 1, tzinfo=UTC))

    def totals(*options: str) -> tuple[int, int]:
        result = runner.invoke(app, ["timeline", *options, "--by", "year", "--json", "-i", index_path])
        assert result.exit_code == 0, result.stderr
        (series,) = json.loads(result.stdout)["series"]
        return series["total"], series["undated"]

    assert totals("iran") == (3, 1)
    assert totals("iran", "--since", "1y") == totals("iran", "--from", "2019-01-01")  # undated: counted apart
    assert totals("iran", "--since", "2m") == totals("iran", "--from", "2019-11-01") == (1, 1)
    assert totals("irna") == (0, 0)
    assert totals("irna", "--fuzzy") == totals("iran")
    assert totals("iran (", "--plain") == totals("iran")
    bad = runner.invoke(app, ["timeline", "iran", "--since", "lately", "-i", index_path])
    assert bad.exit_code == 2
    assert "lately" in bad.stderr


def test_auto_picks_the_scale_by_the_span_of_the_matches_and_finds_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newsindex.index

    news = NewsIndex.create(tmp_path / "auto", fsync=False)
    news.add(
        [
            Story(id="a", body="Floods hit the coast.", published=date(2019, 3, 1)),
            Story(id="b", body="Floods again on the coast.", published=date(2019, 3, 20)),
            Story(id="c", body="Drought in the north.", published=date(2015, 6, 1)),
            Story(id="d", body="Drought again in the north.", published=date(2019, 6, 1)),
        ]
    )
    found: list[object] = []
    real = newsindex.index.timeline_matches  # type: ignore[attr-defined]

    def counted(*args: Any) -> Any:
        found.append(args)
        return real(*args)

    monkeypatch.setattr(newsindex.index, "timeline_matches", counted)
    assert news.timeline("floods", by="auto").by == "day"  # 20 days apart
    assert news.timeline("drought", by="auto").by == "year"  # four years apart
    assert len(found) == 2  # one search per query, whatever the scales tried
    result = runner.invoke(app, ["timeline", "floods", "--by", "auto", "--json", "-i", str(news.path)])
    assert result.exit_code == 0 and json.loads(result.stdout)["by"] == "day"
