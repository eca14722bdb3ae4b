"""What the matching rule does to ranking quality on Cranfield, CISI and Medline.

Usage (from the repository root, with the project's Python):

    python benchmarks/matching.py [--collections cran,cisi,med] [--workdir DIR]

For each collection of ../shared/eval (converted as benchmarks/eval.py converts it) it builds a newsindex
index and ranks every topic, top 1000, read as plain words (`plain=True`), under each matching rule:

- `any`: `NewsIndex.rank(topic, match="any")`: stories with some of the words, those with every word
  ranked first. The search default before the rule changed, and what `newsindex batch` still does;
- `all`: `NewsIndex.rank(topic)`, today's search default: stories with every word, or, when no story
  has every word, stories with some (the fallback);
- `all-strict`: `require_all=True` (`--all`): stories with every word, no fallback.

It prints a Markdown table (MAP, nDCG@10, P@10, Recall@100 as trec_eval -c, and per rule how many topics
fell back to some words and the mean number of documents ranked) with the machine, date and code version.
Nothing is written: the figures go into benchmarks/EVAL.md by hand ("The matching rule").
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

from newsindex import Filters, NewsIndex, QueryError, QueryRejectedError
from newsindex.evaluation.batch import read_topics
from newsindex.evaluation.trec import evaluate, read_qrels

BENCHMARKS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS_DIR))
collections: Any = import_module("eval")  # benchmarks/eval.py: the collections and how they are read
DEPTH = 1000
RULES: dict[str, dict[str, Any]] = {"any": {"match": "any"}, "all": {}, "all-strict": {"require_all": True}}


def measure(name: str, workdir: Path) -> list[list[str]]:
    collection = collections.COLLECTIONS[name]
    folder = workdir / name
    if folder.exists():
        shutil.rmtree(folder)
    sizes = collections.convert(collection, folder)
    print(f"{collection.title}: {sizes['documents']} documents, {sizes['topics']} topics", file=sys.stderr)
    topics = read_topics(folder / "topics.tsv", on_problem=lambda problem: print(f"  {problem}", file=sys.stderr))
    qrels = read_qrels(folder / "qrels.txt")
    news = NewsIndex.create(folder / "index", fsync=False)
    news.add_files([str(folder / "corpus.jsonl")], procs=1)
    rows = []
    for rule, options in RULES.items():
        run: dict[str, dict[str, float]] = {}
        fell_back = ranked = 0
        for topic in topics:
            try:
                found = news.rank(topic.text, filters=Filters(plain=True, **options), limit=DEPTH)
            except (QueryError, QueryRejectedError) as error:
                print(f"  {rule}: topic {topic.id} skipped: {error}", file=sys.stderr)
                continue
            run[topic.id] = {doc_id: score for doc_id, score in found}
            ranked += len(found)
            if rule == "all" and news.search(topic.text, filters=Filters(plain=True), limit=1).matched == "any":
                fell_back += 1
        result = evaluate(run, qrels)
        figures = [f"{value:.4f}" for value in (result.map, result.ndcg_10, result.p_10, result.recall_100)]
        back = str(fell_back) if rule == "all" else "-"
        rows.append([collection.title, rule, *figures, str(result.queries), back, f"{ranked / max(1, len(run)):.0f}"])
    news.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collections", default="cran,cisi,med")
    parser.add_argument("--workdir", type=Path, default=BENCHMARKS_DIR / "work" / "matching")
    args = parser.parse_args()
    header = ["collection", "rule", "MAP", "nDCG@10", "P@10", "Recall@100", "topics", "fell back", "ranked/topic"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    for name in (name.strip() for name in args.collections.split(",") if name.strip()):
        lines += ["| " + " | ".join(row) + " |" for row in measure(name, args.workdir)]
    facts = collections.machine()
    print(f"{facts['date']}: {facts['cpu']}, {facts['cores']} cores, Python {facts['python']}, code at {facts['code']}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
