"""Ranking evaluation: TREC runs and qrels, the measures against hand-computed figures, batch runs, the CLI."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, UsageError
from newsindex.cli.commands import app
from newsindex.evaluation.batch import Topic, read_topics, run_topics
from newsindex.evaluation.trec import evaluate, ranking, read_qrels, read_run, trec_id, trec_run_lines, write_qrels

runner = CliRunner()

# The hand-computed example. Topic 1 has three relevant documents (d1 grade 2, d2 and d9 grade 1),
# topic 2 one (e1), topic 3 one (f1) and no run lines, topic 4 none at all; topic 5 is not judged.
QRELS = """\
1 0 d1 2
1 0 d2 1
1 0 d3 0
1 0 d9 1
2 0 e1 1
3 0 f1 3
4 0 g1 0
"""
# The rank column is deliberately wrong: trec_eval (and evaluate) order by score, then by docid
# descending, so topic 1 reads d3 (3.0), d2 (2.0), d1 (2.0: "d1" < "d2" loses the tie), d4 (1.0).
RUN = """\
1 Q0 d1 1 2.0 hand
1 Q0 d2 2 2.0 hand
1 Q0 d3 3 3.0 hand
1 Q0 d4 4 1.0 hand
2 Q0 e2 1 5.0 hand
2 Q0 e1 2 4.0 hand
5 Q0 x1 1 9.0 hand
"""


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def hand(tmp_path: Path) -> tuple[str, str]:
    """The hand-computed example as files: (run, qrels)."""
    return write(tmp_path / "hand.run", RUN), write(tmp_path / "hand.qrels", QRELS)


def test_every_measure_matches_the_hand_computed_example(hand: tuple[str, str]) -> None:
    result = evaluate(read_run(hand[0]), read_qrels(hand[1]))
    scores = {topic.topic: topic for topic in result.topics}
    log2_3 = math.log2(3)  # 1.5849625
    # Topic 1, gains down the ranking: d3 0, d2 1, d1 2, d4 0 (not judged); 3 relevant (d1, d2, d9).
    #   AP = (1/2 + 2/3) / 3 = 1.1666667 / 3 = 0.3888889
    #   P@10 = 2 / 10 = 0.2;  Recall@100 = 2 / 3 = 0.6666667
    #   DCG@10 = 1/log2(3) + 2/log2(4) = 0.6309298 + 1 = 1.6309298
    #   ideal (grades 2, 1, 1) = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.6309298 + 0.5 = 3.1309298
    #   nDCG@10 = 1.6309298 / 3.1309298 = 0.5209091
    one = scores["1"]
    assert one.ap == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert one.p_10 == pytest.approx(0.2)
    assert one.recall_100 == pytest.approx(2 / 3)
    assert one.ndcg_10 == pytest.approx((1 / log2_3 + 2 / 2) / (2 + 1 / log2_3 + 1 / 2))
    assert one.ndcg_10 == pytest.approx(0.5209091)
    # Topic 2: e2 (not judged), then e1 (relevant) at rank 2.
    #   AP = (1/2) / 1 = 0.5;  P@10 = 0.1;  Recall@100 = 1;  nDCG@10 = (1/log2(3)) / (1/log2(2)) = 0.6309298
    two = scores["2"]
    assert (two.ap, two.p_10, two.recall_100) == pytest.approx((0.5, 0.1, 1.0))
    assert two.ndcg_10 == pytest.approx(1 / log2_3)
    # Topic 3 is judged but has no run lines: 0 everywhere (trec_eval -c). Topic 4 has nothing relevant
    # and topic 5 is not judged: neither is averaged.
    three = scores["3"]
    assert (three.ap, three.ndcg_10, three.p_10, three.recall_100, three.retrieved) == (0, 0, 0, 0, 0)
    assert result.queries == 3
    assert (result.missing, result.unjudged) == (("3",), ("5",))
    # Means over topics 1, 2, 3:
    #   MAP = (0.3888889 + 0.5 + 0) / 3 = 0.2962963
    #   nDCG@10 = (0.5209091 + 0.6309298 + 0) / 3 = 0.3839463
    #   P@10 = (0.2 + 0.1 + 0) / 3 = 0.1
    #   Recall@100 = (0.6666667 + 1 + 0) / 3 = 0.5555556
    assert result.map == pytest.approx(0.2962963)
    assert result.ndcg_10 == pytest.approx(0.3839463)
    assert result.p_10 == pytest.approx(0.1)
    assert result.recall_100 == pytest.approx(0.5555556)


def test_cutoffs_count_only_the_top_10_and_100() -> None:
    run = {"1": {f"d{rank:03}": 1000.0 - rank for rank in range(1, 201)}}  # d001 first … d200 last
    qrels = {"1": {"d005": 1, "d011": 1, "d100": 1, "d101": 1}}
    topic = evaluate(run, qrels).topics[0]
    assert topic.p_10 == pytest.approx(0.1)  # d005 only; d011 is 11th
    assert topic.recall_100 == pytest.approx(3 / 4)  # d005, d011 and d100; d101 is 101st
    assert topic.ap == pytest.approx((1 / 5 + 2 / 11 + 3 / 100 + 4 / 101) / 4)  # AP has no cutoff
    assert topic.ndcg_10 == pytest.approx((1 / math.log2(6)) / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)))


def test_ranking_is_by_score_then_docid_descending() -> None:
    assert ranking({"a": 1.0, "c": 1.0, "b": 2.0, "d": 0.5}) == ["b", "c", "a", "d"]


def test_run_lines_keep_the_engine_order_through_trec_eval_sorting() -> None:
    # A tier ranked above a higher score, and ties: written scores go strictly down, rank by rank.
    ranked = [("s1", 5.0), ("s2", 7.25), ("s3", 7.25), ("s4", 1.123456)]
    lines = list(trec_run_lines("7", ranked, "tag"))
    assert lines == [
        "7 Q0 s1 1 5.0000 tag",
        "7 Q0 s2 2 4.9999 tag",
        "7 Q0 s3 3 4.9998 tag",
        "7 Q0 s4 4 1.1235 tag",
    ]
    run = {"7": {line.split()[2]: float(line.split()[4]) for line in lines}}
    assert ranking(run["7"]) == ["s1", "s2", "s3", "s4"]


def test_run_lines_encode_white_space_in_ids_and_refuse_a_bad_tag() -> None:
    assert trec_id("folder/a story 100%.txt") == "folder/a%20story%20100%25.txt"
    assert next(trec_run_lines("1", [("a\tb", 1.0)], "t")).split() == ["1", "Q0", "a%09b", "1", "1.0000", "t"]
    with pytest.raises(UsageError, match="one word"):
        list(trec_run_lines("1", [], "my run"))


def test_cranfield_grades_become_trec_gains(tmp_path: Path) -> None:
    path = write(tmp_path / "cranqrel", "1 184 2 \n1 29 1\n1 486 -1\n2 12 4\n")
    assert read_qrels(path, format="cran") == {"1": {"184": 3, "29": 4, "486": 0}, "2": {"12": 1}}


def test_cisi_pairs_are_all_relevant_and_convert_to_trec(tmp_path: Path) -> None:
    path = write(tmp_path / "CISI.REL", "     1     28\t0\t0.000000\n     1     35\t0\t0.000000\n")
    qrels = read_qrels(path, format="cisi")
    assert qrels == {"1": {"28": 1, "35": 1}}
    out = io.StringIO()
    write_qrels(qrels, out)
    assert out.getvalue() == "1 0 28 1\n1 0 35 1\n"


@pytest.mark.parametrize(
    ("text", "format", "message"),
    [
        ("1 184 2\n", "trec", "not 3 (Cranfield's cranqrel? use --qrels-format cran)"),
        ("1 28 0 0.000000\n", "trec", "not a whole number (CISI.REL? use --qrels-format cisi)"),
        ("1 0 d1 1\n1 0 d1 2\n", "trec", "judged twice"),
        ("1 184 7\n", "cran", "grades are 1 to 4 or -1"),
    ],
)
def test_bad_qrels_name_the_line(tmp_path: Path, text: str, format: str, message: str) -> None:
    path = write(tmp_path / "qrels", text)
    with pytest.raises(UsageError, match=r"qrels:\d+: ") as error:
        read_qrels(path, format=format)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 Q0 d1 1 2.0\n", "6 columns"),
        ("1 Q0 d1 1 high tag\n", "not a number"),
        ("1 Q0 d1 1 2.0 t\n1 Q0 d1 2 1.0 t\n", "listed twice"),
    ],
)
def test_bad_runs_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_run(write(tmp_path / "bad.run", text))


# -- batch ----------------------------------------------------------------------------------------


def test_run_topics_reads_topics_as_plain_words(news: NewsIndex) -> None:
    topics = [Topic("1", 'What "foiled attacks" (in Albania) AND Iran?'), Topic("2", "title:carnival byline:x OR")]
    ran = {topic.id: [hit.story.id for hit in results.hits] for topic, results in run_topics(news, topics, limit=3)}
    assert ran == {
        "1": [hit.story.id for hit in news.search("foiled attacks albania iran", limit=3).hits],
        "2": ["leap-day.txt"],
    }


def test_read_topics_reports_bad_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "q.tsv", "1\tAlbania Iran\n\nno tab here\n2\t  \n1\tagain\nx y\toil\n3\tIran\toil\n")
    problems: list[str] = []
    topics = read_topics(path, on_problem=lambda problem: problems.append(str(problem)))
    assert topics == [Topic("1", "Albania Iran", 1), Topic("3", "Iran oil", 7)]
    assert problems == [
        f"{path}:3: no tab between id and text (expected: id TAB text)",
        f"{path}:4: no text (expected: id TAB text)",
        f"{path}:5: topic 1 appears again; the first one was kept",
        f"{path}:6: the id 'x y' has white space",
    ]


def test_run_topics_skips_what_cannot_be_searched(news: NewsIndex) -> None:
    failures: list[str] = []
    topics = [Topic("a", "Albania Iran"), Topic("b", "the of and"), Topic("c", "oil " * 1000)]
    ran = list(run_topics(news, topics, limit=3, on_failure=lambda topic, error: failures.append(topic.id)))
    assert [(topic.id, [hit.story.id for hit in results.hits]) for topic, results in ran] == [
        (
            "a",
            [hit.story.id for hit in news.search("Albania Iran", filters=Filters(match="any"), limit=3).hits],
        ),  # some words count too
        # a long topic is searched, not refused (its scores are oil's × 1000: a repeated word counts each time)
        ("c", [hit.story.id for hit in news.search("oil", limit=3).hits]),
    ]
    assert failures == ["b"]


# -- the command line -----------------------------------------------------------------------------

TOPICS = 'q1\tAlbania Iran\nq2\twhat "foiled (attacks" in title:Albania?\nq3\tthe of and\n'


def test_batch_writes_a_trec_run(tmp_path: Path, index_path: str) -> None:
    topics = write(tmp_path / "topics.tsv", TOPICS)
    result = runner.invoke(app, ["batch", topics, "-i", index_path, "--run-tag", "mine", "--limit", "3"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    expected = [
        hit.story.id
        for hit in NewsIndex.open(index_path).search("Albania Iran", filters=Filters(match="any"), limit=3).hits
    ]
    assert [line[:4] for line in lines if line[0] == "q1"] == [
        ["q1", "Q0", story_id, str(rank)] for rank, story_id in enumerate(expected, start=1)
    ]
    assert expected[:2] == ["albania-iran-ties.txt", "albania-iran-deep.txt"]  # both words, then some
    assert {line[0] for line in lines} == {"q1", "q2"}
    assert all(len(line) == 6 and line[5] == "mine" for line in lines)
    q1_scores = [float(line[4]) for line in lines if line[0] == "q1"]
    assert q1_scores == sorted(q1_scores, reverse=True) and len(set(q1_scores)) == 3
    assert f"skipped: {topics}:3: topic q3: nothing to search for" in result.stderr
    assert "2 of 3 topics run" in result.stderr


def test_batch_strict_exits_7_when_a_topic_is_skipped(tmp_path: Path, index_path: str) -> None:
    topics = write(tmp_path / "topics.tsv", TOPICS)
    result = runner.invoke(app, ["batch", topics, "-i", index_path, "--strict", "-q"])
    assert result.exit_code == 7
    assert result.stderr.splitlines()[-1] == "Error: 1 topic(s) or line(s) skipped (--strict)"


def test_batch_writes_json_lines_to_a_file(tmp_path: Path, index_path: str) -> None:
    topics = write(tmp_path / "topics.tsv", "q1\tAlbania Iran\n")
    out = tmp_path / "run.jsonl"
    result = runner.invoke(app, ["batch", topics, "-i", index_path, "--format", "jsonl", "-n", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    hits = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(hit["qid"], hit["rank"], hit["id"]) for hit in hits] == [
        ("q1", 1, "albania-iran-ties.txt"),
        ("q1", 2, "albania-iran-deep.txt"),
    ]
    assert {"score", "headline", "snippet", "published"} <= set(hits[0])
    assert not (tmp_path / "run.jsonl.partial").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["batch", "missing.tsv"], 2, "missing.tsv: no such topics file"),
        (["batch", "TOPICS", "--run-tag", "two words"], 2, "the run tag must be one word"),
        (["batch", "TOPICS", "-i", "no-index-here"], 4, "no index at no-index-here"),
    ],
)
def test_batch_errors_exit_by_the_contract(
    tmp_path: Path, index_path: str, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "TOPICS", "q1\tAlbania\n")
    full = args if "-i" in args else [*args, "-i", index_path]
    result = runner.invoke(app, full)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_evaluate_prints_the_measures(hand: tuple[str, str]) -> None:
    result = runner.invoke(app, ["evaluate", *hand])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "queries     3",
        "MAP         0.2963",
        "nDCG@10     0.3839",
        "P@10        0.1000",
        "Recall@100  0.5556",
    ]
    assert result.stderr == "Note: 1 judged topic(s) have no run lines, scored 0: 3\n"


def test_evaluate_json(hand: tuple[str, str]) -> None:
    result = runner.invoke(app, ["evaluate", *hand, "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["queries"], data["map"], data["ndcg_10"], data["p_10"], data["recall_100"]) == (
        3,
        0.2963,
        0.3839,
        0.1,
        0.5556,
    )
    assert data["missing"] == ["3"] and data["unjudged"] == ["5"]
    assert data["per_query"]["2"] == {
        "relevant": 1,
        "retrieved": 2,
        "ap": 0.5,
        "ndcg_10": 0.6309,
        "p_10": 0.1,
        "recall_100": 1.0,
    }


def test_evaluate_reads_cranfield_qrels(tmp_path: Path) -> None:
    run = write(tmp_path / "r.run", "1 Q0 29 1 2.0 t\n1 Q0 184 2 1.0 t\n")
    qrels = write(tmp_path / "cranqrel", "1 184 1\n1 29 4\n1 486 -1\n")
    result = runner.invoke(app, ["evaluate", run, qrels, "--qrels-format", "cran", "--json"])
    assert result.exit_code == 0, result.output
    # gains: 184 → 4, 29 → 1; the run puts 29 first. DCG = 1 + 4/log2(3); ideal = 4 + 1/log2(3).
    expected = (1 + 4 / math.log2(3)) / (4 + 1 / math.log2(3))
    assert json.loads(result.stdout)["ndcg_10"] == round(expected, 4)


def test_evaluate_refuses_bad_files(tmp_path: Path, hand: tuple[str, str]) -> None:
    result = runner.invoke(app, ["evaluate", hand[0], str(tmp_path / "none")])
    assert (result.exit_code, result.stderr) == (2, f"Error: {tmp_path / 'none'}: no such file\n")
    result = runner.invoke(app, ["evaluate", hand[1], hand[1]])  # qrels given as the run
    assert result.exit_code == 2
    assert "a run line has 6 columns" in result.stderr
    nothing = write(tmp_path / "zero.qrels", "1 0 d1 0\n")
    result = runner.invoke(app, ["evaluate", hand[0], nothing])
    assert result.exit_code == 2
    assert "has a relevant document" in result.stderr


def test_batch_then_evaluate(tmp_path: Path, index_path: str) -> None:
    topics = write(tmp_path / "topics.tsv", "1\tAlbania Iran\n2\toil prices\n")
    qrels = write(
        tmp_path / "qrels.txt", "1 0 albania-iran-ties.txt 2\n1 0 iran-oil.txt 0\n2 0 albania-iran-deep.txt 1\n"
    )
    run = str(tmp_path / "run.txt")
    assert runner.invoke(app, ["batch", topics, "-i", index_path, "-o", run, "-q"]).exit_code == 0
    result = runner.invoke(app, ["evaluate", run, qrels, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Topic 1: the only relevant story is first. Topic 2: the one story about oil prices is first.
    assert (data["queries"], data["map"], data["ndcg_10"], data["p_10"]) == (2, 1.0, 1.0, 0.1)
