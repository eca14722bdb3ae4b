"""The command line as users meet it: output, JSON shape, stderr and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SEED, write_story
from newsindex.cli.commands import app

runner = CliRunner()


def run(*args: str) -> object:
    return runner.invoke(app, list(args))


def test_index_then_search_the_seed(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    result = runner.invoke(app, ["index", str(SEED.parent), "--index", index])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 added, 0 updated, 0 unchanged, 0 removed, 0 skipped" in result.stderr

    result = runner.invoke(app, ["search", "Albania Iran", "--index", index])
    assert result.exit_code == 0
    first_block = result.stdout.split("\n\n")[0]
    assert first_block.startswith("  1. 2019-10-23 · Tirana · Benet Koleka · Reuters")
    assert "Albanian police foiled" in first_block  # the lead stands in for the missing headline
    assert "*Albania*" in first_block and "*Iran*" in first_block  # matched words marked
    assert "id: 000_4cb0f0b9dca24e99.txt" in first_block
    assert "Stories 1-1 of 1" in result.stdout
    assert result.stderr == ""


def test_search_json_has_the_documented_keys(index_path: str) -> None:
    result = runner.invoke(
        app, ["search", "Albania Iran", "--from", "2019-01", "--to", "2019", "--json", "-i", index_path]
    )
    assert result.exit_code == 0
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert {"query", "total", "took_ms", "hits", "matched", "message"} <= set(data)
    assert (data["total"], data["matched"], data["message"]) == (2, "all", None)  # the two stories with both words
    hit = data["hits"][0]
    assert set(hit) >= {
        "id",
        "score",
        "rank",
        "published",
        "headline",
        "bylines",
        "location",
        "source",
        "snippet",
        "path",
    }
    assert (hit["id"], hit["rank"], hit["published"]) == ("albania-iran-ties.txt", 1, "2019-10-23")
    assert hit["bylines"] == ["Benet Koleka"]


def test_search_jsonl_prints_one_hit_per_line(index_path: str) -> None:
    result = runner.invoke(app, ["search", "iran", "--jsonl", "--limit", "3", "-i", index_path])
    lines = result.stdout.splitlines()
    assert [json.loads(line)["rank"] for line in lines] == [1, 2, 3]


@pytest.mark.parametrize("extra", [["--json"], ["--facet", "year"]])
def test_search_jsonl_with_json_or_facets_is_a_usage_error(index_path: str, extra: list[str]) -> None:
    result = runner.invoke(app, ["search", "iran", "--jsonl", *extra, "-i", index_path])  # facets had no place
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: --jsonl prints hits only: use --json for one object (with --facet, its facets)\n"


def test_search_options_reach_the_index(index_path: str) -> None:
    result = runner.invoke(
        app,
        [
            "search",
            "iran",
            "--byline",
            "Jane Doe",
            "--byline",
            "Benet Koleka",
            "--sort",
            "date",
            "--json",
            "-i",
            index_path,
        ],
    )
    assert [hit["id"] for hit in json.loads(result.stdout)["hits"]] == [
        "albania-iran-ties.txt",
        "albania-iran-deep.txt",
    ]
    result = runner.invoke(
        app, ["search", "", "--location", "tirana", "--source", "reuters", "--json", "-i", index_path]
    )
    assert json.loads(result.stdout)["total"] == 2


def test_index_path_from_the_environment(index_path: str) -> None:
    result = runner.invoke(app, ["search", "football", "--json"], env={"NEWSINDEX_INDEX": index_path})
    assert json.loads(result.stdout)["hits"][0]["id"] == "albania-football.txt"


def test_zero_hits_is_success(index_path: str) -> None:
    result = runner.invoke(app, ["search", "zanzibar", "-i", index_path])
    assert result.exit_code == 0
    assert "No stories matched." in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["search", '"iran', "-i", "{index}"], 2, "Error: unbalanced quote"),
        (["search", "colour:red", "-i", "{index}"], 2, "Error: unknown field 'colour'"),
        (["search", "iran", "--from", "2019-02-30", "-i", "{index}"], 2, "Error: invalid start date"),
        (["search", "iran", "--sort", "size", "-i", "{index}"], 2, "Invalid value for '--sort'"),
        (["search", "iran", "-i", "{missing}"], 4, "Error: no index at"),
        (["show", "nope.txt", "-i", "{index}"], 2, "Error: no story with id 'nope.txt'"),
        (["stats", "-i", "{missing}"], 4, "Error: no index at"),
        (["index", "{missing}/corpus", "-i", "{index}"], 2, "Error:"),
    ],
)
def test_errors_are_one_line_with_the_contract_exit_code(
    tmp_path: Path, index_path: str, args: list[str], code: int, message: str
) -> None:
    filled = [arg.format(index=index_path, missing=str(tmp_path / "missing")) for arg in args]
    result = runner.invoke(app, filled)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "iran", "-i", str(tmp_path / "missing"), "--debug"])
    assert result.exit_code == 4
    assert "Traceback" in result.stderr


def test_skipped_inputs_are_named_and_strict_makes_them_fail(tmp_path: Path, corpus: Path) -> None:
    (corpus / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    index = str(tmp_path / "index")
    result = runner.invoke(app, ["index", str(corpus), "-i", index])
    assert result.exit_code == 0
    assert re.search(r"skipped: .*broken\.txt: binary file", result.stderr)
    assert "10 added" in result.stderr

    result = runner.invoke(app, ["index", str(corpus), "-i", index, "--strict"])
    assert result.exit_code == 7
    assert "Error: 1 input(s) skipped (--strict)" in result.stderr


def test_index_json_report_and_incremental_runs(tmp_path: Path, corpus: Path) -> None:
    index = str(tmp_path / "index")
    first = json.loads(runner.invoke(app, ["index", str(corpus), "-i", index, "--json", "-q"]).stdout)
    assert (first["added"], first["unchanged"]) == (10, 0)
    write_story(corpus, "extra.txt", "ROME (Reuters) - A new story.", date="2022-02-02")
    (corpus / "iran-oil.txt").unlink()
    second = json.loads(runner.invoke(app, ["index", str(corpus), "-i", index, "--json", "--prune"]).stdout)
    assert (second["added"], second["unchanged"], second["removed"]) == (1, 9, 1)
    rebuilt = json.loads(runner.invoke(app, ["index", str(SEED.parent), "-i", index, "--json", "--rebuild"]).stdout)
    assert rebuilt["added"] == 1
    stats = json.loads(runner.invoke(app, ["stats", "-i", index, "--json"]).stdout)
    assert stats["stories"] == 1


def test_index_reads_jsonl_from_stdin(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    lines = "\n".join(
        json.dumps(
            {"id": f"s{n}", "title": f"Harbour story {n}", "date": "2020-05-0" + str(n), "text": "Ships came in."}
        )
        for n in range(1, 4)
    )
    result = runner.invoke(app, ["index", "-", "-i", index], input=lines)
    assert result.exit_code == 0, result.stderr
    data = json.loads(runner.invoke(app, ["search", "harbour", "--sort", "-date", "--json", "-i", index]).stdout)
    assert [hit["id"] for hit in data["hits"]] == ["s3", "s2", "s1"]
    assert data["hits"][0]["headline"] == "Harbour story 3"


def test_show_prints_the_story(index_path: str) -> None:
    result = runner.invoke(app, ["show", "albania-iran-ties.txt", "-i", index_path])
    assert result.exit_code == 0
    assert "bylines:   Benet Koleka" in result.stdout
    assert "editing:   David Holmes" in result.stdout
    assert "TIRANA (Reuters) - Albania expelled" in result.stdout
    data = json.loads(runner.invoke(app, ["show", "albania-iran-ties.txt", "-i", index_path, "--json"]).stdout)
    assert data["credits"] == {"Reporting": ["Benet Koleka"], "Editing": ["David Holmes"]}


def test_stats_text_and_json(index_path: str) -> None:
    result = runner.invoke(app, ["stats", "-i", index_path])
    assert result.exit_code == 0
    assert "stories:   10 (1 undated)" in result.stdout
    assert "published: 2017-05-05 to 2020-03-15" in result.stdout
    data = json.loads(runner.invoke(app, ["stats", "-i", index_path, "--json"]).stdout)
    assert data["years"] == {"2017": 2, "2018": 1, "2019": 4, "2020": 2}
    assert data["top_sources"][0] == {"name": "Reuters", "stories": 8}


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("index", "search", "show", "stats"):
        assert command in result.stdout


def test_a_rejected_query_exits_6(index_path: str) -> None:
    result = runner.invoke(app, ["search", "*", "-i", index_path])
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: a bare * would list every story")
    result = runner.invoke(app, ["search", "?", "-i", index_path])
    assert (result.exit_code, result.stderr.startswith("Error: a bare ? would list every story")) == (6, True)


def test_interrupted_indexing_exits_130_and_keeps_the_index(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = str(tmp_path / "index")
    assert runner.invoke(app, ["index", str(corpus), "-i", index, "-q"]).exit_code == 0
    write_story(corpus, "extra.txt", "ROME (Reuters) - A new story.", date="2022-02-02")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("newsindex.store.indexer.Indexer.put", interrupted)
    result = runner.invoke(app, ["index", str(corpus), "-i", index, "-q"])
    assert result.exit_code == 130
    assert result.stderr == "Error: interrupted; the index keeps its last commit\n"
    monkeypatch.undo()
    assert json.loads(runner.invoke(app, ["stats", "-i", index, "--json"]).stdout)["stories"] == 10


def test_an_unwritable_index_exits_5(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from newsindex.store.storage import DurableStorage

    index = str(tmp_path / "index")
    assert runner.invoke(app, ["index", str(SEED.parent), "-i", index, "-q"]).exit_code == 0

    def no_space(self: DurableStorage, operation: str, name: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(DurableStorage, "before", no_space)
    result = runner.invoke(app, ["index", str(corpus), "-i", index, "-q"])
    assert result.exit_code == 5
    assert "No space left on device; the index keeps its last commit" in result.stderr


def test_check_reports_a_whole_index(index_path: str) -> None:
    result = runner.invoke(app, ["check", "-i", index_path, "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["whole"], report["stories"], report["problems"]) == (True, 10, [])


def test_an_internal_error_exits_1_with_one_line(index_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something we did not foresee")

    monkeypatch.setattr("newsindex.index.NewsIndex.search", broken)
    result = runner.invoke(app, ["search", "iran", "-i", index_path])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: internal error: RuntimeError: something we did not foresee (run with --debug for details)\n"
    )
