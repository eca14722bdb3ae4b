"""Ranking beyond BM25F: pseudo-relevance feedback (expand) and recency, in the API, the CLI and batch runs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, Story, UsageError
from newsindex.cli.commands import app

runner = CliRunner()

# Three stories about a volcano share the words lava, magma and Reykjanes; a fourth shares them but
# never says "volcano" and has no other word in common with them; filler keeps those words in under
# 10 % of the stories (expansion leaves out commoner words).
VOLCANO = {
    "volcano-1": "A volcano erupted near Reykjanes, sending lava and magma towards the town.",
    "volcano-2": "The volcano on Reykjanes kept pouring lava; magma rose under the peninsula.",
    "volcano-3": "Scientists said the volcano could erupt again as magma gathers and lava cools at Reykjanes.",
    "lava-only": "Lava reached the road at Reykjanes overnight as magma flowed from the fissure.",
}
FILLER_WORDS = ["market", "shares", "bank", "rates", "election", "budget", "football", "match", "weather", "rain"]


def _filler(number: int) -> Story:
    words = " ".join(FILLER_WORDS[(number + step) % len(FILLER_WORDS)] for step in range(6))
    return Story(id=f"filler-{number:02d}", body=f"Story {number} about {words}.", published=date(2020, 1, 1))


@pytest.fixture
def volcano_index(tmp_path: Path) -> NewsIndex:
    news = NewsIndex.create(tmp_path / "volcano", fsync=False)
    stories = [Story(id=key, body=body, published=date(2020, 1, 1)) for key, body in VOLCANO.items()]
    news.add(stories + [_filler(number) for number in range(40)])
    return news


def ids(news: NewsIndex, text: str, **options: object) -> list[str]:
    return [hit.story.id for hit in news.search(text, limit=50, **options).hits]  # type: ignore[arg-type]


def test_expand_finds_a_story_through_the_words_of_the_best_ones(volcano_index: NewsIndex) -> None:
    plain = ids(volcano_index, "volcano")
    assert sorted(plain) == ["volcano-1", "volcano-2", "volcano-3"]
    expanded = volcano_index.search("volcano", limit=50, expand=True)
    found = [hit.story.id for hit in expanded.hits]
    assert sorted(found[:3]) == sorted(plain)  # the stories saying "volcano" still rank first
    assert found[3:] == ["lava-only"]  # found through lava, magma, Reykjanes; filler stays out
    assert expanded.total == 4
    assert "<mark>" not in expanded.hits[3].snippet  # snippets mark the user's words, not the added ones


def test_expand_keeps_require_all(volcano_index: NewsIndex) -> None:
    assert ids(volcano_index, "volcano erupt", filters=Filters(require_all=True), expand=True) == ids(
        volcano_index, "volcano erupt", filters=Filters(require_all=True)
    )
    assert "lava-only" not in ids(volcano_index, "volcano erupt", filters=Filters(require_all=True), expand=True)


def test_rank_is_search_without_the_stories(volcano_index: NewsIndex) -> None:
    for options in ({}, {"expand": True}, {"recency_half_life": 10.0}):
        ranked = volcano_index.rank("volcano lava", limit=20, **options)
        hits = volcano_index.search("volcano lava", limit=20, **options).hits
        assert ranked == [(hit.story.id, hit.score) for hit in hits]


def _twins(tmp_path: Path) -> NewsIndex:
    """Two stories with the same words a year apart (the older added first: it wins a tie), and an undated one.

    A year apart, they are no copies of one another (a duplicate group spans 3 days at most); the undated
    one is a copy of the first: searches here show every version."""
    news = NewsIndex.create(tmp_path / "twins", fsync=False)
    body = "Floods closed the coastal road after heavy rain."
    news.add(
        [
            Story(id="last-year", body=body, published=date(2023, 3, 1)),
            Story(id="undated", body=body),
            Story(id="today", body=body, published=date(2024, 3, 1)),
            Story(id="older-stronger", body="Floods, floods and floods: rain.", published=date(2024, 2, 1)),
        ]
    )
    return news


def test_recency_puts_the_newer_of_two_equal_matches_first(tmp_path: Path) -> None:
    news = _twins(tmp_path)
    assert ids(news, "coastal road", all_versions=True) == ["last-year", "undated", "today"]  # a tie: index order
    assert ids(news, "coastal road", all_versions=True, recency_half_life=30) == ["today", "last-year", "undated"]
    assert ids(news, "coastal road", recency_half_life=30) == ["today", "last-year"]  # a group, as its best version
    plain = {hit.story.id: hit.score for hit in news.search("coastal road", all_versions=True).hits}
    recent = {
        hit.story.id: hit.score for hit in news.search("coastal road", all_versions=True, recency_half_life=30).hits
    }
    assert recent["today"] == pytest.approx(plain["today"])  # the newest story is not decayed
    assert recent["last-year"] == pytest.approx(plain["last-year"] * 0.5 ** (366 / 30))
    assert recent["undated"] == pytest.approx(recent["last-year"])  # undated counts as the oldest


def test_recency_weighs_age_against_relevance(tmp_path: Path) -> None:
    news = _twins(tmp_path)
    assert ids(news, "floods")[0] == "older-stronger"
    assert ids(news, "floods", recency_half_life=3650)[0] == "older-stronger"  # a month is little in ten years
    assert ids(news, "floods", recency_half_life=2)[0] == "today"  # 29 days is 14 half-lives


@pytest.mark.parametrize("half_life", [0, -1, float("nan"), float("inf")])
def test_bad_half_life_is_a_usage_error(tmp_path: Path, half_life: float) -> None:
    news = _twins(tmp_path)
    with pytest.raises(UsageError, match="half-life"):
        news.search("floods", recency_half_life=half_life)


def test_cli_expand_and_recent(volcano_index: NewsIndex, tmp_path: Path) -> None:
    path = str(volcano_index.path)
    result = runner.invoke(app, ["search", "volcano", "--expand", "--json", "--index", path])
    assert result.exit_code == 0, result.stderr
    assert [hit["id"] for hit in json.loads(result.stdout)["hits"]][3:] == ["lava-only"]
    twins = str(_twins(tmp_path).path)
    for flags in (["--recent"], ["--half-life", "7"], ["--recent", "--half-life", "7.5"]):
        result = runner.invoke(app, ["search", "coastal road", *flags, "--all-versions", "--json", "--index", twins])
        assert result.exit_code == 0, result.stderr
        assert [hit["id"] for hit in json.loads(result.stdout)["hits"]] == ["today", "last-year", "undated"]


@pytest.mark.parametrize("value", ["0", "-2", "nan", "soon"])
def test_cli_bad_half_life_exits_2(tmp_path: Path, value: str) -> None:
    twins = str(_twins(tmp_path).path)
    result = runner.invoke(app, ["search", "floods", "--half-life", value, "--index", twins])
    assert result.exit_code == 2
    assert "half-life" in result.stderr
    assert result.stdout == ""


def test_batch_expand_writes_the_expanded_ranking(volcano_index: NewsIndex, tmp_path: Path) -> None:
    topics = tmp_path / "topics.tsv"
    topics.write_text("1\tvolcano\n", encoding="utf-8")
    path = str(volcano_index.path)
    runs = {}
    for flags in ([], ["--expand"]):
        result = runner.invoke(app, ["batch", str(topics), "--quiet", "--index", path, *flags])
        assert result.exit_code == 0, result.stderr
        runs[bool(flags)] = [line.split()[2] for line in result.stdout.splitlines()]
    assert "lava-only" not in runs[False]
    assert runs[True] == [story_id for story_id, _ in volcano_index.rank("volcano", limit=50, expand=True)]
    assert runs[True][-1] == "lava-only"


def test_expand_stays_within_the_query_guard(volcano_index: NewsIndex) -> None:
    from newsindex.search.expansion import expanded_plan
    from newsindex.search.query import MAX_WORDS, distinct_words, parse_query

    words = " ".join(f"word{number}" for number in range(MAX_WORDS - 2)) + " volcano"  # one word short
    plan = parse_query(words, volcano_index._schema)
    model = [("lava", 0.5), ("magma", 0.3), ("reykjan", 0.2)]
    grown = expanded_plan(plan, model, require_all=False)
    assert len(distinct_words(grown.query)) == MAX_WORDS  # room for one added word only
    assert {leaf.text for leaf in grown.query.leaves()} >= {"lava", "volcano"}
    assert "magma" not in {leaf.text for leaf in grown.query.leaves()}
    ranked = [story_id for story_id, _ in volcano_index.rank(words, limit=50, expand=True)]
    assert sorted(ranked) == ["lava-only", "volcano-1", "volcano-2", "volcano-3"]  # no QueryRejectedError


def test_rank_checks_its_arguments(volcano_index: NewsIndex) -> None:
    with pytest.raises(UsageError, match="limit"):
        volcano_index.rank("volcano", limit=0)
    with pytest.raises(UsageError, match="half-life"):
        volcano_index.rank("volcano", recency_half_life=-1.0)


def test_the_best_story_of_a_later_segment_is_found_with_a_small_limit(tmp_path: Path) -> None:
    # Whoosh ORs three or more clauses with a matcher that claims only its best clause's score as its
    # best possible one; after a first segment has set the bar, a later segment's story that adds up
    # several of those clauses was skipped, and limit=1 answered with a worse story.
    news = NewsIndex.create(tmp_path / "segments", fsync=False)
    filler = "The report was published by the city council on a quiet afternoon in the old town hall."
    body = "Police said an attack on the ministry in Iran."
    news.add([Story(id=f"old-{n}", body=f"{body} {filler * (3 - n)}") for n in range(3)])
    news.add([Story(id="new", body="Police attack ministry: Iran police attack the ministry of Iran.")])
    query = "(police OR attack OR ministry) iran"
    best = news.rank(query, limit=10)[0]
    assert best[0] == "new"
    assert news.rank(query, limit=1) == [best]
    assert [hit.story.id for hit in news.search(query, limit=1, all_versions=True)] == ["new"]


def test_the_fix_is_ours_alone_whooshs_matcher_class_is_left_as_it_is(tmp_path: Path) -> None:
    # The bound above is right in newsindex's searches only: importing newsindex changes nothing of
    # Whoosh's for other code in the process (no monkeypatch), and a plain Whoosh OR keeps Whoosh's matcher.
    from whoosh import query as whoosh_query
    from whoosh.matching.combo import ArrayUnionMatcher
    from whoosh.query.compound import PreloadedOr

    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add([Story(id="one", body="Police said an attack on the ministry in Iran.")])
    assert [story_id for story_id, _ in news.rank("(police OR attack OR ministry) iran")] == ["one"]
    assert ArrayUnionMatcher.max_quality.__module__ == "whoosh.matching.combo"
    assert ArrayUnionMatcher.max_quality.__qualname__ == "ArrayUnionMatcher.max_quality"
    words = [whoosh_query.Term("body", word) for word in ("polic", "attack", "ministri")]
    with news._searcher() as searcher:
        matcher = PreloadedOr(words).matcher(searcher)
    assert type(matcher) is ArrayUnionMatcher
    news.close()


YEARS = {2015: "Desmond", 2020: "Ciara", 2024: "Henk"}


def test_recent_scores_of_old_stories_are_not_rounded_to_zero(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "archive", fsync=False)
    body = "Floods closed the coastal road in {}, the year of the {} storm, said officials at the harbour."
    news.add([Story(id=str(y), body=body.format(y, name), published=date(y, 1, 1)) for y, name in YEARS.items()])
    data = json.loads(
        runner.invoke(app, ["search", "coastal floods", "--recent", "--json", "-i", str(news.path)]).stdout
    )
    scores = [hit["score"] for hit in data["hits"]]
    assert [hit["id"] for hit in data["hits"]] == ["2024", "2020", "2015"]
    assert scores[0] > scores[1] > scores[2] > 0  # 0.5 ** (9 years / 30 days) is about 1e-33, not 0
    text = runner.invoke(app, ["search", "coastal floods", "--recent", "-i", str(news.path)]).stdout
    assert "[0.00]" not in text


def test_words_in_most_stories_weigh_next_to_nothing(tmp_path: Path) -> None:
    # A verbose query: one rare key word and six words found in nearly every story. With Whoosh's idf
    # (ln(N/(n+1)) + 1) each common word still weighs about 1, and the story saying only those wins;
    # with BM25's idf the short story with the key word does.
    news = NewsIndex.create(tmp_path / "idf", fsync=False)
    common = "report country which their other nation"
    stories = [Story(id="zinc", body="The report names zinc."), Story(id="wordy", body=f"{common}.")]
    stories += [Story(id=f"filler-{n}", body=f"{common} covers {FILLER_WORDS[n % 10]} {n}.") for n in range(30)]
    news.add(stories)
    assert [story_id for story_id, _ in news.rank(f"zinc {common}", filters=Filters(plain=True), limit=2)] == [
        "zinc",
        "wordy",
    ]


def _tariff_index(tmp_path: Path) -> NewsIndex:
    """Stories with "tariff" in nearly every one, and "zinc" in two: a shorter one, and a longer one with "tariff"."""
    news = NewsIndex.create(tmp_path / "coordination", fsync=False)
    long = "Zinc miners in the north face the new tariff on exports of ore from next year, officials said."
    shorter = "Zinc miners in the north face new rules on exports, officials said."
    stories = [Story(id="zinc-tariff", body=long), Story(id="zinc", body=shorter)]
    stories += [Story(id=f"filler-{n}", body=f"A tariff report on {FILLER_WORDS[n % 10]} {n}.") for n in range(30)]
    news.add(stories)
    return news


def test_in_a_short_query_each_matched_word_counts(tmp_path: Path) -> None:
    # No story has all three words. BM25's idf gives "tariff" (in 31 of 32 stories) next to nothing, so
    # the shorter story saying only "zinc" would win; in a short query every matched word weighs
    # ranking.COORDINATION more, and the story matching two of the three words the person typed wins.
    news = _tariff_index(tmp_path)
    ranked = [story_id for story_id, _ in news.rank("zinc copper tariff", filters=Filters(plain=True), limit=2)]
    assert ranked == ["zinc-tariff", "zinc"]
    assert [hit.story.id for hit in news.search("zinc copper tariff", limit=2).hits] == ["zinc-tariff", "zinc"]


def test_a_verbose_query_keeps_bm25s_idf(tmp_path: Path) -> None:
    # Past ranking.SHORT_QUERY_WORDS distinct words a query is a topic, whose common words are noise.
    news = _tariff_index(tmp_path)
    verbose = "zinc copper tariff nickel cobalt lithium graphite bauxite manganese"
    ranked = [story_id for story_id, _ in news.rank(verbose, filters=Filters(plain=True), limit=2)]
    assert ranked == ["zinc", "zinc-tariff"]


def test_idf_formulas() -> None:
    from newsindex.search.ranking import ROBERTSON_FLOOR, idf

    assert idf(1000, 1000, "lucene") == pytest.approx(0.0005, abs=1e-4)
    assert idf(1000, 1000, "robertson") == ROBERTSON_FLOOR  # negative above half the stories: floored
    assert idf(1000, 1000, "whoosh") == pytest.approx(1.0, abs=0.01)
    assert idf(1000, 1, "lucene") > idf(1000, 10, "lucene") > idf(1000, 100, "lucene")


def test_adaptive_feedback_takes_the_stories_that_stand_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsindex.search import expansion

    ranked = [(1, 10.0), (2, 9.0), (3, 4.0), (4, 3.5), (5, 3.0)]
    monkeypatch.setattr(expansion, "FEEDBACK_STORIES", 4)
    monkeypatch.setattr(expansion, "FEEDBACK_RATIO", 0.5)
    monkeypatch.setattr(expansion, "FEEDBACK_GAP", False)
    monkeypatch.setattr(expansion, "FEEDBACK_MODE", "fixed")
    assert expansion.feedback_weights(ranked) == ranked[:4]  # a fixed number, weighed by score
    assert expansion.feedback_share(ranked) == 1.0
    monkeypatch.setattr(expansion, "FEEDBACK_MODE", "cut")
    assert expansion.feedback_weights(ranked) == [(1, 10.0), (2, 9.0)]  # only those near the best
    monkeypatch.setattr(expansion, "FEEDBACK_GAP", True)
    assert expansion.feedback_weights(ranked) == [(1, 6.0), (2, 5.0)]  # weighed by their lead over story 3
    assert expansion.feedback_weights([]) == []
    monkeypatch.setattr(expansion, "FEEDBACK_MODE", "scaled")
    assert expansion.feedback_weights(ranked) == ranked[:4]
    assert expansion.feedback_share(ranked) == pytest.approx(1 / 3)  # of stories 2-4, story 2 stands with the best
    assert expansion.feedback_share([(1, 10.0), (2, 1.0), (3, 1.0)]) == 0.0  # one clear answer: no expansion


def test_scaled_feedback_leaves_a_query_with_one_clear_answer_alone(
    volcano_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsindex.search import expansion

    monkeypatch.setattr(expansion, "FEEDBACK_MODE", "scaled")
    assert ids(volcano_index, "peninsula", expand=True) == ["volcano-2"]  # one story: nothing added
    assert "lava-only" in ids(volcano_index, "volcano", expand=True)  # three equal answers: expanded


def test_a_word_repeated_in_a_plain_query_weighs_more(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "qtf", fsync=False)
    stories = [Story(id="gold", body="Gold prices rose."), Story(id="oil", body="Oil prices rose.")]
    news.add(stories + [_filler(number) for number in range(10)])
    assert [story_id for story_id, _ in news.rank("gold oil oil", filters=Filters(plain=True), limit=2)] == [
        "oil",
        "gold",
    ]
    assert [story_id for story_id, _ in news.rank("gold gold oil", filters=Filters(plain=True), limit=2)] == [
        "gold",
        "oil",
    ]


def _prices(tmp_path: Path) -> NewsIndex:
    """Two stories with the same words, as often and as long: in the first (indexed first, so it wins a
    tie) "oil" and "prices" stand apart, in the second side by side."""
    news = NewsIndex.create(tmp_path / "prices", fsync=False)
    apart = Story(id="apart", body="Oil output fell in March while import prices of grain rose, traders said.")
    together = Story(id="together", body="Oil prices fell in March while import output of grain rose, traders said.")
    news.add([apart, together, *(_filler(number) for number in range(10))])
    return news


def test_query_words_side_by_side_in_a_story_rank_it_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsindex.search import ranking

    news = _prices(tmp_path)
    monkeypatch.setattr(ranking, "PROXIMITY_WEIGHT", 0.0)
    assert [story_id for story_id, _ in news.rank("oil prices", limit=2)] == ["apart", "together"]  # a tie
    monkeypatch.setattr(ranking, "PROXIMITY_WEIGHT", 1.0)
    assert [story_id for story_id, _ in news.rank("oil prices", limit=2)] == ["together", "apart"]
    assert ids(news, "oil prices", all_versions=True) == ["together", "apart"]
    assert [story_id for story_id, _ in news.rank("prices oil", filters=Filters(plain=True), limit=2)] == [
        "together",
        "apart",
    ]


def test_the_proximity_bonus_keeps_pages_in_one_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsindex.search import ranking

    monkeypatch.setattr(ranking, "PROXIMITY_WEIGHT", 1.0)
    news = _prices(tmp_path)
    whole = news.rank("oil prices grain", limit=10, filters=Filters(match="any"))
    assert news.rank("oil prices grain", limit=1, filters=Filters(match="any")) == whole[:1]
    assert [hit.story.id for hit in news.search("oil prices grain", limit=1, page=2, all_versions=True).hits] == [
        whole[1][0]
    ]


def test_pair_frequency_counts_positions_with_the_other_word_near(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsindex.search import ranking
    from newsindex.search.ranking import pair_frequency, proximity_bonus, query_pairs

    monkeypatch.setattr(ranking, "PROXIMITY_WEIGHT", 1.0)
    assert pair_frequency([0, 10, 20], [1, 30], window=1) == 1
    assert pair_frequency([5], [3], window=2) == 1  # either order
    assert pair_frequency([5], [2], window=2) == 0
    assert pair_frequency([4, 8], [4], window=3) == 0  # the same position is not a neighbour
    assert query_pairs(["oil", "oil", "price", "oil", "price"]) == [("oil", "price"), ("price", "oil")]
    assert proximity_bonus(0, 3.0, 10, 10) == 0.0
    assert proximity_bonus(2, 3.0, 10, 10) > proximity_bonus(1, 3.0, 10, 10) > proximity_bonus(1, 3.0, 40, 10) > 0


def test_a_query_word_early_in_the_story_counts_as_a_lead_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "later" says zinc three times after its first 40 words; "early" once, in its second sentence
    # (not the lead sentence the index counts twice, but within the first 40 words). The lead bonus, the
    # lead scored as a field of its own with no length normalisation, ranks "early" first.
    from newsindex.search import ranking

    padding = " ".join(FILLER_WORDS * 5)  # 50 words
    news = NewsIndex.create(tmp_path / "lead", fsync=False)
    news.add(
        [
            Story(id="later", body=f"Markets were calm. {padding} zinc zinc zinc."),
            Story(id="early", body=f"Markets were calm. Zinc rose. {padding} lead tin."),
            *(_filler(number) for number in range(20)),
        ]
    )
    monkeypatch.setattr(ranking, "LEAD_WEIGHT", 0.0)
    assert [story_id for story_id, _ in news.rank("zinc", limit=2)] == ["later", "early"]
    monkeypatch.setattr(ranking, "LEAD_WEIGHT", 1.0)
    monkeypatch.setattr(ranking, "LEAD_WORDS", 40)
    assert [story_id for story_id, _ in news.rank("zinc", limit=2)] == ["early", "later"]
    assert ranking.lead_bonus(2, 3.0) > ranking.lead_bonus(1, 3.0) > ranking.lead_bonus(0, 3.0) == 0.0


def test_expansion_can_keep_the_first_runs_best_story_first(
    volcano_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsindex.search import expansion

    plain = volcano_index.rank("volcano", limit=3)
    monkeypatch.setattr(expansion, "FEEDBACK_KEEP", 0)
    assert volcano_index.rank("volcano", limit=3, expand=True)[0][0] != plain[0][0]  # overtaken by a neighbour
    monkeypatch.setattr(expansion, "FEEDBACK_KEEP", 1)
    expanded = volcano_index.rank("volcano", limit=50, expand=True)
    assert expanded[0][0] == plain[0][0] == "volcano-1"
    assert "lava-only" in [story_id for story_id, _ in expanded]  # still found through the added words
    assert [score for _, score in expanded] == sorted((score for _, score in expanded), reverse=True)
    assert volcano_index.rank("volcano", limit=1, expand=True) == expanded[:1]
    assert ids(volcano_index, "volcano", expand=True) == [story_id for story_id, _ in expanded]


def test_kept_first_puts_the_kept_stories_on_top() -> None:
    from newsindex.search.expansion import kept_first

    ranked = [(2, 9.0), (1, 5.0), (3, 1.0)]
    assert kept_first(ranked, []) == ranked
    assert kept_first(ranked, [3]) == [(3, 9.0), (2, 9.0), (1, 5.0)]  # scoring as the best, not below
    assert kept_first(ranked, [2]) == ranked
    assert kept_first([(2, 9.0)], [7]) == [(7, 9.0), (2, 9.0)]  # ranked below the depth read: still first
