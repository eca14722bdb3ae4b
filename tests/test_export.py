"""export.py and `newsindex export`: JSON Lines, CSV and OpenSearch bulk files, the mapping, safe output paths."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, Story, export_stories, opensearch_mapping, read_stories
from newsindex.cli.commands import app
from newsindex.errors import UsageError
from newsindex.export import bulk_id
from newsindex.models import Credit

ALL_IDS = {
    "albania-iran-ties.txt",
    "iran-oil.txt",
    "albania-football.txt",
    "albania-iran-deep.txt",
    "new-year.txt",
    "leap-day.txt",
    "running-attacks.txt",
    "agents-phrase.txt",
    "phrase-reversed.txt",
    "undated-iran.txt",
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def fields(story: Story) -> dict[str, object]:
    """Every field of a story but where it was read from."""
    data = story.to_dict()
    del data["path"]
    return data


# ── Which stories ────────────────────────────────────────────────────────────────────────────────────


def test_every_story_oldest_first_undated_last(news: NewsIndex) -> None:
    stories = list(news.stories())
    assert {story.id for story in stories} == ALL_IDS
    assert stories[0].id == "agents-phrase.txt"
    assert stories[-1].id == "undated-iran.txt"


def test_a_query_and_filters_select_stories(news: NewsIndex) -> None:
    assert {story.id for story in news.stories("albania", filters=Filters(start="2019"))} == {
        "albania-iran-ties.txt",
        "albania-iran-deep.txt",
    }
    assert [story.id for story in news.stories(filters=Filters(end="2019-06", bylines=["Jane Doe"]))] == [
        "new-year.txt"
    ]


def test_selection_without_a_query_is_every_story(news: NewsIndex) -> None:
    assert sorted(story.id for story in news.stories()) == sorted(ALL_IDS)


# ── JSON Lines and CSV ───────────────────────────────────────────────────────────────────────────────


CREDITED = Story(
    id="credited",
    body="TIRANA (Reuters) - A story with every field.\n\nA second paragraph.",
    headline="Every field",
    published=datetime(2019, 10, 23, 10, 15, tzinfo=UTC),
    bylines=("Ana Ruiz", "Li Wei"),
    location="Tirana",
    source="Reuters",
    credits=(Credit("Reporting", ("Ana Ruiz", "Li Wei")), Credit("Editing", ("David Holmes",))),
    topics=("ports", "trade"),
    places=("ALB",),
    orgs=("NATO",),
    people=("Edi Rama",),
    region="Tirana County",
)


@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_an_export_indexed_again_gives_the_same_stories(tmp_path: Path, news: NewsIndex, format: str) -> None:
    news.add([CREDITED])
    exported = tmp_path / f"export.{format}"
    code, _, stderr = run("export", "-i", str(news.path), "--format", format, "-o", str(exported))
    assert code == 0, stderr
    assert stderr == f"Exported 11 stories ({exported.stat().st_size / 1024 / 1024:,.1f} MiB) to {exported}\n"

    again = NewsIndex.create(tmp_path / "again")
    report = again.add_files([str(exported)])
    assert report.added == 11
    assert [p for p in report.problems if p.kind == "skipped"] == []
    before = {story.id: fields(story) for story in news.stories()}
    after = {story.id: fields(story) for story in again.stories()}
    assert after == before  # same ids, same fields


@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_an_exported_file_reads_back_field_for_field(tmp_path: Path, format: str) -> None:
    plain = Story(id="plain", body="Just a body.")
    path = tmp_path / f"stories.{format}"
    export_stories([CREDITED, plain], path, format=format)
    assert [fields(story) for story in read_stories(str(path))] == [fields(CREDITED), fields(plain)]


def test_jsonl_carries_every_field(tmp_path: Path, news: NewsIndex) -> None:
    out = io.StringIO()
    report = export_stories(news.stories("albania", filters=Filters(start="2019-10", end="2019-10")), out)
    [line] = out.getvalue().splitlines()
    assert report.stories == 1 and report.bytes == len(out.getvalue().encode("utf-8"))
    data = json.loads(line)
    assert data.pop("path").endswith("/albania-iran-ties.txt")
    assert data == {
        "id": "albania-iran-ties.txt",
        "headline": None,
        "published": "2019-10-23",
        "bylines": ["Benet Koleka"],
        "location": "Tirana",
        "region": None,
        "source": "Reuters",
        "credits": {"Reporting": ["Benet Koleka"], "Editing": ["David Holmes"]},
        "topics": [],
        "places": [],
        "orgs": [],
        "people": [],
        "lead": "Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks.",
        "body": "TIRANA (Reuters) - Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting "
        "attacks.\n\nThe foreign ministry said the diplomats had damaged national security.",
    }


def test_csv_to_stdout(news: NewsIndex) -> None:
    code, stdout, stderr = run("export", "leap", "-i", str(news.path), "--format", "csv", "-o", "-")
    assert code == 0
    header, row = stdout.splitlines()[:2]
    assert header == (
        "id,headline,published,bylines,location,region,source,topics,places,orgs,people,credits,lead,body,path,"
        "duplicate_group"
    )
    assert row.startswith("leap-day.txt,,2020-02-29,Maria Garcia; Ahmed Ali; Li Wei,Salvador,,,,,,,,Carnival crowds")
    assert stderr == "Exported 1 story (0.0 MiB) to stdout\n"


# ── OpenSearch ───────────────────────────────────────────────────────────────────────────────────────


def test_opensearch_bulk_files_and_mapping(tmp_path: Path, news: NewsIndex) -> None:
    target = tmp_path / "export.ndjson"
    code, _, stderr = run(
        "export", "-i", str(news.path), "--format", "opensearch", "-o", str(target),
        "--chunk-mb", "0.001", "--mapping", str(tmp_path / "mapping.json"),
    )  # fmt: skip
    assert code == 0, stderr
    chunks = sorted(tmp_path.glob("export-*.ndjson"))
    assert len(chunks) > 1  # 0.001 MiB is about one story a file
    ids = []
    for chunk in chunks:
        data = chunk.read_bytes()
        assert data.endswith(b"\n")  # the last line too: the bulk API needs it
        lines = data.decode("utf-8").split("\n")[:-1]
        assert len(lines) % 2 == 0
        for action, document in zip(lines[::2], lines[1::2], strict=True):
            assert list(json.loads(action)) == ["index"]
            ids.append(json.loads(action)["index"]["_id"])
            assert json.loads(document)["id"] == ids[-1]
    assert sorted(ids) == sorted(ALL_IDS)
    mapping = json.loads((tmp_path / "mapping.json").read_text())
    assert mapping == opensearch_mapping()
    properties = mapping["mappings"]["properties"]
    assert properties["headline"]["type"] == properties["body"]["type"] == "text"
    assert {properties[name]["type"] for name in ("bylines", "location", "source", "duplicate_group")} == {"keyword"}
    assert properties["published"] == {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
    assert len(json.loads(chunks[0].read_text().split("\n")[1])["duplicate_group"]) == 16  # a label, as in jsonl


@pytest.mark.parametrize("format", ["jsonl", "csv", "opensearch"])
def test_copies_of_a_story_are_exported_with_their_duplicate_group(
    tmp_path: Path, news: NewsIndex, format: str
) -> None:
    original = news.get("albania-iran-ties.txt")
    assert original is not None
    refiled = original.body.replace("TIRANA (Reuters)", "TIRANA, Oct 24 (Reuters)") + "\n\nTehran said nothing."
    news.add([Story(id="albania-iran-ties-v2", body=refiled, location="Tirana")])
    target = tmp_path / ("export.ndjson" if format == "opensearch" else f"export.{format}")
    code, _, stderr = run("export", "-i", str(news.path), "--format", format, "-o", str(target))
    assert code == 0, stderr
    if format == "csv":
        import csv

        with target.open(newline="", encoding="utf-8") as file:
            groups = {row["id"]: row["duplicate_group"] for row in csv.DictReader(file)}
    else:
        files = sorted(tmp_path.glob("export-*.ndjson")) if format == "opensearch" else [target]
        lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
        documents = [json.loads(line) for line in lines if "index" not in json.loads(line)]
        groups = {document["id"]: document["duplicate_group"] for document in documents}
    assert set(groups) == ALL_IDS | {"albania-iran-ties-v2"}
    assert groups["albania-iran-ties.txt"] == groups["albania-iran-ties-v2"]  # the two copies: one group
    others = [group for story_id, group in groups.items() if not story_id.startswith("albania-iran-ties")]
    assert len(set(others)) == len(others) and groups["albania-iran-ties-v2"] not in others
    assert all(groups.values())


def test_the_python_api_exports_groups_when_given_them(news: NewsIndex) -> None:
    with_groups, without = io.StringIO(), io.StringIO()
    export_stories(news.grouped_stories("leap"), with_groups)
    export_stories(news.stories("leap"), without)
    grouped, plain = json.loads(with_groups.getvalue()), json.loads(without.getvalue())
    assert grouped.pop("duplicate_group")
    assert grouped == plain


def test_chunks_hold_whole_stories_within_the_limit(tmp_path: Path, news: NewsIndex) -> None:
    report = export_stories(news.stories(), tmp_path / "bulk", format="opensearch", chunk_mb=2000 / 1024 / 1024)
    assert [Path(name).name for name in report.files][:2] == ["bulk-0001.ndjson", "bulk-0002.ndjson"]
    sizes = [os.path.getsize(name) for name in report.files]
    assert sum(sizes) == report.bytes
    assert all(size <= 2000 for size in sizes)
    assert report.stories == 10


def test_long_ids_get_a_hashed_bulk_id() -> None:
    assert bulk_id("short") == "short"
    long_id = "é" * 300  # 600 bytes in UTF-8
    assert bulk_id(long_id).startswith("sha256-") and bulk_id(long_id) == bulk_id(long_id)


# ── Output paths ─────────────────────────────────────────────────────────────────────────────────────


def test_existing_files_are_kept_without_force(tmp_path: Path, news: NewsIndex) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("precious\n")
    code, _, stderr = run("export", "-i", str(news.path), "-o", str(target))
    assert (code, stderr) == (2, f"Error: {target} exists: add --force to replace it\n")
    assert target.read_text() == "precious\n"
    code, _, _ = run("export", "-i", str(news.path), "-o", str(target), "--force")
    assert code == 0 and len(target.read_text().splitlines()) == 10
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary left


def test_a_symlink_is_never_written_through(tmp_path: Path, news: NewsIndex) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "out.jsonl"
    link.symlink_to(victim)
    for extra in ([], ["--force"]):
        code, _, stderr = run("export", "-i", str(news.path), "-o", str(link), *extra)
        assert code == 2 and "is a symbolic link" in stderr
    with pytest.raises(UsageError, match="symbolic link"):
        export_stories([], link, force=True)
    assert victim.read_text() == "keep me\n" and link.is_symlink()


def test_a_forced_opensearch_export_removes_older_chunks(tmp_path: Path, news: NewsIndex) -> None:
    for number in range(1, 6):
        (tmp_path / f"bulk-{number:04d}.ndjson").write_text("old\n")
    code, _, stderr = run("export", "-i", str(news.path), "--format", "opensearch", "-o", str(tmp_path / "bulk.ndjson"))
    assert code == 2 and "bulk-0001.ndjson exists" in stderr
    code, _, _ = run(
        "export", "-i", str(news.path), "--format", "opensearch", "-o", str(tmp_path / "bulk.ndjson"), "--force"
    )
    assert code == 0
    assert sorted(path.name for path in tmp_path.glob("bulk-*")) == ["bulk-0001.ndjson"]


def test_bad_export_arguments_exit_2(tmp_path: Path, news: NewsIndex) -> None:
    assert run("export", "-i", str(news.path), "--format", "xml", "-o", str(tmp_path / "x"))[0] == 2
    assert run("export", "-i", str(news.path), "-o", str(tmp_path / "missing" / "x.jsonl"))[0] == 2
    assert run("export", "-i", str(news.path), "--format", "opensearch", "-o", "-")[0] == 2
    assert run("export", "-i", str(tmp_path / "no-index"), "-o", str(tmp_path / "x.jsonl"))[0] == 4


def test_the_command_line_starts_without_the_readers_and_exporters() -> None:
    import subprocess
    import sys

    heavy = (
        "feedparser",
        "trafilatura",
        "warcio",
        "newsindex.export",
        "newsindex.ingest.web",
        "newsindex.ingest.archives",
    )
    code = f"import sys, newsindex.cli.commands; print([name for name in {heavy!r} if name in sys.modules])"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
