"""How words are cut: news tokens (analysis 2), and indexes built before them keeping their own analysis."""

from __future__ import annotations

import json
import pickle
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

import newsindex.store.schema
from newsindex import Filters, NewsIndex, Story
from newsindex.cli.commands import app
from newsindex.store.schema import NewsAnalyzer

runner = CliRunner()

STORIES = {
    "dotted": "WASHINGTON - The U.S. imposed tariffs on steel imports from Japan.",
    "capitals": "LONDON - US officials met British ministers over steel.",
    "no-dot": "TOKYO - Exports to the U.S rose as steel prices fell.",
    "pronoun": "PARIS - They told us nothing about the steel talks.",
    "uk": "BONN - The U.K. and the EU agreed on farm prices.",
    "ticker": "NEW YORK - International Business Machines Corp <IBM> said profit rose.",
    "ibm-word": "ARMONK - IBM unveiled a new mainframe computer.",
    "citicorp": "NEW YORK - Citicorp <C> raised its prime rate.",
    "att": "NEW YORK - AT&T cut long-distance rates.",
    "at-and-t": "DALLAS - Prices at T-Mobile stores were cut at noon.",
    "cplusplus": "SEATTLE - The compiler for C++ was released.",
    "c-language": "BOSTON - The C compiler was released.",
    "url": "LONDON - Details are at http://www.reuters.com/markets/steel today.",
    "amount": "CHICAGO - The company sold 10mln shares, a 5% stake worth 1,000 dlrs.",
    "other": "MADRID - Spain's wine output rose.",
}


def _build(path: Path, analysis: int | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> NewsIndex:
    if analysis is not None and monkeypatch is not None:
        monkeypatch.setattr(newsindex.store.schema, "ANALYSIS_VERSION", analysis)
    news = NewsIndex.create(path, fsync=False)
    news.add([Story(id=key, body=body, published=date(1987, 3, 1)) for key, body in STORIES.items()])
    if monkeypatch is not None:
        monkeypatch.undo()
    return news


@pytest.fixture
def news(tmp_path: Path) -> NewsIndex:
    return _build(tmp_path / "index")


def found(news: NewsIndex, text: str, **options: object) -> set[str]:
    return {story_id for story_id, _ in news.rank(text, limit=50, **options)}  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["US", "U.S.", "U.S", "u.s", "u.s."])
def test_every_way_of_writing_us_finds_the_us_stories_and_not_the_pronoun(news: NewsIndex, typed: str) -> None:
    assert found(news, typed, filters=Filters(plain=True)) == {"dotted", "capitals", "no-dot"}
    assert found(news, typed) == {"dotted", "capitals", "no-dot"}


def test_uk_and_eu_meet_their_dotted_forms(news: NewsIndex) -> None:
    assert found(news, "UK", filters=Filters(plain=True)) == {"uk"}
    assert found(news, "E.U.", filters=Filters(plain=True)) == {"uk"}


def test_a_ticker_is_searchable_as_the_ticker_and_as_the_word(news: NewsIndex) -> None:
    assert found(news, "<IBM>", filters=Filters(plain=True)) == {"ticker", "ibm-word"}
    assert found(news, "ibm", filters=Filters(plain=True)) == {"ticker", "ibm-word"}
    assert found(news, "<C>", filters=Filters(plain=True)) == {"citicorp"}  # one letter, kept as a ticker


def test_att_and_cplusplus_are_words(news: NewsIndex) -> None:
    assert found(news, "AT&T", filters=Filters(plain=True)) == {"att"}
    assert found(news, "c++", filters=Filters(plain=True)) == {"cplusplus"}


def test_a_url_is_searchable_by_its_domain(news: NewsIndex) -> None:
    assert found(news, "reuters.com", filters=Filters(plain=True)) == {"url"}
    assert found(news, "www.reuters.com", filters=Filters(plain=True)) == {"url"}


def test_numbers_with_units_meet_their_spelled_out_forms(news: NewsIndex) -> None:
    assert found(news, '"10 mln shares"') == {"amount"}
    assert found(news, '"5 pct stake"') == {"amount"}
    assert found(news, "1,000", filters=Filters(plain=True)) == {"amount"}


def test_stop_words_are_checked_after_stemming() -> None:
    terms = [token.text for token in NewsAnalyzer()("its being willing")]
    assert terms == ["will"]  # "its" → it and "being" → be are stop words; "willing" is not "will" the verb
    assert [token.text for token in NewsAnalyzer(analysis=1)("its being")] == ["it", "be"]


def test_a_wire_headline_in_capitals_reads_us_as_the_word() -> None:
    assert [t.text for t in NewsAnalyzer()("U.S. TOLD US TO WAIT")] == ["u.s", "told", "wait"]
    assert [t.text for t in NewsAnalyzer()("Washington told US to wait")] == ["washington", "told", "u.s", "wait"]


def test_an_index_built_with_the_old_analysis_is_searched_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _build(tmp_path / "old", analysis=1, monkeypatch=monkeypatch)
    old.close()
    reopened = NewsIndex.open(tmp_path / "old")
    with reopened._whoosh.searcher() as searcher:
        assert searcher.schema["body"].analyzer.analysis == 1
    # Analysis 1 indexed "U.S." as "u." and dropped "US" as the stop word "us": the query is cut the same way.
    assert found(reopened, "U.S.", filters=Filters(plain=True)) == {"dotted", "no-dot"}
    assert found(reopened, "U.S.") == {"dotted", "no-dot"}
    assert found(reopened, "steel tariffs", filters=Filters(plain=True)) >= {"dotted"}
    assert found(reopened, "ibm", filters=Filters(plain=True)) == {"ticker", "ibm-word"}
    assert found(reopened, '"prices fell"') == {"no-dot"}


def test_an_analyzer_pickled_before_analysis_versions_reads_as_analysis_1() -> None:
    analyzer = NewsAnalyzer()
    del analyzer.__dict__["analysis"]  # what an analyzer pickled by an older version holds
    restored = pickle.loads(pickle.dumps(analyzer))
    assert restored.analysis == 1
    assert [token.text for token in restored("U.S. its")] == ["u.", "it"]
    assert NewsAnalyzer().analysis == newsindex.store.schema.ANALYSIS_VERSION == 3


@pytest.mark.parametrize(
    ("body", "lead"),
    [
        (
            "WASHINGTON, March 3 - Mrs. Smith met the U.S. envoy on Jan. 5 in Room No. 2. She left.",
            "Mrs. Smith met the U.S. envoy on Jan. 5 in Room No. 2.",
        ),
        (
            "LONDON, March 3 - MRS. THATCHER FLEW TO THE U.S. ON JAN. 5. SHE LEFT.",
            "MRS. THATCHER FLEW TO THE U.S. ON JAN. 5.",
        ),
        ("PARIS, March 3 - The minister said no. Then he left.", "The minister said no."),
    ],
)
def test_the_lead_sentence_runs_past_abbreviations_in_any_case(body: str, lead: str) -> None:
    assert Story(id="x", body=body).lead == lead


def test_snippets_mark_news_tokens(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "snippets", fsync=False)
    news.add(
        [
            Story(id="dotted", headline="Tariffs", body="WASHINGTON - The U.S. imposed tariffs on steel."),
            Story(id="capitals", headline="Talks", body="LONDON - US officials met British ministers."),
        ]
    )
    marked = {hit.story.id: hit.snippet for hit in news.search("US", limit=10).hits}
    assert "The <mark>U.S</mark>. imposed" in marked["dotted"]
    assert "<mark>US</mark> officials" in marked["capitals"]


def test_a_web_address_of_nothing_but_a_per_cent_sign_is_indexed_and_searched(tmp_path: Path) -> None:
    # "www.%" left an empty host word that the analysis could not read: the story was not indexed.
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    report = news.add([Story(id="odd", body="LONDON - Rates at www.% rose.", published=date(1987, 3, 1))])
    assert (report.added, report.problems) == (1, [])
    assert [hit.story.id for hit in news.search("rates www.%").hits] == ["odd"]


PHRASES = {
    "apart": "BRASILIA - Brazil stopped paying its debts. The moratorium covers bank loans.",
    "together": "BRASILIA - Brazil declared a debt moratorium on its bank loans.",
    "bank-of-england": "LONDON - The Bank of England raised rates.",
    "bank-england": "LONDON - The central bank, England's oldest, raised rates.",
}


def _phrases(path: Path, analysis: int, monkeypatch: pytest.MonkeyPatch) -> NewsIndex:
    monkeypatch.setattr(newsindex.store.schema, "ANALYSIS_VERSION", analysis)
    news = NewsIndex.create(path, fsync=False)
    news.add([Story(id=key, headline="Loans", body=body, published=date(1987, 3, 1)) for key, body in PHRASES.items()])
    monkeypatch.undo()
    return news


def _found(news: NewsIndex, text: str) -> list[str]:
    return sorted(hit.story.id for hit in news.search(text, limit=10).hits)


def test_a_phrase_matches_only_where_its_words_stand_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stop words are not indexed, but each keeps its place: "debts. The moratorium" has a word between.
    news = _phrases(tmp_path / "index", 3, monkeypatch)
    assert _found(news, '"debt moratorium"') == ["together"]
    assert _found(news, '"Bank of England"') == ["bank-of-england"]  # a stop word stands for any stop word
    assert _found(news, '"bank england"') == ["bank-england"]
    assert _found(news, '"brazil moratorium"~4') == ["together"]  # 4 places on, "a" counted
    assert _found(news, '"brazil moratorium"~6') == ["apart", "together"]  # 6 places on, "its" and "the" counted
    (hit,) = news.search('"debt moratorium"').hits
    assert "<mark>debt</mark> <mark>moratorium</mark>" in hit.snippet
    result = runner.invoke(app, ["search", '"debt moratorium"', "--json", "-i", str(news.path)])
    assert [hit["id"] for hit in json.loads(result.stdout)["hits"]] == ["together"]


def test_an_index_of_analysis_2_matches_phrases_as_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Built before stop words kept their places: its phrases still skip them, with or without one typed.
    news = _phrases(tmp_path / "index", 2, monkeypatch)
    assert _found(news, '"debt moratorium"') == ["apart", "together"]
    assert _found(news, '"bank england"') == ["bank-england", "bank-of-england"]
    assert _found(news, '"Bank of England"') == ["bank-england", "bank-of-england"]
