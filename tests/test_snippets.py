"""Snippets: the best passage, matched words marked, everything else escaped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsindex.search.snippets import SNIPPET_CHARS, snippet
from newsindex.store.schema import index_words, stem


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


def test_a_passage_starts_at_its_sentence_not_at_an_abbreviation() -> None:
    # "U.S." and "Jan." end no sentence: the passage starts where the sentence does, with nothing cut.
    assert mark("U.S. officials said tariffs would rise.", "tariffs").startswith("U.S. officials said <mark>")
    assert mark("Talks began on Jan. 5 in Geneva.", "geneva").startswith("Talks began on Jan. 5 in <mark>")
    marked = mark("Officials met in the U.S. capital. They said tariffs would rise.", "tariffs")
    assert marked.startswith("… They said <mark>tariffs</mark>")  # a full stop before a new sentence does


def test_text_is_escaped_and_fallback_used_without_matches() -> None:
    assert mark("a <b> & iran", "iran") == "a &lt;b&gt; &amp; <mark>iran</mark>"
    assert snippet("no match here", terms("iran"), [], fallback="Lead <x>") == "Lead &lt;x&gt;"


# -- the query's words found without cutting every word (schema.matched_words) ---------------------------

_WIRE_WORDS = [
    "Dying", "lying", "early", "EARLY", "January", "trading", "traders", "possibility", "abilities", "oil", "toil",
    "Oil-rich", "U.S.", "US", "U.K.", "N.A.S.A.", "NASA", "<IBM>", "<C>", "IBM's", "AT&T", "C++", "5%", "pct",
    "percent", "1,000", "10mln", "3.5", "https://www.reuters.com/oil", "www.nasa.gov", "company's", "companies",
    "the", "it", "IT", "rates", "rated", "rating", "Tiranë", "skies", "sky", "news", "bias", "vying", "dies",
]  # fmt: skip
_GAPS = [" ", "  ", "\n", "\n\n", ", ", ". ", " - ", "-", "'", "(", ") ", " <", "/", " & "]


def _wire_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(_WIRE_WORDS), st.sampled_from(_GAPS)), max_size=40))
    return "".join(word + gap for word, gap in parts)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_matched_words_are_the_words_of_index_words_with_the_terms(data: st.DataObject) -> None:
    from newsindex.store.schema import NewsAnalyzer, matched_words

    text = data.draw(st.composite(_wire_text)())
    words = data.draw(st.lists(st.sampled_from(_WIRE_WORDS), min_size=1, max_size=3))
    analyzer = data.draw(st.sampled_from([NewsAnalyzer(), NewsAnalyzer(analysis=1), None]))
    limit = data.draw(st.sampled_from([None, 0, 7, 40, 200]))
    wanted = {term for _, _, term in index_words(" ".join(words), analyzer)}
    expected = [
        word for word in index_words(text, analyzer) if word[2] in wanted and (limit is None or word[0] < limit)
    ]
    assert list(matched_words(text, wanted, analyzer, limit=limit)) == expected


def test_snippets_from_matched_words_equal_those_from_every_word() -> None:
    from newsindex.store.schema import NewsAnalyzer, matched_words

    analyzer = NewsAnalyzer()
    text = "OIL-RICH STATES MEET. Oil prices rose; traders said the U.S. was dying for oil. " * 30
    wanted = {term for _, _, term in index_words("oil traders dying", analyzer)}
    assert snippet(text, wanted, matched_words(text, wanted, analyzer)) == snippet(
        text, wanted, index_words(text, analyzer)
    )
