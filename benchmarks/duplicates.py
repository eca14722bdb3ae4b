"""Duplicate groups: how well they are found, and what they cost. Writes benchmarks/DUPLICATES.md.

Usage:

    python benchmarks/duplicates.py [--base 3000] [--stories 20000] [--queries 200] [--skip-cost]

1. Quality. `--base` stories of make_corpus.py's generator are given re-filed copies with known
   ground truth (30% of them get 1-3 copies, each of one kind):
   - dateline: another dateline (place, date, agency form) and another credit line;
   - edits: dateline changed and 1-6 words replaced or deleted here and there;
   - appended: one or two paragraphs of new text appended (an update), 10-30% of the story's length;
   - update: all of it: "UPDATE 1-" headline, new dateline, 2 word edits, a paragraph appended.
   Hard negatives, which must not be grouped: 5% of stories get a follow-up, a different story that
   opens with the same lead paragraph (wire follow-ups repeat the lead); 5% get a story on the same
   template, one word in eight replaced (a market report of another day: other names and figures).
   Everything is indexed (one process); the groups read back are scored pair by pair: precision = share
   of grouped pairs that are true copies, recall = share of true copy pairs grouped; also recall per
   kind (copies in the group of their original). Run at thresholds 0.6 to 0.9, and once at the shipped
   threshold in two runs (originals first, copies in a later incremental run), where the signatures of
   committed candidates are recomputed from their stored stories: counted and timed.
2. Cost. make_corpus.py's `--stories` corpus (stories.jsonl) is indexed with and without duplicate
   groups (an index with the schema from before the feature: no grouping), interleaved
   without/with/with/without in this one process, default workers: wall time, CPU seconds of this
   process and its worker processes, index size and the bytes of the duplicate columns. Then `--queries` searches on the grouped index, each
   collapsed and with all versions, interleaved: latency p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import make_corpus  # noqa: E402

# In a git worktree the shared files are not next to the repository: use those of the main checkout.
for _shared in (make_corpus.REPO_DIR.parent / "shared", Path("/work/shared")):
    if (_shared / "eval").is_dir():
        make_corpus.EVAL_DIR = _shared / "eval"
        make_corpus.SEED_DIRS = (make_corpus.REPO_DIR / "seeds", _shared / "seeds")
        break

from newsindex import NewsIndex, Story  # noqa: E402
from newsindex.store import duplicates  # noqa: E402
from newsindex.store import manifest as manifest_module  # noqa: E402
from newsindex.store import schema as schema_module  # noqa: E402

THRESHOLD = duplicates.THRESHOLD
KINDS = ("dateline", "edits", "appended", "update")


# -- the corpus with known copies ---------------------------------------------------------------------


def _new_dateline(rng: random.Random, body: str, world: Any, published: Any) -> str:
    place = make_corpus.pick(rng, world.dateline_table)
    source = rng.choice(("Reuters", "AP", None))
    head, sep, rest = body.partition(" - ")
    if not sep or len(head) > 60:
        return body
    return f"{make_corpus.dateline(rng, place, source, published)} {rest}"


def _edit_words(rng: random.Random, body: str, world: Any, count: int) -> str:
    words = body.split(" ")
    for _ in range(count):
        at = rng.randrange(len(words))
        if rng.random() < 0.5 and len(words) > 10:
            del words[at]
        else:
            words[at] = make_corpus.pick(rng, world.word_table)
    return " ".join(words)


def _new_paragraphs(rng: random.Random, world: Any, words: int) -> str:
    cast = make_corpus.cast_story(rng, world, make_corpus.pick(rng, world.dateline_table).split(",")[0].title())
    return "\n\n".join(make_corpus.paragraphs(rng, world, cast, max(words, 8)))


def copy_of(rng: random.Random, story: Any, world: Any, kind: str) -> tuple[str, str]:
    """(headline, body) of a re-filed copy of `story`."""
    body, headline = story.body, story.headline
    length = len(body.split())
    if kind in ("dateline", "edits", "update"):
        body = _new_dateline(rng, body, world, story.published)
    if kind == "dateline" and body.endswith(")"):
        body = body[: body.rfind("\n\n(")] + "\n\n" + make_corpus.credit_line(rng, world, story.bylines)
    if kind == "edits":
        body = _edit_words(rng, body, world, rng.randint(1, 6))
    if kind == "update":
        body = _edit_words(rng, body, world, 2)
        headline = "UPDATE 1-" + headline
    if kind in ("appended", "update"):
        body += "\n\n" + _new_paragraphs(rng, world, int(length * rng.uniform(0.1, 0.3)))
    return headline, body


REPORT_KINDS = ("next-day report", "weekly report", "re-run")
NEGATIVE_COLUMNS = (*KINDS, "follow-up", "template", *REPORT_KINDS)  # the kinds in the quality table


def _other_figures(rng: random.Random, body: str) -> str | None:
    """The body with every number after its dateline changed (another day's report on one template),
    or None if it has none."""
    head, sep, rest = body.partition(" - ")
    if not sep or len(head) > 60:
        head, sep, rest = "", "", body
    if not re.search(r"\d", rest):
        return None
    return head + sep + re.sub(r"\d+", lambda match: str(int(match.group()) + rng.randint(1, 9)), rest)


def report_negatives(rng: random.Random, story: Any, world: Any) -> list[tuple[str, Story]]:
    """Hard negatives written on the story's template, as recurring wire reports are (a grain-ships or
    repurchase report each day, an estimate each month, a brief re-run months later): (kind, story).
    - next-day report: the same text with other figures, 1-2 days later (the window allows it: the
      figures tell it apart);
    - weekly report: the same text with other figures, 7-60 days later;
    - re-run: the same text, figures and all, 30-120 days later, with its dateline re-dated."""
    kind = rng.choice(REPORT_KINDS)
    if kind == "re-run":
        days, body = rng.randint(30, 120), story.body
    else:
        days = rng.randint(1, 2) if kind == "next-day report" else rng.randint(7, 60)
        body = _other_figures(rng, story.body)
        if body is None:
            return []
    published = story.published + timedelta(days=days)
    body = _new_dateline(rng, body, world, published)
    negative = Story(id=f"{story.id}-{kind.replace(' ', '')}", body=body, headline=story.headline, published=published)
    return [(kind, negative)]


def build_corpus(
    base: int, seed: int = 1, reports: bool = True
) -> tuple[list[Story], list[Story], dict[str, str], dict[str, str]]:
    """(originals, copies and follow-ups, truth: id → true group, kind: copy id → kind). With `reports`,
    8% of originals also get a report on their template (`report_negatives`), drawn from a generator of
    their own so that the rest of the corpus is the same with or without them."""
    world = make_corpus.build_world(seed)
    rng = random.Random(f"duplicates-{seed}")
    report_rng = random.Random(f"duplicates-reports-{seed}")
    originals, later = [], []
    truth: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for story in make_corpus.generate_stories(base, seed, world):
        originals.append(Story(id=story.id, body=story.body, headline=story.headline, published=story.published))
        truth[story.id] = story.id
        if reports and report_rng.random() < 0.08:
            for kind, negative in report_negatives(report_rng, story, world):
                later.append(negative)
                truth[negative.id] = negative.id
                kinds[negative.id] = kind
        roll = rng.random()
        if roll < 0.3:
            for number in range(rng.choice((1, 1, 2, 3))):
                kind = rng.choice(KINDS)
                headline, body = copy_of(rng, story, world, kind)
                copy_id = f"{story.id}-copy{number}"
                later.append(Story(id=copy_id, body=body, headline=headline, published=story.published))
                truth[copy_id] = story.id
                kinds[copy_id] = kind
        elif roll < 0.35:
            # Another story on the same template: one word in eight replaced (other names, other figures).
            body = _edit_words(rng, story.body, world, 0)
            words = body.split(" ")
            for at in rng.sample(range(len(words)), len(words) // 8):
                words[at] = make_corpus.pick(rng, world.word_table)
            template_id = f"{story.id}-template"
            later.append(Story(id=template_id, body=" ".join(words), headline=story.headline))
            truth[template_id] = template_id
            kinds[template_id] = "template"
        elif roll < 0.4:
            lead = story.body.split("\n\n")[0]
            words = len(story.body.split())
            body = lead + "\n\n" + _new_paragraphs(rng, world, words)
            follow_id = f"{story.id}-followup"
            later.append(Story(id=follow_id, body=body, headline=story.headline, published=story.published))
            truth[follow_id] = follow_id
            kinds[follow_id] = "follow-up"
    return originals, later, truth, kinds


def read_groups(news: NewsIndex) -> dict[str, str]:
    """Story id → group label, as the index holds them."""
    groups = {}
    with news._searcher() as searcher:
        for leaf, _ in searcher.leaf_searchers():
            reader = leaf.reader()
            ids = reader.column_reader("id")
            labels = reader.column_reader("dupgroup")
            for docnum in range(reader.doc_count_all()):
                if not reader.is_deleted(docnum):
                    groups[ids[docnum]] = labels[docnum]
    return groups


def score(groups: dict[str, str], truth: dict[str, str], kinds: dict[str, str]) -> dict[str, Any]:
    """Pairwise precision and recall, and recall per kind of copy."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for story_id, label in groups.items():
        by_label[label].append(story_id)
    by_truth: dict[str, list[str]] = defaultdict(list)
    for story_id, group in truth.items():
        by_truth[group].append(story_id)
    predicted = {frozenset(pair) for members in by_label.values() for pair in combinations(members, 2)}
    actual = {frozenset(pair) for members in by_truth.values() for pair in combinations(members, 2)}
    hits = len(predicted & actual)
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for story_id, kind in kinds.items():
        original = story_id.split("-")[0]
        together = groups[story_id] == groups[original]
        per_kind[kind][0] += together
        per_kind[kind][1] += 1
    return {
        "stories": len(groups),
        "true_pairs": len(actual),
        "grouped_pairs": len(predicted),
        "precision": hits / len(predicted) if predicted else 1.0,
        "recall": hits / len(actual) if actual else 1.0,
        "grouped_with_original": {kind: (done, total) for kind, (done, total) in sorted(per_kind.items())},
    }


def quality(base: int, workdir: Path, reports: bool = True) -> list[dict[str, Any]]:
    originals, later, truth, kinds = build_corpus(base, reports=reports)
    rng = random.Random(7)
    mixed = originals + later
    rng.shuffle(mixed)  # copies before their original too, as a wire archive may hold them
    rows = []
    for threshold, runs in ((0.6, 1), (0.7, 1), (0.75, 1), (0.8, 1), (0.9, 1), (THRESHOLD, 2)):
        duplicates.THRESHOLD = threshold
        folder = workdir / f"quality-{threshold}-{runs}"
        news = NewsIndex.create(folder, fsync=False)
        recomputed: list[float] = []
        if runs == 1:
            news.add(mixed)
        else:
            news.add(originals)
            with _timing_recomputation(recomputed):
                news.add(later)
        row = score(read_groups(news), truth, kinds)
        row.update(threshold=threshold, runs=runs)
        if runs == 2:
            row.update(recomputed=len(recomputed), recompute_ms=sum(recomputed) * 1000, later_stories=len(later))
        rows.append(row)
        news.close()
        print(f"quality: threshold {threshold}, {runs} run(s): {row}", file=sys.stderr)
    duplicates.THRESHOLD = THRESHOLD
    return rows


@contextmanager
def _timing_recomputation(seconds: list[float]) -> Iterator[None]:
    """Note the CPU time of every signature recomputed from a stored story while the block runs."""
    original = duplicates.Grouper._committed_signature

    def timed(self: Any, reader: Any, docnum: int) -> Any:
        before, misses = time.process_time(), self.recomputed
        sig = original(self, reader, docnum)
        if self.recomputed > misses:
            seconds.append(time.process_time() - before)
        return sig

    duplicates.Grouper._committed_signature = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        duplicates.Grouper._committed_signature = original  # type: ignore[method-assign]


# -- real wire copy ----------------------------------------------------------------------------------------


def real_groups(paths: list[Path], workdir: Path, window_days: float = 3.0) -> dict[str, Any]:
    """Index real wire copy (one run, default workers) and count its duplicate groups: how many, how many
    stories they hold, and how many span more than `window_days` between their first and last story."""
    folder = workdir / "real"
    news = NewsIndex.create(folder, fsync=False)
    report = news.add_files([str(path) for path in paths])
    members: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    updates = 0
    missing = schema_module.PublishedField.MISSING
    with news._searcher() as searcher:
        for leaf, _ in searcher.leaf_searchers():
            reader = leaf.reader()
            ids = reader.column_reader("id")
            labels = reader.column_reader("dupgroup")
            dates = reader.column_reader("published")
            revises = "revises" in reader.schema
            for docnum in range(reader.doc_count_all()):
                if not reader.is_deleted(docnum):
                    seconds = dates[docnum]
                    members[labels[docnum]].append((ids[docnum], None if seconds == missing else seconds))
                    updates += bool(revises and reader.stored_fields(docnum).get("revises"))
    news.close()
    groups = [group for group in members.values() if len(group) > 1]
    spans = []
    for group in groups:
        seconds = [when for _, when in group if when is not None]
        spans.append((max(seconds) - min(seconds)) / 86400 if seconds else 0.0)
    wide = sorted(
        (
            (span, sorted(story_id for story_id, _ in group))
            for span, group in zip(spans, groups, strict=True)
            if span > window_days
        ),
        reverse=True,
    )
    return {
        "files": [path.name for path in paths],
        "stories": report.added,
        "groups": len(groups),
        "stories_in_groups": sum(len(group) for group in groups),
        "largest_group": max((len(group) for group in groups), default=0),
        "window_days": window_days,
        "groups_wider_than_window": len(wide),
        "widest_days": max(spans, default=0.0),
        "wide_examples": [{"days": round(span, 1), "ids": ids[:6]} for span, ids in wide[:10]],
        "marked_updates": updates,
    }


# -- cost ------------------------------------------------------------------------------------------------


def _old_schema() -> Any:
    fields = schema_module.build_schema()
    for name in duplicates.FIELDS:
        fields.remove(name)
    return fields


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _size(folder: Path, suffix: str = "") -> int:
    return sum(entry.stat().st_size for entry in folder.iterdir() if entry.is_file() and entry.name.endswith(suffix))


def build(corpus: Path, folder: Path, *, grouped: bool) -> dict[str, Any]:
    shutil.rmtree(folder, ignore_errors=True)
    original = manifest_module.build_schema
    if not grouped:
        manifest_module.build_schema = _old_schema
    try:
        news = NewsIndex.create(folder, fsync=False)
    finally:
        manifest_module.build_schema = original
    load = os.getloadavg()[0]
    cpu, started = _cpu(), time.perf_counter()
    report = news.add_files([str(corpus / "stories.jsonl")])
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    news.close()
    row = {"grouped": grouped, "stories": report.added, "wall_s": wall, "cpu_s": cpu, "load_before": load}
    row["index_bytes"] = _size(folder)
    row["column_bytes"] = {name: _size(folder, f".{name}.col") for name in duplicates.FIELDS}
    print(f"cost: {row}", file=sys.stderr)
    return row


def searches(folder: Path, queries: list[str]) -> dict[str, dict[str, float]]:
    news = NewsIndex.open(folder)
    times: dict[str, list[float]] = {"collapsed": [], "all_versions": []}
    for text in queries:  # once untimed, to warm the searcher and the page cache
        news.search(text)
    for text in queries:
        for mode in ("collapsed", "all_versions") if random.random() < 0.5 else ("all_versions", "collapsed"):
            started = time.perf_counter()
            news.search(text, all_versions=mode == "all_versions")
            times[mode].append((time.perf_counter() - started) * 1000)
    return {
        mode: {"p50": statistics.median(values), "p95": statistics.quantiles(values, n=20)[18]}
        for mode, values in times.items()
    }


def cost(stories: int, query_count: int, workdir: Path) -> dict[str, Any]:
    corpus = HERE / "corpus" / str(stories)
    if not (corpus / "stories.jsonl").exists():
        make_corpus.write_corpus(corpus, stories, 1, "jsonl")
    builds = [build(corpus, workdir / f"cost-{n}", grouped=grouped) for n, grouped in enumerate((0, 1, 1, 0))]
    lines = (corpus / "queries.tsv").read_text(encoding="utf-8").splitlines()[:query_count]
    queries = [line.split("\t", 1)[1] for line in lines]
    random.seed(1)
    return {"builds": builds, "searches": searches(workdir / "cost-1", queries)}


# -- report ----------------------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _code_version() -> str:
    import subprocess

    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=HERE, capture_output=True, text=True)
    except OSError:
        return "unknown"
    if found.returncode != 0:
        return "unknown (not run from a git checkout)"
    return found.stdout.strip() + (" with uncommitted changes to src" if dirty.stdout.strip() else "")


def report(
    quality_rows: list[dict[str, Any]],
    costs: dict[str, Any] | None,
    args: argparse.Namespace,
    real: dict[str, Any] | None = None,
) -> str:
    lines = [
        "# Duplicate groups: quality and cost",
        "",
        "Measured by `benchmarks/duplicates.py` (see its docstring for the corpus and the method).",
        "",
        f"- machine: {machine()}",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- command: `python benchmarks/duplicates.py --base {args.base} --stories {args.stories} "
        f"--queries {args.queries}{' --skip-cost' if args.skip_cost else ''}"
        f"{' --no-reports' if args.no_reports else ''}{f' --real {args.real}' if args.real else ''}`",
        f"- code: {_code_version()}",
        "- the machine is shared with other jobs: times are compared only within this run, as ratios",
        "",
        "## Quality (pairs of stories)",
        "",
        f"{quality_rows[0]['stories']:,} stories: {args.base:,} originals, their re-filed copies, follow-ups"
        + (" and template stories." if args.no_reports else ", template stories and template reports."),
        "",
        "| threshold | runs | true pairs | grouped pairs | precision | recall | "
        + " | ".join(f"{kind} grouped" for kind in NEGATIVE_COLUMNS)
        + " |",
        "|---:|---:|---:|---:|---:|---:|" + "---:|" * len(NEGATIVE_COLUMNS),
    ]
    for row in quality_rows:
        kinds = row["grouped_with_original"]
        cells = [f"{kinds[kind][0]}/{kinds[kind][1]}" if kind in kinds else "-" for kind in NEGATIVE_COLUMNS]
        lines.append(
            f"| {row['threshold']} | {row['runs']} | {row['true_pairs']:,} | {row['grouped_pairs']:,} | "
            f"{row['precision']:.3f} | {row['recall']:.3f} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "*kind grouped*: copies found in the group of their original (for follow-ups, templates and reports, "
        "wrongly so). "
        "Runs 2: originals indexed first, copies and follow-ups in a second, incremental run.",
    ]
    for row in quality_rows:
        if "recomputed" in row:
            lines += [
                "",
                f"In the second run ({row['later_stories']:,} stories) {row['recomputed']:,} signatures of committed "
                f"candidates were recomputed from their stored stories: {row['recompute_ms']:.0f} ms of CPU, "
                f"{row['recompute_ms'] / max(row['recomputed'], 1):.2f} ms each.",
            ]
    if real:
        lines += [
            "",
            f"## Real wire copy: {real['stories']:,} stories of Reuters-21578 ({', '.join(real['files'][:1])} … "
            f"{real['files'][-1]}), one run",
            "",
            "| groups of 2+ | stories in them | largest | spanning > "
            f"{real['window_days']:g} days | widest (days) | marked as updates |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {real['groups']:,} | {real['stories_in_groups']:,} | {real['largest_group']} | "
            f"{real['groups_wider_than_window']} | {real['widest_days']:.1f} | {real['marked_updates']:,} |",
        ]
    if costs:
        builds = costs["builds"]
        with_ = [row for row in builds if row["grouped"]]
        without = [row for row in builds if not row["grouped"]]

        def mean(rows: list[dict[str, Any]], key: str) -> float:
            return sum(row[key] for row in rows) / len(rows)

        stories = builds[0]["stories"]
        lines += [
            "",
            f"## Cost: indexing {stories:,} stories of make_corpus.py (stories.jsonl, default workers)",
            "",
            "| build | grouped | wall s | CPU s (all processes) | index MiB | load before |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for number, row in enumerate(builds, 1):
            lines.append(
                f"| {number} | {'yes' if row['grouped'] else 'no'} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | "
                f"{row['index_bytes'] / 2**20:.1f} | {row['load_before']:.1f} |"
            )
        added_cpu = (mean(with_, "cpu_s") - mean(without, "cpu_s")) / stories * 1000
        lines += [
            "",
            f"With / without, means of two builds each: wall time {mean(with_, 'wall_s') / mean(without, 'wall_s'):.2f}, "
            f"CPU {mean(with_, 'cpu_s') / mean(without, 'cpu_s'):.2f} "
            f"({added_cpu:.2f} ms of CPU added per story), "
            f"index size {mean(with_, 'index_bytes') / mean(without, 'index_bytes'):.3f} "
            f"({(mean(with_, 'index_bytes') - mean(without, 'index_bytes')) / stories:.0f} bytes per story added; "
            "of them the columns "
            + ", ".join(
                f"`{name}` {sum(row['column_bytes'][name] for row in with_) / len(with_) / stories:.0f}"
                for name in duplicates.FIELDS
            )
            + ").",
        ]
        found = costs["searches"]
        lines += [
            "",
            f"Search latency on the grouped index, {args.queries} queries, collapsed and all versions interleaved:",
            "",
            "| ms | collapsed | all versions | ratio |",
            "|---|---:|---:|---:|",
        ]
        for key in ("p50", "p95"):
            collapsed, every = found["collapsed"][key], found["all_versions"][key]
            lines.append(f"| {key} | {collapsed:.1f} | {every:.1f} | {collapsed / every:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--base", type=int, default=3000, help="original stories of the quality corpus")
    parser.add_argument("--stories", type=int, default=20000, help="make_corpus.py stories for the cost")
    parser.add_argument("--queries", type=int, default=200, help="searches timed")
    parser.add_argument("--skip-cost", action="store_true", help="quality only")
    parser.add_argument(
        "--no-reports", action="store_true", help="leave out the template-report negatives (the corpus of before)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "DUPLICATES.md")
    parser.add_argument(
        "--real", type=Path, help="also index this folder's Reuters-21578 .sgm files and count their groups"
    )
    parser.add_argument("--real-only", action="store_true", help="only the --real count, printed as JSON")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="newsindex-duplicates-"))
    if args.real_only:
        try:
            print(json.dumps(real_groups(sorted(args.real.glob("*.sgm")), workdir), indent=2))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    try:
        rows = quality(args.base, workdir, reports=not args.no_reports)
        real = real_groups(sorted(args.real.glob("*.sgm")), workdir) if args.real else None
        costs = None if args.skip_cost else cost(args.stories, args.queries, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(rows, costs, args, real)
    args.out.write_text(text, encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(
        json.dumps({"quality": rows, "real": real, "cost": costs}, indent=2, default=str), encoding="utf-8"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
