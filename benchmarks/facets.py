"""Latency of facet counts and timelines against a plain search, on an existing index.

Usage (from the repository root, with the project's Python):

    python benchmarks/facets.py --index DIR --corpus CORPUS_DIR [--queries K] [--rounds R] [--modes M,...] [--out FILE]

DIR is a newsindex index of CORPUS_DIR/stories.jsonl (benchmarks/make_corpus.py N, then
``newsindex index CORPUS_DIR/stories.jsonl -i DIR``). For the first K queries of CORPUS_DIR/queries.tsv,
one process, through the public Python API:

- plain: ``search(text, limit=10)``;
- facets: the same with ``facets=("bylines", "location", "source", "year", "month")``;
- timeline-month, timeline-week: ``timeline(text, by="month" | "week")`` over the matches' whole span;
- timeline-2: ``timeline([text, next query's text], by="year")``, two series;
- date: ``search(text, start=..., end=..., limit=10)`` with run.py's one-year filter for the query (not
  in the default ``--modes``: ``--modes plain,date`` compares filtered and plain searches interleaved).

Each query runs every mode once untimed (warm-up), then R rounds, the modes in a rotating order within
each round so that noise on a shared machine falls on all of them alike; a query's time in a mode is
the median of its R runs. Reported: p50/p95/max over the queries, the ratio of each mode's p50 and p95
to plain's, and the median of the per-query ratios. Before the warm-up, the first faceted search and
the first timeline of the fresh process are timed apart: they build the per-segment arrays (cached after).
Each faceted search is checked: the years' counts plus the undated equal the total (when ``facets`` is
one of the modes). The process's RSS (``VmRSS``) is recorded before and after opening the index, after
the first query of every mode and at the end, with the peak (``VmHWM``).
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
from run import _percentiles, _status_mb, filter_year, machine, read_queries  # a script beside this one

FACETS = ("bylines", "location", "source", "year", "month")
MODES = ("plain", "facets", "timeline-month", "timeline-week", "timeline-2")
ALL_MODES = (*MODES, "date")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print the JSON results (also written to --out)."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    from newsindex import Filters, NewsIndex

    info = machine()
    modes: tuple[str, ...] = args.modes
    rss_before_open = _status_mb("VmRSS")
    opened = time.perf_counter()
    news = NewsIndex.open(args.index)
    open_s = time.perf_counter() - opened
    rss_after_open = _status_mb("VmRSS")
    pairs = read_queries(args.corpus, args.queries)
    queries = [text for _, text in pairs]

    first = queries[0]
    news.search(first, limit=10)  # searcher opened: what follows is the arrays' cost, not the index's
    started = time.perf_counter()
    news.search(first, limit=10, facets=FACETS)
    first_facets_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    news.timeline(first, by="month")
    first_timeline_ms = (time.perf_counter() - started) * 1000
    rss_after_first = _status_mb("VmRSS")

    def runner(mode: str, index: int) -> Callable[[], Any]:
        text = queries[index]
        other = queries[(index + 1) % len(queries)]
        year = filter_year(pairs[index][0])
        return {
            "plain": lambda: news.search(text, limit=10),
            "facets": lambda: news.search(text, limit=10, facets=FACETS),
            "timeline-month": lambda: news.timeline(text, by="month"),
            "timeline-week": lambda: news.timeline(text, by="week"),
            "timeline-2": lambda: news.timeline([text, other], by="year"),
            "date": lambda: news.search(text, filters=Filters(start=f"{year}-01-01", end=f"{year}-12-31"), limit=10),
        }[mode]

    per_mode: dict[str, list[float]] = {mode: [] for mode in modes}
    totals: list[int] = []
    mismatches: list[str] = []
    for index, text in enumerate(queries):
        for mode in modes:
            runner(mode, index)()
        if "facets" in modes:
            faceted = news.search(text, limit=10, facets=FACETS)
            undated = news.timeline(text, by="year").series[0].undated
            if sum(count for _, count in faceted.facets["year"]) + undated != faceted.total:
                mismatches.append(text)
            totals.append(faceted.total)
        else:
            totals.append(news.search(text, limit=10).total)
        runs: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_number in range(args.rounds):
            shift = (index + round_number) % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                work = runner(mode, index)
                started = time.perf_counter()
                work()
                runs[mode].append((time.perf_counter() - started) * 1000)
        for mode in modes:
            per_mode[mode].append(statistics.median(runs[mode]))

    plain = per_mode["plain"]
    report: dict[str, Any] = {
        "machine": info,
        "index": str(args.index),
        "stories": news.count(),
        "queries": len(queries),
        "rounds": args.rounds,
        "open_s": round(open_s, 3),
        "first_faceted_search_ms": round(first_facets_ms, 1),
        "first_timeline_ms": round(first_timeline_ms, 1),
        "mean_matching_stories": round(statistics.fmean(totals), 1),
        "max_matching_stories": max(totals),
        "facet_sum_mismatches": mismatches,
        "rss_mb": {
            "before_open": rss_before_open,
            "after_open": rss_after_open,
            "after_first_queries": rss_after_first,
            "at_end": _status_mb("VmRSS"),
            "peak": _status_mb("VmHWM"),
        },
        "modes": {},
    }
    for mode in modes:
        stats = _percentiles(per_mode[mode])
        ratios = [value / base for value, base in zip(per_mode[mode], plain, strict=True) if base > 0]
        report["modes"][mode] = {
            **{key: round(value, 2) for key, value in stats.items()},
            "p50_ratio_to_plain": round(stats["p50_ms"] / _percentiles(plain)["p50_ms"], 2),
            "p95_ratio_to_plain": round(stats["p95_ms"] / _percentiles(plain)["p95_ms"], 2),
            "median_per_query_ratio": round(statistics.median(ratios), 2),
        }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="facets.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--index", type=Path, required=True, help="the newsindex index folder")
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus folder with queries.tsv")
    parser.add_argument("--queries", type=int, default=200, metavar="K", help="queries to time (default 200)")
    parser.add_argument("--rounds", type=int, default=3, metavar="R", help="timed runs per query and mode")
    parser.add_argument("--out", type=Path, help="also write the JSON results here")
    parser.add_argument(
        "--modes",
        type=_modes,
        default=MODES,
        help=f"comma-separated, plain first (default: {','.join(MODES)}; also: date)",
    )
    return parser.parse_args(argv)


def _modes(text: str) -> tuple[str, ...]:
    modes = tuple(mode.strip() for mode in text.split(",") if mode.strip())
    unknown = [mode for mode in modes if mode not in ALL_MODES]
    if unknown or not modes or modes[0] != "plain":
        raise argparse.ArgumentTypeError(f"modes from {', '.join(ALL_MODES)}, plain first; got {text!r}")
    return modes


if __name__ == "__main__":
    raise SystemExit(main())
