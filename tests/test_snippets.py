"""Snippets: the best passage, matched words marked, everything else escaped."""

from __future__ import annotations

from newsindex.schema import index_words, stem
from newsindex.snippets import SNIPPET_CHARS, snippet


def terms(*words: str) -> set[str]:
    return {stem(word) for word in words}


def mark(text: str, *words: str) -> str:
    return snippet(text, terms(*words), index_words(text))


def test_matches_are_marked_by_stem_and_case() -> None:
    marked = mark("Police foiled ATTACKS by agents.", "attack")
    assert marked == "Police foiled <mark>ATTACKS</mark> by agents."


def test_the_passage_with_most_distinct_words_wins() -> None:
    filler = "Nothing happened here at all. " * 20
    text = f"Iran is named once. {filler}Albania and Iran met today. {filler}"
    marked = mark(text, "albania", "iran")
    assert marked.startswith("… <mark>Albania</mark> and <mark>Iran</mark> met today.")
    assert marked.endswith(" …")
    assert len(marked) < SNIPPET_CHARS + 60


def test_text_is_escaped_and_fallback_used_without_matches() -> None:
    assert mark("a <b> & iran", "iran") == "a &lt;b&gt; &amp; <mark>iran</mark>"
    assert snippet("no match here", terms("iran"), [], fallback="Lead <x>") == "Lead &lt;x&gt;"
