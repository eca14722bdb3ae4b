"""Reliability trials (issue 17), slow, run by hand; each prints `tried / passed` and a JSON line.

    python benchmarks/reliability.py TRIAL [--text DIR] [--trials N] [--work DIR]

TRIAL is one of:
  kill-rebuild    kill -9 or Ctrl-C (SIGINT) at a random moment of `index --rebuild`; afterwards the
                  manifest names a whole index, no lock is held or left, `check` verifies the live files
                  (more than 0) and, on a copy with its largest postings file zeroed, `check` says damaged
  recover         every damage kind to an index, then `index --rebuild`: exit 0, the same answers, check OK
  large           same-size damage (inverted bytes, zeroed runs, zeroed files) to an index over 32 MB:
                  every query answers as before or exits 4; 0 silent wrong answers, 0 exit 1
  first-runs      two `newsindex index` runs at once on a new folder: no acknowledged story lost, every
                  run exits 0 or 3 (busy), the folder opens and checks whole
  readers         8 threads on one NewsIndex and 16 HTTP clients of `serve` search while `--rebuild` runs
                  again and again: 0 errors
  hostile         16 clients send costly requests (oversized filters, big limits, wide wildcards, long
                  queries, every facet) to `serve` at once while /health is asked every 0.25 s: every
                  request answered or refused in <= 5 s, every /health in <= 1 s (--text: the corpus)
  pickles         planted pickles (TOC schema, TOC segments, stored stories, the term dictionary's field
                  map, a term's inlined postings, a posting block of Whoosh's own format: its header, its
                  data; a compound segment file) in a trusted folder, then search (+ export), stats,
                  check, index, show and serve (+ one HTTP search): the payload (creating a file) never runs

The corpus is Reuters-21578 in newsindex's text format: extract
/work/shared/corpora/reuters21578-text.tar.gz to /tmp/reliab-text (the default --text).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

NEWSINDEX = [sys.executable, "-m", "newsindex"]
QUERIES = ["oil", "crude oil", "wheat", "bank rate", "opec", "coffee", "date:1987-03", "gold", "dollar yen", "sugar"]


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NEWSINDEX, *args], capture_output=True, text=True, timeout=timeout)


def subset(text: Path, work: Path, count: int) -> Path:
    """The first `count` stories of the text corpus, copied to work/corpus-COUNT."""
    corpus = work / f"corpus-{count}"
    if not corpus.exists():
        corpus.mkdir(parents=True)
        for path in sorted(text.iterdir())[:count]:
            shutil.copy(path, corpus / path.name)
    return corpus


def answers(index: Path) -> dict[str, Any]:
    """Each query's total and sorted ids through the CLI (all versions), or its exit code."""
    found: dict[str, Any] = {}
    for query in QUERIES:
        result = run("search", query, "-i", str(index), "--json", "--limit", "1000", "--all-versions")
        if result.returncode:
            found[query] = {"exit": result.returncode, "stderr": result.stderr.strip()[:200]}
        else:
            body = json.loads(result.stdout)
            found[query] = {"total": body["total"], "ids": sorted(hit["id"] for hit in body["hits"])}
    return found


def index_name(index: Path) -> str:
    return str(json.loads((index / "newsindex.json").read_text())["index_name"])


def live_files(index: Path, suffix: str) -> list[Path]:
    name = index_name(index)
    return [path for path in index.iterdir() if path.name.startswith(name) and path.name.endswith(suffix)]


def largest(index: Path, suffix: str) -> Path:
    return max(live_files(index, suffix), key=lambda path: path.stat().st_size)


def report(trial: str, tried: int, passed: int, failures: list[str], **extra: Any) -> None:
    print(f"{trial}: {passed} / {tried} passed")
    for failure in failures[:20]:
        print("  FAILED:", failure)
    print(json.dumps({"trial": trial, "tried": tried, "passed": passed, "failures": failures[:50], **extra}))


# -- kill-rebuild -------------------------------------------------------------------------------------------


def kill_rebuild(args: argparse.Namespace) -> None:
    corpus = subset(args.text, args.work, args.stories)
    index = args.work / "kill-index"
    shutil.rmtree(index, ignore_errors=True)
    assert run("index", str(corpus), "-i", str(index), "-q").returncode == 0
    truth = answers(index)
    dry = time.monotonic()
    assert run("index", "--rebuild", str(corpus), "-i", str(index), "-q").returncode == 0
    took = time.monotonic() - dry
    failures: list[str] = []
    passed = 0
    for trial in range(args.trials):
        how = signal.SIGKILL if trial % 2 == 0 else signal.SIGINT
        process = subprocess.Popen(
            [*NEWSINDEX, "index", "--rebuild", str(corpus), "-i", str(index), "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(random.uniform(0.2, took * 0.9))
        process.send_signal(how)
        process.communicate(timeout=120)
        problems = []
        if list(index.glob("*_WRITELOCK")):
            problems.append("a *_WRITELOCK file is left")
        check = run("check", "-i", str(index), "--json")
        if check.returncode:
            problems.append(f"check exit {check.returncode}: {check.stderr.strip()[:200]}")
        else:
            verified = json.loads(check.stdout)
            if not verified.get("files"):
                problems.append(f"check verified no file: {check.stdout[:200]}")
        late = run("index", str(args.work / "nothing"), "-i", str(index), "-q", "--lock-timeout", "0")
        if late.returncode == 3:
            problems.append("the lock is still held")
        after = answers(index)
        if after != truth:
            differ = {
                q: (truth[q].get("total"), after[q].get("total", after[q])) for q in QUERIES if after[q] != truth[q]
            }
            problems.append(f"answers differ after the interrupted rebuild: {differ}")
        copy = args.work / "kill-copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(index, copy)
        postings = largest(copy, ".pst")
        postings.write_bytes(b"\0" * postings.stat().st_size)
        zeroed_check = run("check", "-i", str(copy))
        if zeroed_check.returncode != 4:
            problems.append(
                f"check exits {zeroed_check.returncode} with a zeroed postings file ({postings.name}): "
                f"{(zeroed_check.stdout + zeroed_check.stderr).strip()[:300]}"
            )
        search = run("search", "oil", "-i", str(copy), "--json")
        if search.returncode == 0 and json.loads(search.stdout)["total"] != truth["oil"]["total"]:
            problems.append("search answers wrong with a zeroed postings file, exit 0")
        name = "SIGKILL" if how == signal.SIGKILL else "SIGINT"
        if problems:
            failures.append(f"trial {trial} ({name}, exit {process.returncode}): {'; '.join(problems)}")
            shutil.copytree(index, args.work / f"kill-failed-{trial}", dirs_exist_ok=True)  # for a post-mortem
        else:
            passed += 1
    report("kill-rebuild", args.trials, passed, failures, stories=args.stories, rebuild_seconds=round(took, 1))


# -- recover ------------------------------------------------------------------------------------------------


def _zero(path: Path) -> None:
    path.write_bytes(b"\0" * path.stat().st_size)


def _flip(path: Path, at: float = 0.5, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    for i in range(start, min(len(data), start + count)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path, fraction: float) -> None:
    with open(path, "r+b") as file:
        file.truncate(int(path.stat().st_size * fraction))


def _toc(index: Path) -> Path:
    return next(path for path in index.iterdir() if path.name.startswith(f"_{index_name(index)}_"))


def _manifest(index: Path, **changes: Any) -> None:
    manifest = json.loads((index / "newsindex.json").read_text())
    (index / "newsindex.json").write_text(json.dumps({**manifest, **changes}))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "postings zeroed": lambda index: _zero(largest(index, ".pst")),
    "postings flipped": lambda index: _flip(largest(index, ".pst")),
    "postings half": lambda index: _truncate(largest(index, ".pst"), 0.5),
    "postings missing": lambda index: largest(index, ".pst").unlink(),
    "terms zeroed": lambda index: _zero(largest(index, ".trm")),
    "terms flipped": lambda index: _flip(largest(index, ".trm")),
    "stored zeroed": lambda index: _zero(largest(index, "._stored.col")),
    "stored flipped": lambda index: _flip(largest(index, "._stored.col")),
    "dates zeroed": lambda index: _zero(largest(index, "published.col")),
    "lengths zeroed": lambda index: _zero(largest(index, "_body_len.col")),
    "id column zeroed": lambda index: _zero(largest(index, ".id.col")),
    "toc empty": lambda index: _truncate(_toc(index), 0),
    "toc half": lambda index: _truncate(_toc(index), 0.5),
    "toc flipped": lambda index: _flip(_toc(index)),
    "toc missing": lambda index: _toc(index).unlink(),
    "record missing and postings zeroed": lambda index: (
        [path.unlink() for path in index.glob("*sums.json")],
        _zero(largest(index, ".pst")),
    ),
    "manifest garbage": lambda index: (index / "newsindex.json").write_text("{not json"),
    "manifest empty": lambda index: (index / "newsindex.json").write_text(""),
    "manifest missing index": lambda index: _manifest(index, index_name="stories_000000000000"),
    "manifest other format": lambda index: _manifest(index, format="other"),
    "schema version upgrade": lambda index: _manifest(index, schema_version=0),
    "every segment file missing": lambda index: [path.unlink() for path in live_files(index, "")],
}


def recover(args: argparse.Namespace) -> None:
    corpus = subset(args.text, args.work, 2000)
    built = args.work / "recover-built"
    shutil.rmtree(built, ignore_errors=True)
    assert run("index", str(corpus), "-i", str(built), "-q").returncode == 0
    truth = answers(built)
    failures: list[str] = []
    passed = 0
    for damage, apply in DAMAGES.items():
        index = args.work / "recover-index"
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(built, index)
        apply(index)
        rebuilt = run("index", "--rebuild", str(corpus), "-i", str(index), "-q")
        problems = []
        if rebuilt.returncode:
            problems.append(f"--rebuild exit {rebuilt.returncode}: {rebuilt.stderr.strip()[:200]}")
        elif answers(index) != truth:
            problems.append("answers differ after --rebuild")
        elif run("check", "-i", str(index)).returncode:
            problems.append("check fails after --rebuild")
        if problems:
            failures.append(f"{damage}: {'; '.join(problems)}")
        else:
            passed += 1
    report("recover", len(DAMAGES), passed, failures, stories=2000)


# -- large --------------------------------------------------------------------------------------------------


def _flipper(suffix: str, at: float) -> Callable[[Path], None]:
    return lambda index: _flip(largest(index, suffix), at)


def _zeroer(suffix: str) -> Callable[[Path], None]:
    return lambda index: _zero(largest(index, suffix))


LARGE_DAMAGES: dict[str, Callable[[Path], None]] = {
    **{
        f"{what} flipped at {at:.0%}": _flipper(suffix, at)
        for what, suffix in (
            ("postings", ".pst"),
            ("stored", "._stored.col"),
            ("terms", ".trm"),
            ("dates", "published.col"),
            ("lengths", "_body_len.col"),
            ("ids", ".id.col"),
            ("digests", ".digest.col"),
        )
        for at in (0.1, 0.5, 0.9)
    },
    **{
        f"{what} zeroed": _zeroer(suffix)
        for what, suffix in (
            ("postings", ".pst"),
            ("stored", "._stored.col"),
            ("terms", ".trm"),
            ("dates", "published.col"),
            ("lengths", "_body_len.col"),
            ("ids", ".id.col"),
        )
    },
    "postings 4 KiB zeroed": lambda index: _zero_run(largest(index, ".pst")),
    "stored 4 KiB zeroed": lambda index: _zero_run(largest(index, "._stored.col")),
}


def _zero_run(path: Path) -> None:
    with open(path, "r+b") as file:
        file.seek(path.stat().st_size // 3)
        file.write(b"\0" * 4096)


def large(args: argparse.Namespace) -> None:
    corpus = args.work / "large-corpus"
    if not corpus.exists():  # the text corpus four times, each copy in its own folder: distinct ids (paths)
        for copy in range(4):
            shutil.copytree(args.text, corpus / f"copy{copy}")
    built = args.work / "large-built"
    if not built.exists():
        assert run("index", str(corpus), "-i", str(built), "-q", timeout=3600).returncode == 0
    size = sum(path.stat().st_size for path in built.iterdir())
    truth = answers(built)
    failures: list[str] = []
    passed = 0
    silent = internal = 0
    for damage, apply in LARGE_DAMAGES.items():
        index = args.work / "large-index"
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(built, index)
        apply(index)
        after = answers(index)
        wrong = [q for q in QUERIES if "exit" not in after[q] and after[q] != truth[q]]
        crashed = [q for q in QUERIES if after[q].get("exit") not in (None, 4)]
        check = run("check", "-i", str(index))
        silent += len(wrong)
        internal += len(crashed)
        problems = []
        if wrong:
            problems.append(f"silent wrong answers: {wrong}")
        if crashed:
            problems.append(f"exit other than 4: {[(q, after[q]) for q in crashed]}")
        if check.returncode != 4:
            problems.append(f"check exit {check.returncode}")
        if problems:
            failures.append(f"{damage}: {'; '.join(problems)}")
        else:
            passed += 1
    report("large", len(LARGE_DAMAGES), passed, failures, index_bytes=size, silent=silent, other_exits=internal)


# -- first-runs ---------------------------------------------------------------------------------------------


def first_runs(args: argparse.Namespace) -> None:
    base = subset(args.text, args.work, 2000)
    corpora = []
    for n in range(2):  # two halves: distinct stories
        corpus = args.work / f"first-corpus-{n}"
        if not corpus.exists():
            corpus.mkdir()
            for path in sorted(base.iterdir())[n::2]:
                shutil.copy(path, corpus / path.name)
        corpora.append(corpus)
    failures: list[str] = []
    passed = 0
    for trial in range(args.trials):
        index = args.work / "first-index"
        shutil.rmtree(index, ignore_errors=True)
        processes = [
            subprocess.Popen(
                [*NEWSINDEX, "index", str(corpus), "-i", str(index), "-q", "--json", "--lock-timeout", "120"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for corpus in corpora
        ]
        results = [(*process.communicate(timeout=600), process.returncode) for process in processes]
        problems = []
        acknowledged = sum(json.loads(out)["added"] for out, _, code in results if code == 0)
        for _, err, code in results:
            if code not in (0, 3):
                problems.append(f"a run exited {code}: {err.strip()[:200]}")
        stats = run("stats", "-i", str(index), "--json")
        if stats.returncode:
            problems.append(f"the folder does not open: {stats.stderr.strip()[:200]}")
        else:
            held = json.loads(stats.stdout)["stories"]
            if held < acknowledged:
                problems.append(f"{acknowledged - held} acknowledged stories lost")
        if run("check", "-i", str(index)).returncode:
            problems.append("check fails")
        if problems:
            failures.append(f"trial {trial}: {'; '.join(problems)}")
        else:
            passed += 1
    report("first-runs", args.trials, passed, failures, stories_per_run=1000)


# -- readers ------------------------------------------------------------------------------------------------


def readers(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from newsindex import NewsIndex

    corpus = subset(args.text, args.work, 2000)
    index = args.work / "readers-index"
    shutil.rmtree(index, ignore_errors=True)
    assert run("index", str(corpus), "-i", str(index), "-q").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*NEWSINDEX, "serve", "-i", str(index), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    shared = NewsIndex.open(index)
    stop = threading.Event()
    counts = {"thread": 0, "http": 0}
    errors: dict[str, list[str]] = {"thread": [], "http": []}
    lock = threading.Lock()

    def thread_reader() -> None:
        while not stop.is_set():
            query = random.choice(QUERIES)
            try:
                shared.search(query, limit=10)
                outcome = None
            except Exception as error:
                outcome = f"{type(error).__name__}: {error}"[:200]
            with lock:
                counts["thread"] += 1
                if outcome:
                    errors["thread"].append(outcome)

    def http_reader() -> None:
        while not stop.is_set():
            query = urllib.request.quote(random.choice(QUERIES))
            try:
                with urllib.request.urlopen(f"{url}/api/search?q={query}", timeout=30) as response:
                    response.read()
                outcome = None if response.status == 200 else f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                outcome = f"HTTP {error.code}: {error.read()[:150]!r}"
            except Exception as error:
                outcome = f"{type(error).__name__}: {error}"[:200]
            with lock:
                counts["http"] += 1
                if outcome:
                    errors["http"].append(outcome)

    workers = [threading.Thread(target=thread_reader) for _ in range(8)]
    workers += [threading.Thread(target=http_reader) for _ in range(16)]
    for worker in workers:
        worker.start()
    rebuilds = 0
    try:
        while min(counts.values()) < args.searches or rebuilds < 3:
            result = run("index", "--rebuild", str(corpus), "-i", str(index), "-q")
            assert result.returncode == 0, result.stderr
            rebuilds += 1
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        server.terminate()
        server.wait(timeout=30)
    tried = counts["thread"] + counts["http"]
    failed = len(errors["thread"]) + len(errors["http"])
    report(
        "readers",
        tried,
        tried - failed,
        errors["thread"][:10] + errors["http"][:10],
        rebuilds=rebuilds,
        thread_searches=counts["thread"],
        http_searches=counts["http"],
        thread_errors=len(errors["thread"]),
        http_errors=len(errors["http"]),
    )


# -- pickles ------------------------------------------------------------------------------------------------


class Planted:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def _plant_toc(index: Path, payload: object, where: str) -> None:
    from whoosh.filedb.structfile import StructFile

    path = _toc(index)
    import io

    stream = StructFile(io.BytesIO(path.read_bytes()))
    head = [stream.read_varint() for _ in range(3)]
    check, version = stream.read_int(), stream.read_int()
    release = [stream.read_varint() for _ in range(3)]
    schema = stream.read_string()
    generation, unused = stream.read_int(), stream.read_int()
    segments = stream.file.read()
    out = io.BytesIO()
    writer = StructFile(out)
    for number in head:
        writer.write_varint(number)
    writer.write_int(check)
    writer.write_int(version)
    for number in release:
        writer.write_varint(number)
    writer.write_string(pickle.dumps(payload, 2) if where == "schema" else schema)
    writer.write_int(generation)
    writer.write_int(unused)
    writer.write(pickle.dumps(payload) if where == "segments" else segments)
    path.write_bytes(out.getvalue())


def _plant_stored(index: Path, payload: object) -> None:
    """Rewrite the largest stored-stories column with the payload as its first story."""
    import io

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from whoosh.filedb.structfile import StructFile

    from newsindex.store.codec import STORED_COLUMN

    path = largest(index, "._stored.col")
    old = STORED_COLUMN.reader(StructFile(io.BytesIO(path.read_bytes())), 0, path.stat().st_size, 10**9)
    count = old._child._count
    out = io.BytesIO()
    writer = STORED_COLUMN.writer(StructFile(out))
    writer.add(0, payload)
    for docnum in range(1, count):
        writer.add(docnum, old[docnum])
    writer.finish(count)
    path.write_bytes(out.getvalue())


def pickles(args: argparse.Namespace) -> None:
    corpus = subset(args.text, args.work, 200)
    built = args.work / "pickles-built"
    shutil.rmtree(built, ignore_errors=True)
    assert run("index", str(corpus), "-i", str(built), "-q").returncode == 0
    failures: list[str] = []
    tried = passed = 0
    for where in ("schema", "segments", "stored"):
        for command in (["search", "oil"], ["stats"], ["check"], ["index", str(corpus)], ["show", "x"], ["serve"]):
            index = args.work / "pickles-index"
            shutil.rmtree(index, ignore_errors=True)
            shutil.copytree(built, index)
            index.chmod(0o700)
            marker = args.work / "pickles-marker"
            marker.unlink(missing_ok=True)
            if where == "stored":
                _plant_stored(index, Planted(marker))
            else:
                _plant_toc(index, Planted(marker), where)
            for record in index.glob("*sums.json"):  # the planter rewrites the record too
                record.unlink()
            tried += 1
            if command == ["serve"]:
                code = _serve_and_search(index)
            else:
                code = run(*command, "-i", str(index)).returncode
                if where == "stored" and command[0] == "search":  # the planted story is the first: read it
                    code = run("export", "-i", str(index)).returncode
            if marker.exists():
                failures.append(f"{where} / {command[0]}: the payload ran (exit {code})")
            else:
                passed += 1
    for where in ("field-map", "inlined", "w3-header", "w3-data", "compound"):
        built_in = _built_for(where, corpus, args.work)
        for command in (["search", "oil"], ["stats"], ["check"], ["index", str(corpus)], ["show", "x"], ["serve"]):
            index = args.work / "pickles-index"
            shutil.rmtree(index, ignore_errors=True)
            shutil.copytree(built_in, index)
            index.chmod(0o700)
            marker = args.work / "pickles-marker"
            marker.unlink(missing_ok=True)
            _plant_more(index, marker, where)
            tried += 1
            if command == ["serve"]:
                code = _serve_and_search(index)
            else:
                code = run(*command, "-i", str(index)).returncode
                if command[0] == "search":
                    code = run("export", "oil", "-o", "-", "-i", str(index)).returncode
            if marker.exists():
                failures.append(f"{where} / {command[0]}: the payload ran (exit {code})")
            else:
                passed += 1
    report("pickles", tried, passed, failures)


def _built_for(where: str, corpus: Path, work: Path) -> Path:
    """The index to plant in: today's format, or (w3-*) one written with Whoosh's own W3 codec, as
    newsindex wrote before the packed codec."""
    built = work / ("pickles-built-w3" if where.startswith("w3") else "pickles-built")
    if where.startswith("w3") and not built.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        import whoosh.codec.whoosh3
        from whoosh.writing import SegmentWriter

        import newsindex.store.indexer as indexer_module
        from newsindex import NewsIndex

        codec, writer = indexer_module.NewsCodec, indexer_module.BufferedSegmentWriter
        indexer_module.NewsCodec = whoosh.codec.whoosh3.W3Codec  # type: ignore[misc]
        indexer_module.BufferedSegmentWriter = SegmentWriter  # type: ignore[misc]
        try:
            news = NewsIndex.create(built)
            news.add_files([str(corpus)], procs=1)
            news.close()
        finally:
            indexer_module.NewsCodec, indexer_module.BufferedSegmentWriter = codec, writer  # type: ignore[misc]
    return built


def _plant_more(index: Path, marker: Path, where: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from helpers import planting

    if where == "field-map":
        planting.plant_in_field_map(index, marker)
    elif where == "inlined":
        planting.plant_inlined_postings(index, marker, "body", "oil")
    elif where.startswith("w3"):
        planting.plant_in_w3_block(index, marker, "body", "oil", where=where.split("-")[1])
    else:
        planting.plant_compound_segment(index, marker)


def _serve_and_search(index: Path) -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*NEWSINDEX, "serve", "-i", str(index), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    status = 0
    try:
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=oil", timeout=5) as response:
                    status = response.status
                break
            except urllib.error.HTTPError as error:
                status = error.code
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return status


# -- hostile ------------------------------------------------------------------------------------------------

# What a caller controls, at its worst (issue 17, item 8): oversized filters, big limits and deep pages,
# wide wildcards, long queries, every facet, a timeline by day, `similar`. Each is a path and query string.
_WORDS = " ".join(f"w{n}" for n in range(3000))  # a 3,000-word location filter


def _hostile_requests(story_id: str) -> list[tuple[str, dict[str, str]]]:
    many = " OR ".join(
        random.sample(
            [
                "oil",
                "crude",
                "wheat",
                "gold",
                "bank",
                "rate",
                "dollar",
                "yen",
                "trade",
                "grain",
                "coffee",
                "sugar",
                "opec",
                "price",
                "market",
                "share",
                "profit",
                "loss",
            ],
            18,
        )
    )
    return [
        ("/api/search", {"q": "oil", "location": _WORDS}),  # 20 KB: over the URL limit
        ("/api/search", {"q": "oil", "location": "word " * 1500}),  # 7.5 KB: under it, over the filter's bound
        ("/api/search", {"q": "oil", "location": " ".join(["word"] * 30000)}),  # the 30,000-word one
        ("/api/search", {"q": "a*", "limit": "100", "page": "100"}),
        ("/api/search", {"q": "s* OR t* OR c* OR p* OR m*", "limit": "100", "facet": "all", "facet_top": "1000"}),
        ("/api/search", {"q": "*", "limit": "100", "sort": "-date", "timeline": "day"}),
        ("/api/search", {"q": "*o*", "limit": "100"}),
        ("/api/search", {"q": " ".join(f"word{n}" for n in range(900)), "match": "any", "fuzzy": "true"}),
        ("/api/search", {"q": many, "limit": "100", "expand": "true", "facet": "all", "all_versions": "true"}),
        ("/api/search", {"q": "oil", "bylines": ["x" * 150] * 40}),
        ("/api/timeline", {"q": "s* OR t* OR c*", "by": "day"}),
        ("/api/timeline", {"q": "", "by": "auto", "fuzzy": "true"}),
        (f"/api/similar/{urllib.parse.quote(story_id)}", {"limit": "20"}),
        ("/api/stats", {"top": "100"}),
    ]


def hostile(args: argparse.Namespace) -> None:
    """16 clients send costly requests at once for `--seconds`; /health asked every 0.25 s meanwhile.

    Passed: every request answered (200) or refused (400, 413, 414, 503) within 5 s, and every /health
    answered 200 within 1 s. The command line's oversized filters are timed too (exit 6 expected).
    """
    corpus = args.text
    index = args.work / "hostile-index"
    if not (index / "newsindex.json").exists():
        assert run("index", str(corpus), "-i", str(index), "-q").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (args.work / "hostile-serve.log").open("w")  # the server's log: tracebacks of any 500
    server = subprocess.Popen(
        [*NEWSINDEX, "serve", "-i", str(index), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    first = json.loads(urllib.request.urlopen(f"{url}/api/search?q=oil&limit=1", timeout=30).read())
    story_id = first["hits"][0]["id"]
    stop = threading.Event()
    lock = threading.Lock()
    requests: list[tuple[str, int, float]] = []
    health: list[tuple[int, float]] = []

    def get(target: str, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"{url}{target}", timeout=timeout) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
            with contextlib.suppress(OSError):  # the status came, then a reset (a refused 150 KB request line)
                error.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            status = -1 if "timed out" not in str(error) else -2
        return status, time.monotonic() - started

    def client() -> None:
        while not stop.is_set():
            path, params = random.choice(_hostile_requests(story_id))
            target = f"{path}?{urllib.parse.urlencode(params, doseq=True)}"
            status, took = get(target, 60)
            with lock:
                requests.append((path + " " + ",".join(sorted(params)), status, took))

    def health_client() -> None:
        while not stop.is_set():
            status, took = get("/health", 30)
            with lock:
                health.append((status, took))
            stop.wait(0.25)

    threads = [threading.Thread(target=client) for _ in range(16)] + [threading.Thread(target=health_client)]
    for thread in threads:
        thread.start()
    stop.wait(args.seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    server.terminate()
    server.wait(timeout=30)
    log.close()
    cli = []
    for words in (3000, 20000):  # 20,000 words is near the kernel's limit on one argument (128 KiB)
        started = time.monotonic()
        result = run("search", "oil", "--location", " ".join(["word"] * words), "-i", str(index))
        cli.append((words, result.returncode, round(time.monotonic() - started, 2), result.stderr.strip()[:120]))
    answered = {200, 400, 413, 414, 503}
    failures = [
        f"{what}: status {status} in {took:.2f} s"
        for what, status, took in requests
        if status not in answered or took > 5.0
    ]
    failures += [f"/health: status {status} in {took:.2f} s" for status, took in health if status != 200 or took > 1.0]
    failures += [
        f"CLI --location of {words:,} words: exit {code} in {took} s"
        for words, code, took, _ in cli
        if code != 6 or took > 5.0
    ]
    statuses: dict[str, int] = {}
    for _, status, _ in requests:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    times = sorted(took for _, _, took in requests)
    health_times = sorted(took for _, took in health)
    report(
        "hostile",
        len(requests) + len(health) + len(cli),
        len(requests) + len(health) + len(cli) - len(failures),
        failures,
        requests=len(requests),
        statuses=statuses,
        request_seconds={"median": round(times[len(times) // 2], 3), "max": round(times[-1], 3)},
        health=len(health),
        health_seconds={"median": round(health_times[len(health_times) // 2], 3), "max": round(health_times[-1], 3)},
        cli=cli,
    )


TRIALS = {
    "kill-rebuild": kill_rebuild,
    "recover": recover,
    "large": large,
    "first-runs": first_runs,
    "readers": readers,
    "pickles": pickles,
    "hostile": hostile,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trial", choices=TRIALS)
    parser.add_argument("--text", type=Path, default=Path("/tmp/reliab-text/reuters21578-text"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/reliab-work"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--stories", type=int, default=3000, help="kill-rebuild: stories in the corpus")
    parser.add_argument("--seconds", type=float, default=60, help="hostile: how long the 16 clients send")
    parser.add_argument("--searches", type=int, default=2500, help="readers: at least this many of each kind")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.work.chmod(0o700)
    (args.work / "nothing").mkdir(exist_ok=True)
    started = time.monotonic()
    TRIALS[args.trial](args)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
