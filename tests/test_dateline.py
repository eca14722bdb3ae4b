"""The dateline reader: every shape of AP, Reuters, AFP, UPI, Bloomberg and dpa copy, and what is no dateline."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.files import jsonl, read_all, story_text, write
from newsindex.text.dateline import Dateline, parse_dateline, split_dateline
from newsindex.text.regions import canonical_region


@pytest.mark.parametrize(
    ("body", "location", "region", "source"),
    [
        # city alone, with the agency
        ("TIRANA (Reuters) - Police said.", "Tirana", None, "Reuters"),
        ("WASHINGTON (AP) — The Senate voted.", "Washington", None, "AP"),
        ("WASHINGTON (UPI) -- The Senate voted.", "Washington", None, "UPI"),
        ("Berlin (dpa) - Die Regierung.", "Berlin", None, "dpa"),
        ("PARIS, 2 March (AFP) - Le gouvernement.", "Paris", None, "AFP"),
        ("NEW YORK, Oct 23 (Reuters) - Shares rose.", "New York", None, "Reuters"),
        # city and US state, AP abbreviations, any case
        ("SAN MATEO, Calif., March 2 - The company said.", "San Mateo", "Calif.", None),
        ("PORTLAND, Ore., Feb 26 - Grain ships loading.", "Portland", "Ore.", None),
        ("WEST HARTFORD, Conn., FEb 26 - Shares.", "West Hartford", "Conn.", None),
        ("MINNEAPOLIS, MINN., March 3 - Profit.", "Minneapolis", "Minn.", None),
        ("BOCA RATON, Fla, March 3 - Profit.", "Boca Raton", "Fla.", None),
        ("ROCHESTER, N.Y., March 3 - Profit.", "Rochester", "N.Y.", None),
        ("WASHINGTON, D.C., March 3 - Profit.", "Washington", "D.C.", None),
        ("ST. PETERSBURG, Fla. (Reuters) - Profit.", "St. Petersburg", "Fla.", "Reuters"),
        ("FORT WORTH, Tex., March 3 - Profit.", "Fort Worth", "Texas", None),
        ("AKRON, Ohio, March 3 - Profit.", "Akron", "Ohio", None),
        ("RICHMOND, Va. Feb 26 - Profit.", "Richmond", "Va.", None),
        ("KANSAS CITY, Mo. - March 2 - Profit.", "Kansas City", "Mo.", None),
        ("PITTSBURGH, Pa., March 5 - Profit.", "Pittsburgh", "Pa.", None),
        # Canadian provinces, countries
        ("CALGARY, Alberta, March 3 - Oil.", "Calgary", "Alberta", None),
        ("Vancouver, British Columbia, March 3 - Oil.", "Vancouver", "British Columbia", None),
        ("HALIFAX, N.S., March 3 - Fish.", "Halifax", "Nova Scotia", None),
        ("BADEN, Switzerland, March 2 - Sales.", "Baden", "Switzerland", None),
        ("TAUPO, New Zealand, March 2 - Quake.", "Taupo", "New Zealand", None),
        ("BAGUIO, Philippines - A quake.", "Baguio", "Philippines", None),
        # several cities, mixed case, the day before the month, names re-cased
        ("WASHINGTON/LONDON (Reuters) - Talks.", "Washington/London", None, "Reuters"),
        ("Chicago, March 3 - Futures.", "Chicago", None, None),
        ("Toronto, Feb 26 - Shares.", "Toronto", None, None),
        ("AMSTERDAM, 2 March - Shares.", "Amsterdam", None, None),
        ("JOHANNESBURG March 3 - Gold.", "Johannesburg", None, None),
        ("RIO DE JANEIRO, March 2 - Coffee.", "Rio de Janeiro", None, None),
        ("MCLEAN, Va., March 2 - Profit.", "McLean", "Va.", None),
        ("LA PAZ, March 2 - Tin.", "La Paz", None, None),
        ("La paz, march 4 - Tin.", "La Paz", None, None),
        ("COEUR D'ALENE, Idaho, March 2 - Silver.", "Coeur d'Alene", "Idaho", None),
        ("AUGUSTA, Maine, March 25 - Paper.", "Augusta", "Maine", None),  # a city, no misspelt August
        # months abbreviated, misspelt; dashes of every kind, with or without a space before
        ("MONTREAL, Feb 26- Profit.", "Montreal", None, None),
        ("NEW YORK, Sept. 5 -- Profit.", "New York", None, None),
        ("RENO, Nev., Mach 2 - Profit.", "Reno", "Nev.", None),
        ("LONDON, March 2 – Shares.", "London", None, None),
        ("LONDON, March 2 —Shares.", "London", None, None),
        ("WASHINGTON, March 5, Reuter - Talks.", "Washington", None, "Reuter"),
        # typing noise before the city
        ("****LONDON, March 5 - Sugar.", "London", None, None),
        ("WASHINGTON — The Senate voted.", "Washington", None, None),
        # an agency without a city
        ("(Bloomberg) -- Apple said.", None, None, "Bloomberg"),
        ("March 5 (Bloomberg) -- Apple said.", None, None, "Bloomberg"),
        # 1980s AP copy: an underscore for the dash
        ("BOSTON (AP) _ The Senate voted.", "Boston", None, "AP"),
        ("PORT-AU-PRINCE, Haiti (AP) — Aid arrived.", "Port-au-Prince", "Haiti", "AP"),
    ],
)
def test_dateline_shapes(body: str, location: str | None, region: str | None, source: str | None) -> None:
    dateline, rest = split_dateline(body)
    assert dateline == Dateline(location, source, region)
    assert rest[:1].isalpha() and not rest.startswith(("-", " "))


@pytest.mark.parametrize(
    "body",
    [
        "The company said - in a statement - that profit rose.",
        "US - China talks resumed on Monday.",
        "Shares of IBM, Apple - both up - led the market.",
        "UPDATE - The figures were revised.",
        "Profit rose 5 - 10 pct, the company said.",
        "Wilcox/Gibbs - New York",
        "Toronto - the city council met.",
        "The Federal Reserve said on March 2 - ahead of the meeting - rates would hold.",
        "In Chicago, March 3 - a Tuesday - futures fell.",
        "Monday, March 2 - the day the market fell - began quietly.",
        "Posted March 2 - Profit rose.",
        "TOKYO STOCKS PLUNGE 502.98 TO 21,675.04 DUE TO YEN RISE AGAINST DOLLAR -- BROKERS",  # a brief's headline
    ],
)
def test_sentences_are_no_datelines(body: str) -> None:
    assert split_dateline(body) == (None, body)


@pytest.mark.parametrize(
    ("text", "location", "region"),
    [
        ("    SAN MATEO, Calif., March 2 - ", "San Mateo", "Calif."),
        ("Paris", "Paris", None),
        ("BRUSSELS", "Brussels", None),
        ("Washington, D.C.", "Washington", "D.C."),
        ("New York, NY", "New York", "N.Y."),
        ("GEORGETOWN, Grand Cayman, British West Indies, March 2 -", "Georgetown", "Grand Cayman, British West Indies"),
        ("THE HAGUE, March 2 - Dutch imports of fat-", "The Hague", None),
        ("ME}LBOURNE, March 3 -", "Melbourne", None),
        ("new york", "New York", None),  # no dateline's shape: kept as the place, readable
    ],
)
def test_a_dateline_given_alone(text: str, location: str, region: str | None) -> None:
    dateline = parse_dateline(text)
    assert dateline is not None
    assert (dateline.location, dateline.region) == (location, region)


def test_regions_are_stored_in_one_form() -> None:
    assert {canonical_region(text) for text in ("CALIF.", "Calif", "California", "CA", "Calif.")} == {"Calif."}
    assert canonical_region("Alta.") == "Alberta"
    assert canonical_region("WEST GERMANY") == "West Germany"
    assert canonical_region("Georgia") == "Georgia"  # the country; the state is "Ga." in datelines


def test_every_reader_uses_the_dateline(tmp_path: Path) -> None:
    body = "SAN MATEO, Calif., March 2 - Profit rose."
    write(tmp_path / "story.txt", story_text(body))
    write(
        tmp_path / "feed.jsonl",
        jsonl(
            {"id": "a", "date": "1987-02-26", "body": "Profit rose.", "dateline": "PORTLAND, Ore., Feb 26 -"},
            {"id": "b", "date": "1987-02-26", "body": "Profit rose.", "location": "Calgary", "region": "Alberta"},
            {"id": "c", "date": "1987-02-26", "body": body, "location": "Somewhere Else"},
        ),
    )
    write(tmp_path / "rows.csv", 'id,date,dateline,body\nd,1987-02-26,"WEST HARTFORD, Conn., FEb 26 -",Profit rose.\n')
    stories, problems = read_all(tmp_path)
    assert problems == []
    places = {story.id: (story.location, story.region) for story in stories}
    assert places == {
        "story.txt": ("San Mateo", "Calif."),
        "a": ("Portland", "Ore."),
        "b": ("Calgary", "Alberta"),
        "c": ("Somewhere Else", None),  # the body's region belongs to the body's place, not to another
        "d": ("West Hartford", "Conn."),
    }
    by_id = {story.id: story for story in stories}
    assert by_id["story.txt"].to_dict()["region"] == "Calif."
