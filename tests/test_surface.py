"""The command line's edges as a shell user meets them: closed pipes, failed first runs, the version."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_story
from newsindex import NewsIndex, Story, __version__
from newsindex.cli.commands import app
from newsindex.cli.output import EXIT_PIPE_CLOSED

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `newsindex ARGS` with a stdout whose reader is already gone (what `| head -1` leaves)."""
    reader, writer = os.pipe()
    os.close(reader)  # every write to stdout now fails with EPIPE, from the first one
    try:
        return subprocess.run(
            [sys.executable, "-m", "newsindex", *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONWARNINGS": ""},
        )
    finally:
        os.close(writer)


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    path = tmp_path / "queries.tsv"
    path.write_text("1\tiran\n2\talbania\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["search", "iran", "--facet", "year"],
        ["search", "iran", "--json"],
        ["search", "iran", "--jsonl"],
        ["export", "-o", "-"],
        ["export", "-o", "-", "--format", "csv"],
        ["timeline", "iran"],
        ["timeline", "iran", "--csv"],
        ["show", "iran-oil.txt"],
        ["similar", "iran-oil.txt"],
        ["stats"],
        ["check"],
        ["batch", "{queries}"],
        ["batch", "{queries}", "--format", "jsonl"],
        ["--help"],
        ["--version"],
    ],
)
def test_a_closed_pipe_ends_quietly(index_path: str, queries: Path, args: list[str]) -> None:
    args = [arg.replace("{queries}", str(queries)) for arg in args]
    command = args if args[0].startswith("--") else [*args, "--index", index_path]
    result = run_into_closed_pipe(*command)
    assert (result.returncode, result.stderr) == (EXIT_PIPE_CLOSED, "")


def test_indexing_a_path_that_names_nothing_creates_no_index(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    result = runner.invoke(app, ["index", str(tmp_path / "nope"), "--index", str(folder)])
    assert (result.exit_code, result.stderr) == (2, f"Error: no such file or directory: {tmp_path / 'nope'}\n")
    assert not folder.exists()
    # An empty folder given for the index stays as it was: empty.
    folder.mkdir()
    assert runner.invoke(app, ["index", str(tmp_path / "nope*"), "--index", str(folder)]).exit_code == 2
    assert list(folder.iterdir()) == []


def test_a_first_run_that_fails_before_any_commit_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")  # skipped: no story in it
    folder = tmp_path / "index"
    result = runner.invoke(app, ["index", str(tmp_path / "empty.txt"), "--index", str(folder), "--strict"])
    assert result.exit_code == 7, result.output
    assert not folder.exists()


def test_a_failed_run_on_an_existing_index_keeps_it(tmp_path: Path) -> None:
    write_story(tmp_path / "stories", "a.txt", "TIRANA (Reuters) - Albania and Iran.", date="2019-10-23")
    folder = tmp_path / "index"
    assert runner.invoke(app, ["index", str(tmp_path / "stories"), "--index", str(folder)]).exit_code == 0
    empty = NewsIndex.create(tmp_path / "empty")  # made by someone else: not this run's to remove
    (tmp_path / "blank.txt").write_text("", encoding="utf-8")
    for index in (folder, empty.path):
        result = runner.invoke(app, ["index", str(tmp_path / "blank.txt"), "--index", str(index), "--strict"])
        assert result.exit_code == 7
    assert NewsIndex.open(folder).count() == 1
    assert NewsIndex.open(empty.path).count() == 0


def test_version_is_the_distribution_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"newsindex {project['version']}\n")
    assert __version__ == project["version"]


def test_the_distribution_name_is_ours_and_every_install_hint_uses_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # `newsindex` on PyPI is an unrelated project (checked 2026-12-04); `newsindex-search` was free.
    assert project["name"] == "newsindex-search"
    assert project["scripts"] == {"newsindex": "newsindex.cli:main"}
    for extra in project["optional-dependencies"].values():
        assert not any(requirement.startswith("newsindex[") for requirement in extra)
    texts = [ROOT / "README.md", *sorted((ROOT / "src" / "newsindex").rglob("*.py"))]
    for path in texts:
        text = path.read_text(encoding="utf-8")
        assert "newsindex[" not in text, f"{path.name} names the PyPI project `newsindex`"


def test_a_reader_gone_in_the_middle_of_a_long_output_is_a_closed_pipe(tmp_path: Path) -> None:
    # Output far past a pipe's 64 KiB: one big write would be taken in part and the rest dropped silently.
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    body = "LONDON (Reuters) - Oil prices rose as traders weighed supply. " * 12
    news.add([Story(id=f"oil-{number}", headline=f"Oil report {number}", body=body) for number in range(400)])
    news.close()
    for args in (["search", "oil", "--limit", "400"], ["search", "oil", "--limit", "400", "--json"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "newsindex", *args, "--index", str(tmp_path / "index")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONWARNINGS": ""},
        )
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(200)  # the first lines, as `| head -2` reads them
        process.stdout.close()
        assert process.wait(timeout=60) == EXIT_PIPE_CLOSED
        with process.stderr:
            assert process.stderr.read() == b""
