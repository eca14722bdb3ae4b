"""Huge stories against the request deadline: search and `similar` on an index of a few 9 MB stories of
real wire copy.

Usage:

    python benchmarks/deadline.py --text /tmp/suggest-text [--stories 3] [--megabytes 9] [--word oil]

Each story is its own share of the corpus's stories (text format) joined, and repeated until it has
`--megabytes` MB (no two stories are copies of each other). The index is built in a temporary folder (not timed); then `search(word)` (limit 10),
`search(word, facets=all)` and `similar(first story)` are timed, each the best of 3 on a warm searcher,
with what their `notes` say. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from newsindex import NewsIndex, Story


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, required=True)
    parser.add_argument("--stories", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=9.0)
    parser.add_argument("--word", default="oil")
    args = parser.parse_args()

    bodies = [
        path.read_text(encoding="utf-8").split("\n\n", 1)[-1].strip() for path in sorted(args.text.rglob("*.txt"))
    ]
    size = int(args.megabytes * 1024 * 1024)
    stories = []
    share = len(bodies) // args.stories
    for number in range(args.stories):  # each from its own share of the corpus: no two are copies
        own = bodies[number * share : (number + 1) * share]
        parts, length, index = [], 0, 0
        while length < size:
            part = own[index % len(own)]
            parts.append(part)
            length += len(part) + 2
            index += 1
        stories.append(Story(id=f"huge-{number}", headline=f"Huge {number}", body="\n\n".join(parts)[:size]))
    with tempfile.TemporaryDirectory() as folder:
        news = NewsIndex.create(Path(folder) / "index", fsync=False)
        news.add(stories)
        news.add([Story(id="small", headline="Small", body=f"{args.word.title()} prices rose.")])
        rows = []
        for name, call in (
            (f"search({args.word!r})", lambda: news.search(args.word)),
            (
                f"search({args.word!r}, facets=all)",
                lambda: news.search(args.word, facets=["bylines", "location", "source", "year", "month"]),
            ),
            ("similar('huge-0')", lambda: news.similar("huge-0")),
        ):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                results = call()
                times.append(time.perf_counter() - started)
            notes_text = "; ".join(getattr(results, "notes", ())) or "-"  # (the base commit has no notes)
            rows.append(f"| `{name}` | {min(times) * 1000:,.0f} ms | {len(results.hits)} | {notes_text} |")
    print(f"{args.stories} stories of {args.megabytes:g} MB (real wire copy joined) and one small one\n")
    print("| call | best of 3 | hits | notes |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
