"""Extraction on real wire copy: locations, regions, dates and bylines of Reuters-21578 against its SGML.

Usage (from the repository root, with the venv's Python):

    python benchmarks/realnews.py [--corpora ../shared/corpora] [--index] [--mismatches 15]

reads the Reuters-21578 SGML files (`reuters21578/reut2-*.sgm`) and the same stories in newsindex's
text format (`reuters21578-text.tar.gz`, extracted to a temporary folder) through newsindex's readers,
and scores what the readers extracted against ground truth taken from the SGML elements themselves:

- location: the city of `<DATELINE>` ("SAN MATEO, Calif., March 2 -" → "SAN MATEO"), compared by
  `names.name_key` (case, accents and punctuation folded: the readable form "San Mateo" matches);
- region: the parts between the city and the date ("Calif."), where the dateline has some, compared with
  the reader's region after both go through `regions.canonical_region` (the stored form: AP abbreviations
  for US states, Canadian provinces spelled out) and `name_key`;
- date: the day of `<DATE>` ("27-MAR-1987 02:17:09.88T C" → 1987-03-27) where it starts with a valid
  DD-MON-YYYY; SGML also the time when the time is valid;
- bylines: the people of `<AUTHOR>` ("By STEPHEN JUKES AND PHILIP SHEHADI, REUTERS" → Stephen Jukes,
  Philip Shehadi), compared as lists of keys.

The ground truth is derived with its own short rules (below), not with newsindex's dateline reader. With
`--index`, both forms are also indexed (into a temporary folder) and the byline and location facets
checked for names counted twice under different spellings. Mismatches are printed for inspection.
"""

from __future__ import annotations

import argparse
import html
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from newsindex.ingest.readers import read_stories  # noqa: E402
from newsindex.models import Filters, Problem, Story  # noqa: E402
from newsindex.text.names import name_key  # noqa: E402
from newsindex.text.regions import canonical_region  # noqa: E402

_RECORD = re.compile(r"<REUTERS\b[^>]*\bNEWID=\"(?P<id>\d+)\"[^>]*>(?P<text>.*?)</REUTERS>", re.DOTALL)
_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_DATE = re.compile(r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4})\s+(\d\d):(\d\d):(\d\d)(?:\.(\d{1,2}))?")


@dataclass
class Truth:
    newid: str
    city: str | None = None
    region: str | None = None
    day: date | None = None
    moment: datetime | None = None
    authors: list[str] = field(default_factory=list)
    has_body: bool = False
    dateline: str = ""
    author: str = ""


def _element(name: str, text: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>", text, re.DOTALL)
    return " ".join(html.unescape(match.group(1)).split()) if match else None


def truth_dateline(dateline: str) -> tuple[str | None, str | None]:
    """City and region of a `<DATELINE>`: comma-separated parts, the city first, the region the parts up to
    the first one with a digit (the date); a date typed without a comma before it is cut off its part."""
    # Typing noise before the city: "****LONDON", "c CHICAGO", the repeat marker "RPT --LUDWIGSHAFEN"
    text = re.sub(r"^(?:[^A-Za-z]+|[a-z] (?=[A-Z])|RPT\s*-*\s*)+", "", dateline).strip()
    text = re.sub(r"\s+-+\s*.*$|-+\s*$", "", text)  # the dash and anything after it
    parts = [part.strip() for part in text.split(",")]
    kept: list[str] = []
    for part in parts:
        if re.search(r"\d", part):
            if re.match(r"\d", part):  # "2 March"
                break
            head = re.sub(r"\s*[A-Za-z]+\.?\s*\d+.*$", "", part).strip()  # "Va. Feb 26" → "Va."
            if head:
                kept.append(head)
            break
        if re.fullmatch(r"(?i)reuters?", part):
            break
        kept.append(part)
    kept = [part for part in kept if part.strip(" .")]
    if not kept:
        return None, None
    return kept[0], (", ".join(kept[1:]) or None)


def truth_authors(author: str) -> list[str]:
    """The people of `<AUTHOR>`: "By" off, a trailing agency ("Reuters", "Reutersd") off, split at "and"
    and commas."""
    text = re.sub(r"(?i)^\s*by\s+", "", author)
    text = re.sub(r"(?i)[,\s]+reuters?\w?\.?\s*$", "", text)
    return [part.strip() for part in re.split(r"(?i)\s*,\s*|\s+and\s+|\s*&\s*", text) if part.strip()]


def ground_truth(sgml_files: list[Path]) -> dict[str, Truth]:
    truths: dict[str, Truth] = {}
    for path in sgml_files:
        text = path.read_bytes().decode("latin-1")
        for record in _RECORD.finditer(text):
            truth = Truth(record["id"])
            body = record["text"]
            truth.has_body = "<BODY>" in body
            dateline = _element("DATELINE", body)
            if dateline:
                truth.dateline = dateline
                truth.city, truth.region = truth_dateline(dateline)
            stamp = _element("DATE", body) or ""
            match = _DATE.match(stamp)
            if match and match[2].lower() in _MONTHS:
                try:
                    truth.day = date(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
                    fraction = int((match[7] or "0").ljust(6, "0"))
                    truth.moment = datetime.combine(
                        truth.day, datetime.min.time().replace(hour=int(match[4]), minute=int(match[5]))
                    ).replace(second=int(match[6]), microsecond=fraction)
                except ValueError:
                    truth.moment = None
            author = _element("AUTHOR", body)
            if author:
                truth.author = author
                truth.authors = truth_authors(author)
            truths[truth.newid] = truth
    return truths


@dataclass
class Score:
    name: str
    right: int = 0
    total: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, ok: bool, detail: str) -> None:
        self.total += 1
        self.right += ok
        if not ok:
            self.wrong.append(detail)

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 1.0


def score(form: str, stories: dict[str, Story], truths: dict[str, Truth]) -> list[Score]:
    location, region, extra_region, day, moment, bylines = (
        Score(f"{form} location"),
        Score(f"{form} region (datelines with one)"),
        Score(f"{form} no region invented (datelines without one)"),
        Score(f"{form} date"),
        Score(f"{form} date and time"),
        Score(f"{form} bylines"),
    )
    for newid, story in stories.items():
        truth = truths.get(newid)
        if truth is None:
            continue
        got_region = getattr(story, "region", None)  # None from a version of newsindex before Story.region
        if truth.city:
            ok = name_key(story.location or "") == name_key(truth.city)
            location.add(ok, f"{newid}: {truth.dateline!r} → {story.location!r} (truth {truth.city!r})")
            if truth.region:
                ok = name_key(got_region or "") == name_key(canonical_region(truth.region))
                region.add(ok, f"{newid}: {truth.dateline!r} → {got_region!r} (truth {truth.region!r})")
            else:
                extra_region.add(got_region is None, f"{newid}: {truth.dateline!r} → region {got_region!r}")
        if truth.day:
            published = story.published
            got = published.date() if isinstance(published, datetime) else published
            day.add(got == truth.day, f"{newid}: {published!r} (truth {truth.day})")
            if form == "SGML" and truth.moment:
                moment.add(published == truth.moment, f"{newid}: {published!r} (truth {truth.moment})")
        if truth.authors:
            ok = [name_key(name) for name in story.bylines] == [name_key(name) for name in truth.authors]
            bylines.add(ok, f"{newid}: {truth.author!r} → {list(story.bylines)!r}")
    scores = [location, region, extra_region, day, bylines]
    return [*scores, moment] if form == "SGML" else scores


def read(paths: list[str], format: str | None, id_of) -> tuple[dict[str, Story], list[Problem], float]:  # type: ignore[no-untyped-def]
    problems: list[Problem] = []
    started = time.perf_counter()
    stories = {id_of(story): story for story in read_stories(*paths, format=format, on_problem=problems.append)}
    return stories, problems, time.perf_counter() - started


def spellings(stories: list[Story]) -> dict[str, tuple[int, int]]:
    """Per field: (distinct values as stored, distinct identities): equal when no name is split by spelling."""
    result = {}
    for name, values in (
        ("bylines", [b for s in stories for b in s.bylines]),
        ("location", [s.location for s in stories if s.location]),
        ("region", [s.region for s in stories if s.region]),
    ):
        result[name] = (len(set(values)), len({name_key(v) for v in values}))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default=str(ROOT.parent.parent / "shared" / "corpora"))
    parser.add_argument("--index", action="store_true", help="also index both forms and count facet spellings")
    parser.add_argument("--mismatches", type=int, default=15, help="mismatches printed per figure")
    args = parser.parse_args()
    corpora = Path(args.corpora)
    if not (corpora / "reuters21578").is_dir():
        corpora = Path("/work/shared/corpora")
    sgml_files = sorted((corpora / "reuters21578").glob("reut2-*.sgm"))
    truths = ground_truth(sgml_files)
    print(f"ground truth: {len(truths):,} records from {len(sgml_files)} SGML files")

    with tempfile.TemporaryDirectory(prefix="realnews-") as work, tempfile.TemporaryDirectory() as indexes:
        with tarfile.open(corpora / "reuters21578-text.tar.gz") as archive:
            archive.extractall(work, filter="data")
        sgml, sgml_problems, sgml_seconds = read([str(p) for p in sgml_files], "reuters", lambda s: s.id)
        text, text_problems, text_seconds = read([work], "text", lambda s: str(int(Path(s.id).name[:5])))
        print(f"read SGML: {len(sgml):,} stories in {sgml_seconds:.1f} s, {len(sgml_problems)} problem lines")
        print(f"read text: {len(text):,} stories in {text_seconds:.1f} s, {len(text_problems)} problem lines")
        for problem in (sgml_problems + text_problems)[:10]:
            print(f"  {problem}")
        results = score("SGML", sgml, truths) + score("text", text, truths)
        print()
        for result in results:
            print(f"{result.name:<52} {result.rate:7.4f}  ({result.right:,}/{result.total:,})")
        for result in results:
            if result.wrong:
                print(f"\n{result.name}: {len(result.wrong)} mismatches")
                for line in result.wrong[: args.mismatches]:
                    print(f"  {line}")
        print()
        for form, stories in (("SGML", sgml), ("text", text)):
            for name, (values, keys) in spellings(list(stories.values())).items():
                print(f"{form} {name}: {values:,} distinct values, {keys:,} distinct identities")
        if args.index:
            from newsindex.index import NewsIndex

            for form, paths, format in (("SGML", [str(p) for p in sgml_files], "reuters"), ("text", [work], "text")):
                folder = Path(indexes) / form  # not under the text folder: it would be read as input
                started = time.perf_counter()
                index = NewsIndex.create(folder, fsync=False)
                report = index.add_files(paths, format=format, procs=1)
                seconds = time.perf_counter() - started
                found = index.search(
                    "", filters=Filters(start="1900"), facets=("bylines", "location"), facet_top=100, limit=1
                )
                for facet, pairs in found.facets.items():
                    keys = Counter(name_key(value) for value, _ in pairs)
                    doubled = [key for key, count in keys.items() if count > 1]
                    print(
                        f"{form} index ({report.written:,} stories, {seconds:.1f} s): facet {facet} top "
                        f"{len(pairs)} values, {len(doubled)} identities shown twice {doubled[:5]}"
                    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    print(
        f"\nmachine: {platform.platform()}, {platform.processor() or platform.machine()}; "
        f"date {datetime.now():%Y-%m-%d %H:%M}; code {commit.stdout.strip()}"
    )


if __name__ == "__main__":
    main()
