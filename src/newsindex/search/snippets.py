"""Snippets: the passage of a story where the query's words are densest, matched words marked.

Linear in the story's length: the words are read once (at most SCAN_CHARS of the story, and not past
the request's deadline), and the best passage is found by one sliding window over the matches. A phrase
(`"debt moratorium"`, or `"debt moratorium"~3` within three words) counts and is marked only where its
words stand as the phrase asks, never as lone words.
"""

from __future__ import annotations

import html
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from newsindex.models import sentence_ends
from newsindex.store.schema import GAP, _index_form

SNIPPET_CHARS = 260
SCAN_CHARS = 200_000  # of a longer story (a 9 MB one, say), only this much is searched for a passage
_LEAD_IN = 100  # a passage starts at its sentence when the sentence began at most this far back
_CHECK_EVERY = 2_048  # words read between looks at the deadline
window_steps = 0  # the sliding window's moves, all snippets together (a test counts them: linear work)


@dataclass(frozen=True, slots=True)
class Phrase:
    """Index words that must stand in this order, each `gaps[i]` places after the one before (1: the next
    word; more where the phrase holds stop words an index of analysis 3 keeps places for), or up to
    `slop` - 1 places further."""

    words: tuple[str, ...]
    slop: int = 1
    gaps: tuple[int, ...] = ()

    def gap(self, index: int) -> int:
        """The places from word `index` to the next."""
        return self.gaps[index] if index < len(self.gaps) else 1


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    key: str | Phrase  # what the window counts as one distinct match: a word, or a phrase
    marks: tuple[tuple[int, int], ...]


def snippet(
    text: str,
    terms: set[str],
    words: Iterable[tuple[int, int, str]],
    *,
    fallback: str = "",
    phrases: Sequence[Phrase] = (),
    after: int = 0,
    expired: Callable[[], bool] | None = None,
) -> str:
    """An HTML fragment of `text` around its best run of `terms` and `phrases`: text escaped, matches in
    <mark>.

    `words` are (start, end, term) for the words of `text`, as the index analyses them (so "attacks"
    matches the stemmed term "attack"). The passage starts at or after `after` (the end of a lead shown
    above it already). With no match, the text following `after` (the escaped `fallback` when `after` is 0);
    `expired()` true stops the reading of words (the request's deadline passed): the best passage so far.
    """
    matches = _matches(text, terms, words, phrases, after, expired)
    if not matches:
        if after <= 0:
            return html.escape(fallback, quote=False)
        rest = text[after:].lstrip()
        if not rest:
            return ""
        start = len(text) - len(rest)
        end = min(len(text), start + SNIPPET_CHARS)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > start else end
        tail = " …" if end < len(text) else ""
        return " ".join((html.escape(text[start:end], quote=False) + tail).split())
    start, end = _window(text, matches, after)
    parts = ["… " if text[after:start].strip() else ""]  # text skipped (the lead shown above is not)
    position = start
    marks = sorted({mark for match in matches for mark in match.marks if mark[0] >= start and mark[1] <= end})
    for mark_start, mark_end in marks:
        if mark_start < position:
            continue  # overlapping marks (a word of two phrases): marked once
        parts.append(html.escape(text[position:mark_start], quote=False))
        parts.append(f"<mark>{html.escape(text[mark_start:mark_end], quote=False)}</mark>")
        position = mark_end
    parts.append(html.escape(text[position:end], quote=False))
    parts.append(" …" if end < len(text) else "")
    return " ".join("".join(parts).split())


def _matches(
    text: str,
    terms: set[str],
    words: Iterable[tuple[int, int, str]],
    phrases: Sequence[Phrase],
    after: int,
    expired: Callable[[], bool] | None,
) -> list[_Match]:
    """The matched words and phrases of `text` past `after`, in order: one pass over the words."""
    phrase_words = {word for phrase in phrases for word in phrase.words}
    found: list[_Match] = []
    # For phrases: where (position among indexed words) each phrase word stands, and its characters.
    places: dict[str, list[int]] = {word: [] for word in phrase_words}
    spans: list[tuple[int, int]] = []
    position = -1
    for count, (start, end, term) in enumerate(words):
        if start >= SCAN_CHARS or (expired is not None and count % _CHECK_EVERY == 0 and count and expired()):
            break
        if start < after:
            continue
        if term in terms:
            found.append(_Match(start, end, term, ((start, end),)))
        if phrase_words:
            if term == GAP:  # a stop word whose place the index keeps (analysis 3)
                position += 1
                spans.append((start, end))
                continue
            if _index_form(text[start:end]) is None:
                continue  # a common word: not indexed, takes no position
            position += 1
            spans.append((start, end))
            if term in places:
                places[term].append(position)
    for phrase in phrases:
        found.extend(_phrase_matches(phrase, places, spans))
    found.sort(key=lambda match: (match.start, match.end))
    return found


def _phrase_matches(phrase: Phrase, places: dict[str, list[int]], spans: list[tuple[int, int]]) -> list[_Match]:
    """Where the phrase's words stand in order, each its gap (to its gap + `slop` - 1) after the one before."""
    found = []
    following = [places.get(word, []) for word in phrase.words[1:]]
    for first in places.get(phrase.words[0], []):
        chain = [first]
        for number, positions in enumerate(following):
            nearest = chain[-1] + phrase.gap(number)
            index = bisect_left(positions, nearest)
            if index == len(positions) or positions[index] > nearest + phrase.slop - 1:
                break
            chain.append(positions[index])
        else:
            marks = tuple(spans[place] for place in chain)
            found.append(_Match(marks[0][0], marks[-1][1], phrase, marks))
    return found


def _window(text: str, matches: list[_Match], after: int) -> tuple[int, int]:
    """The span of about SNIPPET_CHARS holding the most distinct matches (earliest on ties): one sliding
    window over the matches, each entering and leaving it once."""
    global window_steps
    inside: Counter[str | Phrase] = Counter()
    best, best_distinct, right, steps = 0, -1, 0, 0
    for left, match in enumerate(matches):
        limit = match.start + SNIPPET_CHARS
        while right < len(matches) and matches[right].start < limit:
            inside[matches[right].key] += 1
            right += 1
            steps += 1
        if len(inside) > best_distinct:
            best, best_distinct = left, len(inside)
        inside[match.key] -= 1
        if not inside[match.key]:
            del inside[match.key]
        steps += 1
    window_steps += steps
    first = matches[best].start
    # The sentence holding the first match starts after the last sentence end before it in its paragraph
    # ("U.S." and "Jan." end none); looked for only as far back as a passage may start at it.
    paragraph = max(after, text.rfind("\n", after, first) + 1)
    ends = list(sentence_ends(text, max(paragraph, first - 2 * _LEAD_IN), min(first + 1, len(text))))
    sentence = ends[-1] if ends else paragraph
    start = sentence if first - sentence <= _LEAD_IN else max(after, text.rfind(" ", 0, first - _LEAD_IN // 2) + 1)
    end = start + SNIPPET_CHARS
    if end >= len(text):
        return start, len(text)
    space = text.rfind(" ", start, end)
    return start, space if space > first else end
