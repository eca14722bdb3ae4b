"""Try ranking settings on Cranfield, CISI and Medline: each collection indexed once, every setting searched.

Usage (from the repository root, with the project's Python):

    python benchmarks/tune.py [--collections cran,cisi,med] [--workdir DIR] SETTING…

Each SETTING is a JSON object of search-time knobs, e.g. '{"headline": 1.5, "k1": 1.6}'; unnamed knobs keep
the shipped values. Knobs: `headline` (the headline's weight against the body's 1), `k1`, `b` (BM25),
`expand` (true: RM3), `stories`, `words`, `weight`, `share` (RM3's feedback stories, added words, weight of
the original query, largest share of stories an added word may appear in), and `lead` (the lead boost,
an indexing setting: a second index is built for each value). Prints MAP, nDCG@10, P@10 and Recall@100
per collection and setting. benchmarks/eval.py writes the record (EVAL.md); this is for exploring.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import eval as evaluation_script

import newsindex.expansion
import newsindex.index
import newsindex.ranking
import newsindex.schema
from newsindex import NewsIndex
from newsindex.batch import Topic, rank_topics, read_topics
from newsindex.evaluation import Qrels, evaluate, read_qrels, trec_run_lines

DEFAULT_WORKDIR = evaluation_script.BENCHMARKS_DIR / "work" / "tune"


def apply(setting: dict[str, Any]) -> None:
    """Set the search-time knobs of `setting` (the others to their shipped values)."""
    newsindex.schema.TEXT_FIELDS["headline"] = setting.get("headline", SHIPPED["headline"])
    newsindex.ranking.BM25_K1 = setting.get("k1", SHIPPED["k1"])
    newsindex.ranking.BM25_B = setting.get("b", SHIPPED["b"])
    newsindex.index.FEEDBACK_STORIES = setting.get("stories", SHIPPED["stories"])
    newsindex.expansion.FEEDBACK_WORDS = setting.get("words", SHIPPED["words"])
    newsindex.expansion.relevance_model.__kwdefaults__["words"] = newsindex.expansion.FEEDBACK_WORDS
    newsindex.expansion.ORIGINAL_WEIGHT = setting.get("weight", SHIPPED["weight"])
    newsindex.expansion.MAX_SHARE = setting.get("share", SHIPPED["share"])


SHIPPED = {
    "headline": newsindex.schema.TEXT_FIELDS["headline"],
    "k1": newsindex.ranking.BM25_K1,
    "b": newsindex.ranking.BM25_B,
    "stories": newsindex.expansion.FEEDBACK_STORIES,
    "words": newsindex.expansion.FEEDBACK_WORDS,
    "weight": newsindex.expansion.ORIGINAL_WEIGHT,
    "share": newsindex.expansion.MAX_SHARE,
    "lead": newsindex.schema.LEAD_BOOST,
}


def collection_index(name: str, lead: float, workdir: Path) -> tuple[NewsIndex, list[Topic], Qrels]:
    """The collection converted and indexed with this lead boost (once; reused on later runs)."""
    folder = workdir / name
    if not (folder / "qrels.txt").exists():
        evaluation_script.convert(evaluation_script.COLLECTIONS[name], folder)
    path = folder / f"index-lead-{lead:g}"
    if not path.exists():
        newsindex.schema.LEAD_BOOST = lead
        try:
            with NewsIndex.create(path, fsync=False) as news:
                news.add_files([str(folder / "corpus.jsonl")], procs=1)
        finally:
            newsindex.schema.LEAD_BOOST = SHIPPED["lead"]
    topics = read_topics(folder / "topics.tsv", on_problem=lambda problem: print(problem, file=sys.stderr))
    return NewsIndex.open(path), topics, read_qrels(folder / "qrels.txt")


def measure(news: NewsIndex, topics: list[Topic], qrels: Qrels, *, expand: bool) -> tuple[float, ...]:
    news.close()  # fresh searchers take the knobs in force
    run: dict[str, dict[str, float]] = {}
    for topic, ranked in rank_topics(news, topics, limit=evaluation_script.DEPTH, expand=expand):
        lines = [line.split() for line in trec_run_lines(topic.id, ranked, "tune")]
        run[topic.id] = {fields[2]: float(fields[4]) for fields in lines}
    result = evaluate(run, qrels)
    return result.map, result.ndcg_10, result.p_10, result.recall_100


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="+", type=json.loads, help="JSON objects of knobs")
    parser.add_argument("--collections", default="cran,cisi,med", help="comma-separated: cran, cisi, med")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="converted files and indexes")
    args = parser.parse_args(list(argv) if argv is not None else None)
    print("| collection | setting | MAP | nDCG@10 | P@10 | Recall@100 |\n|---|---|---:|---:|---:|---:|")
    for name in args.collections.split(","):
        for setting in args.settings:
            news, topics, qrels = collection_index(name, setting.get("lead", SHIPPED["lead"]), args.workdir)
            apply(setting)
            figures = measure(news, topics, qrels, expand=bool(setting.get("expand")))
            news.close()
            shown = json.dumps(setting) if setting else "shipped"
            title = evaluation_script.COLLECTIONS[name].title
            print(f"| {title} | `{shown}` | " + " | ".join(f"{value:.4f}" for value in figures) + " |", flush=True)
    apply({})


if __name__ == "__main__":
    main()
