"""Writing small input trees and reading them back, for the tests of sources.py and readers.py."""

from __future__ import annotations

import json
from pathlib import Path

from newsindex.ingest.readers import read_stories
from newsindex.models import Problem, Story

WIRE_BODY = "TIRANA (Reuters) - Albanian police foiled planned attacks.\n\nSecond paragraph."


def read_all(*paths: Path | str, format: str | None = None) -> tuple[list[Story], list[Problem]]:
    """Every story and every problem report for `paths`."""
    problems: list[Problem] = []
    stories = list(read_stories(*map(str, paths), format=format, on_problem=problems.append))
    return stories, problems


def reasons(problems: list[Problem]) -> list[tuple[str, str, int | None, str]]:
    """(file name, kind, record, reason) for each problem: what a user reads."""
    return [(Path(p.path).name, p.kind, p.record, p.reason) for p in problems]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def jsonl(*records: object) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def story_text(body: str = WIRE_BODY, header: str = " date 2019-10-23 By Benet Koleka") -> str:
    return f"{header}\n\n{body}\n"


def make_tree(tmp_path: Path) -> Path:
    """A small tree: stories at two depths, a JSONL file, hidden files and directories."""
    root = tmp_path / "corpus"
    write(root / "b.txt", story_text())
    write(root / "a.txt", story_text())
    write(root / "2019" / "10" / "c.txt", story_text())
    write(root / "2019" / "feed.jsonl", jsonl({"id": "j1", "body": "x"}, {"body": "y"}))
    write(root / ".hidden.txt", story_text())
    write(root / ".git" / "d.txt", story_text())
    return root
