"""Malformed files and hostile paths: each handled by the documented policy and named in the report."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex
from newsindex.cli.commands import app
from newsindex.store.storage import UntrustedIndexError

runner = CliRunner()
STORY = " date 2020-05-01 By Jane Doe\n\nROME (Reuters) - The harbour reopened on Monday.\n"


def write_malformed(folder: Path) -> dict[str, str | None]:
    """One file of each malformed kind; returns name → the reason its report line gives (None: indexed)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[bytes, str | None]] = {
        "good.txt": (STORY.encode(), None),
        "binary.txt": (bytes(range(256)) * 8, "binary file"),
        "invalid-utf8.txt": (STORY.encode() + b"caf\xe9 \xff\xfe\n", "not UTF-8; read as cp1252"),
        "latin1.txt": (STORY.replace("Monday", "lundi, été").encode("latin-1"), "not UTF-8; read as cp1252"),
        "utf16.txt": (STORY.encode("utf-16"), None),
        "empty.txt": (b"", "empty file"),
        "nul-bytes.txt": (STORY.encode() + b"\0\0\0", "binary file"),
        "no-date.txt": (b"ROME (Reuters) - A story without its date line.\n", "no date header"),
        "impossible-date.txt": (STORY.replace("2020-05-01", "2019-02-30").encode(), "bad date '2019-02-30'"),
        "odd-date.txt": (STORY.replace("2020-05-01", "sometime soon").encode(), "bad date"),
        "future-date.txt": (STORY.replace("2020-05-01", "2091-01-01").encode(), None),
        "one-huge-line.jsonl": (b'{"id": "huge", "text": "' + b"x" * (50 * 1024 * 1024) + b'"}\n', "oversized"),
        "huge-token.txt": (STORY.encode() + b"y" * (5 * 1024 * 1024) + b"\n", None),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: reason for name, (_, reason) in files.items()}


def test_malformed_files_are_handled_and_named(tmp_path: Path) -> None:
    expected = write_malformed(tmp_path / "corpus")
    index = tmp_path / "index"
    command = [sys.executable, "-c", _MEASURED_INDEX, str(tmp_path / "corpus"), str(index)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reasons = {Path(problem["path"]).name: problem["reason"] for problem in report["problems"]}
    for name, reason in expected.items():
        if reason is None:
            assert name not in reasons or name == "future-date.txt", reasons.get(name)
        else:
            assert reason in reasons[name], (name, reasons.get(name))
    news = NewsIndex.open(index)
    indexed = {
        hit.story.id for hit in news.search("", filters=Filters(start="1900"), limit=100, all_versions=True).hits
    }
    assert {"good.txt", "utf16.txt", "latin1.txt", "invalid-utf8.txt", "future-date.txt", "huge-token.txt"} <= indexed
    assert news.get("no-date.txt") is not None and news.get("no-date.txt").published is None  # type: ignore[union-attr]
    assert "été" in news.get("latin1.txt").body  # type: ignore[union-attr]
    assert report["peak_rss_mb"] < 512


# Index a folder in a fresh process and print the JSON report with the peak memory of that process.
_MEASURED_INDEX = """
import json, resource, sys
from newsindex import NewsIndex
report = NewsIndex.create(sys.argv[2]).add_files([sys.argv[1]]).to_dict()
report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(report))
"""


def test_story_ids_never_become_paths(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    hostile = ["../../escaped", "/etc/passwd", "a/../../b", "nul\u0000byte", "..", "~root/x"]
    records = [{"id": story_id, "date": "2020-01-01", "text": "A harbour story."} for story_id in hostile]
    feed.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    index = tmp_path / "deep" / "index"
    result = runner.invoke(app, ["index", str(feed), "-i", str(index), "--json", "-q"])
    assert result.exit_code == 0
    problems = json.loads(result.stdout)["problems"]
    assert [problem["record"] for problem in problems] == [4]  # the id with a NUL is refused, with its line
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "b").exists()
    for story_id in ["../../escaped", "/etc/passwd", "a/../../b", "..", "~root/x"]:
        shown = runner.invoke(app, ["show", story_id, "-i", str(index), "--json"])
        assert json.loads(shown.stdout)["id"] == story_id
    assert sorted(os.listdir(tmp_path)) == ["deep", "feed.jsonl"]


def test_symlink_loops_end_and_links_out_of_the_corpus_are_not_followed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "story.txt").write_text(STORY)
    (corpus / "sub" / "loop").symlink_to(corpus, target_is_directory=True)
    outside = tmp_path / "outside.txt"
    outside.write_text(STORY)
    (corpus / "outside-link.txt").symlink_to(outside)
    result = runner.invoke(app, ["index", str(corpus), "-i", str(tmp_path / "index"), "--json", "-q"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["added"] == 1
    reasons = " ".join(problem["reason"] for problem in report["problems"])
    assert "outside" in reasons


class _Planted:
    """A pickle that, when loaded, writes a marker file: what a planted index could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (self.marker, "code ran"))


@pytest.mark.parametrize("how", ["writable by others", "owned by another user"])
def test_a_planted_index_is_refused_before_anything_is_unpickled(tmp_path: Path, how: str) -> None:
    news = NewsIndex.create(tmp_path / "index")
    marker = tmp_path / "marker"
    toc = next(path for path in news.path.iterdir() if path.name.endswith(".toc"))
    toc.write_bytes(pickle.dumps(_Planted(marker)))
    for record in news.path.glob("*.sums.json"):  # the planter rewrites the record too
        record.unlink()
    if how == "writable by others":
        news.path.chmod(0o777)
    elif os.geteuid() == 0:
        os.chown(news.path, 4242, 4242)
    else:
        pytest.skip("changing a folder's owner needs root")
    with pytest.raises(UntrustedIndexError):
        NewsIndex.open(news.path)
    result = runner.invoke(app, ["search", "harbour", "-i", str(news.path)])
    assert result.exit_code == 4
    assert "refusing to open" in result.stderr
    assert not marker.exists()
