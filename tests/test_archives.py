"""archives.py: Reuters-21578 SGML, RCV1-style NewsML and zip archives → stories, and their problems.

The samples are written here, in the shape of the real corpora, with text of our own.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

from helpers.files import read_all, reasons
from newsindex import NewsIndex
from newsindex.ingest.archives import split_elements
from newsindex.ingest.sources import find_sources

# ── Reuters-21578 SGML ───────────────────────────────────────────────────────────────────────────────


def reuters_record(newid: int, *, text: str, date_text: str = "26-FEB-1987 15:01:01.79", extra: str = "") -> str:
    return (
        f'<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="{5000 + newid}" NEWID="{newid}">\n'
        f"<DATE>{date_text}</DATE>\n{extra}"
        "<UNKNOWN> \n&#5;&#5;&#5;C T\n&#22;&#22;&#1;f0704&#31;reute\nu f BC-HARBOUR-REVIEW   02-26 0105</UNKNOWN>\n"
        f"{text}\n</REUTERS>\n"
    )


HARBOUR = reuters_record(
    1,
    extra="<TOPICS><D>ship</D><D>grain</D></TOPICS>\n<PLACES><D>el-salvador</D><D>usa</D></PLACES>\n"
    "<PEOPLE></PEOPLE>\n<ORGS></ORGS>\n<EXCHANGES></EXCHANGES>\n<COMPANIES></COMPANIES>\n",
    text=(
        "<TEXT>&#2;\n<TITLE>HARBOUR WORK &lt;PORT&gt; RESUMES</TITLE>\n"
        "<AUTHOR>    By Ana Ruiz, Reuters</AUTHOR>\n"
        "<DATELINE>    SAN SALVADOR, Feb 26 - </DATELINE><BODY>Dock workers returned to the\n"
        "harbour on Thursday after a week of rain, the port\nauthority said. Loading &amp; unloading resumed.\n"
        "    Officials expect the backlog to clear by March.\n Reuter\n&#3;</BODY></TEXT>"
    ),
)
BRIEF = reuters_record(
    2,
    date_text="26-FEB-1987 15:02:20.00",
    text='<TEXT TYPE="BRIEF">&#2;\n******<TITLE>GRAIN BOARD &lt;GB> SETS NEW TARIFF\n</TITLE>\nBlah blah blah.\n&#3;\n\n</TEXT>',
)
UNPROC = reuters_record(3, text='<TEXT TYPE="UNPROC">&#2;\nUnprocessed wire text\n  in two parts.\n&#3;</TEXT>')


def reuters_file(folder: Path, *records: str, name: str = "reut2-000.sgm") -> Path:
    path = folder / name
    path.write_text('<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(records), encoding="ascii")
    return path


def test_a_reuters_record_gives_every_field(tmp_path: Path) -> None:
    stories, problems = read_all(reuters_file(tmp_path, HARBOUR))
    assert problems == []
    [story] = stories
    assert story.id == "1"
    assert story.headline == "HARBOUR WORK <PORT> RESUMES"
    assert story.published == datetime(1987, 2, 26, 15, 1, 1, 790000)
    assert story.bylines == ("Ana Ruiz",)
    assert story.location == "San Salvador"
    assert story.source == "Reuters"
    assert story.topics == ("ship", "grain")
    assert story.places == ("el-salvador", "usa")
    # Lines wrapped at 70 columns are joined; an indented line starts a paragraph; the signature goes.
    assert story.body == (
        "Dock workers returned to the harbour on Thursday after a week of rain, the port authority said. "
        "Loading & unloading resumed.\n\nOfficials expect the backlog to clear by March."
    )
    assert story.lead.startswith("Dock workers returned to the harbour on Thursday")


def test_reuters_briefs_keep_their_title_and_unprocessed_text_is_read(tmp_path: Path) -> None:
    stories, problems = read_all(reuters_file(tmp_path, HARBOUR, BRIEF, UNPROC))
    assert [story.id for story in stories] == ["1", "2", "3"]
    brief, unprocessed = stories[1], stories[2]
    assert brief.headline == brief.body == "GRAIN BOARD <GB> SETS NEW TARIFF"
    assert unprocessed.headline is None
    assert unprocessed.body == "Unprocessed wire text\n\nin two parts."
    assert problems == []


def test_bad_reuters_records_cost_only_themselves(tmp_path: Path) -> None:
    bad_date = reuters_record(4, date_text="31-APR-1987 10:00:00.00", text="<TEXT><BODY>A story.</BODY></TEXT>")
    empty = reuters_record(5, text="<TEXT>&#2;\n&#3;</TEXT>")
    unterminated = '<REUTERS NEWID="6">\n<TEXT><BODY>Cut off'
    path = reuters_file(tmp_path, bad_date, empty, HARBOUR)
    path.write_text(path.read_text() + unterminated)
    stories, problems = read_all(path)
    assert [story.id for story in stories] == ["4", "1"]
    assert stories[0].published is None
    assert reasons(problems) == [
        ("reut2-000.sgm", "degraded", 1, "bad date '31-APR-1987 10:00:00.00' (day is out of range for month: "
         "31-APR-1987 10:00:00.00)"),
        ("reut2-000.sgm", "skipped", 2, "no title and no body"),
        ("reut2-000.sgm", "skipped", 4, "cut off: the file ends inside this record"),
    ]  # fmt: skip


def test_reuters_files_are_found_by_name_and_by_content(tmp_path: Path) -> None:
    reuters_file(tmp_path, HARBOUR, name="reut2-021.sgm")
    reuters_file(tmp_path, BRIEF, name="no-extension")
    assert [source.format for source in find_sources([str(tmp_path)])] == ["reuters", "reuters"]


def test_a_reuters_file_streams_record_by_record(tmp_path: Path) -> None:
    """Thousands of records in one file: read one at a time (the splitter never holds two)."""
    records = [reuters_record(n, text=f"<TEXT><TITLE>T{n}</TITLE><BODY>Story {n}.\n Reuter\n&#3;</BODY></TEXT>")
               for n in range(1, 3001)]  # fmt: skip
    stories, problems = read_all(reuters_file(tmp_path, *records))
    assert problems == []
    assert len(stories) == 3000
    assert stories[-1].id == "3000" and stories[-1].body == "Story 3000."


def test_split_elements_finds_elements_across_blocks_and_skips_oversized_ones() -> None:
    big = b"<REUTERS NEWID=2>" + b"x" * 3_000_000 + b"</REUTERS>"
    data = b"<!DOCTYPE lewis>\n<REUTERS NEWID=1>one</REUTERS>\n" + big + b"\n<REUTERS NEWID=3>three</REUTERS>"
    pattern = __import__("re").compile(rb"<(?P<name>REUTERS)[\s>]")
    prefix: list[bytes] = []
    found = list(split_elements(io.BytesIO(data), pattern, on_prefix=prefix.append, limit=1_000_000))
    assert [(element.number, element.data) for element in found] == [
        (1, b"<REUTERS NEWID=1>one</REUTERS>"),
        (2, None),
        (3, b"<REUTERS NEWID=3>three</REUTERS>"),
    ]
    assert found[1].size == len(big)
    assert prefix == [b"<!DOCTYPE lewis>\n"]


# ── RCV1-style NewsML ────────────────────────────────────────────────────────────────────────────────


def newsml(itemid: str = "2286", *, date_text: str = "1996-08-20", body: str | None = None) -> bytes:
    paragraphs = body if body is not None else (
        "<p>Dock workers returned to the harbour on Tuesday, the port authority said.</p>\n"
        "<p>Officials expect the backlog to clear by September.</p>"
    )  # fmt: skip
    return f"""<?xml version="1.0" encoding="iso-8859-1" ?>
<newsitem itemid="{itemid}" id="root" date="{date_text}" xml:lang="en">
<title>MEXICO: Harbour work resumes in Veracruz.</title>
<headline>Harbour work resumes in Veracruz.</headline>
<byline>José Pérez</byline>
<dateline>VERACRUZ, Mexico 1996-08-20</dateline>
<text>
{paragraphs}
</text>
<copyright>(c) Example Wire 1996</copyright>
<metadata>
<codes class="bip:countries:1.0">
  <code code="MEX"><editdetail attribution="Coding Group" action="confirmed" date="1996-08-20"/></code>
</codes>
<codes class="bip:industries:1.0"><code code="I74000"/></codes>
<codes class="bip:topics:1.0"><code code="E11"/><code code="ECAT"/></codes>
<dc element="dc.publisher" value="Example Wire Ltd"/>
<dc element="dc.date.published" value="1996-08-20"/>
<dc element="dc.source" value="Reuters"/>
<dc element="dc.creator.location" value="VERACRUZ, Mexico"/>
</metadata>
</newsitem>
""".encode("iso-8859-1")


def test_a_newsml_item_gives_every_field(tmp_path: Path) -> None:
    path = tmp_path / "2286newsML.xml"
    path.write_bytes(newsml())
    stories, problems = read_all(path)
    assert problems == []
    [story] = stories
    assert story.id == "2286"
    assert story.headline == "Harbour work resumes in Veracruz."
    assert story.published == date(1996, 8, 20)
    assert story.bylines == ("José Pérez",)  # Latin-1, as its XML declaration says
    assert (story.location, story.region) == ("Veracruz", "Mexico")
    assert story.source == "Reuters"
    assert story.topics == ("I74000", "E11", "ECAT")
    assert story.places == ("MEX",)
    assert story.body == (
        "Dock workers returned to the harbour on Tuesday, the port authority said.\n\n"
        "Officials expect the backlog to clear by September."
    )


def test_bad_newsml_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a-broken.xml").write_bytes(newsml()[:-40])
    (tmp_path / "b-empty.xml").write_bytes(newsml(body=""))
    (tmp_path / "c-other.xml").write_bytes(b'<?xml version="1.0"?>\n<catalog><book/></catalog>\n')
    stories, problems = read_all(tmp_path)
    assert stories == []
    assert [(name, kind, reason.split(" (")[0]) for name, kind, _, reason in reasons(problems)] == [
        ("a-broken.xml", "skipped", "invalid XML"),
        ("b-empty.xml", "skipped", "no text"),
        ("c-other.xml", "skipped", "XML of an unknown kind"),
    ]


# ── Zip archives ─────────────────────────────────────────────────────────────────────────────────────


def test_a_zip_of_newsml_items_gives_one_story_per_member(tmp_path: Path) -> None:
    archive = tmp_path / "19960820.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("2287newsML.xml", newsml("2287"))
        out.writestr("2286newsML.xml", newsml("2286"))
        out.writestr("notes/readme.txt", " date 1996-08-21\n\nA note about the harbour files.\n")
        out.writestr("bad.xml", b"<?xml version='1.0'?><newsitem itemid='9'><text>")
        out.writestr("__MACOSX/._2286newsML.xml", b"\0\0junk")
    [source] = find_sources([str(archive)])
    assert source.format == "zip"
    stories, problems = read_all(archive)
    assert [(story.id, story.path) for story in stories] == [
        ("2286", str(archive)),
        ("2287", str(archive)),
        ("19960820.zip/notes/readme.txt", str(archive)),
    ]
    assert [(p.path, p.reason.split(" (")[0]) for p in problems] == [(f"{archive}/bad.xml", "invalid XML")]


def test_zip_members_may_be_gzipped_nested_or_forced(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as out:
        out.writestr("deep/1.xml", newsml("1"))
    archive = tmp_path / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("inner.zip", inner.getvalue())
        out.writestr("2.xml.gz", gzip.compress(newsml("2")))
        out.writestr("3.dat", newsml("3"))  # no known extension: sniffed
    stories, problems = read_all(archive)
    assert problems == []
    assert [story.id for story in stories] == ["2", "3", "1"]  # members in name order
    forced, problems = read_all(archive, format="text")  # members read in the forced format
    assert [story.id for story in forced] == [
        "corpus.zip/2.xml.gz",
        "corpus.zip/3.dat",
        "corpus.zip/inner.zip/deep/1.xml",
    ]


def test_a_damaged_zip_is_reported(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    stories, problems = read_all(archive)
    assert stories == []
    assert reasons(problems)[0][3].startswith("unreadable zip archive")


def test_an_unchanged_zip_is_skipped_and_pruning_keeps_its_stories(tmp_path: Path) -> None:
    archive = tmp_path / "corpus" / "items.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("1.xml", newsml("1"))
        out.writestr("2.xml", newsml("2"))
    news = NewsIndex.create(tmp_path / "index")
    assert news.add_files([str(archive.parent)]).added == 2
    again = news.add_files([str(archive.parent)], prune=True)
    assert (again.added, again.unchanged, again.removed) == (0, 2, 0)
    assert news.get("1") is not None


@pytest.mark.parametrize("format", ["reuters", "newsml", "feed", "html", "warc", "zip"])
def test_every_new_format_can_be_forced(tmp_path: Path, format: str) -> None:
    (tmp_path / "x.txt").write_text("some text\n")
    [source] = find_sources([str(tmp_path / "x.txt")], format=format)
    assert source.format == format
