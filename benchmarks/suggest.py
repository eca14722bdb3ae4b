"""Did you mean, measured on real wire copy: corrections of generated misspellings and false suggestions
on correctly spelled queries, for the code of a base commit ("before") and this one ("after"), one run.
Writes benchmarks/RESULTS-suggest.md.

Usage:

    python benchmarks/suggest.py --text /tmp/x-text --index /tmp/x-idx-text \
        --sgml ../shared/corpora/reuters21578 --sgml-index /tmp/x-idx-sgml [--base 5924d3d] \
        [--split test] [--misspellings 1000] [--queries 1000]

Two indexes of the same stories: `--index` built from `--text` (the corpus's text format: no headline,
no tags) and `--sgml-index` from the SGML files of `--sgml` (headline, topics, places, people, orgs and
body), each built when its folder holds none.

Held out: the words and stories are split in two halves, `dev` and `test` (a word by the CRC-32 of its
text, a story by the parity of its NEWID); rules are tuned on `dev` and reported on `test`, or the other
way round, never both on one half.

1. Misspellings, searched in each index. The words of the stories' text (letters only, lower case, not
   stop words, 3 letters or more) in at least 20 stories are counted from the text files themselves; of
   those in the split that the index searches for (not its stop words: "being" is "be", one),
   `--misspellings` times, seeded: a word drawn uniformly, one edit drawn uniformly
   from insert / delete / substitute / transpose at a uniform place with a uniform letter (an edit
   giving back the word is drawn again). Each misspelling is searched alone; it counts as corrected when
   the suggestion is the word (case ignored). Reported over all misspellings and apart for those that
   are no word of the index (their index form is in no story, in no field: the target of the issue),
   those that are rare words of it (1-2 stories: typos in the wire copy) and those that are real words
   of it (3 stories or more: "oil" → "soil"; a suggestion there overrules a word the archive uses).
2. Correct queries. `--queries` spans of 1-3 consecutive words (letters only, as written: Reuters titles
   are upper case) of the `<TITLE>`s of the split's stories, seeded; searched with `plain=True`, as
   written and in lower case (as a user types). Any suggestion counts as false. In the text-format index
   a title word may be in no story (a ticker such as HOGN is only in its story's title): those queries
   are counted apart. The SGML index holds the titles, so there every correctly spelled word is a word
   of the index in some field: the fair check of "correctly spelled".

"Before" is the base commit's `newsindex/suggest.py` (read with `git show`), put in place of this one's
inside the same index and search code, so that only the suggestion differs. The cost of the suggestion
is CPU time (process time) per `search()` with it, less the same search with no suggestion at all, p50
and p95 over every query of the text-format index; the first-use cost of the word tables is reported too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from run import module_at  # a script beside this one
from whoosh.analysis.filters import STOP_WORDS

import newsindex.index as _index
from newsindex import Filters, NewsIndex
from newsindex.errors import QueryError
from newsindex.store.schema import index_term

index_module: Any = _index  # its `suggest` is swapped for the base commit's, and for none
ROOT = Path(__file__).resolve().parent.parent
LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[A-Za-z]+")
KINDS = ("no word of the index", "rare word (1-2 stories)", "real word (3+ stories, or a stop word)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sgml", type=Path, required=True)
    parser.add_argument("--sgml-index", type=Path, required=True)
    parser.add_argument("--base", default="5924d3d")
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--misspellings", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--min-stories", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-suggest.md")
    args = parser.parse_args()

    files = sorted(args.text.rglob("*.txt"))
    newsindex = str(Path(sys.executable).parent / "newsindex")
    if not (args.index / "newsindex.json").exists():
        subprocess.run([newsindex, "index", str(args.text), "-i", str(args.index), "-q"], check=True)
    if not (args.sgml_index / "newsindex.json").exists():
        sgml = sorted(str(path) for path in args.sgml.glob("reut2-*.sgm"))
        subprocess.run([newsindex, "index", *sgml, "-i", str(args.sgml_index), "-q"], check=True)
    indexes = {"text": NewsIndex.open(args.index), "sgml": NewsIndex.open(args.sgml_index)}

    story_df: Counter[str] = Counter()
    newids: set[int] = set()
    for path in files:
        newids.add(int(path.name.split("_")[0]))
        body = path.read_text(encoding="utf-8").split("\n\n", 1)[-1]
        story_df.update({word.lower() for word in _WORD.findall(body)})
    stops = frozenset(STOP_WORDS)
    half = 0 if args.split == "dev" else 1
    frequent = [w for w, n in story_df.items() if n >= args.min_stories and len(w) >= 3 and w not in stops]
    searchable = document_frequency(indexes["text"])  # a stop word of the index ("being": be) is no target
    words = sorted(word for word in frequent if zlib.crc32(word.encode()) % 2 == half and searchable(word))
    rng = random.Random(args.seed)
    misspellings = [(word, misspell(word, rng)) for word in (rng.choice(words) for _ in range(args.misspellings))]
    titles = read_titles(args.sgml, {newid for newid in newids if newid % 2 == half})
    queries = [title_span(titles, rng) for _ in range(args.queries)]

    before = load_base_suggest(args.base)
    after = index_module.suggest
    pruned = index_module.suggestion_finds_more  # after: a suggestion finding nothing better is not made
    results: dict[str, Any] = {}
    try:
        index_module.suggest = no_suggestion
        results["none"] = {"cpu": timings(indexes["text"], misspellings, queries)}
        for name, function in (("before", before), ("after", after)):
            index_module.suggest = function
            index_module.suggestion_finds_more = pruned if name == "after" else always  # the base had no pruning
            started = time.perf_counter()
            indexes["text"].search("zzxqv")  # the first search with a suggestion builds this code's word tables
            first_ms = (time.perf_counter() - started) * 1000
            results[name] = {
                "first_ms": first_ms,
                "cpu": timings(indexes["text"], misspellings, queries),
                **{kind: measure(news, misspellings, queries) for kind, news in indexes.items()},
            }
    finally:
        index_module.suggest = after
        index_module.suggestion_finds_more = pruned

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], capture_output=True, text=True, cwd=ROOT).stdout
    counts = {kind: news.count() for kind, news in indexes.items()}
    report = write_report(
        args, results, counts, len(words), commit.strip() + (" (uncommitted changes)" if dirty else "")
    )
    args.out.write_text(report, encoding="utf-8")
    print(report)


def always(*_: Any) -> bool:
    return True


def no_suggestion(*_: Any) -> None:
    return None


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
    """The words (letters only) of the <TITLE> of each story of `newids` in the SGML files."""
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
    return module_at(commit, "suggest").suggest  # type: ignore[no-any-return]


def timings(news: NewsIndex, misspellings: list[tuple[str, str]], queries: list[str]) -> list[float]:
    """CPU ms of each search, the misspellings then the title queries (as written), in order."""
    spent = []
    for text, plain in [*((typo, False) for _, typo in misspellings), *((query, True) for query in queries)]:
        started = time.process_time()
        with contextlib.suppress(QueryError):  # a stop word of the index alone
            news.search(text, filters=Filters(plain=plain))
        spent.append((time.process_time() - started) * 1000)
    return spent


def document_frequency(news: NewsIndex) -> Callable[[str], int]:
    """The stories having a word in any field searched by words or tags, each field analysing it its way."""

    def frequency(searcher: Any) -> Callable[[str], int]:
        reader = searcher.reader()
        schema = searcher.schema
        fields = [name for name in ("headline", "body", "topic", "place", "org", "person") if name in schema]

        def count(word: str) -> int:
            found = 0
            for name in fields:
                for term in schema[name].process_text(word, mode="query"):
                    found = max(found, reader.doc_frequency(name, term))
            return found

        return count

    return news._reading(frequency)


def measure(news: NewsIndex, misspellings: list[tuple[str, str]], queries: list[str]) -> dict[str, Any]:
    frequency = document_frequency(news)
    classes: dict[str, list[bool]] = {"all": [], **{kind: [] for kind in KINDS}}
    forms_unknown: list[bool] = []
    misses: list[str] = []
    for word, typo in misspellings:
        try:
            suggestion = news.search(typo).suggestion
            count = frequency(typo)
        except QueryError:  # a stop word of the index ("ace" → "are"): not searchable, counted as a real word
            suggestion, count = None, 3
        right = suggestion is not None and suggestion.lower() == word
        kind = kind_of(count)
        if kind == KINDS[0]:
            forms_unknown.append(suggestion is not None and index_term(suggestion) == index_term(word))
        classes["all"].append(right)
        classes[kind].append(right)
        if not right and kind != KINDS[2] and len(misses) < 12:
            misses.append(f"{typo} → {suggestion} (meant {word})")
    found: dict[str, Any] = {
        "classes": {name: (sum(values), len(values)) for name, values in classes.items()},
        "forms_unknown": (sum(forms_unknown), len(forms_unknown)),
        "misses": misses,
        "queries": len(queries),
    }
    for case, texts in (("written", queries), ("lower", [text.lower() for text in queries])):
        false: list[str] = []
        known = known_false = 0
        for text in texts:
            suggestion = news.search(text, filters=Filters(plain=True)).suggestion
            words = [word for word in text.split() if word.lower() not in STOP_WORDS and len(word) > 1]
            in_index = all(frequency(word) for word in words)
            known += in_index
            if suggestion is not None:
                false.append(f"{text} → {suggestion}" + ("" if in_index else " (a word in no story)"))
                known_false += in_index
        found[case] = {"false": false, "known": (known_false, known)}
    return found


def kind_of(count: int) -> str:
    if not count:
        return KINDS[0]
    return KINDS[1] if count <= 2 else KINDS[2]


def write_report(
    args: argparse.Namespace, results: dict[str, Any], counts: dict[str, int], words: int, commit: str
) -> str:
    def share(found: int, total: int) -> str:
        return f"{found:,} / {total:,} ({100 * found / total:.1f} %)" if total else "0 / 0"

    def both(before: tuple[int, int], after: tuple[int, int]) -> str:
        return f"{share(*before)} | {share(*after)}"

    def cost(name: str, part: slice, at: float) -> float:
        extra = sorted(
            spent - floor for spent, floor in zip(results[name]["cpu"][part], results["none"]["cpu"][part], strict=True)
        )
        return extra[min(len(extra) - 1, int(len(extra) * at))] if extra else 0.0

    def p50(name: str, part: slice) -> float:
        return float(statistics.median(results[name]["cpu"][part]))

    typos, titles = slice(0, args.misspellings), slice(args.misspellings, None)
    lines = [
        "# Did you mean: measured",
        "",
        "Written by `benchmarks/suggest.py` (see its docstring for the method). One run:",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()} VM, "
        f"{len(os.sched_getaffinity(0))} cores shared with other work, Python {platform.python_version()}",
        f"- code: after = {commit}; before = {args.base} (its `suggest.py` in this code's search)",
        f"- corpus: Reuters-21578 NEWID 1-11000: the text format (`reuters21578-text.tar.gz`, "
        f"{counts['text']:,} stories, no headlines) and the SGML files `reut2-000..010.sgm` "
        f"({counts['sgml']:,} stories, with headlines and tags), one index of each",
        f"- held-out half **{args.split}**: {args.misspellings:,} one-edit misspellings of {words:,} words in "
        f"≥ {args.min_stories} stories, {args.queries:,} title queries of 1-3 words; seed {args.seed}",
        "",
    ]
    for kind, name in (("text", "text-format index"), ("sgml", "SGML index (headlines and tags indexed)")):
        old, new = results["before"][kind], results["after"][kind]
        lines += [f"## {name}", "", "| misspellings corrected to the word | before | after |", "|---|---|---|"]
        lines += [f"| {cls} | {both(old['classes'][cls], new['classes'][cls])} |" for cls in new["classes"]]
        lines += [
            f"| no word of the index, to the word or another form of it (the same index word) | "
            f"{both(old['forms_unknown'], new['forms_unknown'])} |",
            "",
            "| correctly spelled title queries: false suggestions | before | after |",
            "|---|---|---|",
        ]
        for case, label in (("written", "as written (capitals)"), ("lower", "in lower case")):
            queries = new["queries"]
            lines += [
                f"| all, {label} | {both((len(old[case]['false']), queries), (len(new[case]['false']), queries))} |",
                f"| every word in the index (any field), {label} | {both(old[case]['known'], new[case]['known'])} |",
            ]
        lines += ["", "Misspellings not corrected (no word or rare word of the index), first ones, after:", ""]
        lines += [f"- {miss}" for miss in results["after"][kind]["misses"]]
        for case in ("written", "lower"):
            false = results["after"][kind][case]["false"]
            lines += ["", f"False suggestions after, {case} ({'all' if len(false) <= 20 else 'first 20'}):", ""]
            lines += [f"- {text}" for text in false[:20]]
        lines.append("")
    lines += [
        "## Cost (text-format index, CPU ms per search)",
        "",
        "| | none | before | after |",
        "|---|---|---|---|",
        f"| search(), p50, misspellings | {p50('none', typos):.2f} | {p50('before', typos):.2f} | {p50('after', typos):.2f} |",
        f"| search(), p50, title queries | {p50('none', titles):.2f} | {p50('before', titles):.2f} | "
        f"{p50('after', titles):.2f} |",
        f"| the suggestion's share (search less the same search without it), p50, misspellings | | "
        f"{cost('before', typos, 0.5):.2f} | {cost('after', typos, 0.5):.2f} |",
        f"| the same, p50, title queries | | {cost('before', titles, 0.5):.2f} | {cost('after', titles, 0.5):.2f} |",
        f"| the same, p95, title queries | | {cost('before', titles, 0.95):.2f} | {cost('after', titles, 0.95):.2f} |",
        f"| first search with a suggestion (builds the word tables), wall ms | | {results['before']['first_ms']:.0f} | "
        f"{results['after']['first_ms']:.0f} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
