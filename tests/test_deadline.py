"""One deadline for a whole request, bounds on what a caller controls, and snippets linear in a story's
length: work is counted and time is a fake clock, never the wall clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import newsindex.index as index_module
import newsindex.search.executor as executor_module
import newsindex.search.similar as similar_module
from newsindex import Filters, NewsIndex, Story
from newsindex import deadline as deadlines
from newsindex.cli.commands import app
from newsindex.errors import QueryRejectedError, UsageError
from newsindex.search import snippets as snippets_module
from newsindex.search.snippets import SCAN_CHARS, Phrase, snippet
from newsindex.store.schema import index_words, stem

runner = CliRunner()


class FakeClock:
    """A clock that stands still until moved."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(deadlines, "clock", fake)
    return fake


@pytest.fixture
def news(tmp_path: Path) -> NewsIndex:
    index = NewsIndex.create(tmp_path / "index", fsync=False)
    index.add(
        [
            Story(
                id=f"s{number}",
                headline=f"Oil report {number}",
                body=f"LONDON (Reuters) - Oil prices rose on day {number}. Traders said oil demand was firm.",
                location="London",
                bylines=("Jane Doe",),
            )
            for number in range(6)
        ]
    )
    return index


# -- the deadline --------------------------------------------------------------------------------------


def test_past_the_deadline_snippets_give_way_to_the_lead_and_the_results_say_so(
    news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []

    def slow_snippet(*args: Any, **kwargs: Any) -> str:
        made.append(1)
        clock.now += 10  # the first snippet takes the rest of the request's time
        return snippet(*args, **kwargs)

    monkeypatch.setattr(executor_module, "snippet", slow_snippet)
    results = news.search("oil", limit=5)
    assert len(results.hits) == 5 and len(made) == 1
    assert "<mark>" in results.hits[0].snippet
    assert [hit.snippet for hit in results.hits[1:]] == [hit.story.lead for hit in results.hits[1:]]
    assert results.notes == ("4 of 5 hits shown without a snippet or versions: the 5 s deadline passed",)
    assert results.to_dict()["notes"] == list(results.notes)


def test_each_request_has_its_own_deadline_and_one_without_cuts_says_nothing(news: NewsIndex, clock: FakeClock) -> None:
    results = news.search("oil", limit=5)
    assert results.notes == () and "notes" not in results.to_dict()
    assert all("<mark>" in hit.snippet for hit in results.hits)


def test_the_deadline_covers_facets(news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    counted = index_module.count_facets  # type: ignore[attr-defined]

    def slow_facets(*args: Any, **kwargs: Any) -> Any:
        clock.now += 10
        return counted(*args, **kwargs)

    monkeypatch.setattr(index_module, "count_facets", slow_facets)
    results = news.search("oil", facets=["location", "bylines", "year"])
    assert list(results.facets) == ["location"]
    assert results.notes[-1] == "facets not counted (bylines, year): the 5 s deadline passed"


def test_collection_past_the_deadline_is_refused(
    news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    expand = executor_module.check_expansion  # type: ignore[attr-defined]

    def slow_expansion(*args: Any, **kwargs: Any) -> Any:
        clock.now += 10  # the time went before collecting began: collecting must not get 5 s more
        return expand(*args, **kwargs)

    monkeypatch.setattr(executor_module, "check_expansion", slow_expansion)
    with pytest.raises(QueryRejectedError, match="longer than 5 s"):
        news.search("oil")


def _late_expansion(clock: FakeClock, monkeypatch: pytest.MonkeyPatch, *, after: int = 0) -> None:
    """Expanding patterns takes the request's whole time from call `after` + 1 on."""
    expand = executor_module.check_expansion  # type: ignore[attr-defined]
    calls: list[int] = []

    def slow_expansion(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > after:
            clock.now += 10
        return expand(*args, **kwargs)

    monkeypatch.setattr(executor_module, "check_expansion", slow_expansion)


def test_a_timeline_is_held_to_one_deadline_over_all_its_series(
    news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert news.timeline(["oil", "prices"]).series[1].undated == 6  # in time: counted (undated stories)
    _late_expansion(clock, monkeypatch, after=1)  # the first series takes all the time
    with pytest.raises(QueryRejectedError, match="longer than 5 s"):
        news.timeline(["oil", "prices"])


def test_a_timeline_stops_collecting_at_the_deadline(
    news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whoosh.searching import Searcher

    found = Searcher.docs_for_query

    def slow_docs(self: Any, *args: Any, **kwargs: Any) -> Iterator[int]:
        for docnum in found(self, *args, **kwargs):
            clock.now += 10  # each match takes the request's whole time
            yield docnum

    monkeypatch.setattr(Searcher, "docs_for_query", slow_docs)
    with pytest.raises(QueryRejectedError, match="longer than 5 s"):
        news.timeline('"oil prices"')  # a phrase: matched through Whoosh's matchers
    with pytest.raises(QueryRejectedError, match="longer than 5 s"):
        news.timeline("oil", filters=Filters(location="London"))  # a filter, matched the same way


def test_a_timeline_that_waited_past_its_deadline_is_refused(news: NewsIndex, clock: FakeClock) -> None:
    with deadlines.request():
        clock.now += 10  # the time went before the timeline began (waiting for a server's thread)
        with pytest.raises(QueryRejectedError, match="longer than 5 s"):
            news.timeline("", filters=Filters(fuzzy=True))


def test_the_deadline_message_names_the_query_when_it_passes_on_no_pattern() -> None:
    from whoosh import query

    from newsindex.search.query import _pattern_text

    assert _pattern_text(query.Every()) == "the query"  # was AttributeError: a 500 from the server
    assert _pattern_text(query.Prefix("body", "oil")) == "oil*"


def test_finding_the_stories_to_list_is_held_to_the_deadline(
    news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [story.id for story in news.stories("oil")] == [f"s{n}" for n in range(6)]
    _late_expansion(clock, monkeypatch)
    with pytest.raises(QueryRejectedError, match="longer than 5 s"):
        list(news.stories("oil"))
    with pytest.raises(QueryRejectedError, match="longer than 5 s"):
        list(news.grouped_stories("oil"))


def test_inside_a_request_listing_stories_stops_at_its_deadline_and_outside_streams_on(
    news: NewsIndex, clock: FakeClock
) -> None:
    with deadlines.request():
        listed = news.stories("oil")
        assert next(listed).id == "s0"
        clock.now += 10
        with pytest.raises(QueryRejectedError, match="longer than 5 s"):
            next(listed)
    ids = []
    for story in news.grouped_stories():  # an export of every story: no request, no end
        ids.append(story[0].id)
        clock.now += 10
    assert ids == [f"s{n}" for n in range(6)]


def test_export_of_a_query_past_the_deadline_is_one_line_and_exit_6(
    tmp_path: Path, news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _late_expansion(clock, monkeypatch)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", "oil", "-o", str(out), "-i", str(tmp_path / "index")])
    assert result.exit_code == 6
    assert result.stderr.count("\n") == 1 and "longer than 5 s" in result.stderr


def test_similar_is_held_to_the_deadline(news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    terms = similar_module.key_terms
    seen: list[int] = []

    def slow_terms(searcher: Any, text: str, **kwargs: Any) -> Any:
        seen.append(len(text))
        return terms(searcher, text, **kwargs)

    monkeypatch.setattr(similar_module, "key_terms", slow_terms)
    assert news.similar("s0").hits  # in time: hits with snippets

    def late_terms(searcher: Any, text: str, **kwargs: Any) -> Any:
        clock.now += 10
        return terms(searcher, text, **kwargs)

    monkeypatch.setattr(similar_module, "key_terms", late_terms)
    with pytest.raises(QueryRejectedError):
        news.similar("s0")


def test_similar_reads_key_terms_from_the_start_of_a_huge_story(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add([Story(id="big", body="Oil output rose. " * 60_000), Story(id="small", body="Oil output fell.")])
    lengths: list[int] = []
    terms = similar_module.key_terms

    def measured(searcher: Any, text: str, **kwargs: Any) -> Any:
        lengths.append(len(text))
        return terms(searcher, text, **kwargs)

    monkeypatch.setattr(similar_module, "key_terms", measured)
    assert [hit.story.id for hit in news.similar("big").hits] == ["small"]
    assert lengths == [similar_module.KEY_TERMS_CHARS + 1]  # "\n" after the (missing) headline


def test_a_huge_story_is_scanned_for_its_snippet_only_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add([Story(id="big", headline="Oil", body="Oil prices rose. " * 60_000)])  # ~1 MB, 180,000 words
    read = []

    def counted(text: str, analyzer: object = None) -> Iterator[tuple[int, int, str]]:
        for word in index_words(text, analyzer):
            read.append(1)
            yield word

    monkeypatch.setattr(executor_module, "index_words", counted)
    (hit,) = news.search("oil").hits
    assert hit.snippet.startswith("<mark>Oil</mark> prices rose.")
    assert len(read) <= SCAN_CHARS // 5 + 1  # "Oil prices rose. " is 17 characters, 3 words: not the 180,000


# -- bounds on what a caller controls --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"location": "word " * 3000}, "the location filter is 15,000 characters long; the limit is 200"),
        ({"source": "x" * 201}, "the source filter is 201 characters long"),
        ({"bylines": ["Jane Doe"] * 51}, "51 bylines in one search; the limit is 50"),
        ({"bylines": ["a" * 300]}, "the byline filter is 300 characters long"),
    ],
)
def test_oversized_filters_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryRejectedError, match=message):  # before any search or timeline is run
        Filters(**options)


def test_deep_pages_and_many_series_are_refused(news: NewsIndex) -> None:
    with pytest.raises(UsageError, match="reaches past the first 10,000"):
        news.search("oil", limit=1000, page=11)
    assert news.search("oil", limit=1000, page=10).hits == ()
    with pytest.raises(UsageError, match="21 queries for one timeline; the limit is 20"):
        news.timeline([f"oil{number}" for number in range(21)])


def test_an_oversized_filter_on_the_command_line_is_one_line_and_exit_6(tmp_path: Path, news: NewsIndex) -> None:
    result = runner.invoke(app, ["search", "oil", "--location", "word " * 3000, "-i", str(tmp_path / "index")])
    assert result.exit_code == 6
    assert result.stderr.count("\n") == 1 and "the location filter is 15,000 characters long" in result.stderr


def test_http_search_refuses_an_oversized_filter_and_says_what_was_cut(
    tmp_path: Path, news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from newsindex.server.app import create_app

    with TestClient(create_app(tmp_path / "index")) as client:
        response = client.get("/api/search", params={"q": "oil", "location": "word " * 50})
        assert response.status_code == 400
        assert response.json()["message"] == "the location filter is 250 characters long; the limit is 200"

        def slow_snippet(*args: Any, **kwargs: Any) -> str:
            clock.now += 10
            return snippet(*args, **kwargs)

        monkeypatch.setattr(executor_module, "snippet", slow_snippet)
        body = client.get("/api/search", params={"q": "oil", "timeline": "year"}).json()
        assert body["notes"] == [
            "5 of 6 hits shown without a snippet or versions: the 5 s deadline passed",
            "timeline not counted: the 5 s deadline passed",
        ]
        assert "timeline" not in body


# -- snippets -----------------------------------------------------------------------------------------


def test_snippet_work_is_linear_in_the_number_of_matches() -> None:
    steps = []
    for words in (1_000, 10_000):
        text = "oil gas " * words
        before = snippets_module.window_steps
        snippet(text, {stem("oil"), stem("gas")}, index_words(text))
        steps.append(snippets_module.window_steps - before)
    # every match enters and leaves the window once: 2 per match (the old window rescanned the rest: n²/2)
    assert steps == [2 * 2_000, 2 * 20_000]


def test_a_phrase_is_marked_only_where_it_matched() -> None:
    text = "Debt talks went on for days. Brazil then declared a debt moratorium on Friday."
    phrases = [Phrase((stem("debt"), stem("moratorium")))]
    marked = snippet(text, set(), index_words(text), phrases=phrases)
    assert marked == "… Brazil then declared a <mark>debt</mark> <mark>moratorium</mark> on Friday."
    assert snippet("A debt crisis and then a moratorium.", set(), index_words("A debt crisis and then a moratorium."),
                   phrases=phrases, fallback="lead") == "lead"  # fmt: skip


def test_a_proximity_phrase_is_marked_within_its_distance_only() -> None:
    text = "A debt deal. The debt crisis moratorium came later; the moratorium on debt was lifted."
    phrases = [Phrase((stem("debt"), stem("moratorium")), slop=3)]
    marked = snippet(text, set(), index_words(text), phrases=phrases)
    assert marked.count("<mark>") == 2
    assert "The <mark>debt</mark> crisis <mark>moratorium</mark>" in marked


def test_phrases_and_proximity_through_search(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add(
        [
            Story(
                id="b",
                headline="Brazil",
                body="Debt talks dragged on. Later Brazil announced a debt moratorium, and debt rose.",
            )
        ]
    )
    (hit,) = news.search('"debt moratorium"').hits
    assert hit.snippet.count("<mark>") == 2 and "a <mark>debt</mark> <mark>moratorium</mark>," in hit.snippet
    (hit,) = news.search('"debt moratorium" talks').hits  # a lone word is marked wherever it stands
    assert "Debt <mark>talks</mark>" in hit.snippet
    (hit,) = news.search('"brazil moratorium"~4').hits  # 4 places on: the stop word "a" keeps its place
    assert "<mark>Brazil</mark> announced a debt <mark>moratorium</mark>" in hit.snippet


def test_a_story_without_a_headline_does_not_repeat_its_lead(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add(
        [
            Story(
                id="a", body="TIRANA (Reuters) - Albania expelled two diplomats. Iran denied it.\n\nAlbania said more."
            ),
            Story(id="b", body="Only a lead about Albania."),
        ]
    )
    hits = {hit.story.id: hit for hit in news.search("albania").hits}
    assert hits["a"].story.lead == "Albania expelled two diplomats."
    assert hits["a"].snippet == "… <mark>Albania</mark> said more."
    assert hits["b"].snippet == ""  # nothing but the lead, which is shown as the title
    result = runner.invoke(app, ["search", "albania", "--json", "-i", str(tmp_path / "index")])
    assert {hit["id"]: hit["snippet"] for hit in json.loads(result.stdout)["hits"]}["a"] == hits["a"].snippet
    output = runner.invoke(app, ["search", "albania", "-i", str(tmp_path / "index")]).stdout
    assert output.count("Albania expelled two diplomats.") == 1


def test_the_command_line_says_what_the_deadline_cut_on_stderr(
    tmp_path: Path, news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_snippet(*args: Any, **kwargs: Any) -> str:
        clock.now += 10
        return snippet(*args, **kwargs)

    monkeypatch.setattr(executor_module, "snippet", slow_snippet)
    result = runner.invoke(app, ["search", "oil", "--limit", "3", "-i", str(tmp_path / "index")])
    assert result.exit_code == 0
    assert result.stderr == "Note: 2 of 3 hits shown without a snippet or versions: the 5 s deadline passed\n"
    data = json.loads(
        runner.invoke(app, ["search", "oil", "--limit", "3", "--json", "-i", str(tmp_path / "index")]).stdout
    )
    assert data["notes"] == ["2 of 3 hits shown without a snippet or versions: the 5 s deadline passed"]


def test_the_suggestion_stops_reading_stories_at_the_deadline(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newsindex.search.suggest as suggest_module

    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add([Story(id=f"c{number}", body=f"Coffee prices on day {number}.") for number in range(40)])
    reads = []
    real = suggest_module.story_from_stored  # type: ignore[attr-defined]

    def slow(stored: Any) -> Any:
        reads.append(1)
        clock.now += 10  # one 9 MB story read takes the request's time
        return real(stored)

    monkeypatch.setattr(suggest_module, "story_from_stored", slow)
    assert news.search("coffe").suggestion == "coffee"  # from the one story read
    assert len(reads) == 1  # not the 30 it samples in time


def test_a_pattern_stops_building_its_words_matchers_at_the_deadline(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whoosh import query

    words = ["oil", "output", "opec", "october", "officials", "offer", "open", "order", "orange", "ounce"]
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add([Story(id=word, body=f"LONDON (Reuters) - The {word} story.") for word in words])
    assert sorted(hit.story.id for hit in news.search("o*", limit=20).hits) == sorted(words)

    built: list[str] = []
    term_matcher = query.Term.matcher

    def slow_matcher(self: Any, searcher: Any, context: Any = None) -> Any:
        built.append(self.text)
        clock.now += 1  # a loaded machine: a second per word's matcher
        return term_matcher(self, searcher, context)

    monkeypatch.setattr(query.Term, "matcher", slow_matcher)
    with pytest.raises(QueryRejectedError, match=r"o\* stands for took longer than 5 s"):
        news.search("o*", limit=20)
    assert 5 <= len(built) <= 6  # stopped once the deadline passed, not after all ten words
    result = runner.invoke(app, ["search", "o*", "--index", str(tmp_path / "index")])
    assert result.exit_code == 6  # refused as too costly, as every search past its deadline
    assert "stands for took longer than 5 s" in result.output


def test_the_vectorised_evaluator_is_held_to_the_search_deadline(
    news: NewsIndex, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsindex.search import vector

    scored = vector.Evaluation.scored
    calls: list[int] = []

    def slow_scoring(self: Any, node: Any) -> Any:
        calls.append(1)
        clock.now += 10  # the arrays took the request's time
        return scored(self, node)

    assert vector.ENABLED
    monkeypatch.setattr(vector.Evaluation, "scored", slow_scoring)
    with pytest.raises(QueryRejectedError, match="longer than 5 s and was stopped"):
        news.search("oil prices")
    assert calls  # the vectorised evaluator ran (not Whoosh's matchers), and stopped at its deadline
