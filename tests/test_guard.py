"""The query guard: hostile queries are answered with an error naming the cap, never obeyed."""

from __future__ import annotations

import time
from contextlib import suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsindex import NewsIndex, QueryError, QueryRejectedError, Story
from newsindex.query import MAX_CLAUSES, MAX_EXPANSION, MAX_NESTING, MAX_QUERY_CHARS


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
        ("??*", "a bare \\* would list every story"),
        ("?a*", "starts with a wildcard"),
        ("iran *ism", "starts with a wildcard"),
        ("a*", f"match more than {MAX_EXPANSION:,} words"),
        ("a* b* c* d* e*", f"match more than {MAX_EXPANSION:,} words"),
        ("body:[a TO z]", "ranges work on dates only"),
        ("body:[a TO]", "ranges work on dates only"),
        ("(" * (MAX_NESTING + 1) + "iran" + ")" * (MAX_NESTING + 1), "nests parentheses"),
        ("iran " * (MAX_CLAUSES + 1), "clauses; the limit"),
        ("x" * (MAX_QUERY_CHARS + 1), "characters long; the limit"),
    ],
)
def test_hostile_queries_are_rejected_with_the_cap_named(wordy: NewsIndex, query: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(QueryRejectedError, match=message):
        wordy.search(query)
    assert time.monotonic() - started < 2


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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(QUERY_PARTS, st.text(max_size=20)), max_size=60))
def test_fuzzed_queries_raise_only_our_query_errors_and_end_quickly(wordy: NewsIndex, parts: list[str]) -> None:
    text = " ".join(parts)
    started = time.monotonic()
    with suppress(QueryError, QueryRejectedError):  # ours; anything else fails the test
        wordy.search(text)
    assert time.monotonic() - started < 2


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=MAX_QUERY_CHARS - 50, max_size=10_000))
def test_long_fuzzed_queries_end_quickly(wordy: NewsIndex, text: str) -> None:
    started = time.monotonic()
    with suppress(QueryError, QueryRejectedError):
        wordy.search(text)
    assert time.monotonic() - started < 2
