"""The query guard: hostile queries are answered with an error naming the cap, never obeyed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsindex import Filters, NewsIndex, QueryError, QueryRejectedError, Story
from newsindex.search import query as query_module
from newsindex.search.query import MAX_EXPANSION, MAX_NESTING, MAX_QUERY_CHARS, MAX_WORDS

# The work a query may do is counted here, not timed (time belongs in benchmarks/latency.py): posting
# lists opened. Each word or pattern match is read in a few fields, a few times (scoring, then the
# all-words tier); a query that got past its caps (an expansion past MAX_EXPANSION words, more than
# MAX_WORDS words) opens more.
POSTINGS_BOUND = 8 * (MAX_WORDS + MAX_EXPANSION)


@pytest.fixture
def postings_opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A one-item list counting the posting lists searches open (Whoosh's per-segment reader hook)."""
    from whoosh.reading import SegmentReader

    opened = [0]
    original = SegmentReader.postings

    def postings(self: Any, *args: Any, **kwargs: Any) -> Any:
        opened[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SegmentReader, "postings", postings)
    yield opened


@pytest.fixture(scope="module")
def wordy(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    """An index whose vocabulary has thousands of words starting with "a" (for expansion caps)."""
    news = NewsIndex.create(tmp_path_factory.mktemp("guard") / "index")
    words = [f"a{n:05d}x" for n in range(MAX_EXPANSION + 500)]
    stories = [Story(id=f"s{n}", body=" ".join(words[n::40]) + " terrorism women woman") for n in range(40)]
    stories.append(Story(id="terror", body="Terrorists and terror groups; Terrorism experts."))
    news.add(stories)
    return news


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("*", "a bare \\* would list every story"),
        ("*:*", "a bare \\* would list every story"),
        ("*a*", "starts with a wildcard"),
        ("??*", "a bare \\?\\?\\* would list every story"),
        ("?a*", "starts with a wildcard"),
        ("iran *ism", "starts with a wildcard"),
        ("a*", f"match more than {MAX_EXPANSION:,} words"),
        ("a* b* c* d* e*", f"match more than {MAX_EXPANSION:,} words"),
        ("body:[a TO z]", "ranges work on dates only"),
        ("body:[a TO]", "ranges work on dates only"),
        ("(" * (MAX_NESTING + 1) + "iran" + ")" * (MAX_NESTING + 1), "nests parentheses"),
        (" ".join(f"w{n}" for n in range(MAX_WORDS + 1)), "distinct words; the limit"),
        ("women -a*", f"match more than {MAX_EXPANSION:,} words"),  # in filters and exclusions too
        ("iran~3", "too many edits"),
        ("a" * 31 + "~1", "too long to match loosely"),
        ("x" * (MAX_QUERY_CHARS + 1), "characters long; the limit"),
    ],
)
def test_hostile_queries_are_rejected_with_the_cap_named(
    wordy: NewsIndex, postings_opened: list[int], query: str, message: str
) -> None:
    with pytest.raises(QueryRejectedError, match=message):
        wordy.search(query)
    assert postings_opened[0] == 0  # refused before any posting list was read


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("terror*", {"terror"}),  # stems: terrorist, terror, terrorism → all start with "terror"
        ("TERROR*", {"terror"}),  # patterns are folded like indexed words
        ("wom?n", {f"s{n}" for n in range(40)}),
        ("a00001x", {"s1"}),
    ],
)
def test_reasonable_patterns_still_work(wordy: NewsIndex, query: str, expected: set[str]) -> None:
    found = {hit.story.id for hit in wordy.search(query, limit=100).hits}
    assert expected <= found
    if query.startswith(("terror", "TERROR")):
        assert "terror" in found and len(found) == 41


QUERY_PARTS = st.sampled_from(
    ["iran", "albania", '"', "(", ")", "AND", "OR", "NOT", "-", "+", "*", "?", "~", "^2", ":", "byline:", "date:",
     "date:[2019 TO", "]", "{", "}", "TO", "2019-02-30", "a*", "\\", "'", " ", "body:", "colour:", "é", "\x00"]
)  # fmt: skip


def test_fuzzy_words_count_toward_the_expansion_cap(wordy: NewsIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    assert wordy.search("a00001x~2").total == 40  # ~320 words two edits away, in every story
    monkeypatch.setattr(query_module, "MAX_EXPANSION", 300)
    with pytest.raises(QueryRejectedError, match="a00001x~2 and the other patterns match more than 300 words"):
        wordy.search("a00001x~2")
    assert wordy.search("a00001x~1").total == 14  # 31 words one edit away (a swap is one), in 14 stories


def test_a_word_repeated_or_searched_in_several_fields_counts_once(wordy: NewsIndex) -> None:
    words = [f"w{n}" for n in range(MAX_WORDS - 1)]
    topic = " ".join([*words, "women", "headline:women", "women"])  # ~400 clauses (word × field), 200 words
    assert wordy.search(topic).total == 40  # searched, not refused


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(QUERY_PARTS, st.text(max_size=20)), max_size=60))
def test_fuzzed_queries_raise_only_our_query_errors_and_stay_within_the_caps(
    wordy: NewsIndex, postings_opened: list[int], parts: list[str]
) -> None:
    text = " ".join(parts)
    postings_opened[0] = 0  # one example of many
    with suppress(QueryError, QueryRejectedError):  # ours; anything else fails the test
        wordy.search(text)
    assert postings_opened[0] <= POSTINGS_BOUND


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=MAX_QUERY_CHARS - 50, max_size=10_000))
def test_long_fuzzed_queries_stay_within_the_caps(wordy: NewsIndex, postings_opened: list[int], text: str) -> None:
    postings_opened[0] = 0  # one example of many
    with suppress(QueryError, QueryRejectedError):
        wordy.search(text)
    assert postings_opened[0] <= POSTINGS_BOUND


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(st.one_of(QUERY_PARTS, st.text(max_size=20)), max_size=60).map(" ".join), st.text()))
def test_plain_mode_never_fails_but_for_having_no_word(wordy: NewsIndex, postings_opened: list[int], text: str) -> None:
    postings_opened[0] = 0  # one example of many
    try:
        wordy.search(text, filters=Filters(plain=True))
    except QueryError as error:
        assert str(error).startswith("nothing to search for")  # only common words, or no words at all
    assert postings_opened[0] <= POSTINGS_BOUND


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=MAX_QUERY_CHARS, max_size=20_000))
def test_plain_mode_takes_long_texts_too(wordy: NewsIndex, postings_opened: list[int], text: str) -> None:
    postings_opened[0] = 0  # one example of many
    with suppress(QueryError):
        wordy.search(text, filters=Filters(plain=True))
    assert postings_opened[0] <= POSTINGS_BOUND


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=MAX_QUERY_CHARS // 2, max_size=MAX_QUERY_CHARS))
def test_fuzzy_long_texts_stay_within_the_caps(wordy: NewsIndex, postings_opened: list[int], text: str) -> None:
    postings_opened[0] = 0  # one example of many
    with suppress(QueryError, QueryRejectedError):
        wordy.search(text, filters=Filters(fuzzy=True))
    with suppress(QueryError, QueryRejectedError):  # plain and fuzzy: as many fuzzy words as fit the cap
        wordy.search(text, filters=Filters(plain=True, fuzzy=True))
    assert postings_opened[0] <= POSTINGS_BOUND
