"""Benchmark newsindex against Whoosh as usually written: indexing, query latency, memory, size, CLI start.

Usage (from the repository root, with the project's Python):

    python benchmarks/run.py --stories N [--skip-baseline] [--queries K] [--out results.json]

On the corpus benchmarks/corpus/N (made with make_corpus.py when missing) it measures:

- builds, each in its own subprocess: the baseline (a plain Whoosh schema, one default writer,
  ``add_document`` per story of stories.jsonl, one commit), then ``newsindex index stories.jsonl``
  and ``newsindex index text/``: wall and CPU seconds, stories/s, peak RSS, index bytes on disk;
- an incremental re-run of each ``newsindex index`` on the unchanged input;
- query latency, one subprocess per engine: K queries of queries.tsv, each run once untimed and
  then once timed, plain and with a one-year date range; p50/p95/max and the RSS afterwards;
- CLI cold start: the median of 10 runs of ``newsindex --help`` and of a search of a tiny index.

It prints a table with the ratios ours/baseline and the issue's targets, and writes every number
to a JSON file (default: benchmarks/results-N.json). Run it by hand: the test suite never does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent
CORPUS_ROOT = BENCHMARKS_DIR / "corpus"
DEFAULT_WORKDIR = BENCHMARKS_DIR / "work"
NEWSINDEX = Path(sys.executable).parent / "newsindex"  # the CLI installed next to this Python
FIRST_YEAR, LAST_YEAR = 1995, 2024
CLI_RUNS = 10
CLI_QUERY = "Albania Iran"
MB = 1024 * 1024

# The issue's targets: (key, description, size the target is stated for or None).
TARGETS = {
    "indexing_speedup": ("indexing throughput >= 4x the baseline", None),
    "p95_ms": ("p95 < 100 ms for 1-3 word queries", 100_000),
    "date_filter_ratio": ("date-filtered <= 1.2x the unfiltered", None),
    "warm_searcher_mb": ("warm searcher < 1 GB", 500_000),
    "cli_search_s": ("CLI `search` cold < 0.4 s", None),
    "cli_help_s": ("CLI `--help` < 0.25 s", None),
    "index_size_ratio": ("index size <= 1.3x raw text", None),
    "incremental_pct": ("incremental re-index of an unchanged corpus < 10% of full build", None),
}


# ---------------------------------------------------------------------------- measuring children


@dataclass
class ChildRun:
    """One subprocess: its wall time and, from os.wait4, its own CPU time and peak RSS."""

    command: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    tree_peak_rss_mb: float
    tree_peak_processes: int
    stdout: str
    stderr: str
    tree_peak_pss_mb: float = 0.0  # summed PSS: a page shared by a process and its forked workers counts once

    @property
    def cpu_s(self) -> float:
        """User plus system CPU seconds of the child (and of any children it waited for)."""
        return self.user_s + self.sys_s


def run_child(command: Sequence[str], log_dir: Path, name: str) -> ChildRun:
    """Run `command` to completion, its output in log_dir/name.{out,err}; fail loudly on a non-zero exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), stdout=out, stderr=err, cwd=REPO_DIR)
        sampler = TreeMemory(process.pid)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            sampler.stop()
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    run = ChildRun(
        command=list(command),
        returncode=process.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux; the largest single process of the tree
        tree_peak_rss_mb=sampler.peak_mb,
        tree_peak_processes=sampler.peak_processes,
        tree_peak_pss_mb=sampler.peak_pss_mb,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )
    if run.returncode != 0:
        raise SystemExit(f"run.py: {name} failed (exit {run.returncode}): {' '.join(command)}\n{run.stderr[-2000:]}")
    return run


class TreeMemory:
    """Samples the summed RSS of a process and its descendants (worker processes) every 0.1 s, and their
    summed PSS (from /proc/PID/smaps_rollup, dearer to read) every 0.5 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self.peak_pss_mb = 0.0
        self.peak_processes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (the child has exited)."""
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        ticks = 0
        while not self._done.wait(0.1):
            pids = self._tree()
            total = sum(_proc_rss_kb(pid) for pid in pids) / 1024
            self.peak_mb = max(self.peak_mb, total)
            self.peak_processes = max(self.peak_processes, len(pids))
            ticks += 1
            if ticks % 5 == 0:
                self.peak_pss_mb = max(self.peak_pss_mb, sum(_proc_pss_kb(pid) for pid in pids) / 1024)

    def _tree(self) -> list[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, frontier = [], [self.pid]
        while frontier:
            pid = frontier.pop()
            tree.append(pid)
            frontier.extend(child for child, parent in parents.items() if parent == pid)
        return tree


def _proc_pss_kb(pid: int) -> int:
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _proc_rss_kb(pid: int) -> int:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def _proc_kb(path: str, key: str) -> int:
    """The kB figure after `key` in a /proc file; 0 for a process that is gone."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def last_json_line(text: str) -> Any:
    """The JSON object a child printed last on stdout."""
    return json.loads(text.strip().splitlines()[-1])


def folder_bytes(folder: Path) -> int:
    """Apparent size of every file under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def index_bytes_by_kind(index_dir: Path) -> dict[str, int]:
    """Bytes by Whoosh file kind, from file names: postings, terms, stored fields, columns, the rest."""
    kinds = {"postings (.pst)": 0, "terms (.trm)": 0, "stored fields (_stored.col)": 0, "other columns (.col)": 0,
             "compound segments (.seg)": 0, "other": 0}  # fmt: skip
    for path in index_dir.rglob("*"):
        if path.is_file():
            name = path.name
            kind = (
                "postings (.pst)" if name.endswith(".pst")
                else "terms (.trm)" if name.endswith(".trm")
                else "stored fields (_stored.col)" if name.endswith("_stored.col")
                else "other columns (.col)" if name.endswith(".col")
                else "compound segments (.seg)" if name.endswith(".seg")
                else "other"
            )  # fmt: skip
            kinds[kind] += path.stat().st_size
    return kinds


def whoosh_segments(index_dir: Path) -> int:
    """Segments, from file names: one .seg per compound segment, one .trm (terms) per plain one."""
    return sum(1 for path in index_dir.iterdir() if path.suffix in (".seg", ".trm"))


def note_load(result: dict[str, Any], step: str) -> None:
    """Record the load average before a step: other people's work on the machine skews timings."""
    result["machine"].setdefault("load_average_before", {})[step] = os.getloadavg()
    if os.getloadavg()[0] > 1.5:
        print(f"run.py: warning: load average {os.getloadavg()[0]:.1f} before {step}", file=sys.stderr)


def clean(folder: Path) -> Path:
    """Remove `folder` if it exists (it only ever holds what this script built) and return it."""
    if folder.exists():
        shutil.rmtree(folder)
    return folder


# ---------------------------------------------------------------------------- the corpus


def ensure_corpus(stories: int) -> Path:
    """benchmarks/corpus/N, generated by make_corpus.py unless a complete one is there."""
    root = CORPUS_ROOT / str(stories)
    manifest = root / "manifest.json"
    if manifest.exists():
        made = json.loads(manifest.read_text(encoding="utf-8"))
        if made.get("stories") == stories and made.get("format") == "both" and made.get("seed") == 1:
            return root
    print(f"run.py: generating the corpus of {stories:,} stories", file=sys.stderr)
    subprocess.run([sys.executable, str(BENCHMARKS_DIR / "make_corpus.py"), str(stories)], check=True)
    return root


def raw_text_bytes(corpus: Path) -> dict[str, int]:
    """Headline + body UTF-8 bytes of stories.jsonl, and the bytes of the text-format files."""
    headline_body = 0
    stories = 0
    with open(corpus / "stories.jsonl", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            headline_body += len((record.get("headline") or "").encode()) + len(record["body"].encode())
            stories += 1
    return {
        "stories": stories,
        "headline_body_bytes": headline_body,
        "text_files_bytes": folder_bytes(corpus / "text"),
        "jsonl_bytes": (corpus / "stories.jsonl").stat().st_size,
    }


def read_queries(corpus: Path, count: int) -> list[tuple[str, str]]:
    """The first `count` (id, text) pairs of queries.tsv."""
    pairs = []
    for line in (corpus / "queries.tsv").read_text(encoding="utf-8").splitlines():
        query_id, text = line.split("\t", 1)
        pairs.append((query_id, text))
    return pairs[:count]


def filter_year(query_id: str) -> int:
    """The year of a query's date filter: deterministic, spread over 1995-2024."""
    return FIRST_YEAR + zlib.crc32(query_id.encode()) % (LAST_YEAR - FIRST_YEAR + 1)


# ---------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python, OS, date, load, and the code measured."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kb = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(ram_kb / MB, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": os.getloadavg(),
        "whoosh": _version("whoosh"),
        "code": _code_state(),
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    for name in (package, "Whoosh-Reloaded", "Whoosh"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "unknown"


def _code_state() -> dict[str, Any]:
    """Git HEAD plus a hash of src/: other people edit src/ while benchmarks run."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True)
        return done.stdout.strip()

    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / "src").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "src_modified_since_head": bool(git("status", "--porcelain", "src")),
        "src_sha256": digest.hexdigest()[:16],
    }


# ---------------------------------------------------------------------------- children: baseline


def child_baseline_build(corpus: str, index_dir: str) -> None:
    """Whoosh as usually written: plain schema, one default writer, add_document per story, one commit."""
    started = time.perf_counter()
    from whoosh import index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema

    schema = Schema(
        id=ID(unique=True, stored=True),
        headline=TEXT(analyzer=StemmingAnalyzer(), stored=True),
        body=TEXT(analyzer=StemmingAnalyzer(), stored=True),
        published=DATETIME(sortable=True),
        bylines=KEYWORD(stored=True, commas=True),
        location=ID(stored=True),
        source=ID(stored=True),
    )
    os.makedirs(index_dir)
    ix = index.create_in(index_dir, schema)
    writer = ix.writer()
    stories = 0
    with open(os.path.join(corpus, "stories.jsonl"), encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            fields = {"id": record["id"], "headline": record["headline"], "body": record["body"]}
            if record.get("published"):
                fields["published"] = datetime.fromisoformat(record["published"])
            if record.get("bylines"):
                fields["bylines"] = ",".join(record["bylines"])
            for name in ("location", "source"):
                if record.get(name):
                    fields[name] = record[name]
            writer.add_document(**fields)
            stories += 1
    writer.commit()
    print(json.dumps({"stories": stories, "seconds_in_child": time.perf_counter() - started}))


def child_baseline_queries(index_dir: str, corpus: str, count: int) -> None:
    """Query latency of plain Whoosh: MultifieldParser with OrGroup, one warm searcher, And + DateRange."""
    from whoosh import index
    from whoosh.qparser import MultifieldParser, OrGroup
    from whoosh.query import And, DateRange

    rss_before = _rss_mb()
    opened = time.perf_counter()
    ix = index.open_dir(index_dir)
    searcher = ix.searcher()
    parser = MultifieldParser(["headline", "body"], ix.schema, group=OrGroup)
    open_s = time.perf_counter() - opened
    rss_open = _rss_mb()

    def search(text: str, year: int | None) -> tuple[int, int]:
        query = parser.parse(text)
        if year is not None:
            query = And([query, DateRange("published", datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59))])
        results = searcher.search(query, limit=10)
        hits = [hit.fields() for hit in results]  # a results page shows the stories' stored fields
        return len(results), len(hits)

    _query_phase(search, corpus, count, rss_before, rss_open, open_s, ix.doc_count())


# ---------------------------------------------------------------------------- children: ours


def child_ours_queries(index_dir: str, corpus: str, count: int) -> None:
    """Query latency of newsindex through its public Python API."""
    rss_before = _rss_mb()
    opened = time.perf_counter()
    from newsindex import Filters, NewsIndex

    index = NewsIndex.open(index_dir)
    open_s = time.perf_counter() - opened
    rss_open = _rss_mb()

    def search(text: str, year: int | None) -> tuple[int, int]:
        if year is None:
            results = index.search(text, limit=10)
        else:
            results = index.search(text, filters=Filters(start=f"{year}-01-01", end=f"{year}-12-31"), limit=10)
        return results.total, len(results.hits)

    _query_phase(search, corpus, count, rss_before, rss_open, open_s, index.count())


def _query_phase(
    search: Callable[[str, int | None], tuple[int, int]],
    corpus: str,
    count: int,
    rss_before: float,
    rss_open: float,
    open_s: float,
    stories: int,
) -> None:
    """Run every query plain, then every query date-filtered: once untimed (warm-up), once timed."""
    queries = read_queries(Path(corpus), count)
    report: dict[str, Any] = {"stories": stories, "queries": len(queries), "open_s": open_s}
    for mode in ("plain", "date"):
        first_ms, timed_ms, totals, errors = [], [], [], []
        for query_id, text in queries:
            year = filter_year(query_id) if mode == "date" else None
            try:
                started = time.perf_counter()
                search(text, year)
                first_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                total, _ = search(text, year)
                timed_ms.append((time.perf_counter() - started) * 1000)
                totals.append(total)
            except Exception as error:  # a product error is a finding, not a crash of the benchmark
                errors.append(f"{query_id} {text!r}: {type(error).__name__}: {error}")
        report[mode] = {
            "timed": _percentiles(timed_ms),
            "first_run": _percentiles(first_ms),
            "mean_total_hits": statistics.fmean(totals) if totals else 0,
            "zero_hit_queries": sum(1 for total in totals if total == 0),
            "totals": totals,
            "errors": errors,
        }
    report["rss_before_open_mb"] = rss_before
    report["rss_after_open_mb"] = rss_open
    report["rss_after_queries_mb"] = _rss_mb()
    report["peak_rss_mb"] = _status_mb("VmHWM")
    print(json.dumps(report))


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan"), "mean_ms": float("nan")}
    ordered = sorted(values_ms)
    return {
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_ms": ordered[-1],
        "mean_ms": statistics.fmean(ordered),
    }


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


CHILDREN: dict[str, Callable[..., None]] = {
    "baseline-build": child_baseline_build,
    "baseline-queries": lambda index_dir, corpus, count: child_baseline_queries(index_dir, corpus, int(count)),
    "ours-queries": lambda index_dir, corpus, count: child_ours_queries(index_dir, corpus, int(count)),
}


def child_command(name: str, *args: object) -> list[str]:
    """The command line that runs child `name` of this script."""
    return [sys.executable, str(Path(__file__).resolve()), "_child", name, *map(str, args)]


# ---------------------------------------------------------------------------- the steps


def build_report(run: ChildRun, stories: int, index_dir: Path, raw_bytes: int, raw_kind: str) -> dict[str, Any]:
    """The numbers of one build."""
    size = folder_bytes(index_dir)
    return {
        "command": run.command,
        "wall_s": run.wall_s,
        "stories_per_s": stories / run.wall_s,
        "stories_per_cpu_s": stories / run.cpu_s,
        "cpu_s": run.cpu_s,
        "user_s": run.user_s,
        "sys_s": run.sys_s,
        "peak_rss_mb": run.peak_rss_mb,
        "tree_peak_rss_mb": run.tree_peak_rss_mb,
        "tree_peak_processes": run.tree_peak_processes,
        "tree_peak_pss_mb": run.tree_peak_pss_mb,
        "index_bytes": size,
        "raw_bytes": raw_bytes,
        "raw_kind": raw_kind,
        "index_to_raw": size / raw_bytes,
        "index_files": sum(1 for path in index_dir.iterdir() if path.is_file()),
        "index_bytes_by_kind": index_bytes_by_kind(index_dir),
        "whoosh_segments": whoosh_segments(index_dir),
    }


def bench_baseline(corpus: Path, workdir: Path, raw: dict[str, int], queries: int) -> dict[str, Any]:
    """Build the plain Whoosh index in a subprocess, then query it in another."""
    index_dir = clean(workdir / "baseline")
    print("run.py: baseline build (plain Whoosh)...", file=sys.stderr)
    run = run_child(child_command("baseline-build", corpus, index_dir), workdir / "logs", "baseline-build")
    child = last_json_line(run.stdout)
    build = build_report(run, raw["stories"], index_dir, raw["headline_body_bytes"], "headline+body UTF-8")
    build["seconds_in_child"] = child["seconds_in_child"]
    print(f"run.py: baseline built in {run.wall_s:.1f} s; querying...", file=sys.stderr)
    run = run_child(child_command("baseline-queries", index_dir, corpus, queries), workdir / "logs", "baseline-queries")
    return {"build": build, "search": last_json_line(run.stdout) | {"process_peak_rss_mb": run.peak_rss_mb}}


def bench_ours_build(
    corpus_input: Path, index_dir: Path, workdir: Path, name: str, stories: int, raw_bytes: int, raw_kind: str
) -> dict[str, Any]:
    """`newsindex index INPUT` into a clean folder, then again on the unchanged input (incremental)."""
    command = [str(NEWSINDEX), "index", str(corpus_input), "-i", str(index_dir), "--quiet", "--json"]
    clean(index_dir)
    print(f"run.py: {name} build (newsindex index {corpus_input.name})...", file=sys.stderr)
    run = run_child(command, workdir / "logs", f"{name}-build")
    build = build_report(run, stories, index_dir, raw_bytes, raw_kind)
    build["cli_report"] = _trimmed(last_json_object(run.stdout))
    print(f"run.py: {name} built in {run.wall_s:.1f} s; incremental re-run...", file=sys.stderr)
    again = run_child(command, workdir / "logs", f"{name}-incremental")
    build["incremental"] = {
        "wall_s": again.wall_s,
        "cpu_s": again.cpu_s,
        "peak_rss_mb": again.peak_rss_mb,
        "pct_of_full": 100 * again.wall_s / run.wall_s,
        "cli_report": _trimmed(last_json_object(again.stdout)),
        "index_bytes_after": folder_bytes(index_dir),
        "whoosh_segments_after": whoosh_segments(index_dir),
    }
    return build


def last_json_object(text: str) -> Any:
    """The (indented) JSON object `newsindex index --json` printed."""
    return json.loads(text[text.index("{") :])


def _trimmed(report: dict[str, Any]) -> dict[str, Any]:
    problems = report.get("problems", [])
    return {**report, "problems": problems[:5], "problem_count": len(problems)}


def bench_ours(corpus: Path, workdir: Path, raw: dict[str, int], queries: int) -> dict[str, Any]:
    """Both builds of ours (JSON Lines, text folder), then the query phase on the JSON Lines index."""
    stories = raw["stories"]
    jsonl = bench_ours_build(
        corpus / "stories.jsonl",
        workdir / "ours",
        workdir,
        "ours-jsonl",
        stories,
        raw["headline_body_bytes"],
        "headline+body UTF-8",
    )
    text = bench_ours_build(
        corpus / "text",
        workdir / "ours-text",
        workdir,
        "ours-text",
        stories,
        raw["text_files_bytes"],
        "text-format files",
    )
    print("run.py: ours querying...", file=sys.stderr)
    run = run_child(child_command("ours-queries", workdir / "ours", corpus, queries), workdir / "logs", "ours-queries")
    return {
        "build": jsonl,
        "build_text": text,
        "search": last_json_line(run.stdout) | {"process_peak_rss_mb": run.peak_rss_mb},
    }


def bench_cli(workdir: Path) -> dict[str, Any]:
    """Median wall time of new `newsindex` processes: --help, and a search of an index of seeds/."""
    small = clean(workdir / "small")
    run_child(
        [str(NEWSINDEX), "index", str(REPO_DIR / "seeds"), "-i", str(small), "--quiet"], workdir / "logs", "small"
    )
    commands = {
        "help": [str(NEWSINDEX), "--help"],
        "search": [str(NEWSINDEX), "search", CLI_QUERY, "-i", str(small)],
    }
    report: dict[str, Any] = {}
    for name, command in commands.items():
        subprocess.run(command, check=True, capture_output=True)  # untimed: fill the OS file cache
        times = []
        for _ in range(CLI_RUNS):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        report[name] = {
            "command": command,
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "runs_s": times,
        }
    return report


# ---------------------------------------------------------------------------- ratios, targets, table


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """ours/baseline and date-filtered/plain."""
    ours, base = result["ours"], result.get("baseline")
    out: dict[str, float | None] = {}
    for engine_name, engine in (("ours", ours), ("baseline", base)):
        if engine:
            search = engine["search"]
            for stat in ("p50_ms", "p95_ms"):
                out[f"{engine_name}_date_over_plain_{stat[:3]}"] = (
                    search["date"]["timed"][stat] / search["plain"]["timed"][stat]
                )
    if base:
        out["indexing_speedup"] = ours["build"]["stories_per_s"] / base["build"]["stories_per_s"]
        out["indexing_speedup_text"] = ours["build_text"]["stories_per_s"] / base["build"]["stories_per_s"]
        out["indexing_speedup_per_cpu_s"] = ours["build"]["stories_per_cpu_s"] / base["build"]["stories_per_cpu_s"]
        out["cpu_ratio"] = ours["build"]["cpu_s"] / base["build"]["cpu_s"]
        for mode in ("plain", "date"):
            for stat in ("p50_ms", "p95_ms"):
                out[f"latency_{mode}_{stat[:3]}"] = (
                    ours["search"][mode]["timed"][stat] / base["search"][mode]["timed"][stat]
                )
        out["index_size"] = ours["build"]["index_bytes"] / base["build"]["index_bytes"]
        out["warm_memory"] = ours["search"]["rss_after_queries_mb"] / base["search"]["rss_after_queries_mb"]
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the value measured and met / not met (or only indicative below its size)."""
    ours, stories, ratio = result["ours"], result["stories"], result["ratios"]
    date_ratio = max(ratio["ours_date_over_plain_p50"] or 0, ratio["ours_date_over_plain_p95"] or 0)
    values: dict[str, tuple[float | None, bool | None, str]] = {
        "indexing_speedup": (
            ratio.get("indexing_speedup"),
            None if "indexing_speedup" not in ratio else ratio["indexing_speedup"] >= 4,
            "ours (stories.jsonl) stories/s / baseline stories/s",
        ),
        "p95_ms": (
            max(ours["search"]["plain"]["timed"]["p95_ms"], ours["search"]["date"]["timed"]["p95_ms"]),
            max(ours["search"]["plain"]["timed"]["p95_ms"], ours["search"]["date"]["timed"]["p95_ms"]) < 100,
            "worse of plain and date-filtered p95",
        ),
        "date_filter_ratio": (date_ratio, date_ratio <= 1.2, "worse of the p50 and p95 ratios"),
        "warm_searcher_mb": (
            ours["search"]["rss_after_queries_mb"],
            ours["search"]["rss_after_queries_mb"] < 1024,
            "RSS after open + all queries",
        ),
        "cli_search_s": (
            result["cli"]["search"]["median_s"],
            result["cli"]["search"]["median_s"] < 0.4,
            "median of 10",
        ),
        "cli_help_s": (result["cli"]["help"]["median_s"], result["cli"]["help"]["median_s"] < 0.25, "median of 10"),
        "index_size_ratio": (
            max(ours["build"]["index_to_raw"], ours["build_text"]["index_to_raw"]),
            max(ours["build"]["index_to_raw"], ours["build_text"]["index_to_raw"]) <= 1.3,
            "worse of the two builds, each over its raw text",
        ),
        "incremental_pct": (
            max(ours["build"]["incremental"]["pct_of_full"], ours["build_text"]["incremental"]["pct_of_full"]),
            max(ours["build"]["incremental"]["pct_of_full"], ours["build_text"]["incremental"]["pct_of_full"]) < 10,
            "worse of the two inputs, wall time",
        ),
    }
    rows = []
    for key, (description, size) in TARGETS.items():
        value, met, how = values[key]
        status = "not measured" if met is None else ("met" if met else "NOT met")
        if met is not None and size is not None and stories < size:
            status += f" at {stories:,} (target is for {size:,})"
        rows.append({"key": key, "target": description, "value": value, "how": how, "status": status})
    return rows


def print_table(result: dict[str, Any]) -> None:
    """The human summary on stdout."""
    ours, base, ratio = result["ours"], result.get("baseline"), result["ratios"]
    m = result["machine"]
    print(f"\nnewsindex benchmark: {result['stories']:,} stories, {result['queries']} queries")
    print(f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Python {m['python']}, {m['date']}\n")

    def row(label: str, *cells: str) -> None:
        print(f"{label:<38}" + "".join(f"{cell:>16}" for cell in cells))

    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    builds = [
        ("baseline", base["build"] if base else None),
        ("ours jsonl", ours["build"]),
        ("ours text", ours["build_text"]),
    ]
    row("build", *(name for name, _ in builds))
    for label, key, spec in [
        ("wall s", "wall_s", ".1f"),
        ("stories/s", "stories_per_s", ",.0f"),
        ("CPU s (user+sys)", "cpu_s", ".1f"),
        ("stories per CPU s", "stories_per_cpu_s", ",.0f"),
        ("peak RSS MiB, largest process", "peak_rss_mb", ",.0f"),
        ("peak RSS MiB, all processes (sampled)", "tree_peak_rss_mb", ",.0f"),
        ("processes", "tree_peak_processes", "d"),
        ("index MiB", "index_bytes", ",.1f"),
        ("index / raw text", "index_to_raw", ".2f"),
        ("Whoosh segments", "whoosh_segments", "d"),
    ]:
        cells = []
        for _, build in builds:
            value = None if build is None else build[key] / MB if key == "index_bytes" else build[key]
            cells.append(fmt(value, spec))
        row(label, *cells)
    row("incremental re-run s", "-", *(fmt(b["incremental"]["wall_s"], ".2f") for _, b in builds[1:]))
    row("incremental, % of full build", "-", *(fmt(b["incremental"]["pct_of_full"], ".1f") for _, b in builds[1:]))

    print()
    engines = [("baseline", base["search"] if base else None), ("ours", ours["search"])]
    row("query latency (timed run)", *(name for name, _ in engines))
    for mode in ("plain", "date"):
        for stat in ("p50_ms", "p95_ms", "max_ms"):
            row(
                f"{mode} {stat.replace('_', ' ')}",
                *(fmt(s[mode]["timed"][stat] if s else None, ".1f") for _, s in engines),
            )
    for mode in ("plain", "date"):
        row(
            f"{mode} p95 ms, first (warm-up) run",
            *(fmt(s[mode]["first_run"]["p95_ms"] if s else None, ".1f") for _, s in engines),
        )
    for mode in ("plain", "date"):
        row(f"{mode} mean total hits", *(fmt(s[mode]["mean_total_hits"] if s else None, ",.0f") for _, s in engines))
    row("open s", *(fmt(s["open_s"] if s else None, ".3f") for _, s in engines))
    row("RSS after open MiB", *(fmt(s["rss_after_open_mb"] if s else None, ",.0f") for _, s in engines))
    row("RSS after open + queries MiB", *(fmt(s["rss_after_queries_mb"] if s else None, ",.0f") for _, s in engines))

    print()
    row("CLI cold start (median of 10)", "s")
    row("newsindex --help", fmt(result["cli"]["help"]["median_s"], ".3f"))
    row(f'newsindex search "{CLI_QUERY}" (seeds)', fmt(result["cli"]["search"]["median_s"], ".3f"))

    print()
    row("ratios", "value")
    for key, value in ratio.items():
        row(key, fmt(value, ".2f"))

    print()
    for target in result["targets"]:
        value = target["value"]
        print(f"{target['status']:<44} {target['target']}: {fmt(value, '.2f')} ({target['how']})")


# ---------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """--stories N, --skip-baseline, --queries K, --out, --workdir."""
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stories", type=int, required=True, metavar="N", help="corpus size")
    parser.add_argument("--skip-baseline", action="store_true", help="measure ours only")
    parser.add_argument("--queries", type=int, default=200, metavar="K", help="queries to time (default 200)")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results-N.json)")
    parser.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR, help="indexes and logs (default: benchmarks/work)"
    )
    args = parser.parse_args(argv)
    if args.stories < 1 or args.queries < 1:
        parser.error("N and K must be at least 1")
    return args


# Where the flat modules of newsindex went when the tree got its subpackages (evaluation, cli and server
# were renamed too, and are not imported by the modules module_at loads).
_MOVED_INTO = {
    "text": ("dates", "dateline", "names", "regions"),
    "ingest": ("sources", "records", "readers", "archives", "web"),
    "search": ("query", "ranking", "expansion", "suggest", "similar", "collapsing", "facets", "vector", "snippets"),
    "store": (
        "schema", "codec", "safereading", "storage", "indexer", "writer", "workers", "dateindex", "duplicates", "catalogue",
    ),
}  # fmt: skip


def module_at(commit: str, name: str) -> Any:
    """newsindex's search module `name` ("snippets", "suggest") as it was at `commit`, imported apart
    as `<name>_base`, for a run of the code before beside the code now."""
    import importlib.util
    import tempfile

    shown = [  # where the module lives at that commit: search/ since the tree's subpackages, flat before
        subprocess.run(["git", "show", f"{commit}:{place}"], capture_output=True, text=True, cwd=BENCHMARKS_DIR.parent)
        for place in (f"src/newsindex/search/{name}.py", f"src/newsindex/{name}.py")
    ]
    source = next((shown_run.stdout for shown_run in shown if shown_run.returncode == 0), None)
    if source is None:
        raise SystemExit(f"no {name}.py at {commit}: {shown[-1].stderr.strip()}")
    for package, modules in _MOVED_INTO.items():  # a module from before the subpackages names flat modules
        source = re.sub(rf"\bnewsindex\.({'|'.join(modules)})\b", rf"newsindex.{package}.\1", source)
    path = Path(tempfile.mkdtemp()) / f"{name}_base.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{name}_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"{name}_base"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    """Run every step, print the table, write the JSON."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["_child"]:
        CHILDREN[argv[1]](*argv[2:])
        return 0
    args = parse_args(argv)
    if not NEWSINDEX.exists():
        raise SystemExit(f"run.py: no newsindex CLI next to {sys.executable}; run with the project's Python")
    out: Path = args.out or BENCHMARKS_DIR / f"results-{args.stories}.json"
    workdir: Path = args.workdir.resolve()
    corpus = ensure_corpus(args.stories)
    result: dict[str, Any] = {
        "stories": args.stories,
        "queries": len(read_queries(corpus, args.queries)),
        "command": " ".join(["python", "benchmarks/run.py", *argv]),
        "machine": machine(),
        "raw": raw_text_bytes(corpus),
    }
    started = time.perf_counter()
    if not args.skip_baseline:
        note_load(result, "baseline")
        result["baseline"] = bench_baseline(corpus, workdir, result["raw"], args.queries)
    note_load(result, "ours")
    result["ours"] = bench_ours(corpus, workdir, result["raw"], args.queries)
    note_load(result, "cli")
    result["cli"] = bench_cli(workdir)
    result["machine"]["code_at_end"] = _code_state()
    if result["machine"]["code_at_end"]["src_sha256"] != result["machine"]["code"]["src_sha256"]:
        print("run.py: warning: src/ changed during the run; the numbers mix two versions", file=sys.stderr)
    result["ratios"] = ratios(result)
    result["targets"] = targets(result)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    result["benchmark_seconds"] = time.perf_counter() - started
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"\nrun.py: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
