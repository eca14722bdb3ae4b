"""Reader throughput: stories per second and peak memory of each input format, on generated inputs.

Usage (from the repository root, with the Python of a venv where newsindex[web] is installed):

    python benchmarks/readers.py [--stories 3000] [--large 20000] [--workdir benchmarks/work/readers]

converts the first N stories of `corpus/20000/stories.jsonl` (made by make_corpus.py when missing) into
every input format newsindex reads — JSON Lines, the text format, Reuters-21578 SGML (files of 1,000
records, as the real corpus), RCV1 NewsML (one file per story, in a zip as the real corpus, and loose),
an RSS 2.0 feed, saved HTML pages and a gzipped WARC crawl — then reads each with `read_stories` in a
fresh process and prints stories/s, input MB/s and the process's peak RSS. With `--large M`, the
streaming formats are also read at M stories: a flat peak RSS shows they stream. The generated inputs
stay under the workdir (git-ignored); nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
CORPUS = BENCHMARKS / "corpus" / "20000"


def records(count: int) -> Iterator[dict[str, Any]]:
    """The first `count` stories of the benchmark corpus (id, headline, published, bylines, location, source, body)."""
    if not (CORPUS / "stories.jsonl").exists():
        subprocess.run([sys.executable, str(BENCHMARKS / "make_corpus.py"), "20000"], check=True)
    with open(CORPUS / "stories.jsonl", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= count:
                return
            yield json.loads(line)


def paragraphs(body: str) -> list[str]:
    return [part.strip() for part in body.split("\n\n") if part.strip()]


def when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["published"] + "T12:00:00+00:00")


# ── One generator per format ─────────────────────────────────────────────────────────────────────────


def make_jsonl(folder: Path, count: int) -> Path:
    path = folder / "stories.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for record in records(count):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def make_text(folder: Path, count: int) -> Path:
    root = folder / "text"
    for number, record in enumerate(records(count)):
        path = root / f"{number // 1000:04d}" / f"{number:09d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        by = f" By {' and '.join(record['bylines'])}" if record["bylines"] else ""
        path.write_text(f" date {record['published']}{by}\n\n{record['body']}\n", encoding="utf-8")
    return root


def make_reuters(folder: Path, count: int) -> Path:
    root = folder / "reuters"
    root.mkdir()
    stories = list(records(count))
    for first in range(0, len(stories), 1000):
        with open(root / f"reut2-{first // 1000:03d}.sgm", "w", encoding="latin-1", errors="replace") as out:
            out.write('<!DOCTYPE lewis SYSTEM "lewis.dtd">\n')
            for number, record in enumerate(stories[first : first + 1000], start=first + 1):
                out.write(reuters_record(number, record))
    return root


def reuters_record(number: int, record: dict[str, Any]) -> str:
    stamp = when(record).strftime("%d-%b-%Y %H:%M:%S.00").upper()
    wrapped = "\n    ".join(_wrap(part) for part in paragraphs(record["body"]))
    author = f"<AUTHOR>    By {', '.join(record['bylines'])}, Reuters</AUTHOR>\n" if record["bylines"] else ""
    return (
        f'<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="{number}" NEWID="{number}">\n'
        f"<DATE>{stamp}</DATE>\n<TOPICS><D>earn</D></TOPICS>\n<PLACES><D>usa</D></PLACES>\n"
        f"<TEXT>&#2;\n<TITLE>{html.escape(record['headline'].upper())}</TITLE>\n{author}"
        f"<DATELINE>    {(record['location'] or 'NEW YORK').upper()}, Feb 26 - </DATELINE><BODY>"
        f"{html.escape(wrapped, quote=False)}\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n"
    )


def _wrap(text: str, width: int = 70) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def newsml(number: int, record: dict[str, Any]) -> bytes:
    text = "\n".join(f"<p>{html.escape(part, quote=False)}</p>" for part in paragraphs(record["body"]))
    byline = f"<byline>{html.escape(', '.join(record['bylines']))}</byline>" if record["bylines"] else ""
    return (
        f'<?xml version="1.0" encoding="iso-8859-1" ?>\n<newsitem itemid="{number}" id="root" '
        f'date="{record["published"]}" xml:lang="en">\n<title>{html.escape(record["headline"])}</title>\n'
        f"<headline>{html.escape(record['headline'])}</headline>\n{byline}\n"
        f"<dateline>{html.escape((record['location'] or '').upper())}</dateline>\n<text>\n{text}\n</text>\n"
        '<metadata>\n<codes class="bip:countries:1.0"><code code="USA"/></codes>\n'
        '<codes class="bip:topics:1.0"><code code="C15"/><code code="CCAT"/></codes>\n'
        f'<dc element="dc.source" value="{html.escape(record["source"] or "Reuters")}"/>\n</metadata>\n</newsitem>\n'
    ).encode("iso-8859-1", errors="replace")


def make_newsml_zip(folder: Path, count: int) -> Path:
    path = folder / "19960820.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, record in enumerate(records(count), start=1):
            archive.writestr(f"{number}newsML.xml", newsml(number, record))
    return path


def make_newsml_files(folder: Path, count: int) -> Path:
    root = folder / "newsml"
    root.mkdir()
    for number, record in enumerate(records(count), start=1):
        (root / f"{number}newsML.xml").write_bytes(newsml(number, record))
    return root


def make_feed(folder: Path, count: int) -> Path:
    path = folder / "feed.rss"
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>\n<title>Generated wire</title>\n'
            "<link>https://wire.example/</link>\n<description>Benchmark feed</description>\n"
        )
        for number, record in enumerate(records(count), start=1):
            content = "".join(f"<p>{html.escape(part, quote=False)}</p>" for part in paragraphs(record["body"]))
            creators = "".join(f"<dc:creator>{html.escape(name)}</dc:creator>" for name in record["bylines"])
            out.write(
                f"<item><title>{html.escape(record['headline'])}</title>"
                f"<link>https://wire.example/{number}</link><guid>https://wire.example/{number}</guid>"
                f"<pubDate>{format_datetime(when(record))}</pubDate>{creators}<category>World</category>"
                f"<description>{html.escape(paragraphs(record['body'])[0])}</description>"
                f"<content:encoded><![CDATA[{content}]]></content:encoded></item>\n"
            )
        out.write("</channel>\n</rss>\n")
    return path


def page(number: int, record: dict[str, Any]) -> str:
    body = "\n".join(f"<p>{html.escape(part, quote=False)}</p>" for part in paragraphs(record["body"]))
    author = html.escape(", ".join(record["bylines"]))
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(record["headline"])} | '
        f'Generated Wire</title>\n<meta name="author" content="{author}">\n'
        f'<meta property="article:published_time" content="{when(record).isoformat()}">\n'
        '<meta property="og:site_name" content="Generated Wire"></head>\n<body><header><nav><a href="/">Home</a> | '
        '<a href="/world">World</a> | <a href="/business">Business</a> | <a href="/sport">Sport</a></nav></header>\n'
        f"<main><article><h1>{html.escape(record['headline'])}</h1>\n<p class=byline>By {author}</p>\n{body}\n"
        '</article><aside><h2>Most read</h2><ul><li><a href="/1">One</a></li><li><a href="/2">Two</a></li></ul>'
        "</aside></main>\n<footer>Copyright Generated Wire. All rights reserved.</footer></body></html>\n"
    )


def make_html(folder: Path, count: int) -> Path:
    root = folder / "pages"
    root.mkdir()
    for number, record in enumerate(records(count), start=1):
        (root / f"{number:06d}.html").write_text(page(number, record), encoding="utf-8")
    return root


def make_warc(folder: Path, count: int) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = folder / "crawl.warc.gz"
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "newsindex benchmark"}))
        for number, record in enumerate(records(count), start=1):
            payload = page(number, record).encode("utf-8")
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            warc_record = writer.create_warc_record(
                f"https://wire.example/{number}",
                "response",
                payload=io.BytesIO(payload),
                length=len(payload),
                http_headers=headers,
            )
            writer.write_record(warc_record)
    return path


FORMATS = {
    "jsonl": make_jsonl,
    "text": make_text,
    "reuters": make_reuters,
    "newsml (zip)": make_newsml_zip,
    "newsml (files)": make_newsml_files,
    "feed (rss)": make_feed,
    "html": make_html,
    "warc": make_warc,
}
STREAMING = ("jsonl", "reuters", "newsml (zip)", "feed (rss)", "warc")


# ── Measuring ────────────────────────────────────────────────────────────────────────────────────────


def child(path: str) -> None:
    """Read every story of `path`, print JSON: stories, problems, seconds (run in a fresh process)."""
    from newsindex import read_stories

    problems: list[Any] = []
    started = time.perf_counter()
    stories = sum(1 for _ in read_stories(path, on_problem=problems.append))
    seconds = time.perf_counter() - started
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec.
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    peak = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    peak_kb = int(peak[0]) if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    skipped = sum(1 for problem in problems if problem.kind == "skipped")
    print(json.dumps({"stories": stories, "skipped": skipped, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


def input_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def measure(name: str, count: int, workdir: Path) -> dict[str, Any]:
    folder = workdir / f"{name.split()[0]}-{'zip' if 'zip' in name else 'x'}-{count}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    path = FORMATS[name](folder, count)
    made = time.perf_counter() - started
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(output)
    size = input_bytes(path)
    result |= {
        "load": os.getloadavg()[0],
        "format": name,
        "generated": count,
        "input_mb": size / 1e6,
        "stories_per_s": result["stories"] / result["seconds"],
        "mb_per_s": size / 1e6 / result["seconds"],
        "generate_s": made,
    }
    shutil.rmtree(folder)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=3000)
    parser.add_argument("--large", type=int, default=0, help="also read the streaming formats at this many stories")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS))
    parser.add_argument("--workdir", type=Path, default=BENCHMARKS / "work" / "readers")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    results = []
    runs = [(name, args.stories) for name in args.formats]
    runs += [(name, args.large) for name in args.formats if args.large and name in STREAMING]
    for name, count in runs:
        print(f"{name} × {count:,} …", file=sys.stderr)
        results.append(measure(name, count, args.workdir))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"date: {datetime.now().date().isoformat()}\n")
    print("| format | stories read | input MB | seconds | stories/s | MB/s | peak RSS MB | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result['format']} | {result['stories']:,} | {result['input_mb']:.1f} | {result['seconds']:.2f} | "
            f"{result['stories_per_s']:,.0f} | {result['mb_per_s']:.1f} | {result['peak_rss_mb']:.0f} | "
            f"{result['load']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
