"""Query latency on an existing index, interleaved: plain and date-filtered, folded and all versions.

Usage (from the repository root, with the project's Python):

    python benchmarks/latency.py --index DIR --corpus CORPUS_DIR [--queries K] [--rounds R] [--out FILE]

DIR is a newsindex index of CORPUS_DIR/stories.jsonl (``run.py`` leaves one in ``work/ours``). For the
first K queries of CORPUS_DIR/queries.tsv, one process, through the public Python API, four modes:

- plain: ``search(text, limit=10)`` (duplicate groups folded, the default);
- date: the same with ``start="YYYY-01-01", end="YYYY-12-31"`` (the year of run.py: 1995 + crc32(id) % 30);
- plain-all, date-all: the same two with ``all_versions=True`` (no folding).

Each query runs every mode once untimed (warm-up), then R rounds, the modes in a rotating order within
each round so that noise on a shared machine falls on all of them alike; a query's time in a mode is the
median of its R runs. Reported: p50/p95/max/mean over the queries, the ratio of each mode's p50 and p95
to plain's, the median of the per-query ratios, and the two ratios the issue asks about: date / plain
(folded and all versions) and folded / all versions (plain and dated). Also the mean total of each mode
(groups when folded, stories with all versions) and how many first-page hits carried other versions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import _percentiles, filter_year, machine, read_queries  # a script beside this one

MODES = ("plain", "date", "plain-all", "date-all")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print the JSON results (also written to --out)."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    from newsindex import Filters, NewsIndex, SearchResults

    info = machine()
    opened = time.perf_counter()
    news = NewsIndex.open(args.index)
    open_s = time.perf_counter() - opened
    queries = read_queries(args.corpus, args.queries)

    def runner(mode: str, query_id: str, text: str) -> Callable[[], SearchResults]:
        year = filter_year(query_id)
        every = mode.endswith("-all")
        if mode.startswith("date"):
            return lambda: news.search(
                text, filters=Filters(start=f"{year}-01-01", end=f"{year}-12-31"), limit=10, all_versions=every
            )
        return lambda: news.search(text, limit=10, all_versions=every)

    per_mode: dict[str, list[float]] = {mode: [] for mode in MODES}
    totals: dict[str, list[int]] = {mode: [] for mode in MODES}
    hits_with_versions = 0
    for index, (query_id, text) in enumerate(queries):
        for mode in MODES:  # warm-up, and the totals
            results = runner(mode, query_id, text)()
            totals[mode].append(results.total)
            if mode == "plain":
                hits_with_versions += sum(1 for hit in results.hits if hit.duplicates)
        runs: dict[str, list[float]] = {mode: [] for mode in MODES}
        for round_number in range(args.rounds):
            shift = (index + round_number) % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                work = runner(mode, query_id, text)
                started = time.perf_counter()
                work()
                runs[mode].append((time.perf_counter() - started) * 1000)
        for mode in MODES:
            per_mode[mode].append(statistics.median(runs[mode]))

    stats = {mode: _percentiles(per_mode[mode]) for mode in MODES}

    def ratio(top: str, bottom: str) -> dict[str, float]:
        per_query = [a / b for a, b in zip(per_mode[top], per_mode[bottom], strict=True) if b > 0]
        return {
            "p50": round(stats[top]["p50_ms"] / stats[bottom]["p50_ms"], 3),
            "p95": round(stats[top]["p95_ms"] / stats[bottom]["p95_ms"], 3),
            "mean": round(stats[top]["mean_ms"] / stats[bottom]["mean_ms"], 3),
            "median_per_query": round(statistics.median(per_query), 3),
        }

    report: dict[str, Any] = {
        "machine": info,
        "index": str(args.index),
        "stories": news.count(),
        "queries": len(queries),
        "rounds": args.rounds,
        "open_s": round(open_s, 3),
        "mean_total": {mode: round(statistics.fmean(values), 1) for mode, values in totals.items()},
        "plain_first_page_hits_with_other_versions": hits_with_versions,
        "modes": {mode: {key: round(value, 2) for key, value in stats[mode].items()} for mode in MODES},
        "ratios": {
            "date/plain (folded)": ratio("date", "plain"),
            "date/plain (all versions)": ratio("date-all", "plain-all"),
            "folded/all versions (plain)": ratio("plain", "plain-all"),
            "folded/all versions (date)": ratio("date", "date-all"),
        },
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="latency.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--index", type=Path, required=True, help="the newsindex index folder")
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus folder with queries.tsv")
    parser.add_argument("--queries", type=int, default=200, metavar="K", help="queries to time (default 200)")
    parser.add_argument("--rounds", type=int, default=3, metavar="R", help="timed runs per query and mode")
    parser.add_argument("--out", type=Path, help="also write the JSON results here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
