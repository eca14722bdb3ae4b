"""readers.py: corpus files in every supported shape → Story objects, and bad input → Problem reports."""

from __future__ import annotations

import gzip
import io
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helpers.files import WIRE_BODY, jsonl, make_tree, read_all, reasons, story_text, write
from newsindex.errors import UsageError
from newsindex.ingest import readers, sources
from newsindex.ingest.readers import MAX_STORY_BYTES, Source, read_source, read_stories
from newsindex.models import Credit, Problem

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED = SEEDS / "000_4cb0f0b9dca24e99.txt"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small tree: stories at two depths, a JSONL file, hidden files and directories."""
    return make_tree(tmp_path)


# ── The corpus text format ───────────────────────────────────────────────────────────────────────────


def test_seed_story_reads_with_every_field() -> None:
    stories, problems = read_all(SEED)
    assert problems == []
    [story] = stories
    assert story.id == "000_4cb0f0b9dca24e99.txt"
    assert story.published == date(2019, 10, 23)
    assert story.bylines == ("Benet Koleka",)
    assert story.location == "Tirana"
    assert story.source == "Reuters"
    assert story.credits == (Credit("Reporting", ("Benet Koleka",)), Credit("Editing", ("David Holmes",)))
    assert story.body.startswith("TIRANA (Reuters) - Albanian police foiled")
    assert story.body.endswith("denying the allegations.")
    assert "Reporting by" not in story.body
    assert story.headline is None
    assert story.path == str(SEED)


@pytest.mark.parametrize(
    ("header", "published", "bylines"),
    [
        (" date 2019-10-23 By Benet Koleka", date(2019, 10, 23), ("Benet Koleka",)),
        ("date 2019-10-23 By Benet Koleka", date(2019, 10, 23), ("Benet Koleka",)),
        (" date 2019-10-23", date(2019, 10, 23), ()),
        (" date 2019-10-23 By Benet Koleka and David Holmes", date(2019, 10, 23), ("Benet Koleka", "David Holmes")),
        (" date 2019-10-23 By A. Smith, B. Jones and C. Wu", date(2019, 10, 23), ("A. Smith", "B. Jones", "C. Wu")),
        (" DATE 2019-10-23 by Benet Koleka", date(2019, 10, 23), ("Benet Koleka",)),
        ("Date: 2019-10-23 BY Benet Koleka", date(2019, 10, 23), ("Benet Koleka",)),
        (" date Oct 23, 2019 By Benet Koleka", date(2019, 10, 23), ("Benet Koleka",)),
    ],
)
def test_header_variants(tmp_path: Path, header: str, published: date, bylines: tuple[str, ...]) -> None:
    stories, problems = read_all(write(tmp_path / "a.txt", story_text(header=header)))
    assert problems == []
    assert [(s.published, s.bylines, s.body) for s in stories] == [(published, bylines, WIRE_BODY)]


@pytest.mark.parametrize(
    ("first_line", "location", "source"),
    [
        ("TIRANA (Reuters) - Police said.", "Tirana", "Reuters"),
        ("WASHINGTON/LONDON (Reuters) - Officials said.", "Washington/London", "Reuters"),
        ("NEW YORK, Oct 23 (Reuters) - Stocks fell.", "New York", "Reuters"),
        ("SALVADOR, Feb 26 - Cocoa rains.", "Salvador", None),
        ("TIRANA (Reuters) – Police said.", "Tirana", "Reuters"),
        ("TIRANA (Reuters) — Police said.", "Tirana", "Reuters"),
        ("ST. PETERSBURG, Fla. (Reuters) - A storm.", "St. Petersburg", "Reuters"),
        ("Police said on Wednesday they foiled attacks.", None, None),
    ],
)
def test_dateline_variants(tmp_path: Path, first_line: str, location: str | None, source: str | None) -> None:
    body = f"{first_line}\n\nMore text."
    [story] = read_all(write(tmp_path / "a.txt", story_text(body=body)))[0]
    assert (story.location, story.source) == (location, source)
    assert story.body == body  # wire copy keeps its dateline


@pytest.mark.parametrize(
    ("credit_line", "credits"),
    [
        ("(Reporting by Benet Koleka; Editing by David Holmes)",
         (Credit("Reporting", ("Benet Koleka",)), Credit("Editing", ("David Holmes",)))),
        ("(Reporting by A and B; Additional reporting by C; Editing by D, E and F)",
         (Credit("Reporting", ("A", "B")), Credit("Additional reporting", ("C",)), Credit("Editing", ("D", "E", "F")))),
    ],
)  # fmt: skip
def test_credit_line_becomes_credits_and_leaves_the_body(
    tmp_path: Path, credit_line: str, credits: tuple[Credit, ...]
) -> None:
    [story] = read_all(write(tmp_path / "a.txt", story_text(body=f"{WIRE_BODY}\n\n{credit_line}")))[0]
    assert story.credits == credits
    assert story.body == WIRE_BODY


def test_text_without_header_is_all_body_and_reported(tmp_path: Path) -> None:
    stories, problems = read_all(write(tmp_path / "a.txt", WIRE_BODY))
    assert [(s.id, s.published, s.body, s.location) for s in stories] == [("a.txt", None, WIRE_BODY, "Tirana")]
    assert reasons(problems) == [("a.txt", "degraded", None, "no date header")]


def test_a_body_line_starting_with_date_is_not_a_header(tmp_path: Path) -> None:
    text = "Date palms grew by the river.\nThey were tall."
    stories, problems = read_all(write(tmp_path / "a.txt", text))
    assert [s.body for s in stories] == [text]
    assert reasons(problems) == [("a.txt", "degraded", None, "no date header")]


def test_windows_line_ends_and_bom(tmp_path: Path) -> None:
    content = "\ufeff" + story_text().replace("\n", "\r\n")
    stories, problems = read_all(write(tmp_path / "a.txt", content))
    assert problems == []
    assert [(s.published, s.body) for s in stories] == [(date(2019, 10, 23), WIRE_BODY)]


# ── JSON Lines and CSV ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"id": "s1", "headline": "H", "published": "2019-10-23", "bylines": ["A", "B"],
             "location": "Tirana", "source": "Reuters", "body": "Text.", "extra": [1, 2]},
            {"id": "s1", "headline": "H", "published": date(2019, 10, 23), "bylines": ("A", "B"),
             "location": "Tirana", "source": "Reuters", "body": "Text."},
        ),
        (
            {"Story_ID": 42, "Title": "H", "Date": "Oct 23, 2019", "Byline": "By A, B and C",
             "Dateline": "NEW YORK", "Agency": "AP", "Text": "Text."},
            {"id": "42", "headline": "H", "published": date(2019, 10, 23), "bylines": ("A", "B", "C"),
             "location": "New York", "source": "AP", "body": "Text."},
        ),
        (
            {"guid": "g-1", "pubDate": "Wed, 23 Oct 2019 10:00:00 +0000", "author": "A and B",
             "content": ["Para one.", "Para two."], "publisher": "The Times", "place": "Paris"},
            {"id": "g-1", "headline": None, "published": datetime(2019, 10, 23, 10, tzinfo=UTC),
             "bylines": ("A", "B"), "location": "Paris", "source": "The Times", "body": "Para one.\n\nPara two."},
        ),
        (  # no id, location or source: the line number and the body's dateline fill them in
            {"article": "WASHINGTON/LONDON (Reuters) - Talks.", "creator": ["Jane Doe"], "timestamp": 1571824800},
            {"id": "a.jsonl:1", "headline": None, "published": datetime(2019, 10, 23, 10, tzinfo=UTC),
             "bylines": ("Jane Doe",), "location": "Washington/London", "source": "Reuters",
             "body": "WASHINGTON/LONDON (Reuters) - Talks."},
        ),
        (  # blank values count as missing, so the next alias is used
            {"id": "s5", "headline": "", "title": "From title", "body": "  ", "story": "From story.",
             "published": "2019-10-23"},
            {"id": "s5", "headline": "From title", "published": date(2019, 10, 23), "bylines": (),
             "location": None, "source": None, "body": "From story."},
        ),
    ],
)  # fmt: skip
def test_jsonl_keys_and_aliases(tmp_path: Path, record: dict[str, object], expected: dict[str, object]) -> None:
    stories, problems = read_all(write(tmp_path / "a.jsonl", jsonl(record)))
    assert problems == []
    [story] = stories
    assert {key: getattr(story, key) for key in expected} == expected


def test_jsonl_credits_from_record_or_credit_line(tmp_path: Path) -> None:
    body_with_credits = f"{WIRE_BODY}\n\n(Reporting by Benet Koleka; Editing by David Holmes)"
    path = write(
        tmp_path / "a.jsonl",
        jsonl(
            {"id": "given", "body": body_with_credits, "credits": {"Reporting": ["Jane Doe"], "Editing": "A and B"}},
            {"id": "parsed", "body": body_with_credits},
        ),
    )
    given, parsed = read_all(path)[0]
    assert given.credits == (Credit("Reporting", ("Jane Doe",)), Credit("Editing", ("A", "B")))
    assert parsed.credits == (Credit("Reporting", ("Benet Koleka",)), Credit("Editing", ("David Holmes",)))
    assert given.body == parsed.body == WIRE_BODY


def test_csv_with_aliases_extra_columns_and_multiline_bodies(tmp_path: Path) -> None:
    content = (
        "Doc ID,Title,Date,Authors,Extra,Body\r\n"
        '7,First,2019-10-23,"A and B",x,"TIRANA (Reuters) - One.\r\n\r\nTwo."\r\n'
        "8,Second,23 October 2019,,y,Plain body\r\n"
        "\r\n"
        "9,Third,,C,z,Third body\r\n"
    )
    stories, problems = read_all(write(tmp_path / "a.csv", content))
    assert [(s.id, s.headline, s.published, s.bylines, s.location) for s in stories] == [
        ("7", "First", date(2019, 10, 23), ("A", "B"), "Tirana"),
        ("8", "Second", date(2019, 10, 23), (), None),
        ("9", "Third", None, ("C",), None),
    ]
    assert stories[0].body == "TIRANA (Reuters) - One.\n\nTwo."
    assert reasons(problems) == [("a.csv", "degraded", 4, "no date")]


def test_csv_ids_come_from_the_row_number_without_an_id_column(tmp_path: Path) -> None:
    stories, _ = read_all(write(tmp_path / "a.csv", "headline,body\nH,x\n\nH,y\n"))
    assert [s.id for s in stories] == ["a.csv:1", "a.csv:3"]  # a blank line still takes its row number


def test_csv_blank_id_cell_is_an_error_not_a_missing_id(tmp_path: Path) -> None:
    stories, problems = read_all(write(tmp_path / "a.csv", "id,body\n,No id here\n8,Fine\n"))
    assert [s.id for s in stories] == ["8"]
    assert ("a.csv", "skipped", 1, "empty id") in reasons(problems)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.tsv", "id\theadline\tbody\n1\tH\tSome, text\n"),
        ("semicolons.csv", "id;headline;body\n1;H;Some, text\n"),
    ],
)
def test_csv_delimiters(tmp_path: Path, name: str, content: str) -> None:
    stories, _ = read_all(write(tmp_path / name, content))
    assert [(s.id, s.headline, s.body) for s in stories] == [("1", "H", "Some, text")]


def test_csv_without_body_column_is_skipped(tmp_path: Path) -> None:
    stories, problems = read_all(write(tmp_path / "a.csv", "id,title\n1,Hello\n"))
    assert stories == []
    assert [(name, kind, reason.split(" (")[0]) for name, kind, _, reason in reasons(problems)] == [
        ("a.csv", "skipped", "no body column in CSV header")
    ]


@pytest.mark.parametrize(
    ("value", "published"),
    [
        ("2019-10-23", date(2019, 10, 23)),
        ("2019-10-23T10:00:00Z", datetime(2019, 10, 23, 10, tzinfo=UTC)),
        ("2019-10-23T10:00:00", datetime(2019, 10, 23, 10)),
        ("Wed, 23 Oct 2019 10:00:00 +0000", datetime(2019, 10, 23, 10, tzinfo=UTC)),
        ("Oct 23, 2019", date(2019, 10, 23)),
        ("23 October 2019", date(2019, 10, 23)),
        ("26-FEB-1987 15:01:01.79", datetime(1987, 2, 26, 15, 1, 1, 790000)),
        (1571824800, datetime(2019, 10, 23, 10, tzinfo=UTC)),
        ("1571824800", datetime(2019, 10, 23, 10, tzinfo=UTC)),
        (1571824800000, datetime(2019, 10, 23, 10, tzinfo=UTC)),
    ],
)
def test_date_formats(tmp_path: Path, value: object, published: date) -> None:
    stories, problems = read_all(write(tmp_path / "a.jsonl", jsonl({"date": value, "body": "Text."})))
    assert problems == []
    assert [s.published for s in stories] == [published]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"body": "Text."}, "no date"),
        ({"date": "  ", "body": "Text."}, "no date"),
        ({"date": "2019-02-30", "body": "Text."}, "bad date '2019-02-30' (day is out of range for month: 2019-02-30)"),
        ({"date": "soon", "body": "Text."}, "bad date 'soon' (Unknown string format: soon)"),
        ({"date": {"y": 2019}, "body": "Text."}, "bad date (expected text or a number, got object)"),
    ],
)
def test_missing_and_bad_dates_still_yield_the_story(tmp_path: Path, record: dict[str, object], reason: str) -> None:
    stories, problems = read_all(write(tmp_path / "a.jsonl", jsonl(record)))
    assert [(s.id, s.published) for s in stories] == [("a.jsonl:1", None)]
    assert reasons(problems) == [("a.jsonl", "degraded", 1, reason)]


def test_bad_date_in_text_header(tmp_path: Path) -> None:
    stories, problems = read_all(write(tmp_path / "a.txt", story_text(header=" date 2019-02-30 By A")))
    assert [(s.published, s.bylines) for s in stories] == [(None, ("A",))]
    assert [reason.split(" (")[0] for *_, reason in reasons(problems)] == ["bad date '2019-02-30'"]


# ── gzip, stdin and streaming ────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("name", "content", "ids"),
    [
        ("a.jsonl.gz", jsonl({"id": "z1", "body": "x"}), ["z1"]),
        ("a.txt.gz", story_text(), ["a.txt.gz"]),
        ("a.csv.gz", "id,body\nz2,x\n", ["z2"]),
        ("a.gz", jsonl({"id": "z3", "body": "x"}), ["z3"]),  # format sniffed from the unpacked bytes
        ("packed.txt", story_text(), ["packed.txt"]),  # gzip found by its magic bytes, whatever the name
    ],
)
def test_gzip(tmp_path: Path, name: str, content: str, ids: list[str]) -> None:
    stories, problems = read_all(write(tmp_path / name, gzip.compress(content.encode())))
    assert [s.id for s in stories] == ids
    assert [p.kind for p in problems] in ([], ["degraded"])


def test_truncated_gzip_keeps_what_was_read_and_reports(tmp_path: Path) -> None:
    packed = gzip.compress(
        jsonl(*({"id": str(n), "body": "Text " * 50, "date": "2019-10-23"} for n in range(500))).encode()
    )
    stories, problems = read_all(write(tmp_path / "a.jsonl.gz", packed[: len(packed) // 2]))
    assert 0 < len(stories) < 500
    assert [(p.kind, p.reason.split(" (")[0]) for p in problems] == [("skipped", "cannot read")]


@pytest.mark.parametrize("make_stdin", [
    lambda data: io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"),
    lambda data: io.StringIO(data.decode()),
])  # fmt: skip
def test_stdin_is_json_lines(monkeypatch: pytest.MonkeyPatch, make_stdin: object) -> None:
    data = jsonl({"id": "in1", "body": "x", "date": "2019-10-23"}, {"body": "y", "date": "2019-10-24"}).encode()
    monkeypatch.setattr(sys, "stdin", make_stdin(data))  # type: ignore[operator]
    stories, problems = read_all("-")
    assert [(s.id, s.path) for s in stories] == [("in1", "-"), ("-:2", "-")]
    assert problems == []


def test_stdin_with_forced_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(story_text().encode())))
    assert [(s.id, s.bylines) for s in read_all("-", format="text")[0]] == [("-", ("Benet Koleka",))]


def test_reading_streams_instead_of_loading_the_whole_input(monkeypatch: pytest.MonkeyPatch) -> None:
    class EndlessFeed(io.RawIOBase):
        """JSON lines for ever: reading it whole would never finish."""

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            line = b'{"body": "more news"}\n' * (len(buffer) // 22)
            buffer[: len(line)] = line
            return len(line)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(EndlessFeed())))
    stories = read_stories("-")
    assert [next(stories).id for _ in range(3)] == ["-:1", "-:2", "-:3"]


# ── Bad input: reported precisely, the good stories around it survive ──────────────────────────────


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.txt", b"", [("skipped", None, "empty file")]),
        ("blank.jsonl", b"\n  \n", [("skipped", None, "empty file")]),
        ("empty.dat", b"", [("skipped", None, "empty file")]),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", [("skipped", None, "binary file")]),
        ("image.dat", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", [("skipped", None, "binary file")]),
        ("noise.dat", bytes(range(1, 32)) * 40, [("skipped", None, "binary file")]),
        ("broken.txt.gz", b"\x1f\x8bnot really gzip", [("skipped", None, "cannot read (")]),
        ("header-only.txt", b" date 2019-10-23 By A\n\n", [("skipped", None, "no body")]),
    ],
)  # fmt: skip
def test_unreadable_files(
    tmp_path: Path, name: str, content: bytes, expected: list[tuple[str, int | None, str]]
) -> None:
    write(tmp_path / "good.txt", story_text())
    write(tmp_path / name, content)
    stories, problems = read_all(tmp_path)
    assert [s.id for s in stories] == ["good.txt"]
    found = [(kind, record, reason) for file, kind, record, reason in reasons(problems) if file == name]
    assert len(found) == len(expected)
    for (kind, record, reason), (expected_kind, expected_record, expected_start) in zip(found, expected, strict=True):
        assert (kind, record) == (expected_kind, expected_record)
        assert reason.startswith(expected_start)


def test_cp1252_text_is_read_and_reported_once(tmp_path: Path) -> None:
    body = "PARIS (Reuters) - Le café “noir” coûte 2 €.\n\nÀ bientôt."
    path = write(tmp_path / "a.txt", story_text(body=body).encode("cp1252"))
    stories, problems = read_all(path)
    assert [s.body for s in stories] == [body]
    assert reasons(problems) == [("a.txt", "degraded", None, "not UTF-8; read as cp1252")]


def test_cp1252_jsonl_is_reported_once_per_file(tmp_path: Path) -> None:
    content = jsonl(
        {"id": "1", "body": "café", "date": "2019-10-23"}, {"id": "2", "body": "crème", "date": "2019-10-23"}
    )
    stories, problems = read_all(
        write(tmp_path / "a.jsonl", content.replace("\\u00e9", "é").replace("\\u00e8", "è").encode("cp1252"))
    )
    assert [s.body for s in stories] == ["café", "crème"]
    assert reasons(problems) == [("a.jsonl", "degraded", None, "not UTF-8; read as cp1252")]


def test_bad_json_lines_are_skipped_and_the_rest_goes_on(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "first", "body": "x", "date": "2019-10-23"}),
        '{"id": "broken", "body": ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "empty", "body": " \n\t "}),
        json.dumps({"id": "x" * 513, "body": "x"}),
        json.dumps({"id": "a\u0000b", "body": "x"}),
        json.dumps({"id": ["list"], "body": "x"}),
        json.dumps({"id": "", "body": "x"}),
        json.dumps({"id": True, "body": "x"}),
        "",
        json.dumps({"id": "last", "body": "y", "date": "2019-10-23"}),
    ]
    stories, problems = read_all(write(tmp_path / "a.jsonl", "\n".join(lines) + "\n"))
    assert [s.id for s in stories] == ["first", "last"]
    assert reasons(problems) == [
        ("a.jsonl", "skipped", 2, "invalid JSON (Expecting value at column 26)"),
        ("a.jsonl", "skipped", 3, "not a JSON object (got array)"),
        ("a.jsonl", "skipped", 4, "no body (empty or missing: body, text, content, article, story)"),
        ("a.jsonl", "skipped", 5, "id too long (513 characters > 512)"),
        ("a.jsonl", "skipped", 6, "id has control characters ('a\\x00b')"),
        ("a.jsonl", "skipped", 7, "bad id (expected text or a whole number, got array)"),
        ("a.jsonl", "skipped", 8, "empty id"),
        ("a.jsonl", "skipped", 9, "bad id (expected text or a whole number, got boolean)"),
    ]


def test_wrongly_typed_fields_are_dropped_and_reported(tmp_path: Path) -> None:
    record = {"id": "w", "body": "x", "date": "2019-10-23", "headline": {"main": "H"}, "bylines": 7, "source": 12}
    stories, problems = read_all(write(tmp_path / "a.jsonl", jsonl(record)))
    assert [(s.headline, s.bylines, s.source) for s in stories] == [(None, (), "12")]
    assert [p.reason for p in problems] == [
        "ignored headline (expected text, got object)",
        "ignored bylines (expected text or a list, got number)",
    ]


def test_control_characters_are_stripped_from_text_fields(tmp_path: Path) -> None:
    record = {"id": "c", "headline": "Big\x00 news\n today", "body": "One\x00\x07 two\r\n\tthree", "date": "2019-10-23",
              "author": ["A\x1bB"]}  # fmt: skip
    [story] = read_all(write(tmp_path / "a.jsonl", jsonl(record)))[0]
    assert (story.headline, story.body, story.bylines) == ("Big news today", "One two\n\tthree", ("A B",))


def test_oversized_text_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "big.txt", b"x" * (MAX_STORY_BYTES + MAX_STORY_BYTES // 20))
    write(tmp_path / "small.txt", story_text())
    stories, problems = read_all(tmp_path)
    assert [s.id for s in stories] == ["small.txt"]
    assert reasons(problems) == [("big.txt", "skipped", None, "oversized (10.5 MiB > 10 MiB)")]


def test_oversized_json_line_is_skipped_and_the_rest_goes_on(tmp_path: Path) -> None:
    big = json.dumps({"id": "big", "body": "x" * (MAX_STORY_BYTES + MAX_STORY_BYTES // 20)})
    content = jsonl({"id": "before", "body": "x", "date": "2019-10-23"}) + big + "\n"
    content += jsonl({"id": "after", "body": "y", "date": "2019-10-23"})
    stories, problems = read_all(write(tmp_path / "a.jsonl", content))
    assert [s.id for s in stories] == ["before", "after"]
    assert reasons(problems) == [("a.jsonl", "skipped", 2, "oversized (10.5 MiB > 10 MiB)")]


def test_oversized_csv_record_is_skipped_and_the_rest_goes_on(tmp_path: Path) -> None:
    # The big field spans many lines and holds quotes and commas: the reader must find where its record ends.
    paragraph = 'He said ""no, never"", twice.\n' * (MAX_STORY_BYTES // 28)
    content = f'id,body,date\nbefore,x,2019-10-23\nbig,"{paragraph}",2019-10-23\nafter,"y\nz",2019-10-23\n'
    stories, problems = read_all(write(tmp_path / "a.csv", content))
    assert [(s.id, s.body) for s in stories] == [("before", "x"), ("after", "y\nz")]
    assert [(p.record, p.reason.split(" (")[0]) for p in problems] == [(2, "oversized")]


def test_every_story_is_fully_typed(tmp_path: Path, corpus: Path) -> None:
    write(corpus / "mixed.csv", "id,headline,body,date\n1,,x,\n2,H,y,soon\n")
    write(corpus / "odd.jsonl", jsonl({"id": 5, "body": ["a", "b"], "bylines": ["A", 3, ""], "credits": "junk"}))
    stories, _ = read_all(corpus, SEED)
    assert len(stories) == 9
    for story in stories:
        assert isinstance(story.id, str) and story.id
        assert isinstance(story.body, str) and story.body.strip()
        for value in (story.headline, story.location, story.source):
            assert value is None or (isinstance(value, str) and value)
        assert isinstance(story.bylines, tuple) and all(isinstance(name, str) and name for name in story.bylines)
        assert story.published is None or isinstance(story.published, date)
        assert all(isinstance(credit, Credit) for credit in story.credits)


def test_read_source_reads_one_source(corpus: Path) -> None:
    problems: list[Problem] = []
    source = Source(str(corpus / "2019" / "feed.jsonl"), "2019/feed.jsonl", "jsonl")
    assert [s.id for s in read_source(source, on_problem=problems.append)] == ["j1", "2019/feed.jsonl:2"]
    with pytest.raises(UsageError):
        Source("x", "x", "xml")


def test_finding_files_is_still_importable_from_readers() -> None:
    for name in ("Source", "FORMATS", "find_sources"):  # they moved to sources.py; readers re-exports them
        assert getattr(readers, name) is getattr(sources, name)
    assert {"Source", "FORMATS", "find_sources", "read_source", "read_stories"} <= set(readers.__all__)
