"""Ranking quality of newsindex on three classic test collections and two news ones, against plain
Whoosh BM25 and SQLite FTS5.

Usage (from the repository root, with the project's Python):

    python benchmarks/eval.py [--collections cran,cisi,med,reuters-known,reuters-topics] [--workdir DIR]
                              [--reuse] [--no-write]

For each collection of ../shared/eval (Cranfield, CISI, Medline; see its README) and the two built from
Reuters-21578 by benchmarks/news_eval.py (known-item search by headline, and TOPICS labels) it:

1. converts the collection into WORKDIR/<name>/: `corpus.jsonl` (id, title, authors as bylines, body),
   `topics.tsv` (id TAB text) and `qrels.txt` (TREC qrels, read with newsindex.evaluation.trec.read_qrels);
2. builds two newsindex indexes of the corpus (`NewsIndex.create(…).add_files([corpus], procs=1)`;
   for the news collections the text-format files themselves), one with the analysis of today
   (`newsindex.store.schema.ANALYSIS_VERSION`) and one with analysis 1 (words cut as before issue 18), and
   the indexes of the other systems (below); with `--reuse` the newsindex indexes of an earlier run are
   searched again;
3. runs the topics, top 1000: newsindex reads each as plain words (`plain=True`, as `newsindex batch`
   does), the baseline through `plain_query` (query syntax taken out):
   - `baseline`: "plain BM25 as Whoosh does by default": `Schema(id=ID(stored=True, unique=True),
     body=TEXT(analyzer=StandardAnalyzer()))` with title and body concatenated (no stemming),
     `QueryParser("body", schema, group=OrGroup)`, Whoosh's default BM25F scoring;
   - `fts5`: SQLite FTS5 from the standard library, `tokenize='porter unicode61'`, title and body
     columns, ranked by `bm25()`, the topic's words OR-ed (repeats kept);
   - `newsindex-before`: newsindex as main had it before issue 18 (Whoosh's idf, k1 1.6, b 0.75,
     headline 1.5, each word once, feedback of 10 stories at weight 0.5) on the analysis-1 index;
   - `newsindex`: `NewsIndex.rank(topic)` as the product does it now, on the new index;
   - `…-expand`: the same with `expand=True` (`--expand`: RM3 pseudo-relevance feedback);
4. writes each run as a TREC run file (newsindex.evaluation.trec.trec_run_lines, which keeps each engine's
   order) and measures it with newsindex.evaluation.trec (MAP, nDCG@10, P@10, Recall@100, as trec_eval -c).

The table goes to stdout and, with the machine and the date, to its own section of benchmarks/EVAL.md
(unless --no-write; the rest of the file is kept); progress goes to stderr. Some fifteen minutes for
the five collections on 2 shared cores.

The collections' quirks, as read here:
- Cranfield: the queries are numbered 1..225 in file order (their .I numbers skip: 001, 002, 004, …),
  which is how cranqrel numbers them; cranqrel grades 1 (a complete answer) .. 4 (minimum interest)
  become TREC gains 5 - grade (4 .. 1) and -1 (not relevant) becomes 0. The abstract (.W) repeats
  the title; it is indexed as is. Authors ("a,b. and c,d.") become bylines.
- CISI: every pair listed in CISI.REL is relevant (gain 1); only 76 of the 112 queries are judged.
  A query's text is its .T and .W (some queries are whole abstracts with authors and a source: .A
  and .B are left out). Authors (one per line) become bylines.
- Medline: MED.REL is TREC qrels already (gain 1); documents have no title.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from sqlite3 import sqlite_version
from typing import Any

import news_eval

import newsindex.search.expansion
import newsindex.search.query
import newsindex.search.ranking
import newsindex.store.schema
from newsindex import NewsIndex
from newsindex.evaluation.batch import Topic, rank_topics, read_topics
from newsindex.evaluation.trec import Evaluation, Qrels, evaluate, read_qrels, read_run, trec_run_lines, write_qrels

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent
# ../shared/eval beside the checkout (/work/main); from a worktree under /work/wt, /work/shared/eval.
COLLECTIONS_DIR = next(
    (
        folder
        for folder in (REPO_DIR.parent / "shared" / "eval", REPO_DIR.parents[1] / "shared" / "eval")
        if folder.exists()
    ),
    REPO_DIR.parent / "shared" / "eval",
)
DEFAULT_WORKDIR = BENCHMARKS_DIR / "work" / "eval"
REPORT = BENCHMARKS_DIR / "EVAL.md"
DEPTH = 1000  # documents per topic in each run (trec_eval's usual depth)
SYSTEMS = ("baseline", "fts5", "newsindex-before", "newsindex-before-expand", "newsindex", "newsindex-expand")
# The ranking of newsindex before issue 18 (main at cf69f1d), set through the same search-time knobs, on
# an index built with analysis 1 (the words as main cut them): the `newsindex-before` rows.
BEFORE: list[tuple[Any, str, Any]] = [
    (newsindex.store.schema.TEXT_FIELDS, "headline", 1.5),
    (newsindex.search.ranking, "BM25_K1", 1.6),
    (newsindex.search.ranking, "BM25_B", 0.75),
    (newsindex.search.ranking, "IDF", "whoosh"),
    (newsindex.search.ranking, "QUERY_TF", "none"),
    (newsindex.search.ranking, "COORDINATION", 0.0),
    (newsindex.search.ranking, "FUNCTION_WORDS", frozenset()),
    (newsindex.search.ranking, "PROXIMITY_WEIGHT", 0.0),
    (newsindex.search.ranking, "LEAD_WEIGHT", 0.0),
    (newsindex.search.expansion, "FEEDBACK_KEEP", 0),
    *((newsindex.search.expansion, name, value) for name, value in newsindex.search.expansion.BEFORE.items()),
]
# Some CISI topics are whole abstracts, over the query guard's 200 clauses (a word in each of two fields):
# for these runs the guard is widened so that every system runs every topic.
MEASURES = (("MAP", "map"), ("nDCG@10", "ndcg_10"), ("P@10", "p_10"), ("Recall@100", "recall_100"))


@dataclass(frozen=True)
class Collection:
    """One test collection: its files under COLLECTIONS_DIR and how to read them."""

    name: str
    title: str
    folder: str
    documents: str
    queries: str
    qrels: str
    qrels_format: str
    number_queries_in_order: bool = False  # Cranfield: query ids are 1..N in file order, not their .I
    news: bool = False  # built by benchmarks/news_eval.py from ../shared/corpora
    depth: int = DEPTH  # documents per topic in each run


COLLECTIONS = {
    "cran": Collection("cran", "Cranfield", "cran", "cran.all.1400", "cran.qry", "cranqrel", "cran", True),
    "cisi": Collection("cisi", "CISI", "cisi", "CISI.ALL", "CISI.QRY", "CISI.REL", "cisi"),
    "med": Collection("med", "Medline", "med", "MED.ALL", "MED.QRY", "MED.REL", "trec"),
    **{
        name: Collection(name, title, "", "", "", "", "trec", news=True, depth=news_eval.DEPTHS.get(name, DEPTH))
        for name, title in news_eval.NEWS_COLLECTIONS.items()
    },
}


@dataclass
class SystemResult:
    """One system on one collection: its evaluation, the topics it could not run, its time."""

    evaluation: Evaluation
    run: dict[str, dict[str, float]]
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


# -- reading the collections ---------------------------------------------------------------------------


def read_smart(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The records of a SMART-format file: (.I id, {field letter: text}); ".T" alone on a line opens a field."""
    record_id: str | None = None
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        start = re.fullmatch(r"\.I\s+(\S+)\s*", line)
        marker = re.fullmatch(r"\.([A-Z])\s*", line)
        if start:
            if record_id is not None:
                yield record_id, {name: "\n".join(lines).strip() for name, lines in fields.items()}
            record_id, fields, current = start.group(1), {}, None
        elif marker:
            current = fields.setdefault(marker.group(1), [])
        elif current is not None:
            current.append(line.rstrip())
    if record_id is not None:
        yield record_id, {name: "\n".join(lines).strip() for name, lines in fields.items()}


def one_line(text: str) -> str:
    return " ".join(text.split())


def authors(collection: Collection, text: str) -> list[str]:
    """Cranfield: "van driest,e.r. and mccauley,w.d." on a line; CISI: one author per line."""
    if not text:
        return []
    if collection.name == "cran":
        return [name.strip() for name in re.split(r"\s+and\s+", one_line(text)) if name.strip()]
    return [one_line(name) for name in text.splitlines() if name.strip()]


def convert(collection: Collection, folder: Path) -> dict[str, int]:
    """Write corpus.jsonl, topics.tsv and qrels.txt for `collection` into `folder`; their sizes."""
    source = COLLECTIONS_DIR / collection.folder
    folder.mkdir(parents=True, exist_ok=True)
    documents = 0
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as corpus:
        for doc_id, fields in read_smart(source / collection.documents):
            record: dict[str, Any] = {"id": doc_id, "body": fields.get("W", "")}
            if fields.get("T"):
                record["title"] = one_line(fields["T"])
            names = authors(collection, fields.get("A", ""))
            if names:
                record["authors"] = names
            if not record["body"].strip():  # a few Cranfield abstracts are empty: the title stands in
                record["body"] = record.get("title", "")
            corpus.write(json.dumps(record, ensure_ascii=False) + "\n")
            documents += 1
    topics = 0
    with open(folder / "topics.tsv", "w", encoding="utf-8") as tsv:
        for number, (query_id, fields) in enumerate(read_smart(source / collection.queries), start=1):
            text = one_line(" ".join(part for part in (fields.get("T", ""), fields.get("W", "")) if part))
            tsv.write(f"{number if collection.number_queries_in_order else int(query_id)}\t{text}\n")
            topics += 1
    qrels = read_qrels(source / collection.qrels, format=collection.qrels_format)
    with open(folder / "qrels.txt", "w", encoding="utf-8") as file:
        write_qrels(qrels, file)
    judged = sum(1 for grades in qrels.values() if any(grade > 0 for grade in grades.values()))
    return {"documents": documents, "topics": topics, "judged_topics": judged}


# -- the systems ---------------------------------------------------------------------------------------


# The query syntax of Whoosh that natural-language topics are full of, for the systems that need a query
# string: phrases, groups, fields, boosts, patterns, fuzziness, ranges, required and excluded words, quotes.
_SYNTAX = re.compile(r"""["'():^*?~\[\]{}+\-<>=]""")
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT|TO|ANDNOT|ANDMAYBE|REQUIRE)\b")
_FIELD_NAMES = (
    "headline title body text byline bylines by author location dateline place source agency date published id"
)
_FIELD_PREFIX = re.compile(rf"\b(?:{'|'.join(_FIELD_NAMES.split())}):(?=\S)", re.IGNORECASE)


def plain_query(text: str) -> str:
    """`text` with the query syntax taken out: known `field:` prefixes dropped, "():^*?~[]{}+-'<>= made
    spaces, the operators lower-cased into plain words (newsindex itself runs topics with `plain=True`)."""
    text = _FIELD_PREFIX.sub(" ", text)
    text = _SYNTAX.sub(" ", text)
    text = _OPERATORS.sub(lambda match: match.group().lower(), text)
    return " ".join(text.split())


def newsindex_run(
    news: NewsIndex, topics: list[Topic], tag: str, out: Path, *, expand: bool = False, depth: int = DEPTH
) -> list[str]:
    """Run `topics` through NewsIndex.rank into the TREC run file `out`; the ids of failed topics."""
    failed: list[str] = []

    def failure(topic: Topic, error: Exception) -> None:
        failed.append(topic.id)
        print(f"  {tag}: topic {topic.id} skipped: {error}", file=sys.stderr)

    with open(out, "w", encoding="utf-8") as run:
        for topic, ranked in rank_topics(news, topics, limit=depth, on_failure=failure, expand=expand):
            run.writelines(line + "\n" for line in trec_run_lines(topic.id, ranked, tag))
    return failed


@contextmanager
def knobs(values: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Search-time settings ((module or dict, name, value)) in force for the duration (new searchers
    pick them up)."""

    def get(owner: Any, name: str) -> Any:
        return owner[name] if isinstance(owner, dict) else getattr(owner, name)

    def put(owner: Any, name: str, value: Any) -> None:
        if isinstance(owner, dict):
            owner[name] = value
        else:
            setattr(owner, name, value)

    saved = [(owner, name, get(owner, name)) for owner, name, _ in values]
    for owner, name, value in values:
        put(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            put(owner, name, value)


def fts5_run(corpus: Path, topics: list[Topic], tag: str, out: Path, depth: int = DEPTH) -> list[str]:
    """SQLite FTS5 (stdlib sqlite3): title and body columns, `porter unicode61`, ranked by `bm25()`; each
    topic's words (as unicode61 cuts them, repeats kept) OR-ed; the run into `out`, failed topic ids."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='porter unicode61')")
    with db:
        db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?)",
            (
                (record["id"], record.get("title", ""), record["body"])
                for record in map(json.loads, corpus.read_text(encoding="utf-8").splitlines())
            ),
        )
    failed: list[str] = []
    with open(out, "w", encoding="utf-8") as run:
        for topic in topics:
            words = re.findall(r"\w+", topic.text)
            if not words:
                failed.append(topic.id)
                continue
            match = " OR ".join(f'"{word}"' for word in words)
            rows = db.execute(
                "SELECT id, -bm25(docs) FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (match, depth)
            ).fetchall()
            run.writelines(line + "\n" for line in trec_run_lines(topic.id, [(i, float(s)) for i, s in rows], tag))
    db.close()
    return failed


def build_baseline(corpus: Path, folder: Path) -> Any:
    """A plain Whoosh index of the corpus: id, and title + body in one TEXT field, StandardAnalyzer."""
    from whoosh import index
    from whoosh.analysis import StandardAnalyzer
    from whoosh.fields import ID, TEXT, Schema

    schema = Schema(id=ID(stored=True, unique=True), body=TEXT(analyzer=StandardAnalyzer()))
    folder.mkdir(parents=True)
    whoosh_ix = index.create_in(str(folder), schema)
    with whoosh_ix.writer() as writer:
        for record in map(json.loads, corpus.read_text(encoding="utf-8").splitlines()):
            writer.add_document(id=record["id"], body=f"{record.get('title', '')}\n{record['body']}")
    return whoosh_ix


def baseline_run(whoosh_ix: Any, topics: list[Topic], tag: str, out: Path, depth: int = DEPTH) -> list[str]:
    """Run `topics` (through plain_query) on the baseline into the TREC run file `out`; failed topic ids."""
    from whoosh.qparser import OrGroup, QueryParser

    parser = QueryParser("body", whoosh_ix.schema, group=OrGroup)
    failed: list[str] = []
    with whoosh_ix.searcher() as searcher, open(out, "w", encoding="utf-8") as run:
        for topic in topics:
            try:
                hits = searcher.search(parser.parse(plain_query(topic.text)), limit=depth)
            except Exception as error:
                failed.append(topic.id)
                print(f"  {tag}: topic {topic.id} skipped: {type(error).__name__}: {error}", file=sys.stderr)
                continue
            ranked = [(hit["id"], float(hit.score)) for hit in hits]
            run.writelines(line + "\n" for line in trec_run_lines(topic.id, ranked, tag))
    return failed


def measure(
    collection: Collection, workdir: Path, *, reuse: bool = False, systems: set[str] | None = None
) -> tuple[dict[str, int], dict[str, SystemResult]]:
    """Convert, index, run and evaluate one collection; the collection's sizes and each system's result.
    With `reuse`, the newsindex indexes of an earlier run in `workdir` are searched again, not rebuilt,
    and the systems not in `systems` (None: all) keep the runs of an earlier call when there are."""
    folder = workdir / collection.name
    if folder.exists() and not reuse:
        shutil.rmtree(folder)
    if collection.news:
        source, sizes = news_eval.prepare(collection.name, folder, workdir)
    else:
        sizes = convert(collection, folder)
        source = folder / "corpus.jsonl"
    print(f"{collection.title}: {sizes['documents']} documents, {sizes['topics']} topics", file=sys.stderr)
    topics = read_topics(folder / "topics.tsv", on_problem=lambda problem: print(f"  {problem}", file=sys.stderr))
    qrels = read_qrels(folder / "qrels.txt")
    corpus = folder / "corpus.jsonl"
    results: dict[str, SystemResult] = {}

    indexes: dict[str, NewsIndex] = {}

    def run(system: str) -> tuple[list[str], float]:
        """Run `system` into its run file; its failed topics and seconds."""
        started = time.perf_counter()
        run_file = folder / f"{system}.run"
        if system == "baseline":
            baseline_folder = folder / "baseline-index"
            shutil.rmtree(baseline_folder, ignore_errors=True)
            failed = baseline_run(build_baseline(corpus, baseline_folder), topics, system, run_file, collection.depth)
        elif system == "fts5":
            failed = fts5_run(corpus, topics, system, run_file, collection.depth)
        else:
            before = system.startswith("newsindex-before")
            analysis = 1 if before else ANALYSIS
            if analysis not in indexes:
                indexes[analysis] = _newsindex(
                    folder / f"newsindex-index-analysis-{analysis}", source, analysis=analysis
                )
            news = indexes[analysis]
            news.close()  # fresh searchers: they take the scoring in force when they open
            with knobs(BEFORE) if before else nullcontext():
                failed = newsindex_run(
                    news, topics, system, run_file, expand=system.endswith("expand"), depth=collection.depth
                )
            news.close()
        return failed, time.perf_counter() - started

    for system in SYSTEMS:
        record = folder / f"{system}.json"
        if systems is not None and system not in systems:
            if not (reuse and record.exists()):
                continue  # neither asked for nor run before: left out of the table
            done = json.loads(record.read_text(encoding="utf-8"))  # the run of an earlier call
            failed, seconds = done["failed"], done["seconds"]
        else:
            failed, seconds = run(system)
            record.write_text(json.dumps({"failed": failed, "seconds": seconds}), encoding="utf-8")
        ranked = read_run(folder / f"{system}.run")
        results[system] = SystemResult(evaluate(ranked, qrels), ranked, failed, seconds)
    return sizes, results


ANALYSIS = newsindex.store.schema.ANALYSIS_VERSION


def _newsindex(path: Path, source: Path, *, analysis: int) -> NewsIndex:
    """The newsindex index of `source` at `path` with this analysis version, built unless there already."""
    if (path / "built").exists():
        return NewsIndex.open(path)
    shutil.rmtree(path, ignore_errors=True)
    with knobs([(newsindex.store.schema, "ANALYSIS_VERSION", analysis)]):
        news = NewsIndex.create(path, fsync=False)
        report = news.add_files([str(source)], procs=1)
    skipped = [problem for problem in report.problems if problem.kind == "skipped"]  # "no date" is expected
    if skipped:
        print(f"  newsindex: {len(skipped)} documents skipped, e.g. {skipped[0]}", file=sys.stderr)
    (path / "built").write_text("", encoding="utf-8")
    return news


def on_common_topics(
    measured: dict[str, tuple[dict[str, int], dict[str, SystemResult]]], qrels_of: dict[str, Qrels]
) -> dict[str, tuple[dict[str, int], dict[str, SystemResult]]]:
    """The collections where a system skipped judged topics, measured again on the topics every system ran."""
    again = {}
    for name, (sizes, results) in measured.items():
        skipped = {topic for result in results.values() for topic in result.failed}
        qrels = {topic: grades for topic, grades in qrels_of[name].items() if topic not in skipped}
        if len(qrels) == len(qrels_of[name]):
            continue
        again[name] = (
            sizes,
            {system: SystemResult(evaluate(result.run, qrels), result.run) for system, result in results.items()},
        )
    return again


# -- the report ----------------------------------------------------------------------------------------


def table(measured: dict[str, tuple[dict[str, int], dict[str, SystemResult]]], *, costs: bool = True) -> str:
    """The Markdown table: collection × system × measures, and topics (with skipped topics and seconds)."""
    header = ["collection", "system", *(name for name, _ in MEASURES), "topics"]
    header += ["skipped", "seconds"] if costs else []
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    for name, (_, results) in measured.items():
        for system in (system for system in SYSTEMS if system in results):
            result = results[system]
            figures = [f"{getattr(result.evaluation, key):.4f}" for _, key in MEASURES]
            row = [COLLECTIONS[name].title, system, *figures, str(result.evaluation.queries)]
            row += [str(len(result.failed)), f"{result.seconds:.1f}"] if costs else []
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "whoosh": version("whoosh-reloaded"),
        "code": _git_state(),
    }


def _git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = sorted(Path(line[3:]).name for line in git("status", "--porcelain", "--", "src").splitlines())
    return f"{head}, uncommitted changes in src/ to {', '.join(changed)}" if changed else head


def report(
    measured: dict[str, tuple[dict[str, int], dict[str, SystemResult]]],
    common: dict[str, tuple[dict[str, int], dict[str, SystemResult]]],
    facts: dict[str, Any],
) -> str:
    sizes = "; ".join(
        f"{COLLECTIONS[name].title} {s['documents']:,} documents, {s['topics']} topics ({s['judged_topics']} judged)"
        for name, (s, _) in measured.items()
    )
    common_part = (
        f"""
Some topics were skipped (see "skipped"): a skipped topic scores 0 above. The same runs measured only
on the judged topics that every system ran:

{table(common, costs=False)}
"""
        if common
        else ""
    )
    return f"""{BEGIN}
## Ranking quality: Cranfield, CISI, Medline and Reuters-21578

Written by `python benchmarks/eval.py` on {facts["date"]}: {facts["cpu"]}, {facts["cores"]} cores, Python
{facts["python"]}, {facts["os"]}, Whoosh {facts["whoosh"]}, SQLite {sqlite_version}, code at {facts["code"]}.

{table(measured)}
{common_part}
Collections: {sizes}.

Each run holds the top {DEPTH} documents of every topic ({", ".join(f"{COLLECTIONS[name].title} {COLLECTIONS[name].depth}" for name in measured if COLLECTIONS[name].depth != DEPTH) or "every collection"}); measures as trec_eval `-c` computes them (see
`src/newsindex/evaluation/trec.py`), means over the judged topics. On Reuters known-item each topic has one
relevant story (and its word-for-word repeats), so MAP is the mean reciprocal rank. Topics are read as
plain words by newsindex (`plain=True`); the baseline reads them through `plain_query` (query syntax
taken out), FTS5 as its words OR-ed. Systems (see the script's docstring):

- `baseline`: plain Whoosh, title + body in one field, StandardAnalyzer (no stemming), OR of the
  words, Whoosh's default BM25F;
- `fts5`: SQLite FTS5, `porter unicode61`, title and body columns, `bm25()`;
- `newsindex-before`: newsindex as before issue 18 (main at cf69f1d): Whoosh's idf ln(N/(n+1))+1,
  k1 1.6, b 0.75, headline weight 1.5, a repeated word counted once, words cut by analysis 1;
- `newsindex`: `NewsIndex.rank(topic)` as shipped: {newsindex.search.ranking.IDF} idf, k1 {newsindex.search.ranking.BM25_K1}, b {newsindex.search.ranking.BM25_B},
  headline weight {newsindex.store.schema.TEXT_FIELDS["headline"]:g}, query-term frequency "{newsindex.search.ranking.QUERY_TF}", {len(newsindex.search.ranking.FUNCTION_WORDS)} function words left out,
  in a query of 2-{newsindex.search.ranking.SHORT_QUERY_WORDS} distinct words each matched word weighing its idf + {newsindex.search.ranking.COORDINATION:g},
  analysis {ANALYSIS}; stories matching every word ranked first; every story ranked (at least {newsindex.search.ranking.PROXIMITY_DEPTH} of each tier)
  rescored with the lead bonus (weight {newsindex.search.ranking.LEAD_WEIGHT:g}, the first {newsindex.search.ranking.LEAD_WORDS} words of the body) and the
  proximity bonus (weight {newsindex.search.ranking.PROXIMITY_WEIGHT:g});
- `…-expand`: the same with `expand=True` (`--expand`: RM3 pseudo-relevance feedback; before: 10
  stories, 10 words, original weight 0.5; now: {newsindex.search.expansion.FEEDBACK_STORIES} stories ("{newsindex.search.expansion.FEEDBACK_MODE}"), {newsindex.search.expansion.FEEDBACK_WORDS} words,
  original weight {newsindex.search.expansion.ORIGINAL_WEIGHT}, the first run's best {newsindex.search.expansion.FEEDBACK_KEEP} kept first).

"skipped" counts the topics a system could not run (in plain mode newsindex searches the first 200
distinct words of a topic and refuses none but those of common words only). "seconds" is searching
only for newsindex (its indexes are built once), indexing plus searching for the other two;
newsindex searches through `NewsIndex.rank` (ids and scores, no stories read), like `newsindex batch`.
{END}
"""


BEGIN = "<!-- benchmarks/eval.py writes from here -->"
END = "<!-- benchmarks/eval.py writes up to here -->"


def with_section(path: Path, section: str) -> str:
    """The text of `path` with its eval.py section replaced by `section` (added when it has none)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        return text[: text.index(BEGIN)] + section.strip() + text[text.index(END) + len(END) :]
    return "# Ranking quality\n\n" + section.strip() + "\n"


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--collections", default=",".join(COLLECTIONS), help=f"comma-separated: {', '.join(COLLECTIONS)}"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="converted files, indexes, runs")
    parser.add_argument("--reuse", action="store_true", help="search the newsindex indexes of an earlier run again")
    parser.add_argument("--systems", help=f"with --reuse, run only these (comma-separated: {', '.join(SYSTEMS)})")
    parser.add_argument("--no-write", action="store_true", help=f"do not rewrite {REPORT.name}")
    args = parser.parse_args(list(argv) if argv is not None else None)
    names = [name.strip() for name in args.collections.split(",") if name.strip()]
    unknown = [name for name in names if name not in COLLECTIONS]
    if unknown:
        parser.error(f"unknown collection(s) {', '.join(unknown)}: use {', '.join(COLLECTIONS)}")
    systems = {name.strip() for name in args.systems.split(",")} if args.systems else None
    measured = {name: measure(COLLECTIONS[name], args.workdir, reuse=args.reuse, systems=systems) for name in names}
    common = on_common_topics(measured, {name: read_qrels(args.workdir / name / "qrels.txt") for name in names})
    print(table(measured))
    if common:
        print("\nOn the judged topics every system ran:\n" + table(common, costs=False))
    if not args.no_write:
        REPORT.write_text(with_section(REPORT, report(measured, common, machine())), encoding="utf-8")
        print(f"written to {REPORT.relative_to(REPO_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
