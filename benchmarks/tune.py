"""Try ranking settings on the collections of benchmarks/eval.py: each indexed once, every setting searched.

Usage (from the repository root, with the project's Python):

    python benchmarks/tune.py [--collections cran,cisi,med,reuters-known,reuters-topics] [--workdir DIR] SETTING…

Each SETTING is a JSON object of search-time knobs, e.g. '{"headline": 1.5, "k1": 1.6}'; unnamed knobs keep
the shipped values. Knobs: `headline` (the headline's weight against the body's 1), `k1`, `b` (BM25),
`idf` ("lucene", "robertson" or "whoosh", see newsindex.search.ranking.idf), `delta` (BM25+'s lower bound), `coordination`, `short` (what a matched word of a short query weighs beyond its idf, and the most
distinct words a short query has: see newsindex.search.ranking.SHORT_QUERY_WORDS), `qtf` (a repeated plain-words
query word: "none", "linear", "log"), `function_words` ("shipped", "none", "snowball": the Snowball
stop list left out of plain-words queries), `expand` (true: RM3), `stories`, `words`, `weight`, `share`
(RM3's feedback stories at most, added words, weight of the original query, largest share of stories
an added word may appear in), `mode`, `ratio`, `gap`, `temperature`, `keep` (adaptive feedback: see newsindex.search.expansion), `prox`, `window`, `prox_depth`
(the proximity bonus: its weight, 0 for none, the pair's window and the stories rescored), `lead_weight`,
`lead_words` (the lead bonus in the same step: its weight, 0 for none, and the words counted as lead), and the
indexing settings `lead` (the lead boost) and `analysis` (1 or 2, see newsindex.store.schema), an index built
for each value. Prints MAP, nDCG@10, P@10 and Recall@100 per collection and setting. With the --workdir
of benchmarks/eval.py it searches eval's indexes. eval.py writes the record (EVAL.md); this is for exploring.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import eval as evaluation_script
import news_eval

import newsindex.index
import newsindex.search.expansion
import newsindex.search.ranking
import newsindex.store.schema
from newsindex import NewsIndex
from newsindex.evaluation.batch import Topic, rank_topics, read_topics
from newsindex.evaluation.trec import Qrels, evaluate, read_qrels, trec_run_lines
from newsindex.store.schema import stem

# The Snowball project's English stop words (snowballstem.org/algorithms/english/stop.txt, without the
# contractions), stemmed: a candidate list of function words.
SNOWBALL = """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is are was
were be been being have has had having do does did doing would should could ought a an the and but if or because
as until while of at by for with about against between into through during before after above below to from up
down in out on off over under again further then once here there when where why how all any both each few more
most other some such no nor not only own same so than too very"""
SNOWBALL_STEMS = frozenset(stem(word) for word in SNOWBALL.split())

DEFAULT_WORKDIR = evaluation_script.BENCHMARKS_DIR / "work" / "tune"


def apply(setting: dict[str, Any]) -> None:
    """Set the search-time knobs of `setting` (the others to their shipped values)."""
    newsindex.store.schema.TEXT_FIELDS["headline"] = setting.get("headline", SHIPPED["headline"])
    newsindex.search.ranking.BM25_K1 = setting.get("k1", SHIPPED["k1"])
    newsindex.search.ranking.BM25_B = setting.get("b", SHIPPED["b"])
    newsindex.search.ranking.IDF = setting.get("idf", SHIPPED["idf"])
    newsindex.search.ranking.BM25_DELTA = setting.get("delta", SHIPPED["delta"])
    newsindex.search.ranking.COORDINATION = setting.get("coordination", SHIPPED["coordination"])
    newsindex.search.ranking.SHORT_QUERY_WORDS = setting.get("short", SHIPPED["short"])
    newsindex.search.expansion.FEEDBACK_STORIES = setting.get("stories", SHIPPED["stories"])
    newsindex.search.expansion.FEEDBACK_RATIO = setting.get("ratio", SHIPPED["ratio"])
    newsindex.search.expansion.FEEDBACK_GAP = setting.get("gap", SHIPPED["gap"])
    newsindex.search.expansion.FEEDBACK_MODE = setting.get("mode", SHIPPED["mode"])
    newsindex.search.expansion.FEEDBACK_TEMPERATURE = setting.get("temperature", SHIPPED["temperature"])
    newsindex.search.expansion.FEEDBACK_KEEP = setting.get("keep", SHIPPED["keep"])
    newsindex.search.ranking.QUERY_TF = setting.get("qtf", SHIPPED["qtf"])
    newsindex.search.ranking.FUNCTION_WORDS = FUNCTION_LISTS[setting.get("function_words", SHIPPED["function_words"])]
    newsindex.search.expansion.FEEDBACK_WORDS = setting.get("words", SHIPPED["words"])
    newsindex.search.expansion.relevance_model.__kwdefaults__["words"] = newsindex.search.expansion.FEEDBACK_WORDS
    newsindex.search.expansion.ORIGINAL_WEIGHT = setting.get("weight", SHIPPED["weight"])
    newsindex.search.expansion.MAX_SHARE = setting.get("share", SHIPPED["share"])
    newsindex.search.ranking.PROXIMITY_WEIGHT = setting.get("prox", SHIPPED["prox"])
    newsindex.search.ranking.PROXIMITY_WINDOW = setting.get("window", SHIPPED["window"])
    newsindex.search.ranking.PROXIMITY_DEPTH = setting.get("prox_depth", SHIPPED["prox_depth"])
    newsindex.search.ranking.LEAD_WEIGHT = setting.get("lead_weight", SHIPPED["lead_weight"])
    newsindex.search.ranking.LEAD_WORDS = setting.get("lead_words", SHIPPED["lead_words"])


SHIPPED = {
    "headline": newsindex.store.schema.TEXT_FIELDS["headline"],
    "k1": newsindex.search.ranking.BM25_K1,
    "b": newsindex.search.ranking.BM25_B,
    "idf": newsindex.search.ranking.IDF,
    "delta": newsindex.search.ranking.BM25_DELTA,
    "coordination": newsindex.search.ranking.COORDINATION,
    "short": newsindex.search.ranking.SHORT_QUERY_WORDS,
    "stories": newsindex.search.expansion.FEEDBACK_STORIES,
    "ratio": newsindex.search.expansion.FEEDBACK_RATIO,
    "gap": newsindex.search.expansion.FEEDBACK_GAP,
    "mode": newsindex.search.expansion.FEEDBACK_MODE,
    "temperature": newsindex.search.expansion.FEEDBACK_TEMPERATURE,
    "keep": newsindex.search.expansion.FEEDBACK_KEEP,
    "qtf": newsindex.search.ranking.QUERY_TF,
    "function_words": "shipped",
    "analysis": newsindex.store.schema.ANALYSIS_VERSION,
    "words": newsindex.search.expansion.FEEDBACK_WORDS,
    "weight": newsindex.search.expansion.ORIGINAL_WEIGHT,
    "share": newsindex.search.expansion.MAX_SHARE,
    "lead": newsindex.store.schema.LEAD_BOOST,
    "prox": newsindex.search.ranking.PROXIMITY_WEIGHT,
    "window": newsindex.search.ranking.PROXIMITY_WINDOW,
    "prox_depth": newsindex.search.ranking.PROXIMITY_DEPTH,
    "lead_weight": newsindex.search.ranking.LEAD_WEIGHT,
    "lead_words": newsindex.search.ranking.LEAD_WORDS,
}


# Lists of words left out of plain-words queries (`function_words`), as the index stems them.
FUNCTION_LISTS = {"shipped": newsindex.search.ranking.FUNCTION_WORDS, "none": frozenset(), "snowball": SNOWBALL_STEMS}


def collection_index(name: str, lead: float, workdir: Path, analysis: int) -> tuple[NewsIndex, list[Topic], Qrels]:
    """The collection converted and indexed with this lead boost and analysis (once; reused on later runs)."""
    folder = workdir / name
    collection = evaluation_script.COLLECTIONS[name]
    source = folder / "corpus.jsonl"
    if collection.news:
        source = news_eval.text_folder(workdir)
        if not (folder / "qrels.txt").exists():
            news_eval.prepare(name, folder, workdir)
    elif not (folder / "qrels.txt").exists():
        evaluation_script.convert(collection, folder)
    # the indexes of benchmarks/eval.py for the shipped lead boost (a --workdir shared with it reuses them)
    path = folder / (
        (f"index-lead-{lead:g}-" if lead != SHIPPED["lead"] else "newsindex-index-") + f"analysis-{analysis}"
    )
    if not (path / "built").exists():
        shutil.rmtree(path, ignore_errors=True)
        newsindex.store.schema.LEAD_BOOST = lead
        newsindex.store.schema.ANALYSIS_VERSION = analysis
        try:
            with NewsIndex.create(path, fsync=False) as news:
                news.add_files([str(source)], procs=1)
        finally:
            newsindex.store.schema.LEAD_BOOST = SHIPPED["lead"]
            newsindex.store.schema.ANALYSIS_VERSION = SHIPPED["analysis"]
        (path / "built").write_text("", encoding="utf-8")
    topics = read_topics(folder / "topics.tsv", on_problem=lambda problem: print(problem, file=sys.stderr))
    return NewsIndex.open(path), topics, read_qrels(folder / "qrels.txt")


def measure(news: NewsIndex, topics: list[Topic], qrels: Qrels, *, expand: bool, depth: int) -> tuple[float, ...]:
    news.close()  # fresh searchers take the knobs in force
    run: dict[str, dict[str, float]] = {}
    for topic, ranked in rank_topics(news, topics, limit=depth, expand=expand):
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
            news, topics, qrels = collection_index(
                name, setting.get("lead", SHIPPED["lead"]), args.workdir, setting.get("analysis", SHIPPED["analysis"])
            )
            apply(setting)
            depth = evaluation_script.COLLECTIONS[name].depth
            figures = measure(news, topics, qrels, expand=bool(setting.get("expand")), depth=depth)
            news.close()
            shown = json.dumps(setting) if setting else "shipped"
            title = evaluation_script.COLLECTIONS[name].title
            print(f"| {title} | `{shown}` | " + " | ".join(f"{value:.4f}" for value in figures) + " |", flush=True)
    apply({})


if __name__ == "__main__":
    main()
