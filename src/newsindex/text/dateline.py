"""Wire-copy conventions: the dateline that opens a story and the credit line that closes it.

One reader of datelines for every format (text bodies, JSONL/CSV `dateline` columns, Reuters SGML
`<DATELINE>`, NewsML `<dateline>`, HTML and feed bodies). The shapes of AP, Reuters, AFP, UPI, Bloomberg
and dpa copy:

    TIRANA (Reuters) -                          city alone, agency in parentheses
    SAN MATEO, Calif., March 2 -                city, US state (AP abbreviation), date
    CALGARY, Alberta, March 3 -                 city, Canadian province
    BADEN, Switzerland, March 2 -               city, country
    WASHINGTON/LONDON (Reuters) -               several cities
    Chicago, March 3 -   PARIS, 2 March (AFP) -   mixed case; day before or after the month
    WEST HARTFORD, Conn., FEb 26 -              the month as typed (abbreviated, miscased, misspelt)
    MONTREAL, Feb 26-   WASHINGTON (UPI) --   SAN MATEO, Calif. (AP) —   any dash, space before it or not
    Berlin (dpa) -   (Bloomberg) --             agency alone

The location is the city in readable form ("San Mateo", "McLean", "Rio de Janeiro"); the region (state,
province or country) is kept apart in its canonical form (`newsindex.text.regions`). A body's first words are
taken as a dateline only when they look like one: a place in capitals or capitalised words, then a date,
an agency, or a known region before the dash — "The company said - …" and "US - China talks" are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from newsindex.text.names import ACRONYMS, PARTICLES, display_name, is_agency, is_shouting, split_bylines
from newsindex.text.regions import canonical_region, is_known_region

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_ABBREVIATIONS = {"sept": 9, "febr": 2}
_WEEKDAYS = frozenset(
    {
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thur",
        "thurs",
        "fri",
        "sat",
        "sun",
    }
)
_CALENDAR_WORDS = _WEEKDAYS | frozenset(_MONTH_NAMES) | frozenset(name[:3] for name in _MONTH_NAMES) | {"sept"}
# The dash that ends a dateline: a hyphen (one or two) with space after it, an en or em dash, or the
# underscore of 1980s AP copy.
_DASH = re.compile(r"\s*(?:-{1,2}(?=\s)|[–—]\s*|-{1,2}\Z)|\s+_(?=\s)")  # old AP copy: "(AP) _ The …"
# What may follow a first dash and still belong to the dateline: "KANSAS CITY, Mo. - March 2 -".
_DATE_AFTER_DASH = re.compile(
    r"\s*(?P<date>[A-Za-z]{3,10}\.?\s+\d{1,2}|\d{1,2}\s+[A-Za-z]{3,10}\.?)\s*(?P<agency>\([^()\n]{1,40}\))?"
    r"\s*(?:-{1,2}(?=\s)|[–—]\s*)"
)
_AGENCY = re.compile(r"\(\s*(?P<agency>[^()\n]{1,40}?)\s*\)\s*\Z")
_DATE_PART = re.compile(
    r"^(?:(?P<month1>[A-Za-z]{3,10})\.?\s*(?P<day1>\d[\dOo]?\d?)|(?P<day2>\d[\dOo]?)\s*(?P<month2>[A-Za-z]{3,10})\.?)"
    r"(?:\s*,?\s*(?:19|20)\d\d)?$"
)
_DATE_AT_END = re.compile(r"\s+(?P<date>[A-Za-z]{3,10}\.?\s+\d{1,2}|\d{1,2}\s+[A-Za-z]{3,10}\.?)$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
# "****LONDON", a stray keystroke ("c CHICAGO"), a repeat marker ("RPT --LUDWIGSHAFEN")
_JUNK_START = re.compile(r"^(?:[^\w(]+|[a-z]\s+(?=[A-Z]{2})|(?:RPT|REPEAT)\b\s*-*\s*)+")
_STRAY = re.compile(r"(?<=[^\W\d_])[{}\[\]|\\^~`<>]+(?=[^\W\d_])")  # "ME}LBOURNE": a key hit in passing
_PLACE_CHARS = re.compile(r"^[^\W\d_][\w.'’&\- ]*$")
_REGION_CHARS = re.compile(r"^[^\W\d_][\w.'’&\- ]*$")
# Capitalised words that open copy before a dash without being a place.
_NOT_PLACES = frozenset(
    {
        "update",
        "urgent",
        "breaking",
        "exclusive",
        "corrected",
        "correction",
        "refile",
        "advisory",
        "flash",
        "bulletin",
        "alert",
        "note",
        "editors",
        "analysis",
        "factbox",
        "wrapup",
        "preview",
        "interview",
        "insight",
        "column",
        "opinion",
        "photo",
        "video",
        "repeat",
        "rpt",
        "fixture",
        "table",
        "summary",
    }
)
# Words that open a sentence, not a place name: "In Chicago, March 3 - a Tuesday - futures fell."
_SENTENCE_OPENERS = frozenset(
    {
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "after",
        "before",
        "when",
        "while",
        "as",
        "if",
        "but",
        "and",
        "since",
        "despite",
        "amid",
        "under",
        "over",
        "to",
        "it",
        "he",
        "she",
        "they",
        "we",
        "this",
        "that",
        "these",
        "those",
        "there",
        "its",
        "his",
        "her",
        "their",
        "our",
        "analysts",
        "officials",
        "shares",
    }
)
_MAX_HEAD = 120  # a dateline is short; the dash of a long first clause is not its end


@dataclass(frozen=True, slots=True)
class Dateline:
    """What a dateline says: the place in readable form, its region, and the agency, when named."""

    location: str | None
    source: str | None
    region: str | None = None


@lru_cache(maxsize=4)  # a story's body is split when read, when grouped and for its lead, one after the other
def split_dateline(body: str) -> tuple[Dateline | None, str]:
    """Split `body` into its dateline (None when it has none) and the text after it."""
    found = _find(body, field=False)
    if found is None:
        return None, body
    dateline, end = found
    return dateline, body[end:]


def parse_dateline(text: str) -> Dateline | None:
    """Read a dateline given on its own (an SGML `<DATELINE>`, a NewsML `<dateline>`, a `dateline`
    column): "SAN MATEO, Calif., March 2 -" → San Mateo, Calif.; "Paris" → Paris; text of no dateline shape
    gives its first part as the place ("new york" → New York). None when it has no letters."""
    text = " ".join(text.split())
    found = _find(text, field=True)
    if found:
        return found[0]
    # Not a dateline's shape ("new york", "12 Main Street"): the place as given, in readable form
    place = text.split(",")[0].strip().rstrip("-–— ").strip()
    return Dateline(readable_place(place), None) if any(ch.isalpha() for ch in place) else None


def _find(text: str, *, field: bool) -> tuple[Dateline, int] | None:
    line_end = text.find("\n")
    window = text[: line_end if line_end >= 0 else len(text)][: _MAX_HEAD + 40]
    start = len(window) - len(window.lstrip())
    dash = _DASH.search(window, start)
    if dash is None or dash.start() - start > _MAX_HEAD:
        if not field:
            return None
        head, end, strong = window[start:], len(text), False
    else:
        head, end = window[start : dash.start()], dash.end()
        strong = dash.group().strip()[:1] in "–—_" or dash.group().strip() == "--"
        after = _DATE_AFTER_DASH.match(text, dash.end())
        if after and _month(after["date"].split()[0 if after["date"][0].isalpha() else -1]):
            head = f"{head}, {after['date']} {after['agency'] or ''}"
            end = after.end()
    while end < len(text) and text[end] in " \t":
        end += 1
    dateline = _parse_head(head, field=field, strong_dash=strong)
    return (dateline, end) if dateline else None


@lru_cache(maxsize=50_000)  # wire copy repeats its datelines ("WASHINGTON, March 2"), and a body is read often
def _parse_head(head: str, *, field: bool, strong_dash: bool) -> Dateline | None:
    head = _STRAY.sub("", _JUNK_START.sub("", head.strip())).strip()
    source = None
    agency = _AGENCY.search(head)
    if agency:
        source, head = agency["agency"], head[: agency.start()].strip()
    parts = [part.strip().lstrip(".").strip() for part in head.split(",")]
    parts = [part for part in parts if part.strip(" .")]
    dated = False
    while len(parts) > 1 or (parts and source is None and not dated):
        last = parts[-1]
        if _is_date(last) or _YEAR.match(last) or (dated and last.lower().rstrip(".") in _WEEKDAYS):
            dated = dated or not _YEAR.match(last)
            parts.pop()
        elif source is None and len(parts) > 2 and _ends_with_date(parts[-2]) and is_agency(last):
            # "WASHINGTON, March 5, Reuter"; after a date only: "Pa." is a state, not the Press Association
            source = last
            parts.pop()
        else:
            at_end = _DATE_AT_END.search(last)  # "JOHANNESBURG March 3", "RICHMOND, Va. Feb 26"
            if at_end and _is_date(at_end["date"]):
                parts[-1] = last[: at_end.start()].strip()
                dated = True
                # "Posted March 2 -" is no place: a date without its comma follows a place in capitals or a region
                if not field and len(parts) == 1 and not is_shouting(parts[0]):
                    return None
                continue
            break
    if len(parts) == 1 and source and _is_date(parts[0]):  # "March 5 (Bloomberg) --"
        parts = []
    if not parts:
        return Dateline(None, source) if source and is_agency(source) and not field else None
    places = parts[0]
    regions = [part for part in parts[1:] if not any(ch.isdigit() for ch in part)]
    if not _is_places(places, field=field, dated=dated or source is not None):
        return None
    if not all(_REGION_CHARS.match(part) and (part[0].isupper() or field) for part in regions):
        if not field:
            return None
        regions = [part for part in regions if _REGION_CHARS.match(part)]
    if not field and not (source or dated or _looks_like_region(regions) or _lone_city(places, regions, strong_dash)):
        return None
    location = readable_place(places)
    region = canonical_region(", ".join(regions)) if regions else None
    return Dateline(location=location, source=source, region=region or None)


def _is_places(places: str, *, field: bool, dated: bool) -> bool:
    for city in places.split("/"):
        city = city.strip()
        if not city or not _PLACE_CHARS.match(city) or not city[0].isupper():
            return False
        if any(ch.isdigit() for ch in city):  # "TOKYO STOCKS PLUNGE 502.98 TO 21,675.04 -- BROKERS": a headline
            return False
        words = city.split()
        if len(words) > 6 or len(city) > 40 or (not field and words[0].lower() in _SENTENCE_OPENERS):
            return False
        if not field and len(words) == 1 and city.lower().rstrip(".") in _CALENDAR_WORDS:
            return False  # "Monday, March 2 -", "March, 2019 -"; but Augusta is a city, not a typo of August
        # Mixed case not capitalised ("Mexico city, march 18 -", as typed): a few words before a date or agency
        if not field and not is_shouting(city) and not _capitalised(words) and (len(words) > 3 or not dated):
            return False
    return True


def _capitalised(words: list[str]) -> bool:
    """Every word capitalised, but for the particles of names ("Rio de Janeiro", "Coeur d'Alene")."""
    return all(
        word[0].isupper() or word.lower() in PARTICLES or word.lower().startswith(("d'", "d’")) for word in words
    )


def _looks_like_region(regions: list[str]) -> bool:
    return bool(regions) and is_known_region(regions[0])


def _lone_city(places: str, regions: list[str], strong_dash: bool) -> bool:
    """ "WASHINGTON — The Senate …": a city in capitals before an em dash or "--", as newspapers write it."""
    if regions or not strong_dash or not places.isupper() or len(places.replace(".", "")) < 3:
        return False
    key = places.replace(".", "").upper()
    return key not in ACRONYMS and places.lower() not in _NOT_PLACES


def _ends_with_date(text: str) -> bool:
    at_end = _DATE_AT_END.search(text)
    return _is_date(text) or (at_end is not None and _is_date(at_end["date"]))


def _is_date(text: str) -> bool:
    match = _DATE_PART.match(text.strip())
    if not match:
        return False
    day = int((match["day1"] or match["day2"]).replace("O", "0").replace("o", "0"))  # "March 1O", as typed
    if day > 99:  # "March 187": a digit typed twice; the month says it is a date
        day //= 10
    return 1 <= day <= 31 and _month(match["month1"] or match["month2"]) is not None


def _month(word: str) -> int | None:
    """The month a dateline's word names: "March", "MARCH", "Mar", "Mar.", "Sept", and the typos of wire
    copy ("FEb", "MArch", "Marc", "Mach", "Narch", "Marchg"); None for any other word."""
    word = word.lower().rstrip(".")
    if len(word) < 3:
        return None
    if word in _ABBREVIATIONS:
        return _ABBREVIATIONS[word]
    for number, name in enumerate(_MONTH_NAMES, start=1):
        if name.startswith(word):
            return number
    if len(word) >= 4:
        for number, name in enumerate(_MONTH_NAMES, start=1):
            if len(name) >= 5 and _one_edit(word, name):
                return number
    return None


def _one_edit(word: str, name: str) -> bool:
    """True when `word` is `name` with one letter changed, added or left out."""
    if abs(len(word) - len(name)) > 1:
        return False
    if len(word) == len(name):
        return sum(a != b for a, b in zip(word, name, strict=True)) == 1
    short, long = (word, name) if len(word) < len(name) else (name, word)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def readable_place(place: str) -> str:
    """ "NEW YORK" → "New York", "WASHINGTON/LONDON" → "Washington/London", "RIO DE JANEIRO" → "Rio de
    Janeiro", "La paz" → "La Paz", "UK" stays "UK"; a place its source cased is kept, but for words left
    in lower case that are no particle."""
    return "/".join(_readable_city(part.strip()) for part in place.strip().split("/"))


def _readable_city(city: str) -> str:
    words = display_name(city, place=True).split(" ")
    return " ".join(
        word[:1].upper() + word[1:] if i and word.islower() and word not in PARTICLES and "'" not in word else word
        for i, word in enumerate(words)
    )


# "(Reporting by A and B; Additional reporting by C; Editing by D)" as the story's last paragraph.
_CREDIT_LINE = re.compile(r"\n\s*\((?P<inner>[A-Z][^()\n]*?\bby\b[^()\n]*)\)\s*\Z", re.IGNORECASE)
_CREDIT_PART = re.compile(r"^\s*(?P<role>[A-Za-z][A-Za-z ]*?)\s+by\s+(?P<names>.+?)\s*$", re.IGNORECASE)


def split_credits(body: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """Split a closing credit line off `body`: (the body without it, [(role, names), …])."""
    match = _CREDIT_LINE.search(body)
    if not match:
        return body, []
    credits = credit_parts(match["inner"])
    if not credits:
        return body, []
    return body[: match.start()].rstrip(), credits


def credit_parts(text: str) -> list[tuple[str, list[str]]]:
    """ "Reporting by A and B; Editing by C" → [("Reporting", ["A", "B"]), ("Editing", ["C"])]."""
    credits = []
    for part in text.split(";"):
        part_match = _CREDIT_PART.match(part)
        if part_match:
            role = part_match["role"].strip().capitalize()
            credits.append((role, split_names(part_match["names"])))
    return credits


def split_names(text: str) -> list[str]:
    """ "A, B and C" → ["A", "B", "C"]: the people named, agencies left out (see `names.split_bylines`)."""
    return split_bylines(text)
