"""Names of people and places as wire copy writes them, and the identity behind the spellings.

`name_key` is the identity: "Peter Torday", "PETER TORDAY" and "Péter Torday" are one person, "St. Louis"
and "ST LOUIS" one place. `display_name` is the readable form of one spelling: names written in capitals
(or all in lower case) are re-cased by the rules of names ("MCLEAN" → "McLean", "RIO DE JANEIRO" →
"Rio de Janeiro", "MARK O'NEILL" → "Mark O'Neill"); a name the source already cased is left as written.
`best_display` picks, among the spellings of one identity, the one to show.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Words kept in capitals whatever the case around them.
ACRONYMS = frozenset(
    {"US", "USA", "UK", "UN", "EU", "UAE", "DC", "NATO", "OPEC", "IMF", "WTO", "DRC", "USSR", "II", "III", "IV"}
)
# Particles written in lower case inside a name, never at its start: "Rio de Janeiro", "Ludwig van
# Beethoven", "Dar es Salaam", "King of Prussia", "Frankfurt am Main".
PARTICLES = frozenset(
    {
        "de",
        "da",
        "das",
        "do",
        "dos",
        "du",
        "des",
        "del",
        "della",
        "der",
        "den",
        "van",
        "von",
        "di",
        "la",
        "le",
        "el",
        "es",
        "y",
        "e",
        "of",
        "the",
        "on",
        "upon",
        "am",
        "im",
        "an",
        "sur",
        "en",
        "bin",
        "ibn",
        "ter",
        "ten",
        "zu",
    }
)
# Particles between hyphens: "Port-au-Prince", "Aix-en-Provence", "Stratford-upon-Avon", "Saint-Jean-de-Luz".
_HYPHEN_PARTICLES = frozenset(
    {
        "au",
        "aux",
        "en",
        "sur",
        "sous",
        "upon",
        "on",
        "de",
        "du",
        "des",
        "la",
        "le",
        "les",
        "di",
        "da",
        "del",
        "am",
        "im",
        "an",
        "der",
        "in",
        "the",
    }
)
# Agencies: never a byline. Keys (see `name_key`) of their names and abbreviations.
AGENCIES = frozenset(
    name_part
    for name_part in (
        "reuters",
        "reuter",
        "ap",
        "associated press",
        "the associated press",
        "afp",
        "agence france presse",
        "agence france-presse",
        "upi",
        "united press international",
        "bloomberg",
        "bloomberg news",
        "dpa",
        "deutsche presse agentur",
        "deutsche presse-agentur",
        "kyodo",
        "kyodo news",
        "xinhua",
        "ansa",
        "efe",
        "tass",
        "itar tass",
        "itar-tass",
        "interfax",
        "yonhap",
        "jiji",
        "jiji press",
        "press association",
        "pa",
        "canadian press",
        "cp",
        "aap",
        "australian associated press",
        "dow jones",
        "dow jones newswires",
        "anp",
        "belga",
        "apa",
        "ctk",
        "pap",
        "ria novosti",
        "bernama",
        "antara",
        "pti",
        "press trust of india",
        "mena",
        "wafa",
        "irna",
        "sapa",
        "nan",
        "ips",
        "reuters staff",
    )
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)  # letters, with inner apostrophes
_NOT_KEY = re.compile(r"[^\w\s]|_", re.UNICODE)
# Mac is a prefix of MacDonald, MacGregor, MacLeod, MacMillan, MacNeil, MacPherson…, not of Macon or Machado.
_MAC = re.compile(r"(?i)^mac(?=[dglmnpqrt][a-z]{2,}$)")


@lru_cache(maxsize=100_000)
def name_key(name: str) -> str:
    """The identity of a name: case, accents, punctuation and spacing folded away.

    "Peter Torday", "PETER TORDAY" and "Péter  Torday" → "peter torday"; "St. Louis" and "ST LOUIS" →
    "st louis"; "O'Neill" → "oneill". Filters, facets and comparisons of names go through this.
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("-", " ").replace("/", " / ")
    return " ".join(_NOT_KEY.sub("", plain).split())


def is_shouting(text: str) -> bool:
    """True when `text` is written in capitals (most of its letters) or all in lower case: a spelling
    that says nothing of how the name is cased."""
    upper = sum(1 for ch in text if ch.isupper())
    lower = sum(1 for ch in text if ch.islower())
    return (upper + lower) > 0 and (upper > lower or upper == 0)


@lru_cache(maxsize=100_000)
def display_name(name: str, *, place: bool = False) -> str:
    """The readable form of a name: re-cased by the rules of names when written in capitals or in lower
    case ("PETER TORDAY" → "Peter Torday", "MCLEAN" → "McLean", "LA PAZ" → "La Paz", "ST. LOUIS" →
    "St. Louis", "BASHAR AL-ASSAD" → "Bashar al-Assad"; with `place`, "COEUR D'ALENE" → "Coeur d'Alene" where
    a person is "Alfonse D'Amato"); a name already cased by its source is kept as written, spaces tidied."""
    name = " ".join(name.split())
    if not is_shouting(name):
        return name
    parts: list[str] = []
    position = 0
    matches = list(_WORD.finditer(name))
    for number, match in enumerate(matches):
        parts.append(name[position : match.start()])
        before = name[match.start() - 1] if match.start() else " "
        after = name[match.end()] if match.end() < len(name) else " "
        inner = 0 < number < len(matches) - 1  # a particle is lower case between words, never first or last
        parts.append(_case_word(match.group(), first=number == 0, inner=inner, before=before, after=after, place=place))
        position = match.end()
    parts.append(name[position:])
    return "".join(parts)


def _case_word(word: str, *, first: bool, inner: bool, before: str, after: str, place: bool) -> str:
    lower = word.lower()
    if word.upper() in ACRONYMS and len(word) > 1 and word.isupper():
        return word.upper()
    if inner and before == " " and after in " " and lower in PARTICLES:
        return lower
    if inner and before == "-" and after == "-" and lower in _HYPHEN_PARTICLES:  # "Port-au-Prince"
        return lower
    if not first and before in " " and after == "-" and lower == "al":  # "Bashar al-Assad"
        return lower
    if "'" in lower or "’" in lower:
        apostrophe = "'" if "'" in lower else "’"
        head, _, tail = lower.partition(apostrophe)
        if len(head) == 1 and tail:  # O'Neill, D'Amato; inside a place's name "Coeur d'Alene"
            head = head if (place and not first and head == "d" and before == " ") else head.upper()
            return f"{head}{apostrophe}{_capitalize(tail)}"
        if tail in ("s", "t", "ll", "re", "ve", "d"):  # "MACY'S" → "Macy's"
            return f"{_capitalize(head)}{apostrophe}{tail}"
        return f"{_capitalize(head)}{apostrophe}{_capitalize(tail)}"
    return _capitalize(lower)


def _capitalize(lower: str) -> str:
    if lower.startswith("mc") and len(lower) > 3:
        return "Mc" + lower[2].upper() + lower[3:]
    if _MAC.match(lower):
        return "Mac" + lower[3].upper() + lower[4:]
    return lower[:1].upper() + lower[1:]


def best_display(spellings: Iterable[tuple[str, int]]) -> str:
    """The spelling to show for one identity, from (spelling, count) pairs: a cased spelling before one in
    capitals, then the most common, then the one with accents ("José" over "Jose"), then alphabetical order."""
    ranked = sorted(
        spellings, key=lambda pair: (is_shouting(pair[0]), -pair[1], pair[0].isascii(), pair[0].casefold(), pair[0])
    )
    if not ranked:
        raise ValueError("no spellings")
    return ranked[0][0]  # as stored: readers store names readable already, and "AP" is no "Ap"


def is_agency(name: str) -> bool:
    """True for the name of a news agency ("Reuters", "REUTERS.", "The Associated Press", "dpa"), also with
    one stray letter typed after a long one ("Reutersd"): never a byline."""
    key = name_key(name)
    return key in AGENCIES or (len(key) >= 7 and key[:-1] in AGENCIES)


# "By A and B", "A AND B", "A, B and C", "A & B"; a comma may close with an agency ("A, Reuters").
_BY = re.compile(r"^\s*by[:\s]+", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*[,;]\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+|\s*&\s*|\s+/\s+", re.IGNORECASE)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md"})
# A job: "Staff Writer", "Chief Economics Correspondent", "Science Editor", "Bureau Chief".
_TITLES = re.compile(
    r"^(?:[^\W\d_]+\s+){0,3}(?:writer|correspondent|reporter|editor|columnist|staff|analyst|contributor|"
    r"bureau\s+chief)s?$",
    re.IGNORECASE,
)


def _is_role(part: str) -> bool:
    """ "Staff Writer", "Reuters Correspondent", "AP Business Writer": a job, not a name."""
    words = part.split()
    for length in range(len(words), 0, -1):  # the agency may have several words: "Associated Press Writer"
        if is_agency(" ".join(words[:length])):
            words = words[length:]
            break
    return _TITLES.match(" ".join(words)) is not None


def split_bylines(text: str) -> list[str]:
    """The people a byline names, in order, each in readable form: "By A and B" / "A AND B" / "A, B and C"
    → ["A", "B", "C"]; agencies ("Reuters", "AP") and job titles ("Staff Writer") are dropped, "Jr." stays
    with its name, a trailing agency word ("By Brad Schade Reuters") goes."""
    names: list[str] = []
    for part in _SEPARATOR.split(_BY.sub("", text.strip())):
        part = part.strip(" \t.,;:-–—()") if part.strip().lower().rstrip(".") not in _SUFFIXES else part.strip()
        if not part:
            continue
        if name_key(part) in _SUFFIXES and names:
            names[-1] = f"{names[-1]}, {part}"
            continue
        if is_agency(part) or _is_role(part) or not any(ch.isalpha() for ch in part):
            continue
        words = part.split()
        while len(words) > 2 and is_agency(words[-1]):  # "Brad Schade Reuters"
            words.pop()
        names.append(display_name(" ".join(words)))
    return names


def merge_spellings(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts per spelling → counts per identity, each under its best spelling (`best_display`):
    {"Peter Torday": 22, "PETER TORDAY": 2} → {"Peter Torday": 24}. What facets and stats show, so that one
    person is one value whatever the spellings stored (filters already match names case-blind)."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for spelling, count in counts.items():
        groups.setdefault(name_key(spelling) or spelling, []).append((spelling, count))
    return {best_display(spellings): sum(count for _, count in spellings) for spellings in groups.values()}
