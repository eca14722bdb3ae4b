"""Wire-copy conventions: the dateline that opens a story and the credit line that closes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The real shapes: "TIRANA (Reuters) -", "WASHINGTON/LONDON (Reuters) -", "NEW YORK, Oct 23 (Reuters) -",
# "ST. PETERSBURG, Fla. (Reuters) -" and older copy without an agency, "SALVADOR, Feb 26 -".
_DATELINE = re.compile(
    r"""
    \A\s*
    (?P<place>[A-Z][A-Z'.&-]*(?:[ /][A-Z][A-Z'.&-]*)*)         # upper-case place names, / between several
    (?:,\s*(?P<qualifier>[A-Z][A-Za-z.]*(?:\ [A-Z][a-z.]+)*(?:\ \d{1,2})?))?   # ", Oct 23" or ", Fla."
    \s*(?:\((?P<source>[^()\n]{1,40})\)\s*)?
    (?:-{1,2}\s+|[–—]\s*)                                       # a dash; – and — may touch the text
    """,
    re.VERBOSE,
)
# "(Reporting by A and B; Additional reporting by C; Editing by D)" as the story's last paragraph.
_CREDIT_LINE = re.compile(r"\n\s*\((?P<inner>[A-Z][^()\n]*?\bby\b[^()\n]*)\)\s*\Z", re.IGNORECASE)
_CREDIT_PART = re.compile(r"^\s*(?P<role>[A-Za-z][A-Za-z ]*?)\s+by\s+(?P<names>.+?)\s*$", re.IGNORECASE)
_PLACE_WORD = re.compile(r"[^\s/-]+")  # words of a place name, split at spaces, slashes and hyphens
_ACRONYMS = frozenset({"US", "USA", "UK", "UN", "EU", "UAE", "DC", "NATO", "OPEC", "IMF", "WTO", "DRC"})
_NAME_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*")


@dataclass(frozen=True, slots=True)
class Dateline:
    """What a dateline says: the place in readable form and the agency, when named."""

    location: str
    source: str | None


def split_dateline(body: str) -> tuple[Dateline | None, str]:
    """Split `body` into its dateline (None when it has none) and the text after it."""
    match = _DATELINE.match(body)
    # Every real shape names an agency or a date; without either, "US - China talks" would be a dateline.
    if not match or not (match["source"] or match["qualifier"]) or not any(ch.isalpha() for ch in match["place"]):
        return None, body
    source = match["source"].strip() if match["source"] else None
    return Dateline(location=readable_place(match["place"]), source=source), body[match.end() :]


def readable_place(place: str) -> str:
    """ "NEW YORK" → "New York", "WASHINGTON/LONDON" → "Washington/London", "UK" stays "UK"."""
    return _PLACE_WORD.sub(_capitalize_place_word, place.strip())


def _capitalize_place_word(match: re.Match[str]) -> str:
    word = match.group()
    if word.upper() in _ACRONYMS:
        return word.upper()
    return word[0].upper() + word[1:].lower()


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
    """ "A, B and C" → ["A", "B", "C"]; empty parts are dropped."""
    return [name.strip() for name in _NAME_SEPARATOR.split(text.strip()) if name.strip()]
