"""README's examples run as written: every `newsindex` command line of its shell blocks, and its Python block.

The lines run in order in one folder holding what they name (the sample story as `seeds/` and `stories/`,
a topics file, qrels, a gzipped feed), each through bash with this environment's `newsindex` first on
PATH, so pipes and redirections work as a reader's shell would run them. Lines that need the network or a
server (`pip`, `curl`, `serve`) or a tool the machine lacks (`jq`) are left out, and the test says how many
ran: a README whose examples stopped working fails here.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
OFFLINE_ONLY = ("pip ", "curl ", "newsindex serve", "python3 -m venv", "pytest", "ruff ", "mypy ")


def _shell_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if "newsindex " in line and not any(marker in line for marker in OFFLINE_ONLY):
                if "| jq" in line and shutil.which("jq") is None:
                    continue
                lines.append(line)
    return lines


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The files README's examples name, beside one another."""
    for name in ("seeds", "stories"):
        shutil.copytree(ROOT / "seeds", tmp_path / name)
    seed = next((ROOT / "seeds").glob("*.txt"))
    story = {"id": "feed-1", "published": "2019-10-24", "body": "TIRANA (Reuters) - Albania and Iran, again."}
    with gzip.open(tmp_path / "feed.jsonl.gz", "wt", encoding="utf-8") as feed:
        feed.write(json.dumps(story) + "\n")
    (tmp_path / "corpus.jsonl").write_text(json.dumps(story) + "\n", encoding="utf-8")
    (tmp_path / "topics.tsv").write_text("1\tAlbania Iran\n2\tvolcano lava\n", encoding="utf-8")
    (tmp_path / "qrels.txt").write_text(f"1 0 {seed.name} 1\n1 0 feed-1 1\n", encoding="utf-8")
    (tmp_path / "cranqrel").write_text("1 1 2\n", encoding="utf-8")
    return tmp_path


def _run(line: str, folder: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.pop("NEWSINDEX_INDEX", None)
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {line}"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_shell_examples_run_as_written(workspace: Path) -> None:
    lines = _shell_lines()
    assert len(lines) >= 30, lines  # the parser still finds README's examples
    failed = []
    for line in lines:
        done = _run(line, workspace)
        if done.returncode != 0 or "Traceback" in done.stderr:
            failed.append(f"{line}\n  exit {done.returncode}: {done.stderr.strip()[-400:]}")
    assert failed == []
    assert (workspace / "iran.csv").read_text(encoding="utf-8").startswith("period")
    assert (workspace / "attention.png").stat().st_size > 0
    first = (workspace / "mine.run").read_text(encoding="utf-8").split()[:3]
    assert first[:2] == ["1", "Q0"] and first[2] in {"feed-1", "000_4cb0f0b9dca24e99.txt"}  # both have both words


def test_readme_python_example_runs_as_written(workspace: Path) -> None:
    assert _run("newsindex index seeds/ -q", workspace).returncode == 0
    for block in _python_blocks():
        done = subprocess.run([sys.executable, "-c", block], cwd=workspace, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "000_4cb0f0b9dca24e99.txt" in done.stdout
