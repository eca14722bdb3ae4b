"""Duplicate groups: re-filed copies fold into one hit, across runs, updates and prunes; similar stories."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import NewsIndex, Story, StoryNotFoundError
from newsindex.cli.commands import app
from newsindex.store import duplicates, indexer
from newsindex.store.duplicates import THRESHOLD, signature, similarity

runner = CliRunner()
_TOPIC_WORDS = """
minister parliament border talks election protest court ruling bank rates inflation harbour ships
strike union police officials ceasefire refugees drought harvest exports sanctions oil gas pipeline
vote reform budget deficit bonds markets shares currency airline airport flights storm floods
villagers rescue hospital vaccine doctors teachers schools mayor council bridge railway tunnel
"""
_WORDS = tuple(_TOPIC_WORDS.split())


def wire_story(seed: int, words: int = 120) -> str:
    """A generated story body of `words` words after a dateline: one per seed, unlike the others."""
    rng = random.Random(seed)
    sentences: list[str] = []
    while sum(len(sentence.split()) for sentence in sentences) < words:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 16)))
        sentences.append(sentence.capitalize() + ".")
    return "LIMA (Reuters) - " + " ".join(sentences)


def refiled(body: str) -> str:
    """A re-filed copy: another dateline, one word changed, a short paragraph appended."""
    copy = body.replace("LIMA (Reuters) -", "LIMA, June 3 (Reuters) -").replace(" bank ", " central bank ", 1)
    return copy + "\n\nOfficials gave no further details."


def write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body + "\n", encoding="utf-8")


@pytest.fixture
def copies(tmp_path: Path) -> Path:
    """A corpus of four distinct stories, the first with two re-filed copies."""
    folder = tmp_path / "wire"
    original = wire_story(1)
    write(folder, "a-original.txt", original)
    write(folder, "a-refiled.txt", refiled(original))
    write(folder, "a-shorter.txt", original.rsplit(".", 2)[0] + ".")  # the last sentence cut
    for seed in (2, 3, 4):
        write(folder, f"other-{seed}.txt", wire_story(seed))
    return folder


def ids(results: object) -> list[str]:
    return [hit.story.id for hit in results]  # type: ignore[attr-defined]


def test_a_refiled_copy_is_above_the_threshold_and_another_story_far_below() -> None:
    original = signature(wire_story(1))
    assert original is not None
    assert similarity(original, signature(refiled(wire_story(1)))) >= THRESHOLD  # type: ignore[arg-type]
    assert similarity(original, signature(wire_story(2))) < 0.2  # type: ignore[arg-type]


def test_copies_fold_into_one_hit_listing_the_others(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    results = news.search("minister OR harbour OR police OR bank", limit=10)
    assert results.total == 4  # groups, not stories
    groups = [hit for hit in results if hit.story.id.startswith("a-")]
    assert len(groups) == 1
    assert sorted([groups[0].story.id, *groups[0].duplicates]) == ["a-original.txt", "a-refiled.txt", "a-shorter.txt"]
    every = news.search("minister OR harbour OR police OR bank", limit=10, all_versions=True)
    assert every.total == 6
    assert sorted(ids(every)) == sorted(path.name for path in copies.iterdir())
    assert all(hit.duplicates == () for hit in every)


def test_cli_shows_similar_versions_and_all_versions(tmp_path: Path, copies: Path) -> None:
    index = str(tmp_path / "index")
    assert runner.invoke(app, ["index", str(copies), "-i", index, "-q"]).exit_code == 0
    query = "minister OR harbour OR police OR bank"
    text = runner.invoke(app, ["search", query, "-i", index])
    assert text.exit_code == 0
    assert "+2 similar versions: " in text.stdout
    assert "of 4" in text.stdout
    data = json.loads(runner.invoke(app, ["search", query, "-i", index, "--json"]).stdout)
    assert data["total"] == 4
    folded = next(hit for hit in data["hits"] if hit["id"].startswith("a-"))
    assert len(folded["duplicates"]) == 2
    every = json.loads(runner.invoke(app, ["search", query, "-i", index, "--json", "--all-versions"]).stdout)
    assert every["total"] == 6
    assert all(hit["duplicates"] == [] for hit in every["hits"])


def test_a_copy_indexed_in_a_later_run_joins_the_group(tmp_path: Path) -> None:
    folder = tmp_path / "wire"
    write(folder, "first.txt", wire_story(7))
    write(folder, "other.txt", wire_story(8))
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(folder)])
    write(folder, "later.txt", refiled(wire_story(7)))
    assert news.add_files([str(folder)]).added == 1
    found = news.search("minister OR harbour OR police OR bank")
    assert found.total == 2
    hit = next(hit for hit in found if hit.story.id in {"first.txt", "later.txt"})
    assert {hit.story.id, *hit.duplicates} == {"first.txt", "later.txt"}


def test_a_later_copy_is_verified_against_the_signature_recomputed_from_the_stored_story(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    headline = "Harbour strike halts ships"
    news = NewsIndex.create(tmp_path / "index")
    news.add([Story(id="first", body=wire_story(9), headline=headline), Story(id="other", body=wire_story(10))])
    computed: list[tuple[str, str | None]] = []
    real_compared_text = duplicates._compared_text  # what a signature is made of

    def spy(body: str, headline: str | None = None) -> object:
        computed.append((body, headline))
        return real_compared_text(body, headline)

    monkeypatch.setattr(duplicates, "_compared_text", spy)
    # (copies told apart by a letter: a number would make the second an update of the first, not a copy)
    copies = [
        Story(id=f"copy{n}", body=refiled(wire_story(9)) + f" Copy {'AB'[n - 1]}.", headline=headline) for n in (1, 2)
    ]
    news.add(copies)
    # The first copy's candidate, the committed story, is read back from its stored headline and body;
    # the second copy finds its signature cached.
    assert computed == [(copies[0].body, headline), (wire_story(9), headline), (copies[1].body, headline)]
    found = news.search("minister OR harbour OR police OR bank")
    assert found.total == 2
    hit = next(hit for hit in found if hit.story.id != "other")
    assert {hit.story.id, *hit.duplicates} == {"first", "copy1", "copy2"}


def test_copies_in_one_run_across_batch_commits_join_one_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexer, "BATCH_STORIES", 2)  # a commit after every second story
    stories = [Story(id=f"s{n}", body=wire_story(20 + n)) for n in range(3)]
    stories += [Story(id=f"copy{n}", body=refiled(wire_story(20 + n))) for n in range(3)]
    news = NewsIndex.create(tmp_path / "index")
    news.add(stories)
    found = news.search("minister OR harbour OR police OR bank OR talks")
    assert found.total == 3
    groups = {frozenset({hit.story.id, *hit.duplicates}) for hit in found}
    assert groups == {frozenset({f"s{n}", f"copy{n}"}) for n in range(3)}


def test_pruning_the_first_copy_keeps_the_others_together(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    (copies / "a-original.txt").unlink()
    assert news.add_files([str(copies)], prune=True).removed == 1
    found = news.search("minister OR harbour OR police OR bank")
    assert found.total == 4
    hit = next(hit for hit in found if hit.story.id.startswith("a-"))
    assert sorted([hit.story.id, *hit.duplicates]) == ["a-refiled.txt", "a-shorter.txt"]


def test_an_updated_story_that_is_no_copy_any_more_leaves_its_group(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    write(copies, "a-refiled.txt", wire_story(99))  # rewritten as another story
    assert news.add_files([str(copies)]).updated == 1
    found = news.search("minister OR harbour OR police OR bank")
    assert found.total == 5
    hit = next(hit for hit in found if hit.story.id in {"a-original.txt", "a-shorter.txt"})
    assert sorted([hit.story.id, *hit.duplicates]) == ["a-original.txt", "a-shorter.txt"]


def test_an_updated_copy_stays_in_its_group(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    write(copies, "a-refiled.txt", refiled(wire_story(1)).replace("further", "other"))
    assert news.add_files([str(copies)]).updated == 1
    assert news.search("minister OR harbour OR police OR bank").total == 4


def test_similar_leaves_out_the_story_and_its_copies(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    like = news.similar("a-original.txt", limit=10)
    assert like.hits
    assert not {"a-original.txt", "a-refiled.txt", "a-shorter.txt"} & set(ids(like))
    assert set(ids(like)) <= {"other-2.txt", "other-3.txt", "other-4.txt"}
    assert [hit.rank for hit in like] == list(range(1, len(like.hits) + 1))
    # From another story, the three copies are one hit.
    other = news.similar("other-2.txt", limit=10)
    assert sum(hit.story.id.startswith("a-") for hit in other) == 1
    copy_hit = next(hit for hit in other if hit.story.id.startswith("a-"))
    assert len(copy_hit.duplicates) == 2
    with pytest.raises(StoryNotFoundError, match="no story with id 'nope'"):
        news.similar("nope")


def test_similar_cli_json_and_exit_codes(tmp_path: Path, copies: Path) -> None:
    index = str(tmp_path / "index")
    runner.invoke(app, ["index", str(copies), "-i", index, "-q"])
    result = runner.invoke(app, ["similar", "other-2.txt", "-i", index, "--json", "--limit", "2"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"query", "total", "page", "limit", "took_ms", "suggestion", "matched", "message", "hits"}
    assert len(data["hits"]) == 2
    assert "other-2.txt" not in [hit["id"] for hit in data["hits"]]
    text = runner.invoke(app, ["similar", "other-2.txt", "-i", index])
    assert text.exit_code == 0
    assert "id: " in text.stdout
    unknown = runner.invoke(app, ["similar", "nope", "-i", index])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("Error: no story with id 'nope'")
    assert runner.invoke(app, ["similar", "x", "-i", str(tmp_path / "none")]).exit_code == 4
    assert runner.invoke(app, ["similar", "other-2.txt", "-i", index, "--limit", "0"]).exit_code == 2


def test_an_index_from_before_duplicate_groups_opens_searches_and_says_to_rebuild(
    tmp_path: Path, copies: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsindex.store import manifest as manifest_module
    from newsindex.store import schema

    def old_schema() -> object:
        fields = schema.build_schema()
        for name in ("dupbands", "dupgroup"):
            fields.remove(name)
        return fields

    with monkeypatch.context() as patch:
        patch.setattr(manifest_module, "build_schema", old_schema)
        NewsIndex.create(tmp_path / "index")
    news = NewsIndex.open(tmp_path / "index")
    report = news.add_files([str(copies)])
    assert report.added == 6
    warned = [problem for problem in report.problems if "duplicate groups" in problem.reason]
    assert len(warned) == 1  # once per run, not per story
    assert warned[0].kind == "degraded"
    assert "--rebuild" in warned[0].reason
    found = news.search("minister OR harbour OR police OR bank", limit=10)
    assert found.total == 6  # no groups: every version is a hit
    assert all(hit.duplicates == () for hit in found)
    assert "a-original.txt" in ids(news.similar("a-refiled.txt"))  # similar, but it cannot tell copies
    result = runner.invoke(app, ["index", "--rebuild", str(copies), "-i", str(tmp_path / "index"), "-q"])
    assert result.exit_code == 0, result.stderr
    assert NewsIndex.open(tmp_path / "index").search("minister OR harbour OR police OR bank").total == 4


def test_groups_are_assigned_before_stories_go_to_worker_processes(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    assert news.add_files([str(copies)], procs=2).added == 6
    found = news.search("minister OR harbour OR police OR bank")
    assert found.total == 4
    hit = next(hit for hit in found if hit.story.id.startswith("a-"))
    assert sorted([hit.story.id, *hit.duplicates]) == ["a-original.txt", "a-refiled.txt", "a-shorter.txt"]


def test_facets_count_every_copy_and_say_so_beside_a_total_of_groups(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    query = "minister OR harbour OR police OR bank"
    folded = news.search(query, facets=["source"])
    assert folded.total == 4 and folded.facets["source"] == (("Reuters", 6),)  # groups; stories
    text = runner.invoke(app, ["search", query, "-i", str(tmp_path / "index"), "--facet", "source"])
    assert text.exit_code == 0
    assert "source (every matching story, copies included):\n         6  Reuters" in text.stdout
    assert "of all 4 matching" not in text.stdout  # 6 stories counted, not 4
    every = runner.invoke(app, ["search", query, "-i", str(tmp_path / "index"), "--facet", "source", "--all-versions"])
    assert "source (of all 6 matching):\n         6  Reuters" in every.stdout


def test_a_timeline_counts_every_copy_as_search_all_versions_does(tmp_path: Path, copies: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(copies)])
    query = "minister OR harbour OR police OR bank"
    series = news.timeline(query).series[0]
    assert series.total + series.undated == news.search(query, all_versions=True).total == 6
    assert news.search(query).total == 4


@pytest.mark.parametrize(("seed", "words"), [(0, 3), (1, 50), (2, 399), (3, 9_000)])  # 9,000: in chunks
def test_signatures_are_those_of_datasketch(seed: int, words: int) -> None:
    # Indexes hold band hashes made with datasketch's MinHash: ours must give the same values.
    from datasketch.minhash import MinHash

    from newsindex.store.duplicates import NUM_PERM, _shingle_hashes
    from newsindex.text.dateline import split_dateline

    rng = random.Random(seed)
    vocabulary = ["Albania", "Iran", "oil", "diplomats", "expelled", "Tiranë", "the", "of", "3.5%", "U.S."]
    vocabulary += [f"word{n}" for n in range(300)]
    body = "TIRANA (Reuters) - " + " ".join(rng.choice(vocabulary) for _ in range(words))
    reference = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32", hashfunc=int)
    hashes = _shingle_hashes(f"Headline\n{split_dateline(body)[1]}")
    assert hashes is not None
    reference.update_batch(hashes.tolist())
    ours = signature(body, "Headline")
    assert ours is not None
    assert ours.dtype == "uint32"
    assert ours.tolist() == reference.hashvalues.astype("uint32").tolist()


@pytest.mark.parametrize("accented", [False, True])
@pytest.mark.parametrize(("seed", "words"), [(0, 2), (1, 50), (2, 399)])
def test_signature_and_figures_made_together_are_those_made_apart(seed: int, words: int, accented: bool) -> None:
    # Indexing makes both from one pass over the words (an ASCII text) or apart (any other).
    from datasketch.minhash import MinHash

    from newsindex.store.duplicates import NUM_PERM, _compared_text, _shingle_hashes, _signature_and_figures, figures

    rng = random.Random(seed)
    vocabulary = ["Albania", "oil", "rose", "seven", "3.5%", "1,234.5", "(12)", "U.S.", "the", "7-1/2", "$5", "fell"]
    vocabulary += ["Tiranë", "ÉCOLE"] if accented else ["Tirana", "ECOLE"]
    body = "TIRANA (Reuters) - " + " ".join(rng.choice(vocabulary) for _ in range(words))
    reference = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32", hashfunc=int)
    hashes = _shingle_hashes(_compared_text(body, "Headline"))
    assert hashes is not None
    reference.update_batch(hashes.tolist())
    together, numbers = _signature_and_figures(_compared_text(body, "Headline"))
    assert together is not None
    assert together.tolist() == reference.hashvalues.astype("uint32").tolist()
    assert numbers == figures(body, "Headline")
    assert numbers  # the vocabulary's figures are found


def test_the_band_table_finds_every_owner_of_a_key_in_its_sorted_runs_and_newest_stories(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    monkeypatch.setattr(duplicates._BandTable, "_SEAL_STORIES", 3)  # sorted in every third story
    monkeypatch.setattr(duplicates._BandTable, "_RUN_KEYS", 40)  # a run is full at four stories
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**32, size=(20, duplicates.BANDS), dtype=np.uint32)
    keys[15, 4] = keys[19, 0] = keys[2, 4]  # s2 in the first run, s15 in a later one, s19 not yet sorted
    table = duplicates._BandTable()
    for n, story_keys in enumerate(keys):
        table.add(f"s{n}", story_keys)
    assert len(table._runs) >= 3 and table._recent
    assert table.owners(keys[2]) == ["s2", "s15", "s19"]
    assert table.owners(keys[7]) == ["s7"]
    assert table.owners(keys[19]) == ["s2", "s15", "s19"]
    assert table.owners(rng.integers(0, 2**32, size=duplicates.BANDS, dtype=np.uint32)) == []


def test_the_dupbands_column_holds_each_band_hash_and_gives_back_the_band_keys() -> None:
    import hashlib

    sig = signature(wire_story(5))
    assert sig is not None
    keys = duplicates.band_keys(sig)
    column = duplicates.band_bytes(keys)
    rows = duplicates.ROWS
    assert column == b"".join(
        hashlib.blake2b(sig[band * rows : (band + 1) * rows].tobytes(), digest_size=4).digest()
        for band in range(duplicates.BANDS)
    )  # the column's form, as indexes written before hold it
    assert duplicates._keys_from_bytes(column)[0].tolist() == keys.tolist()


# -- the window and the figures: reports written on one template are not copies ---------------------------

_FED = (
    "NEW YORK, {day} - The Federal Reserve entered the U.S. Government securities market to arrange {amount} "
    "billion dlrs of customer repurchase agreements, a Fed spokesman said. Dealers said Federal funds were "
    "trading at {rate} pct when the Fed began its temporary and indirect supply of reserves to the banking "
    "system, and that the move was expected by most of the market."
)
_SHIPS = (
    "PORTLAND, Ore., {day} - There were {loading} grain ships loading and {waiting} ships were waiting to load "
    "at Portland, according to the Portland Merchants Exchange. The exchange said the ships were loading wheat, "
    "corn and barley for buyers in Asia, and that the port's elevators were working normally."
)


def fed(day: str, amount: str = "1.5", rate: str = "6-1/4") -> str:
    return _FED.format(day=day, amount=amount, rate=rate)


def dated(story_id: str, body: str, when: str, headline: str | None = None) -> Story:
    from datetime import datetime

    return Story(id=story_id, body=body, headline=headline, published=datetime.fromisoformat(when))


def groups_of(news: NewsIndex, query: str) -> set[frozenset[str]]:
    return {frozenset({hit.story.id, *hit.duplicates}) for hit in news.search(query, limit=50)}


def test_figures_differ_only_where_both_stories_give_a_number_in_one_context() -> None:
    from newsindex.store.duplicates import figures, figures_disagree

    base = figures(fed("March 3"))
    assert figures_disagree(base, figures(fed("March 4", amount="2.5")))
    assert figures_disagree(base, figures(fed("March 4", rate="6-3/8")))
    assert not figures_disagree(base, figures(fed("March 4")))  # the dateline's date is no figure of the story
    appended = fed("March 3") + "\n\nThe Fed added 3.5 billion dlrs of reserves last week."
    assert not figures_disagree(base, figures(appended))  # a paragraph with figures of its own added
    assert not figures_disagree(base, figures(fed("March 3").replace(" 1.5 billion", " billion")))  # one cut
    words = _SHIPS.format(day="Feb 26", loading="seven", waiting="six")
    # Wire style spells small numbers: "seven ships" and "three ships" are other figures.
    assert figures_disagree(figures(words), figures(words.replace("seven grain", "three grain")))
    assert not figures_disagree(figures(words), figures(words.replace("seven grain", "7 grain")))


def test_a_report_on_one_template_with_other_figures_weeks_apart_is_not_a_copy(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    headline = "GRAIN SHIPS LOADING AT PORTLAND"
    news.add(
        [
            dated("feb26", _SHIPS.format(day="Feb 26", loading="seven", waiting="six"), "1987-02-26", headline),
            dated("apr07", _SHIPS.format(day="April 7", loading="four", waiting="two"), "1987-04-07", headline),
            dated("apr09", _SHIPS.format(day="April 9", loading="five", waiting="two"), "1987-04-09", headline),
        ]
    )
    found = news.search("grain ships portland")
    assert found.total == 3
    assert all(hit.duplicates == () for hit in found)
    by_id = {hit.story.id: hit for hit in found}
    # Two days apart, the same template with another figure: an update of the earlier report, said so.
    assert by_id["apr09"].revises == "apr07"
    assert by_id["apr07"].revises is None and by_id["feb26"].revises is None


def test_an_identical_story_months_later_is_not_a_copy_but_within_days_it_is(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    brief = fed("March 3")
    news.add(
        [
            dated("march", brief, "1987-03-03T10:00"),
            dated("refiled", brief.replace("NEW YORK, March 3", "NEW YORK, March 5"), "1987-03-05T09:00"),
            dated("june", brief.replace("NEW YORK, March 3", "NEW YORK, June 9"), "1987-06-09T10:00"),
        ]
    )
    assert groups_of(news, "federal reserve") == {frozenset({"march", "refiled"}), frozenset({"june"})}
    assert all(hit.revises is None for hit in news.search("federal reserve"))  # same figures: no update


def test_a_group_never_spans_more_than_the_window_even_through_a_chain_of_copies(tmp_path: Path) -> None:
    # Each copy is within 3 days of the one before it, but the fourth is 6 days after the first; its
    # nearest copy is in the group, so it would join it without the group's span. The last run finds
    # the group's span in the committed index (the copies were indexed in two earlier runs).
    news = NewsIndex.create(tmp_path / "index")
    news.add([dated("day1", fed("March 1"), "1987-03-01T12:00")])
    news.add([dated("day3", fed("March 3"), "1987-03-03T12:00"), dated("day4", fed("March 4"), "1987-03-04T12:00")])
    news.add([dated("day7", fed("March 7"), "1987-03-07T12:00")])
    assert groups_of(news, "federal reserve") == {frozenset({"day1", "day3", "day4"}), frozenset({"day7"})}
    assert duplicates.WINDOW_DAYS == 3


def test_the_window_holds_within_one_run_too(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add([dated(f"day{day}", fed(f"March {day}"), f"1987-03-{day:02}T12:00") for day in (1, 3, 4, 6, 8)])
    assert groups_of(news, "federal reserve") == {frozenset({"day1", "day3", "day4"}), frozenset({"day6", "day8"})}


def test_an_undated_copy_joins_its_group_without_widening_it(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(
        [
            dated("march", fed("March 3"), "1987-03-03"),
            Story(id="undated", body=fed("March 3")),
            dated("june", fed("June 9"), "1987-06-09"),  # a copy of the undated one, but months after the group
        ]
    )
    assert groups_of(news, "federal reserve") == {frozenset({"march", "undated"}), frozenset({"june"})}


def test_a_copy_with_other_figures_is_its_own_hit_and_the_cli_says_which_story_it_updates(tmp_path: Path) -> None:
    folder = tmp_path / "wire"
    write(folder, "a.txt", " date 1987-03-03\n\n" + fed("March 3"))
    write(folder, "b.txt", " date 1987-03-03\n\n" + fed("March 3", amount="2.5"))
    write(folder, "c.txt", " date 1987-03-04\n\n" + fed("March 4") + "\n\nIt was the third such move this week.")
    index = str(tmp_path / "index")
    assert runner.invoke(app, ["index", str(folder), "-i", index, "-q"]).exit_code == 0
    data = json.loads(runner.invoke(app, ["search", "federal reserve", "-i", index, "--json"]).stdout)
    assert data["total"] == 2
    hits = {hit["id"]: hit for hit in data["hits"]}
    assert hits["a.txt"]["duplicates"] == ["c.txt"] and hits["a.txt"]["revises"] is None
    assert hits["b.txt"]["duplicates"] == [] and hits["b.txt"]["revises"] == "a.txt"
    text = runner.invoke(app, ["search", "federal reserve", "-i", index]).stdout
    assert "updated version of a.txt" in text


def test_an_index_from_before_the_revises_field_still_groups_by_window_and_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsindex.store import manifest as manifest_module
    from newsindex.store import schema

    def old_schema() -> object:
        fields = schema.build_schema()
        fields.remove("revises")
        return fields

    with monkeypatch.context() as patch:
        patch.setattr(manifest_module, "build_schema", old_schema)
        NewsIndex.create(tmp_path / "index")
    news = NewsIndex.open(tmp_path / "index")
    report = news.add(
        [
            dated("a", fed("March 3"), "1987-03-03"),
            dated("b", fed("March 3", amount="2.5"), "1987-03-03"),
            dated("c", fed("March 4"), "1987-03-04"),
        ]
    )
    assert report.added == 3 and not report.problems
    found = news.search("federal reserve")
    assert groups_of(news, "federal reserve") == {frozenset({"a", "c"}), frozenset({"b"})}
    assert all(hit.revises is None for hit in found)  # nowhere to keep it


def test_the_span_of_a_committed_group_counts_members_that_are_no_copy_of_the_new_story(tmp_path: Path) -> None:
    # b is a copy of a and c a copy of b, but c is no copy of a: only the span of the committed group
    # (a, b), read from the index, tells that c would stretch it to four days.
    sentences = [sentence + "." for sentence in wire_story(40, words=520).split(" - ", 1)[1].split(".") if sentence]
    a, b, c = (" ".join(sentences[start : start + 40]) for start in (0, 5, 10))
    assert similarity(signature(a), signature(b)) >= THRESHOLD  # type: ignore[arg-type]
    assert similarity(signature(b), signature(c)) >= THRESHOLD  # type: ignore[arg-type]
    assert similarity(signature(a), signature(c)) < THRESHOLD - 0.05  # type: ignore[arg-type]
    news = NewsIndex.create(tmp_path / "index")
    news.add([dated("a", a, "1987-03-01T12:00"), dated("b", b, "1987-03-03T12:00")])
    news.add([dated("c", c, "1987-03-05T12:00")])
    assert groups_of(news, "minister OR harbour OR police OR bank") == {frozenset({"a", "b"}), frozenset({"c"})}


def test_groups_are_counted_from_the_stories_with_copies_whatever_holds_the_matches() -> None:
    import numpy as np

    from newsindex.search.collapsing import StoryGroups

    groups = StoryGroups(["a", "", "a", "b", "c", "b", "a", "", "d"])  # d and c: one story each
    matching = {0, 1, 2, 3, 4, 7, 8}  # a twice, b once, c, d and two without a group
    assert groups.count(matching) == 6
    assert groups.count(np.array(sorted(matching))) == groups.count(list(matching)) == 6
    assert groups.count(set()) == 0 and groups.count({5, 3}) == 1
    assert groups.members(0) == (2, 6) and groups.members(1) == () and groups.members(4) == ()
