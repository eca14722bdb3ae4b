"""newsindex beside its peers on the same stories and queries, in one run: plain Whoosh, SQLite FTS5, Tantivy.

Usage (from the repository root, with the project's Python; Tantivy is a benchmark-only dependency):

    pip install tantivy
    python benchmarks/peers.py --corpus reuters              # the real wire copy of ../shared/corpora
    python benchmarks/peers.py --corpus 100000               # benchmarks/corpus/100000 (make_corpus.py)

The stories are written once to WORKDIR/peers/CORPUS/stories.jsonl (for `reuters`: the text-format
files of reuters21578-text.tar.gz read by newsindex's own reader, so every engine indexes the same id,
date and body), then each engine builds its index in a subprocess of its own (CPU seconds and peak RSS
from os.wait4):

- newsindex: `newsindex index stories.jsonl` (its defaults: both cores, duplicate groups);
- plain Whoosh: run.py's baseline (StemmingAnalyzer on headline and body, one default writer);
- SQLite FTS5 (the stdlib's sqlite3): `fts5(id UNINDEXED, headline, body, published UNINDEXED,
  tokenize='porter unicode61')`, one transaction;
- Tantivy (tantivy-py): `en_stem` text fields, a fast date field, one writer, one commit.

Queries: K queries of 1-3 words (default 200), drawn with a fixed seed from the stories' own lead
sentences (words of 3+ letters that are not stop words), each run in three shapes: any word (OR), every
word (AND), and any word within the calendar month of a story the query came from. Each engine answers
them in a child process of its own with one warm searcher: every query once untimed, then once timed;
the figure is CPU milliseconds per query (time.process_time, which load on the other core disturbs less
than wall time), p50 and p95, plus wall p50. newsindex is measured twice: `search()` (stories,
snippets, duplicate folding, suggestion: what the CLI and the page show) and `rank()` (ids and scores,
like the peers' ids-only queries). The peers return ids only. Hit counts are recorded too: the engines
should agree closely on AND counts (they stem differently, so not exactly).

The table goes to stdout and, with the machine and the date, everything to `--out` (default
benchmarks/results-peers-CORPUS.json). Compare the ratios within one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import re
import sqlite3
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run

ENGINES = ("newsindex", "whoosh", "fts5", "tantivy")
SHAPES = ("or", "and", "month")
STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "that",
        "with",
        "from",
        "this",
        "said",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "its",
        "their",
        "which",
        "will",
        "would",
        "been",
        "also",
        "but",
        "not",
        "they",
        "than",
        "into",
        "after",
        "over",
        "about",
        "more",
        "last",
        "year",
        "pct",
        "mln",
        "dlrs",
        "cts",
        "said",
        "says",
        "say",
        "per",
    ]
)
SHARED_CANDIDATES = (run.REPO_DIR.parent / "shared", run.REPO_DIR.parents[1] / "shared", Path("/work/shared"))


# ---------------------------------------------------------------------------- the corpus and queries


def prepare(corpus: str, workdir: Path) -> Path:
    """WORKDIR/peers/CORPUS/stories.jsonl, written once: the same stories for every engine."""
    folder = workdir / "peers" / corpus
    jsonl = folder / "stories.jsonl"
    if jsonl.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if corpus == "reuters":
        from newsindex.ingest.readers import read_stories

        tarball = next(
            (path for base in SHARED_CANDIDATES if (path := base / "corpora" / "reuters21578-text.tar.gz").exists()),
            None,
        )
        if tarball is None:
            raise SystemExit("peers.py: reuters21578-text.tar.gz not found beside the checkout (shared/corpora)")
        with tempfile.TemporaryDirectory() as extracted:
            with tarfile.open(tarball) as archive:
                archive.extractall(extracted, filter="data")
            with jsonl.open("w", encoding="utf-8") as out:
                for story in read_stories(extracted, on_problem=lambda problem: None):
                    record = story.to_dict()
                    record["id"] = Path(record["id"]).stem.split("_")[0]  # the NEWID
                    out.write(json.dumps(_record(record)) + "\n")
    else:
        source = run.ensure_corpus(int(corpus)) / "stories.jsonl"
        with source.open(encoding="utf-8") as lines, jsonl.open("w", encoding="utf-8") as out:
            for line in lines:
                record = json.loads(line)
                out.write(json.dumps(_record(record)) + "\n")
    return folder


def _record(story: dict[str, Any]) -> dict[str, Any]:
    """What every engine indexes: id, headline ("" when none), published (or null) and body."""
    return {"id": story["id"], "headline": story.get("headline") or "", "published": story.get("published"),
            "body": story["body"]}  # fmt: skip


def stories(folder: Path) -> list[dict[str, Any]]:
    with (folder / "stories.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def make_queries(folder: Path, count: int, seed: int = 1987) -> list[dict[str, Any]]:
    """`count` queries of 1-3 words from random stories' leads, each with the month of its story."""
    rng = random.Random(seed)
    dated = [record for record in stories(folder) if record.get("published")]
    queries: list[dict[str, Any]] = []
    while len(queries) < count:
        record = rng.choice(dated)
        lead = re.sub(r"^.*?\s[-–—]+\s", "", record["body"][:400], count=1)  # past the dateline
        words = [word.lower() for word in re.findall(r"[A-Za-z]{3,}", lead) if word.lower() not in STOP]
        words = list(dict.fromkeys(words))
        if len(words) < 3:
            continue
        size = rng.choice((1, 2, 2, 3))
        picked = rng.sample(words[:12], min(size, len(words[:12])))
        month = str(record["published"])[:7]
        queries.append({"words": picked, "month": month})
    return queries


def month_range(month: str) -> tuple[date, date]:
    year, number = map(int, month.split("-"))
    start = date(year, number, 1)
    end = date(year + (number == 12), number % 12 + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


# ---------------------------------------------------------------------------- builds (children)


def child_fts5_build(folder: str, index_dir: str) -> None:
    Path(index_dir).mkdir(parents=True)
    db = sqlite3.connect(Path(index_dir) / "fts.db")
    db.execute(
        "CREATE VIRTUAL TABLE stories USING fts5(id UNINDEXED, headline, body, published UNINDEXED, "
        "tokenize='porter unicode61')"
    )
    with db, (Path(folder) / "stories.jsonl").open(encoding="utf-8") as lines:
        db.executemany(
            "INSERT INTO stories (id, headline, body, published) VALUES (?, ?, ?, ?)",
            (
                (record["id"], record.get("headline") or "", record["body"], (record.get("published") or "")[:10])
                for record in map(json.loads, lines)
            ),
        )
    db.close()


def _tantivy_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("headline", tokenizer_name="en_stem")
    builder.add_text_field("body", tokenizer_name="en_stem")
    builder.add_date_field("published", indexed=True, fast=True)
    return builder.build()


def child_tantivy_build(folder: str, index_dir: str) -> None:
    import tantivy

    Path(index_dir).mkdir(parents=True)
    index = tantivy.Index(_tantivy_schema(), path=index_dir)
    writer = index.writer()
    with (Path(folder) / "stories.jsonl").open(encoding="utf-8") as lines:
        for record in map(json.loads, lines):
            fields: dict[str, Any] = {
                "id": record["id"],
                "headline": record.get("headline") or "",
                "body": record["body"],
            }
            if record.get("published"):
                fields["published"] = datetime.fromisoformat(record["published"][:10])
            writer.add_document(tantivy.Document(**fields))
    writer.commit()
    writer.wait_merging_threads()


# ---------------------------------------------------------------------------- queries (children)


def _searchers(engine: str, index_dir: str) -> dict[str, Callable[[dict[str, Any]], int]]:
    """For each shape, a function running one query and returning its hit count (or hits seen)."""
    if engine.startswith("newsindex"):
        from newsindex import NewsIndex

        news = NewsIndex.open(index_dir)
        any_kw, all_kw = _matching_rules(news)
        if engine == "newsindex-rank":

            def ask(query: dict[str, Any], **options: Any) -> int:
                return len(news.rank(" ".join(query["words"]), limit=10, **_filtered(news, plain=True, **options)))

        else:

            def ask(query: dict[str, Any], **options: Any) -> int:
                return news.search(" ".join(query["words"]), limit=10, **_filtered(news, plain=True, **options)).total

        def month_kw(query: dict[str, Any]) -> dict[str, Any]:
            start, end = month_range(query["month"])
            return {"start": start, "end": end}

        shapes = {
            "or": lambda query: ask(query, **any_kw),
            "and": lambda query: ask(query, **all_kw),
            "month": lambda query: ask(query, **any_kw, **month_kw(query)),
        }
        if engine == "newsindex-rank" and not {"start", "filters"} & set(inspect.signature(news.rank).parameters):
            del shapes["month"]  # a rank() of before it took a date range
        return shapes
    if engine == "whoosh":
        from whoosh import index as whoosh_index
        from whoosh.qparser import AndGroup, MultifieldParser, OrGroup
        from whoosh.query import And, DateRange

        ix = whoosh_index.open_dir(index_dir)
        searcher = ix.searcher()
        any_parser = MultifieldParser(["headline", "body"], ix.schema, group=OrGroup)
        all_parser = MultifieldParser(["headline", "body"], ix.schema, group=AndGroup)

        def whoosh_month(query: dict[str, Any]) -> int:
            start, end = month_range(query["month"])
            dated = And(
                [
                    any_parser.parse(" ".join(query["words"])),
                    DateRange(
                        "published",
                        datetime(start.year, start.month, start.day),
                        datetime.combine(end, datetime.max.time()),
                    ),
                ]
            )
            return len(searcher.search(dated, limit=10))

        return {
            "or": lambda query: len(searcher.search(any_parser.parse(" ".join(query["words"])), limit=10)),
            "and": lambda query: len(searcher.search(all_parser.parse(" ".join(query["words"])), limit=10)),
            "month": whoosh_month,
        }
    if engine == "fts5":
        db = sqlite3.connect(Path(index_dir) / "fts.db")
        top = "SELECT id FROM stories WHERE stories MATCH ? ORDER BY bm25(stories) LIMIT 10"
        dated = (
            "SELECT id FROM stories WHERE stories MATCH ? AND published BETWEEN ? AND ? ORDER BY bm25(stories) LIMIT 10"
        )

        def expression(query: dict[str, Any], joiner: str) -> str:
            return f" {joiner} ".join(f'"{word}"' for word in query["words"])

        def fts_month(query: dict[str, Any]) -> int:
            start, end = month_range(query["month"])
            return len(db.execute(dated, (expression(query, "OR"), start.isoformat(), end.isoformat())).fetchall())

        return {
            "or": lambda query: len(db.execute(top, (expression(query, "OR"),)).fetchall()),
            "and": lambda query: len(db.execute(top, (expression(query, "AND"),)).fetchall()),
            "month": fts_month,
        }
    if engine == "tantivy":
        import tantivy

        index = tantivy.Index.open(index_dir)
        index.reload()
        searcher = index.searcher()

        def parse(query: dict[str, Any], prefix: str) -> Any:
            return index.parse_query(" ".join(prefix + word for word in query["words"]), ["headline", "body"])

        def tantivy_month(query: dict[str, Any]) -> int:
            start, end = month_range(query["month"])
            words = " ".join(query["words"])
            text = f"+({words}) +published:[{start.isoformat()}T00:00:00Z TO {end.isoformat()}T23:59:59Z]"
            return len(searcher.search(index.parse_query(text, ["headline", "body"]), 10).hits)

        return {
            "or": lambda query: len(searcher.search(parse(query, ""), 10).hits),
            "and": lambda query: len(searcher.search(parse(query, "+"), 10).hits),
            "month": tantivy_month,
        }
    raise SystemExit(f"peers.py: unknown engine {engine}")


def _counts(engine: str, index_dir: str, queries: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Every query's full hit count in each shape (untimed): the engines' answers, side by side."""
    counts: dict[str, list[int]] = {shape: [] for shape in SHAPES}
    if engine == "fts5":
        db = sqlite3.connect(Path(index_dir) / "fts.db")
        for query in queries:
            for shape, joiner in (("or", "OR"), ("and", "AND")):
                text = f" {joiner} ".join(f'"{word}"' for word in query["words"])
                counts[shape].append(
                    db.execute("SELECT count(*) FROM stories WHERE stories MATCH ?", (text,)).fetchone()[0]
                )
    elif engine == "newsindex":
        from newsindex import NewsIndex

        news = NewsIndex.open(index_dir)
        any_kw, all_kw = _matching_rules(news)
        for query in queries:
            text = " ".join(query["words"])
            counts["or"].append(news.search(text, limit=1, **_filtered(news, plain=True, **any_kw)).total)
            counts["and"].append(news.search(text, limit=1, **_filtered(news, plain=True, **all_kw)).total)
    return counts


def _matching_rules(news: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filters asking for some of the words and for every word, as this version of newsindex names them:
    `match` where it exists ("all" the default), else `require_all` (the matching rule changed)."""
    parameters = inspect.signature(news.search).parameters
    has_match = "match" in parameters or "filters" in parameters
    return ({"match": "any"} if has_match else {}), ({} if has_match else {"require_all": True})


def _filtered(news: Any, **filters: Any) -> dict[str, Any]:
    """The keyword arguments giving `search` or `rank` these filters: one Filters (newsindex 0.2 on), or
    each filter a keyword (before)."""
    if "filters" not in inspect.signature(news.search).parameters:
        return filters
    from newsindex import Filters

    return {"filters": Filters(**filters)}


def child_queries(engine: str, index_dir: str, queries_file: str) -> None:
    queries = json.loads(Path(queries_file).read_text())
    searchers = _searchers(engine, index_dir)
    report: dict[str, Any] = {}
    for shape in SHAPES:
        if shape not in searchers:
            continue
        search = searchers[shape]
        cpu_ms, wall_ms, errors = [], [], []
        for query in queries:
            try:
                search(query)  # warm
                cpu, wall = time.process_time(), time.perf_counter()
                search(query)
                cpu_ms.append((time.process_time() - cpu) * 1000)
                wall_ms.append((time.perf_counter() - wall) * 1000)
            except Exception as error:  # a product error is a finding, not a crash of the benchmark
                errors.append(f"{query['words']}: {type(error).__name__}: {error}")
        report[shape] = {
            "cpu_ms": _percentiles(cpu_ms),
            "wall_ms": _percentiles(wall_ms),
            "errors": errors[:20],
            "error_count": len(errors),
        }
    report["counts"] = _counts(engine, index_dir, queries)
    print(json.dumps(report))


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "n": len(ordered),
    }


CHILDREN: dict[str, Callable[..., None]] = {
    "fts5-build": child_fts5_build,
    "tantivy-build": child_tantivy_build,
    "queries": child_queries,
}


def child_command(name: str, *args: object) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "_child", name, *map(str, args)]


# ---------------------------------------------------------------------------- the run


def build(engine: str, folder: Path, index_dir: Path, logs: Path) -> dict[str, Any]:
    run.clean(index_dir)
    if engine == "newsindex":
        command = [str(run.NEWSINDEX), "index", str(folder / "stories.jsonl"), "-i", str(index_dir), "-q", "--json"]
    elif engine == "whoosh":
        command = run.child_command("baseline-build", folder, index_dir)
    else:
        command = child_command(f"{engine}-build", folder, index_dir)
    child = run.run_child(command, logs, f"{engine}-build")
    return {"cpu_s": child.cpu_s, "wall_s": child.wall_s, "peak_rss_mb": child.peak_rss_mb,
            "tree_peak_pss_mb": child.tree_peak_pss_mb, "bytes": run.folder_bytes(index_dir)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", default="reuters", help="`reuters` (shared/corpora) or a generated size N")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=run.DEFAULT_WORKDIR)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args()
    engines = args.engines.split(",")
    folder = prepare(args.corpus, args.workdir)
    queries = make_queries(folder, args.queries)
    queries_file = folder / "queries.json"
    queries_file.write_text(json.dumps(queries))
    logs = args.workdir / "peers" / "logs"
    result: dict[str, Any] = {"machine": run.machine(), "corpus": args.corpus, "stories": len(stories(folder)),
                              "queries": len(queries), "builds": {}, "search": {}}  # fmt: skip
    for engine in engines:
        print(f"building {engine}", file=sys.stderr)
        result["builds"][engine] = build(engine, folder, args.workdir / "peers" / f"{args.corpus}-{engine}", logs)
    for engine in [*engines, *(["newsindex-rank"] if "newsindex" in engines else [])]:
        print(f"querying {engine}", file=sys.stderr)
        index_dir = args.workdir / "peers" / f"{args.corpus}-{engine.removesuffix('-rank')}"
        child = run.run_child(child_command("queries", engine, index_dir, queries_file), logs, f"{engine}-queries")
        result["search"][engine] = run.last_json_line(child.stdout)
    out = args.out or run.BENCHMARKS_DIR / f"results-peers-{args.corpus}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))


def table(result: dict[str, Any]) -> str:
    names = {"newsindex": "newsindex search()", "newsindex-rank": "newsindex rank()", "whoosh": "plain Whoosh",
             "fts5": "SQLite FTS5 (ids)", "tantivy": "Tantivy (ids)"}  # fmt: skip
    engines = list(result["search"])
    lines = [
        f"{result['corpus']}: {result['stories']:,} stories, {result['queries']} queries; CPU ms per query p50 / p95",
        "",
        "| | " + " | ".join(names.get(engine, engine) for engine in engines) + " |",
        "|---|" + "---:|" * len(engines),
    ]
    for shape, label in (("or", "any word (OR)"), ("and", "all words (AND)"), ("month", "OR + one month")):
        cells = []
        for engine in engines:
            if shape not in result["search"][engine]:
                cells.append("n/a")
                continue
            figures = result["search"][engine][shape]["cpu_ms"]
            cells.append(f"{figures['p50']:.2f} / {figures['p95']:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    builds = result["builds"]
    lines.append(
        "| build, CPU s | "
        + " | ".join(f"{builds[engine]['cpu_s']:.1f}" if engine in builds else "" for engine in engines)
        + " |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        CHILDREN[sys.argv[2]](*sys.argv[3:])
    else:
        main()
