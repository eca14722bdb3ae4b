"""Did you mean, measured on real wire copy: corrections of generated misspellings and false suggestions
on correctly spelled queries, for the code of a base commit ("before") and this one ("after"), one run.
Writes benchmarks/RESULTS-suggest.md.

Usage:

    python benchmarks/suggest.py --text /tmp/suggest-text --index /tmp/suggest-idx \
        --sgml ../shared/corpora/reuters21578 [--base cf69f1d] [--misspellings 1000] [--queries 1000]

The index is built from `--text` (the corpus's text format) when `--index` holds none. Then:

1. Misspellings. The words of the stories' text (letters only, lower case, not stop words, 3 letters or
   more) in at least 20 stories are counted from the text files themselves. `--misspellings` times, seeded:
   a word drawn uniformly from them, one edit drawn uniformly from insert / delete / substitute /
   transpose at a uniform place with a uniform letter (an edit giving back the word is drawn again).
   Each misspelling is searched alone; it counts as corrected when the suggestion is the word (case
   ignored). Reported over all misspellings and apart for those that are no word of the index (their
   index form is in no story), those that are rare words of it (1-2 stories: typos in the wire copy) and
   those that are real words of it (3 stories or more: "oil" → "soil"; a suggestion there overrules a word
   the archive uses).
2. Correct queries. `--queries` spans of 1-3 consecutive words (letters only, as written: Reuters titles
   are upper case) of the `<TITLE>`s of the indexed stories (the SGML files, same NEWIDs), seeded;
   searched with `plain=True`. Any suggestion counts as false.

"Before" is the base commit's `newsindex/suggest.py` (read with `git show`), put in place of this one's
inside the same index and search code, so that only the suggestion differs. Per-query time of search with
the suggestion (p50, p95, ms) and the first-use cost of this code's word tables are reported too.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whoosh.analysis.filters import STOP_WORDS

import newsindex.index as index_module
from newsindex import Filters, NewsIndex
from newsindex.schema import index_term

ROOT = Path(__file__).resolve().parent.parent
LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[A-Za-z]+")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sgml", type=Path, required=True)
    parser.add_argument("--base", default="cf69f1d")
    parser.add_argument("--misspellings", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--min-stories", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-suggest.md")
    args = parser.parse_args()

    files = sorted(args.text.rglob("*.txt"))
    if not (args.index / "newsindex.json").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "newsindex"), "index", str(args.text), "-i", str(args.index), "-q"],
            check=True,
        )
    news = NewsIndex.open(args.index)
    stories = news.count()

    story_df: Counter[str] = Counter()
    newids: set[int] = set()
    for path in files:
        newids.add(int(path.name.split("_")[0]))
        body = path.read_text(encoding="utf-8").split("\n\n", 1)[-1]
        story_df.update({word.lower() for word in _WORD.findall(body)})
    stops = frozenset(STOP_WORDS)
    words = sorted(
        word for word, count in story_df.items() if count >= args.min_stories and len(word) >= 3 and word not in stops
    )
    rng = random.Random(args.seed)
    misspellings = [(word, misspell(word, rng)) for word in (rng.choice(words) for _ in range(args.misspellings))]
    titles = read_titles(args.sgml, newids)
    queries = [title_span(titles, rng) for _ in range(args.queries)]

    before = load_base_suggest(args.base)
    after = index_module.suggest
    results: dict[str, Any] = {}
    for name, function in (("before", before), ("after", after)):
        index_module.suggest = function
        started = time.perf_counter()
        news.search("zzxqv")  # the first search with a suggestion builds this code's word tables
        first_ms = (time.perf_counter() - started) * 1000
        results[name] = measure(news, misspellings, queries)
        results[name]["first_ms"] = first_ms
        index_module.suggest = after

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], capture_output=True, text=True, cwd=ROOT).stdout
    report = write_report(
        args, results, stories, len(words), commit.strip() + (" (uncommitted changes)" if dirty else "")
    )
    args.out.write_text(report, encoding="utf-8")
    print(report)


def misspell(word: str, rng: random.Random) -> str:
    """`word` with one random edit: a letter inserted, deleted, changed, or two neighbours swapped."""
    while True:
        kind = rng.choice(("insert", "delete", "substitute", "transpose"))
        if kind == "insert":
            cut = rng.randrange(len(word) + 1)
            typo = word[:cut] + rng.choice(LETTERS) + word[cut:]
        elif kind == "delete":
            cut = rng.randrange(len(word))
            typo = word[:cut] + word[cut + 1 :]
        elif kind == "substitute":
            cut = rng.randrange(len(word))
            typo = word[:cut] + rng.choice(LETTERS) + word[cut + 1 :]
        else:
            cut = rng.randrange(len(word) - 1)
            typo = word[:cut] + word[cut + 1] + word[cut] + word[cut + 2 :]
        if typo != word:
            return typo


def read_titles(folder: Path, newids: set[int]) -> list[list[str]]:
    """The words (letters only) of the <TITLE> of each indexed story of the SGML files."""
    titles = []
    for path in sorted(folder.glob("reut2-*.sgm")):
        text = path.read_text(encoding="latin-1")
        for record in re.finditer(r'NEWID="(\d+)">(.*?)</REUTERS>', text, re.S):
            title = re.search(r"<TITLE>(.*?)</TITLE>", record.group(2), re.S)
            if int(record.group(1)) in newids and title:
                found = _WORD.findall(title.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
                if found:
                    titles.append(found)
    return titles


def title_span(titles: list[list[str]], rng: random.Random) -> str:
    """1-3 consecutive words of a random title, with a word to search for (not only common words)."""
    stops = frozenset(STOP_WORDS)
    while True:
        title = rng.choice(titles)
        size = rng.randint(1, min(3, len(title)))
        start = rng.randrange(len(title) - size + 1)
        span = title[start : start + size]
        if any(len(word) >= 2 and word.lower() not in stops for word in span):
            return " ".join(span)


def load_base_suggest(commit: str) -> Callable[..., Any]:
    source = subprocess.run(
        ["git", "show", f"{commit}:src/newsindex/suggest.py"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    path = Path(tempfile.mkdtemp()) / "suggest_base.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("suggest_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["suggest_base"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.suggest  # type: ignore[no-any-return]


def measure(news: NewsIndex, misspellings: list[tuple[str, str]], queries: list[str]) -> dict[str, Any]:
    reader_df = news._reading(lambda searcher: searcher.reader().doc_frequency)
    classes: dict[str, list[bool]] = {
        "all": [],
        "no word of the index": [],
        "rare word (1-2 stories)": [],
        "real word (3+ stories, or a stop word)": [],
    }
    timings = []
    forms: list[bool] = []  # corrected to the word or to another of its forms, which searches the same
    forms_unknown: list[bool] = []
    misses: list[str] = []
    for word, typo in misspellings:
        term = index_term(typo)
        if typo in STOP_WORDS:  # a common word ("ace" → "are"): not searchable, counted as a real word
            suggestion, count = None, 3
        else:
            started = time.perf_counter()
            suggestion = news.search(typo).suggestion
            timings.append((time.perf_counter() - started) * 1000)
            count = reader_df("body", term) if term else 0
        right = suggestion is not None and suggestion.lower() == word
        same_form = suggestion is not None and index_term(suggestion) == index_term(word)
        forms.append(same_form)
        if kind_of(count) == "no word of the index":
            forms_unknown.append(same_form)
        kind = kind_of(count)
        classes["all"].append(right)
        classes[kind].append(right)
        if not right and kind != "real word (3+ stories, or a stop word)" and len(misses) < 12:
            misses.append(f"{typo} → {suggestion} (meant {word})")
    false: list[str] = []
    known = known_false = 0
    for text in queries:
        started = time.perf_counter()
        suggestion = news.search(text, filters=Filters(plain=True)).suggestion
        timings.append((time.perf_counter() - started) * 1000)
        terms = [index_term(word) for word in text.split() if word.lower() not in STOP_WORDS and len(word) > 1]
        in_index = all(reader_df("body", term) for term in terms)
        known += in_index
        if suggestion is not None:
            false.append(f"{text} → {suggestion}" + ("" if in_index else " (a word in no story)"))
            known_false += in_index
    timings.sort()
    return {
        "classes": {name: (sum(found), len(found)) for name, found in classes.items()},
        "forms": (sum(forms), len(forms)),
        "forms_unknown": (sum(forms_unknown), len(forms_unknown)),
        "misses": misses,
        "false": false,
        "queries": len(queries),
        "known": (known_false, known),
        "p50": statistics.median(timings),
        "p95": timings[int(len(timings) * 0.95)],
    }


def kind_of(count: int) -> str:
    if not count:
        return "no word of the index"
    return "rare word (1-2 stories)" if count <= 2 else "real word (3+ stories, or a stop word)"


def write_report(args: argparse.Namespace, results: dict[str, Any], stories: int, words: int, commit: str) -> str:
    def share(found: int, total: int) -> str:
        return f"{found:,} / {total:,} ({100 * found / total:.1f} %)" if total else "0 / 0"

    lines = [
        "# Did you mean: measured",
        "",
        "Written by `benchmarks/suggest.py` (see its docstring for the method). One run:",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()} VM, "
        f"{len(__import__('os').sched_getaffinity(0))} cores shared with other work, Python {platform.python_version()}",
        f"- code: after = {commit}; before = {args.base} (its `suggest.py` in this code's search)",
        f"- corpus: Reuters-21578 NEWID 1-11000 in the text format (`reuters21578-text.tar.gz`), {stories:,} stories "
        f"indexed; titles from the SGML files `reut2-000..010.sgm` of the same stories",
        f"- {args.misspellings:,} one-edit misspellings of {words:,} words in ≥ {args.min_stories} stories, "
        f"{args.queries:,} title queries of 1-3 words; seed {args.seed}",
        "",
        "| misspellings corrected to the word | before | after |",
        "|---|---|---|",
    ]
    for name in results["after"]["classes"]:
        lines.append(
            f"| {name} | {share(*results['before']['classes'][name])} | {share(*results['after']['classes'][name])} |"
        )
    lines += [
        f'| all, to the word or another form of it (the same index word: "concession" for "concessiosn") | '
        f"{share(*results['before']['forms'])} | {share(*results['after']['forms'])} |",
        f"| no word of the index, to the word or another form of it | "
        f"{share(*results['before']['forms_unknown'])} | {share(*results['after']['forms_unknown'])} |",
        "",
        "| correctly spelled title queries | before | after |",
        "|---|---|---|",
        f"| false suggestions | {share(len(results['before']['false']), results['before']['queries'])} | "
        f"{share(len(results['after']['false']), results['after']['queries'])} |",
        f"| false suggestions, queries of words in the index (each in a story at least) | "
        f"{share(*results['before']['known'])} | {share(*results['after']['known'])} |",
        "",
        "| cost | before | after |",
        "|---|---|---|",
        f"| search with suggestion, p50 ms (all {args.misspellings + args.queries:,} queries) | "
        f"{results['before']['p50']:.1f} | {results['after']['p50']:.1f} |",
        f"| p95 ms | {results['before']['p95']:.1f} | {results['after']['p95']:.1f} |",
        f"| first search with a suggestion (builds the word tables after), ms | {results['before']['first_ms']:.0f} | "
        f"{results['after']['first_ms']:.0f} |",
        "",
        "Misspellings not corrected (no word or rare word of the index), first ones, after:",
        "",
        *(f"- {miss}" for miss in results["after"]["misses"]),
        "",
        "False suggestions after (all):"
        if len(results["after"]["false"]) <= 30
        else "False suggestions after (first 30):",
        "",
        *(f"- {false}" for false in results["after"]["false"][:30]),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
