"""Snippets: the passage of a story where the query's words are densest, matched words marked."""

from __future__ import annotations

import html
from collections.abc import Iterable

SNIPPET_CHARS = 260
_LEAD_IN = 100  # a passage starts at its sentence when the sentence began at most this far back


def snippet(text: str, terms: set[str], words: Iterable[tuple[int, int, str]], *, fallback: str = "") -> str:
    """An HTML fragment of `text` around its best run of `terms`: text escaped, matches in <mark>.

    `words` are (start, end, term) for the words of `text`, as the index analyses them (so "attacks"
    matches the stemmed term "attack"); with no match at all, the escaped `fallback` is returned.
    """
    matches = [word for word in words if word[2] in terms]
    if not matches:
        return html.escape(fallback, quote=False)
    start, end = _window(text, matches)
    parts = ["… " if start > 0 else ""]
    position = start
    for match_start, match_end, _ in matches:
        if match_start < start or match_end > end:
            continue
        parts.append(html.escape(text[position:match_start], quote=False))
        parts.append(f"<mark>{html.escape(text[match_start:match_end], quote=False)}</mark>")
        position = match_end
    parts.append(html.escape(text[position:end], quote=False))
    parts.append(" …" if end < len(text) else "")
    return " ".join("".join(parts).split())


def _window(text: str, matches: list[tuple[int, int, str]]) -> tuple[int, int]:
    """The span of about SNIPPET_CHARS holding the most distinct matched words (earliest on ties)."""

    def distinct_words_from(index: int) -> int:
        limit = matches[index][0] + SNIPPET_CHARS
        return len({word for start, _, word in matches[index:] if start < limit})

    best = max(range(len(matches)), key=lambda index: (distinct_words_from(index), -index))
    first = matches[best][0]
    full_stop, newline = text.rfind(". ", 0, first), text.rfind("\n", 0, first)
    sentence = max(full_stop + 2 if full_stop >= 0 else 0, newline + 1)
    start = sentence if first - sentence <= _LEAD_IN else text.rfind(" ", 0, first - _LEAD_IN // 2) + 1
    end = start + SNIPPET_CHARS
    if end >= len(text):
        return start, len(text)
    space = text.rfind(" ", start, end)
    return start, space if space > first else end
