"""One bad input never aborts a run nor costs the good stories around it: impossible UTC offsets, NUL
bytes, files of blank lines, and runs with a great many problems."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import NewsIndex, models
from newsindex.cli.commands import app
from newsindex.ingest.readers import read_source, read_stream
from newsindex.ingest.sources import Source, find_sources
from newsindex.text.dates import DateError, parse_published

runner = CliRunner()

GOOD = " date 2019-10-23\n\nLIMA (Reuters) - The harbour reopened on Monday after the strike.\n"
# Offsets of a day or more, as dateutil reads them: "+25:00", "+2500", "UTC+30", …
BAD_OFFSETS = [
    "2019-10-23T10:00:00+25:00",
    "2019-10-23T10:00:00+2500",
    "2019-10-23 10:00 UTC+30",
    "2019-10-23T10:00:00-24:00",
    "Wed, 23 Oct 2019 10:00:00 +9900",
    "2019-10-23 10:00:00 EST+25",
]


@pytest.mark.parametrize("text", BAD_OFFSETS)
def test_an_offset_of_a_day_or_more_is_a_date_error(text: str) -> None:
    with pytest.raises(DateError, match="UTC offset is 24 hours or more"):
        parse_published(text)


def test_offsets_a_clock_can_have_are_kept() -> None:
    late, eastern = parse_published("2019-10-23 10:00 +23:59"), parse_published("2019-10-23 10:00 UTC+5:30")
    assert isinstance(late, datetime) and isinstance(eastern, datetime)
    assert late.utcoffset() == timedelta(hours=23, minutes=59)
    assert eastern.tzinfo is not None
    assert parse_published("2019-10-23T10:00:00-11:00") == datetime.fromisoformat("2019-10-23T21:00:00+00:00")


@pytest.mark.parametrize("text", BAD_OFFSETS)
def test_a_story_with_an_impossible_offset_is_indexed_without_its_date_and_the_run_goes_on(
    tmp_path: Path, text: str
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a-bad.txt").write_text(GOOD.replace("2019-10-23", text), encoding="utf-8")
    (corpus / "b-good.txt").write_text(GOOD, encoding="utf-8")
    records = [{"id": "j1", "body": "LIMA - one", "date": text}, {"id": "j2", "body": "LIMA - two", "date": "2019"}]
    (corpus / "c.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    index = tmp_path / "index"
    result = runner.invoke(app, ["index", str(corpus), "-i", str(index)])
    assert result.exit_code == 0, result.stderr
    assert "4 added" in result.stderr
    warned = [line for line in result.stderr.splitlines() if "UTC offset is 24 hours or more" in line]
    assert len(warned) == 2
    assert warned[0].startswith("warning: ") and "a-bad.txt" in warned[0]
    assert "c.jsonl:1" in warned[1]
    news = NewsIndex.open(index)
    # The day as written is kept where the text starts with it; an RFC 2822 date has none before its clock.
    kept = None if text.startswith("Wed") else date(2019, 10, 23)
    assert news.get("a-bad.txt").published == kept  # type: ignore[union-attr]
    assert news.get("b-good.txt").published is not None  # type: ignore[union-attr]
    rerun = runner.invoke(app, ["index", str(corpus), "-i", str(index), "-q"])
    assert rerun.exit_code == 0


# -- NUL bytes ------------------------------------------------------------------------------------------


def _sources(path: Path) -> list[Source]:
    return list(find_sources([str(path)]))


def test_one_nul_byte_early_in_a_jsonl_file_costs_only_its_record(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"s{n}", "body": f"LIMA - story {n}", "date": "2019-10-23"}) for n in range(5)]
    lines[1] = lines[1].replace("story", "sto\0ry")  # a raw NUL: that line is no JSON any more
    path = tmp_path / "wire.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems: list[models.Problem] = []
    stories = [story.id for source in _sources(path) for story in read_source(source, on_problem=problems.append)]
    assert stories == ["s0", "s2", "s3", "s4"]
    assert [(problem.kind, problem.record) for problem in problems] == [("skipped", 2)]
    assert problems[0].reason.startswith("invalid JSON")


def _sgml_record(newid: int, body: str) -> str:
    return (
        f'<REUTERS NEWID="{newid}">\n<DATE>26-FEB-1987 15:01:01.79</DATE>\n<TEXT>\n'
        f"<TITLE>STORY {newid}</TITLE>\n<BODY>{body}\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n"
    )


def test_one_nul_byte_in_an_sgml_file_is_damage_of_its_record_not_of_the_file(tmp_path: Path) -> None:
    bodies = ["The harbour reopened.", "The strike en\0ded on Monday.", "Shares rose."]
    path = tmp_path / "reut2-000.sgm"
    path.write_text(
        '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(_sgml_record(n, b) for n, b in enumerate(bodies, 1)),
        encoding="utf-8",
    )
    problems: list[models.Problem] = []
    stories = [story for source in _sources(path) for story in read_source(source, on_problem=problems.append)]
    assert [story.id for story in stories] == ["1", "2", "3"]
    assert "\0" not in stories[1].body and "ended on Monday" in stories[1].body
    assert [(problem.kind, problem.record) for problem in problems] == [("degraded", 2)]
    assert "NUL byte" in problems[0].reason


def test_a_text_story_with_a_nul_is_indexed_and_reported_and_binary_data_is_still_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "damaged.txt").write_text(GOOD.replace("reopened", "re\0opened") + "More text. " * 200, encoding="utf-8")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    result = runner.invoke(app, ["index", str(corpus), "-i", str(tmp_path / "index")])
    assert result.exit_code == 0
    assert "1 added" in result.stderr
    assert any("damaged.txt: 1 NUL byte in the body" in line for line in result.stderr.splitlines())
    assert any(line.startswith("skipped: ") and "image.txt: binary file" in line for line in result.stderr.splitlines())


# -- blank lines --------------------------------------------------------------------------------------------


class _CountingStream:
    """A byte stream that counts the calls made to it (as a zip member's stream, whose every readline is
    Python code)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.calls = 0

    def read(self, size: int, /) -> bytes:
        self.calls += 1
        return self._data.read(size)

    def readline(self, size: int, /) -> bytes:
        self.calls += 1
        return self._data.readline(size)


@pytest.mark.parametrize(("format", "first", "last"), [
    ("jsonl", b'{"id": "a", "body": "LIMA - one"}\n', b'{"id": "b", "body": "LIMA - two", "date": "x"}\n'),
    ("csv", b"id,body\na,LIMA - one\n", b"b,LIMA - two,\n"),
])  # fmt: skip
def test_blank_lines_are_read_past_in_bulk_and_still_counted_as_lines(format: str, first: bytes, last: bytes) -> None:
    blank = b"\n" * 200_000 + b"  \r\n\t\n" * 1000
    stream = _CountingStream(first + blank + last)
    head = stream.read(8192)
    stream.calls = 0
    source = Source("wire", "wire", format)
    problems: list[models.Problem] = []
    from newsindex.ingest.records import Replayed

    stories = list(read_stream(Replayed(head, stream), source, problems.append))
    assert [story.id for story in stories] == ["a", "b"]
    assert stream.calls < 50  # a chunk at a time, not one call per blank line (202,000 of them)
    # The record after the blank lines keeps its line number (JSONL) or row number (CSV).
    numbers = {problem.record for problem in problems if problem.record and problem.record > 1}
    assert numbers == {202_002}


def test_a_zip_of_blank_lines_reads_its_stories(tmp_path: Path) -> None:
    path = tmp_path / "blank.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("blank.jsonl", b"\n" * 1_000_000 + b'{"id": "a", "body": "LIMA - one", "date": "2019"}\n')
    problems: list[models.Problem] = []
    stories = [story for source in _sources(path) for story in read_source(source, on_problem=problems.append)]
    assert [story.id for story in stories] == ["a"] and problems == []


# -- many problems ------------------------------------------------------------------------------------------


def test_a_run_counts_every_problem_but_keeps_only_the_first_in_detail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "KEPT_PROBLEMS", 5)
    path = tmp_path / "wire.jsonl"
    lines = ["{not json"] * 20 + [json.dumps({"id": "ok", "body": "LIMA - fine", "date": "2019-10-23"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = NewsIndex.create(tmp_path / "api").add_files([str(path)])
    assert report.added == 1
    assert len(report.problems) == 5 and report.problem_count == 20 and report.skipped == 20
    assert [problem.record for problem in report.problems] == [1, 2, 3, 4, 5]  # the first ones
    result = runner.invoke(app, ["index", str(path), "-i", str(tmp_path / "index"), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["skipped"] == 20 and data["problem_count"] == 20 and len(data["problems"]) == 5
    assert "… and 15 more (--json lists the first 5)" in result.stderr
    summary = runner.invoke(app, ["index", str(path), "-i", str(tmp_path / "again")])
    assert "20 skipped (20 invalid JSON)" in summary.stderr


def test_the_problem_list_holds_no_more_than_its_cap() -> None:
    problems = models.Problems(keep=3)
    for number in range(1000):
        problems.append(models.Problem("f", f"story {number!r} not indexed: bad", record=number))
    assert len(problems) == 3 and problems.total == 1000 and problems.more == 997
    assert sum(problems.skipped_reasons.values()) == 1000
    assert len(problems.skipped_reasons) <= 101  # distinct reasons counted by name up to a bound, then "other"
