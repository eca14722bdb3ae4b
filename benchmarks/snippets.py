"""Snippet time on one 20,000-word story of real wire copy, the base commit's snippets.py against this one's.

Usage:

    python benchmarks/snippets.py --text /tmp/suggest-text [--words 20000] [--base cf69f1d] [--word oil]

The story is the corpus's stories (text format) that have the word, joined in file-name order until it has `--words` words;
`snippet()` of each version is timed on it for `--word` (every match counted by the window), best of 3,
and this version's `NewsIndex.search` of the word on a one-story index holding it (search, stored read,
snippet). With `--dense`, the story is instead the shortest real sentence having the word (4 words or more), repeated to that many
words: every few words a match. Then the worst case: the word alone, `--words` times (every word a match). Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from run import module_at  # a script beside this one

from newsindex import NewsIndex, Story
from newsindex.search import snippets as snippets_module
from newsindex.store.schema import index_words, stem

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, required=True)
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--base", default="cf69f1d")
    parser.add_argument("--word", default="oil")
    parser.add_argument("--dense", action="store_true", help="one real sentence with the word, repeated")
    args = parser.parse_args()

    parts, count = [], 0
    for path in sorted(args.text.rglob("*.txt")):
        body = path.read_text(encoding="utf-8").split("\n\n", 1)[-1].strip()
        if args.word not in body.lower().split():
            continue
        parts.append(body)
        count += len(body.split())
        if count >= args.words:
            break
    story = "\n\n".join(parts)
    if args.dense:  # the worst case: the word in every short sentence
        having = [part for part in story.split(". ") if args.word in part.lower().split() and len(part.split()) >= 4]
        sentence = min(having, key=lambda part: (len(part.split()), part)) + ". "
        story = sentence * (args.words // len(sentence.split()) + 1)
    words = list(index_words(story))
    terms = {stem(args.word)}
    matches = sum(1 for word in words if word[2] in terms)

    base = module_at(args.base, "snippets")

    def best(function: object) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            function()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times)

    before = best(lambda: base.snippet(story, terms, words))
    steps = snippets_module.window_steps
    after = best(lambda: snippets_module.snippet(story, terms, words))
    steps = (snippets_module.window_steps - steps) // 3

    with tempfile.TemporaryDirectory() as folder:
        news = NewsIndex.create(Path(folder) / "index", fsync=False)
        news.add([Story(id="long", headline="Long", body=story)])
        news.search(args.word)  # the searcher opened
        started = time.perf_counter()
        results = news.search(args.word)
        searched = time.perf_counter() - started
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    print(f"one story of {len(story.split()):,} words ({len(story):,} characters), {matches} matches of {args.word!r}")
    print(f"code: before {args.base}, after {commit.strip()}; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC\n")
    print("| | before | after |\n|---|---|---|")
    print(f"| `snippet()`, best of 3 | {before * 1000:,.1f} ms | {after * 1000:,.1f} ms ({steps:,} window steps) |")
    print(
        f"| `search({args.word!r})` on a one-story index, after | | {searched * 1000:,.1f} ms ({results.took_ms:.0f} ms took_ms) |"
    )
    alone = f"{args.word} " * args.words  # every word a match: the quadratic window's worst case
    alone_words = list(index_words(alone))
    steps = snippets_module.window_steps
    after = best(lambda: snippets_module.snippet(alone, terms, alone_words))
    steps = (snippets_module.window_steps - steps) // 3
    before = best(lambda: base.snippet(alone, terms, alone_words))
    print(
        f"| `snippet()`, the word alone {args.words:,} times (synthetic) | {before * 1000:,.1f} ms | "
        f"{after * 1000:,.1f} ms ({steps:,} window steps) |"
    )


if __name__ == "__main__":
    main()
