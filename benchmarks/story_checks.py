"""What the checks of `Story.__post_init__` cost: Story construction alone, and a whole index build.

Usage:

    python benchmarks/story_checks.py TEXT_FOLDER [--rounds 5] [--builds 3]

TEXT_FOLDER holds stories in the text format (e.g. Reuters-21578's, extracted from
../shared/corpora/reuters21578-text.tar.gz to /tmp). The stories are read once; then

1. every story is made again from its fields (`Story(**fields)`) `--rounds` times with the checks and
   as many times with `__post_init__` replaced by a no-op, interleaved: the best time of each;
2. the folder is indexed into a fresh index (one process, fsync off) `--builds` times with the checks
   and as many without, interleaved with/without/without/with…: the median wall time of each.

Prints a Markdown table; the figures go in benchmarks/README.md (or wherever the run is written down).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from newsindex import NewsIndex, Story
from newsindex.ingest.readers import read_source
from newsindex.ingest.sources import find_sources

_CHECKS = Story.__post_init__


def _no_checks(self: Story) -> None:
    return None


def _set_checks(on: bool) -> None:
    Story.__post_init__ = _CHECKS if on else _no_checks  # type: ignore[method-assign]


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--builds", type=int, default=3)
    args = parser.parse_args()

    stories = [story for source in find_sources([args.folder]) for story in read_source(source, on_problem=print)]
    rows = [{field.name: getattr(story, field.name) for field in dataclasses.fields(Story)} for story in stories]

    def construct() -> None:
        for row in rows:
            Story(**row)

    made: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for on in (True, False):
            _set_checks(on)
            made[on].append(_timed(construct))

    built: dict[bool, list[float]] = {True: [], False: []}
    order = [True, False, False, True] * args.builds
    for on in order[: 2 * args.builds]:
        _set_checks(on)
        with tempfile.TemporaryDirectory() as folder:
            news = NewsIndex.create(Path(folder) / "index", fsync=False)
            built[on].append(_timed(partial(news.add_files, [args.folder], procs=1)))
            news.close()
    _set_checks(True)

    version = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    best_on, best_off = min(made[True]), min(made[False])
    build_on, build_off = statistics.median(built[True]), statistics.median(built[False])
    print(f"{len(stories):,} stories from {args.folder}; {platform.node()} ({platform.machine()}), code {version}")
    print()
    print("| | with checks | without | difference |")
    print("|---|---|---|---|")
    print(
        f"| Story(**fields) x {len(rows):,}, best of {args.rounds} | {best_on * 1000:.1f} ms | {best_off * 1000:.1f} ms "
        f"| {(best_on - best_off) / len(rows) * 1e6:.2f} µs a story |"
    )
    print(
        f"| index build, median of {args.builds} | {build_on:.2f} s | {build_off:.2f} s "
        f"| {(build_on - build_off) / build_off * 100:+.1f} % |"
    )


if __name__ == "__main__":
    main()
