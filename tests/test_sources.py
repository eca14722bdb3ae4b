"""sources.py: paths, folders, globs and symlinks → Sources, each file's format by name or sniffed, and bad usage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.files import jsonl, make_tree, read_all, reasons, story_text, write
from newsindex.errors import UsageError
from newsindex.ingest.readers import read_stories
from newsindex.ingest.sources import Source, find_sources, roots


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small tree: stories at two depths, a JSONL file, hidden files and directories."""
    return make_tree(tmp_path)


def test_directory_is_walked_recursively_in_sorted_order_with_relative_ids(corpus: Path) -> None:
    stories, problems = read_all(corpus)
    assert [s.id for s in stories] == ["2019/10/c.txt", "j1", "2019/feed.jsonl:2", "a.txt", "b.txt"]
    assert stories[0].path == str(corpus / "2019" / "10" / "c.txt")
    assert [p.reason for p in problems] == ["no date", "no date"]  # the JSONL records have no dates


def test_sources_carry_format_relative_id_and_stamp(corpus: Path) -> None:
    sources = list(find_sources([str(corpus)]))
    assert [(s.id_base, s.format) for s in sources] == [
        ("2019/10/c.txt", "text"), ("2019/feed.jsonl", "jsonl"), ("a.txt", "text"), ("b.txt", "text")
    ]  # fmt: skip
    status = os.stat(corpus / "a.txt")
    assert sources[2].stamp == f"{status.st_size}:{status.st_mtime_ns}"
    assert Source("-", "-", "jsonl").stamp is None


@pytest.mark.parametrize(
    ("pattern", "ids"),
    [
        ("corpus/*.txt", ["a.txt", "b.txt"]),
        ("corpus/2019/*.jsonl", ["j1", "feed.jsonl:2"]),
        ("corpus/*/*/*.txt", ["2019/10/c.txt"]),
        ("corpus/**/*.txt", ["2019/10/c.txt", "a.txt", "b.txt"]),
        ("corpus/20*", ["2019/10/c.txt", "j1", "2019/feed.jsonl:2"]),
    ],
)
def test_globs(corpus: Path, monkeypatch: pytest.MonkeyPatch, pattern: str, ids: list[str]) -> None:
    monkeypatch.chdir(corpus.parent)
    assert [s.id for s in read_all(pattern)[0]] == ids


def test_a_single_file_argument_has_its_name_as_id(corpus: Path) -> None:
    assert [s.id for s in read_all(corpus / "2019" / "10" / "c.txt")[0]] == ["c.txt"]


def test_overlapping_arguments_read_each_file_once(corpus: Path) -> None:
    stories, _ = read_all(corpus / "a.txt", corpus / "a.txt", corpus)
    assert [s.id for s in stories].count("a.txt") == 1


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_out_of_the_root_are_skipped_and_loops_stopped(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "secret.txt", story_text())
    root = tmp_path / "corpus"
    write(root / "a.txt", story_text())
    (root / "leak.txt").symlink_to(outside)
    (root / "leakdir").symlink_to(outside.parent, target_is_directory=True)
    (root / "same.txt").symlink_to(root / "a.txt")
    write(root / "sub" / "c.txt", story_text())
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "alias").symlink_to(root / "sub", target_is_directory=True)
    (root / "dangling.txt").symlink_to(tmp_path / "corpus" / "gone.txt")
    stories, problems = read_all(root)
    # a symlink that stays inside the root reads like a copy, under its own ids
    assert [s.id for s in stories] == ["a.txt", "alias/c.txt", "same.txt", "sub/c.txt"]
    assert sorted(reasons(problems)) == [
        ("dangling.txt", "skipped", None, "broken symlink"),
        ("leak.txt", "skipped", None, f"symlink points outside {root}"),
        ("leakdir", "skipped", None, f"symlink points outside {root}"),
        ("loop", "skipped", None, "symlink loop"),  # met as alias/loop
        ("loop", "skipped", None, "symlink loop"),  # and as sub/loop
    ]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_outside_the_base_of_a_glob_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = write(tmp_path / "outside.txt", story_text())
    write(tmp_path / "corpus" / "a.txt", story_text())
    (tmp_path / "corpus" / "b.txt").symlink_to(outside)
    monkeypatch.chdir(tmp_path)
    stories, problems = read_all("corpus/*.txt")
    assert [s.id for s in stories] == ["a.txt"]
    assert reasons(problems) == [("b.txt", "skipped", None, "symlink points outside corpus")]


# ── Format choice ────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("content", "format"),
    [
        (story_text(), "text"),
        ("date 2019-10-23\n\nBody", "text"),
        (jsonl({"body": "x"}), "jsonl"),
        ("headline,body\nH,x\n", "csv"),
        ("Just some notes without a header.\n", "text"),
    ],
)
def test_format_is_sniffed_when_the_name_does_not_say(tmp_path: Path, content: str, format: str) -> None:
    [source] = find_sources([str(write(tmp_path / "story.dat", content))])
    assert source.format == format


def test_forced_format_wins_over_the_name(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.txt", jsonl({"id": "f1", "body": "x"}))
    assert [s.id for s in read_all(path, format="jsonl")[0]] == ["f1"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda tmp: read_stories(str(tmp / "missing")), "no such file or directory: "),
        (lambda tmp: read_stories(str(tmp / "*.nothing")), "no files match "),
        (lambda tmp: read_stories(str(tmp), format="xml"), "unknown format 'xml'"),
        (lambda tmp: find_sources([str(tmp / "missing")]), "no such file or directory: "),
        (lambda tmp: read_stories(), "no corpus path given"),
    ],
)
def test_usage_errors_are_raised_at_the_call(tmp_path: Path, call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call(tmp_path)  # type: ignore[operator]  # no iteration needed: bad usage fails before any work


# ── Roots: what each path argument stands for, for pruning ───────────────────────────────────────────


def test_roots_are_absolute_files_and_folders(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus.parent)
    assert roots(["corpus", "corpus/", "corpus/a.txt", str(corpus / "2019")]) == [
        str(corpus), str(corpus), str(corpus / "a.txt"), str(corpus / "2019")
    ]  # fmt: skip
    assert roots(str(corpus)) == [str(corpus)]  # a lone str is one path, as for find_sources


@pytest.mark.parametrize(
    ("pattern", "root"),
    [
        ("corpus/*.txt", "corpus"),
        ("corpus/**/*.txt", "corpus"),
        ("corpus/20*/feed.jsonl", "corpus"),
        ("corpus/2019/*.jsonl", "corpus/2019"),
        ("*.txt", "."),
    ],
)
def test_a_glob_stands_for_its_fixed_leading_folder(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, pattern: str, root: str
) -> None:
    monkeypatch.chdir(corpus.parent)
    assert roots([pattern]) == [str(corpus.parent / root)]


def test_an_absolute_glob_stands_for_its_absolute_folder(corpus: Path) -> None:
    assert roots([str(corpus / "*" / "*.txt")]) == [str(corpus)]


def test_stdin_has_no_root(corpus: Path) -> None:
    assert roots(["-"]) == []
    assert roots(["-", str(corpus)]) == [str(corpus)]


def test_a_file_named_like_a_glob_stands_for_itself(tmp_path: Path) -> None:
    odd = write(tmp_path / "[draft].txt", story_text())
    assert roots([str(odd)]) == [str(odd)]
    assert [source.path for source in find_sources([str(odd)])] == [str(odd)]


@pytest.mark.parametrize(
    "arguments",
    [["corpus"], ["corpus/*.txt"], ["corpus/**/*.jsonl"], ["corpus/20*"], ["corpus/a.txt", "corpus/2019/*"]],
)
def test_every_source_found_lies_under_a_root(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.chdir(corpus.parent)
    found = roots(arguments)
    for source in find_sources(arguments):
        assert any(source.path == root or source.path.startswith(root + os.sep) for root in found), source.path


def test_an_index_kept_inside_the_corpus_is_not_read_as_stories(tmp_path: Path) -> None:
    from newsindex.index import NewsIndex
    from newsindex.ingest.sources import INDEX_MARKERS
    from newsindex.store.manifest import MANIFEST
    from newsindex.store.storage import LOCK

    assert set(INDEX_MARKERS) == {MANIFEST, LOCK}
    write(tmp_path / "a.txt", story_text())
    with NewsIndex.create(tmp_path / "index") as index:
        index.add_files([str(tmp_path)])
    stories, problems = read_all(tmp_path)
    assert [s.id for s in stories] == ["a.txt"]
    assert problems == []


def test_an_index_named_as_the_corpus_is_reported_not_read(tmp_path: Path) -> None:
    from newsindex.index import NewsIndex

    NewsIndex.create(tmp_path / "index").close()
    stories, problems = read_all(tmp_path / "index")
    assert stories == []
    assert [(p.path, p.reason) for p in problems] == [
        (str(tmp_path / "index"), "is a newsindex index, not a folder of stories")
    ]
