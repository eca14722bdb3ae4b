"""Names of people and places: one identity across spellings, readable casing, bylines split, no agencies;
and noisy dates, date-library warnings and problem reports that name the story, as real archives need."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.files import jsonl, read_all, reasons, story_text, write
from newsindex.cli.commands import app
from newsindex.text.dates import date_prefix
from newsindex.text.names import best_display, display_name, is_agency, name_key, split_bylines


def test_one_identity_whatever_the_case_accents_and_punctuation() -> None:
    assert name_key("Peter Torday") == name_key("PETER TORDAY") == name_key("Péter  Torday")
    assert name_key("St. Louis") == name_key("ST LOUIS")
    assert name_key("Peter Torday") != name_key("Peter Tordai")


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("PETER TORDAY", "Peter Torday"),
        ("MCLEAN", "McLean"),
        ("GREG MCCUNE", "Greg McCune"),
        ("MACDONALD", "MacDonald"),
        ("MACON", "Macon"),  # not Mac-On
        ("MARK O'NEILL", "Mark O'Neill"),
        ("RIO DE JANEIRO", "Rio de Janeiro"),
        ("LA PAZ", "La Paz"),
        ("ST. LOUIS", "St. Louis"),
        ("NEW YORK", "New York"),
        ("LUDWIG VAN BEETHOVEN", "Ludwig van Beethoven"),
        ("DAR ES SALAAM", "Dar es Salaam"),
        ("BASHAR AL-ASSAD", "Bashar al-Assad"),
        ("WINSTON-SALEM", "Winston-Salem"),
        ("ALFONSE D'AMATO", "Alfonse D'Amato"),
        ("PORT-AU-PRINCE", "Port-au-Prince"),
        ("PETER LE", "Peter Le"),  # a particle only between words: here a surname
        ("peter torday", "Peter Torday"),
        ("Solange De Santis", "Solange De Santis"),  # cased by its source: kept as written
        ("McDonald", "McDonald"),
    ],
)
def test_names_in_capitals_are_recased_by_the_rules_of_names(written: str, shown: str) -> None:
    assert display_name(written) == shown


def test_the_best_cased_spelling_is_shown() -> None:
    assert best_display([("PETER TORDAY", 2), ("Peter Torday", 22)]) == "Peter Torday"
    assert best_display([("PETER TORDAY", 30), ("Peter Torday", 2)]) == "Peter Torday"  # cased beats common
    assert best_display([("St Louis", 1), ("St. Louis", 5)]) == "St. Louis"


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("By Norma Cohen and Geert Linnebank, Reuters", ["Norma Cohen", "Geert Linnebank"]),
        ("By STEPHEN JUKES AND PHILIP SHEHADI, REUTERS", ["Stephen Jukes", "Philip Shehadi"]),
        ("A, B and C", ["A", "B", "C"]),
        ("Ann Lee & Bo Chan", ["Ann Lee", "Bo Chan"]),
        ("By Cal Mankowski, Reutersd", ["Cal Mankowski"]),
        ("By Brad Schade Reuters", ["Brad Schade"]),
        ("By Colin Brinsden, Reuters.", ["Colin Brinsden"]),
        ("Reuters.", []),
        ("By The Associated Press", []),
        ("AFP", []),
        ("Jane Doe, Staff Writer", ["Jane Doe"]),
        ("By Jane Doe, Reuters Correspondent", ["Jane Doe"]),
        ("By JOHN SMITH, AP Business Writer", ["John Smith"]),
        ("Associated Press Writer", []),
        ("Martin Luther King, Jr.", ["Martin Luther King, Jr."]),
        ("By Sandra Anderson", ["Sandra Anderson"]),  # "and" inside a name is no separator
    ],
)
def test_bylines_are_split_and_agencies_dropped(byline: str, names: list[str]) -> None:
    assert split_bylines(byline) == names


def test_agencies_are_known_by_name() -> None:
    assert all(is_agency(name) for name in ("Reuters", "REUTERS.", "AP", "The Associated Press", "dpa", "UPI"))
    assert not is_agency("Peter Torday")


def test_bylines_from_every_reader_are_split(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", story_text(header=" date 1987-03-03 By NORMA COHEN AND GEERT LINNEBANK"))
    write(tmp_path / "b.jsonl", jsonl({"id": "b", "date": "1987-03-03", "body": "x", "bylines": ["A Lee and B Chan"]}))
    stories, _ = read_all(tmp_path)
    assert [story.bylines for story in stories] == [("Norma Cohen", "Geert Linnebank"), ("A Lee", "B Chan")]


# ── Dates ────────────────────────────────────────────────────────────────────────────────────────────


def test_the_valid_date_prefix_of_a_noisy_timestamp() -> None:
    assert date_prefix("27-MAR-1987 02:17:09.88T C") == (datetime(1987, 3, 27, 2, 17, 9, 880000), "T C")
    assert date_prefix("27-MAR-1987 25:99:00 x")[0] == date(1987, 3, 27)  # type: ignore[index]
    assert date_prefix("1987-03-27 junk")[0] == date(1987, 3, 27)  # type: ignore[index]
    assert date_prefix("31-APR-1987 10:00") is None
    assert date_prefix("junk 27-MAR-1987") is None


def reuters(newid: int, date_text: str) -> str:
    return (
        f'<REUTERS NEWID="{newid}">\n<DATE>{date_text}</DATE>\n<TEXT>&#2;\n<TITLE>T</TITLE>\n'
        f"<DATELINE>    SAN MATEO, Calif., March 2 - </DATELINE><BODY>Profit rose.\n Reuter\n&#3;</BODY></TEXT>\n"
        "</REUTERS>\n"
    )


def test_noisy_sgml_dates_keep_their_date_and_time_and_are_reported_once(tmp_path: Path) -> None:
    records = [
        reuters(10299, "27-MAR-1987 02:17:09.88T C"),
        reuters(10300, "27-MAR-1987 12:42:03.84&#5;&#5;&#5;A"),  # the date library reads "A" as AM: 00:42
        reuters(10301, "27-MAR-1987 12:13:37.69E F"),
    ]
    path = write(tmp_path / "reut2-010.sgm", "".join(records))
    stories, problems = read_all(path)
    assert [story.published for story in stories] == [
        datetime(1987, 3, 27, 2, 17, 9, 880000),
        datetime(1987, 3, 27, 12, 42, 3, 840000),
        datetime(1987, 3, 27, 12, 13, 37, 690000),
    ]
    assert (stories[0].location, stories[0].region) == ("San Mateo", "Calif.")
    assert [(p.record, p.story, p.kind) for p in problems] == [(1, "10299", "degraded")]  # once per input
    assert str(problems[0]).startswith(f"{path}:1 (story 10299): dates with text after them are read up to it")


def test_problems_name_the_story_id_not_the_record_number(tmp_path: Path) -> None:
    path = write(tmp_path / "reut2-010.sgm", reuters(1, "26-FEB-1987 15:01:01.79") + reuters(10299, "no date here"))
    _, problems = read_all(path)
    assert [(p.record, p.story) for p in problems] == [(2, "10299")]
    assert str(problems[0]).startswith(f"{path}:2 (story 10299): bad date 'no date here'")


def test_date_library_warnings_become_report_lines_once_per_input(tmp_path: Path) -> None:
    records = [{"id": f"s{n}", "date": f"1987-03-0{n} 10:00 XYZ", "body": "x"} for n in (1, 2)]
    write(tmp_path / "a.jsonl", jsonl(*records))  # filterwarnings = error: a Python warning fails this test
    stories, problems = read_all(tmp_path)
    assert [story.published for story in stories] == [datetime(1987, 3, 1, 10), datetime(1987, 3, 2, 10)]
    assert reasons(problems) == [
        ("a.jsonl", "degraded", 1, "date '1987-03-01 10:00 XYZ': time zone 'XYZ' unknown: the time is read without one")
    ]
    assert problems[0].story == "s1"


def test_the_cli_prints_no_python_warning_and_json_names_the_story(tmp_path: Path) -> None:
    write(tmp_path / "in" / "reut2-010.sgm", reuters(10299, "27-MAR-1987 00:02:59.13&#5;&#5;&#5;RM"))
    result = CliRunner().invoke(app, ["index", "--index", str(tmp_path / "idx"), "-q", "--json", str(tmp_path / "in")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(p["record"], p["story"]) for p in report["problems"]] == [(1, "10299")]
    assert "Warning" not in result.stderr
