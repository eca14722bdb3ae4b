"""The large-corpus figures of the issue: build memory, index size, warm searcher memory and latency.

Usage (from the repository root, with the Python of a venv where the project is installed):

    python benchmarks/scale.py --stories 500000 [--corpus DIR] [--workdir DIR] [--queries K] [--out FILE]

The corpus is `make_corpus.py N --format jsonl` (only stories.jsonl and queries.tsv; generated into
`--corpus`, default benchmarks/corpus/N-jsonl, when missing). Then, each step a subprocess, measured as
run.py measures them (`run_child`: wall, CPU of the process and its workers, the largest process's peak
RSS, the summed RSS of the process tree every 0.1 s and its summed PSS every 0.5 s: private pages plus a
share of the shared ones, so a page shared by the indexing process and the workers it forked counts once
rather than three times):

1. `newsindex index stories.jsonl -i WORKDIR/scale --quiet --json` (default workers);
2. the same again on the unchanged corpus (incremental);
3. run.py's query child on that index: the 200 queries plain, then with a one-year date range, each once
   untimed and once timed, through `NewsIndex.search`; its RSS after opening and after every query.

Writes the JSON (default benchmarks/results-scale-N.json) and prints a table. No plain-Whoosh baseline:
at 500,000 stories it takes more than half an hour; the issue quotes its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # run.py, next to this file


def ensure_corpus(stories: int, corpus: Path) -> Path:
    if not (corpus / "stories.jsonl").exists() or not (corpus / "queries.tsv").exists():
        print(f"scale.py: generating {stories:,} stories into {corpus}...", file=sys.stderr)
        make = [sys.executable, str(bench.BENCHMARKS_DIR / "make_corpus.py"), str(stories), "--out", str(corpus)]
        subprocess.run([*make, "--format", "jsonl"], check=True)
    return corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, required=True, metavar="N")
    parser.add_argument("--corpus", type=Path, help="a corpus folder (default benchmarks/corpus/N-jsonl)")
    parser.add_argument("--workdir", type=Path, default=bench.DEFAULT_WORKDIR)
    parser.add_argument("--queries", type=int, default=200, metavar="K")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    corpus = ensure_corpus(args.stories, args.corpus or bench.CORPUS_ROOT / f"{args.stories}-jsonl")
    workdir = args.workdir
    index_dir = bench.clean(workdir / "scale")
    raw = bench.raw_text_bytes(corpus)  # no text folder here: its bytes count 0
    results: dict[str, Any] = {"machine": bench.machine(), "code_start": bench._code_state(), "raw": raw}

    command = [str(bench.NEWSINDEX), "index", str(corpus / "stories.jsonl"), "-i", str(index_dir), "--quiet", "--json"]
    print("scale.py: building...", file=sys.stderr)
    results["load_before_build"] = os.getloadavg()
    run = bench.run_child(command, workdir / "logs", "scale-build")
    build = bench.build_report(run, raw["stories"], index_dir, raw["headline_body_bytes"], "headline+body UTF-8")
    build["cli_report"] = bench._trimmed(bench.last_json_object(run.stdout))
    print(f"scale.py: built in {run.wall_s:.0f} s; incremental re-run...", file=sys.stderr)
    again = bench.run_child(command, workdir / "logs", "scale-incremental")
    build["incremental"] = {
        "wall_s": again.wall_s,
        "cpu_s": again.cpu_s,
        "pct_of_full": 100 * again.wall_s / run.wall_s,
        "peak_rss_mb": again.peak_rss_mb,
        "tree_peak_pss_mb": again.tree_peak_pss_mb,
        "cli_report": bench._trimmed(bench.last_json_object(again.stdout)),
    }
    results["build"] = build
    print("scale.py: querying...", file=sys.stderr)
    results["load_before_queries"] = os.getloadavg()
    queries = bench.run_child(
        bench.child_command("ours-queries", index_dir, corpus, args.queries), workdir / "logs", "scale-queries"
    )
    results["search"] = bench.last_json_line(queries.stdout) | {"process_peak_rss_mb": queries.peak_rss_mb}
    results["code_end"] = bench._code_state()
    out = args.out or bench.BENCHMARKS_DIR / f"results-scale-{args.stories}.json"
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    _print(results)
    print(f"scale.py: wrote {out}", file=sys.stderr)


def _print(results: dict[str, Any]) -> None:
    build, search = results["build"], results["search"]
    rows = [
        ("stories", f"{results['raw']['stories']:,}"),
        ("build wall s", f"{build['wall_s']:.1f}"),
        ("stories/s", f"{build['stories_per_s']:,.0f}"),
        ("build CPU s (all processes)", f"{build['cpu_s']:.1f}"),
        ("peak RSS MiB, largest process", f"{build['peak_rss_mb']:.0f}"),
        ("peak RSS MiB, all processes summed", f"{build['tree_peak_rss_mb']:.0f}"),
        ("peak PSS MiB, all processes summed", f"{build['tree_peak_pss_mb']:.0f}"),
        ("index / raw text", f"{build['index_to_raw']:.2f}"),
        ("Whoosh segments", f"{build['whoosh_segments']}"),
        (
            "incremental re-run s (% of build)",
            f"{build['incremental']['wall_s']:.1f} ({build['incremental']['pct_of_full']:.1f} %)",
        ),
        ("incremental peak PSS MiB", f"{build['incremental']['tree_peak_pss_mb']:.0f}"),
    ]
    rows += [
        (f"search {key}", json.dumps(value)) for key, value in search.items() if not isinstance(value, list | dict)
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
