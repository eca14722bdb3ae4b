"""Load check of `newsindex serve`: concurrent clients on the loopback for a fixed time (not a CI test).

Usage, from the repository root, with the Python of a venv where `newsindex[serve]` is installed:

    python benchmarks/make_corpus.py 100000
    newsindex index benchmarks/corpus/100000/stories.jsonl -i benchmarks/work/load-index
    python benchmarks/load.py                                 # 50 clients, 30 s per mix, 1 worker
    python benchmarks/load.py --workers 2 --mix api --seconds 10

It starts the real command (`python -m newsindex serve`) on a free port of 127.0.0.1, waits for
/health, then runs each mix for `--seconds` with `--clients` clients, each a keep-alive HTTP/1.1
connection sending one request after another (no think time), queries taken in turn from
`queries.tsv`. Mixes:

- `api`: `GET /api/search?q=…&limit=10`, what an application calling the API asks;
- `page`: what the search page asks for each search: `/api/search?…&facet=all&collapse=1&timeline=auto`
  (one page of hits, facet counts and the timeline: a search plus the interim scan of the best 500).

It reports latency percentiles, requests per second, errors (any status but 200, a broken connection
or a request over `--timeout`), the server's memory (RSS of the server and its worker processes,
sampled every 0.2 s) and the server's CPU per answered search (user + system time of the server and its
workers over the mix, from /proc): on a shared machine searches per second measure the share of the
cores the server got, its CPU per search far less so. Traffic goes to 127.0.0.1 only; every loop stops at its deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

BENCHMARKS = Path(__file__).resolve().parent


@dataclass
class Tally:
    """What the clients of one mix saw."""

    latencies: list[float] = field(default_factory=list)  # seconds per answered search
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Connection:
    """One keep-alive HTTP/1.1 connection to the server: GET and read the whole answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        """GET `target`; like any HTTP client, once more on a new connection if the server closed an idle one."""
        reused = self.writer is not None
        try:
            return await self._get(target)
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as error:
            closed_idle = isinstance(error, asyncio.IncompleteReadError) and not error.partial
            await self.close()
            if not (reused and (closed_idle or not isinstance(error, asyncio.IncompleteReadError))):
                raise
            return await self._get(target)

    async def _get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def target(mix: str, query: str) -> str:
    """The request of one search in this mix."""
    if mix == "api":
        return "/api/search?" + urlencode({"q": query, "limit": 10})
    return "/api/search?" + urlencode({"q": query, "limit": 10, "facet": "all", "collapse": 1, "timeline": "auto"})


async def client(
    number: int, port: int, mix: str, queries: list[str], deadline: float, timeout: float, tally: Tally
) -> None:
    connection = Connection(port)
    turn = number * 7  # clients start at different queries
    while time.monotonic() < deadline:
        query = queries[turn % len(queries)]
        turn += 1
        started = time.perf_counter()
        try:
            status, _ = await asyncio.wait_for(connection.get(target(mix, query)), timeout)
        except TimeoutError:
            tally.error("timeout")
            await connection.close()
            continue
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            tally.error(type(error).__name__)
            await connection.close()
            continue
        tally.requests += 1
        if status == 200:
            tally.latencies.append(time.perf_counter() - started)
        else:
            tally.error(f"HTTP {status}")
    await connection.close()


async def run_mix(
    port: int, mix: str, clients: int, seconds: float, queries: list[str], timeout: float
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(client(n, port, mix, queries, deadline, timeout, tally) for n in range(clients)))
    return tally, time.monotonic() - started


def server_rss(pid: int) -> int:
    """Resident memory of the server process and its children, in bytes."""
    total = 0
    for process in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def server_cpu(pid: int) -> float:
    """CPU seconds (user and system) used so far by the server process and its children (worker processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / ticks


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


class MemorySampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, server_rss(self.pid))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=str(BENCHMARKS / "work" / "load-index"))
    parser.add_argument("--queries", default=str(BENCHMARKS / "corpus" / "100000" / "queries.tsv"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--mix", choices=["api", "page", "both"], default="both")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a search counts as an error")
    parser.add_argument("--out", default=None, help="write every number as JSON here")
    args = parser.parse_args()

    queries = [line.split("\t", 1)[1].strip() for line in Path(args.queries).read_text().splitlines() if "\t" in line]
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "newsindex",
        "serve",
        "-i",
        args.index,
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "index": args.index,
        "clients": args.clients,
        "seconds": args.seconds,
        "workers": args.workers,
        "queries": len(queries),
        "mixes": {},
    }
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            results["stories"] = json.loads(response.read())["stories"]
        results["rss_idle_mb"] = round(server_rss(server.pid) / 2**20, 1)
        mixes = ["api", "page"] if args.mix == "both" else [args.mix]
        print(f"{results['stories']:,} stories, {args.clients} clients, {args.seconds:.0f} s per mix, "
              f"{args.workers} worker(s); idle RSS {results['rss_idle_mb']} MB", file=sys.stderr)  # fmt: skip
        for mix in mixes:
            sampler = MemorySampler(server.pid)
            sampler.start()
            cpu_before = server_cpu(server.pid)
            tally, elapsed = asyncio.run(run_mix(port, mix, args.clients, args.seconds, queries, args.timeout))
            cpu_used = server_cpu(server.pid) - cpu_before
            sampler.stop.set()
            sampler.join()
            ms = [value * 1000 for value in tally.latencies]
            row = {
                "searches": len(ms),
                "requests": tally.requests,
                "searches_per_s": round(len(ms) / elapsed, 1),
                "p50_ms": round(percentile(ms, 0.50), 1),
                "p95_ms": round(percentile(ms, 0.95), 1),
                "p99_ms": round(percentile(ms, 0.99), 1),
                "max_ms": round(max(ms), 1) if ms else None,
                "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
                # what the machine's load cannot change much: the server's CPU per answered search, and the
                # searches per second that makes on one core (a worker) at full use
                "server_cpu_ms_per_search": round(cpu_used * 1000 / len(ms), 2) if ms else None,
                "searches_per_cpu_s": round(len(ms) / cpu_used, 1) if cpu_used else None,
                "errors": sum(tally.errors.values()),
                "errors_by_kind": tally.errors,
                "rss_peak_mb": round(sampler.peak / 2**20, 1),
                "rss_after_mb": round(server_rss(server.pid) / 2**20, 1),
            }
            results["mixes"][mix] = row  # type: ignore[index]
            print(f"{mix:>4}: {row['searches']:,} searches ({row['searches_per_s']}/s), p50 {row['p50_ms']} ms, "
                  f"p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms, errors {row['errors']} "
                  f"{tally.errors or ''}, server CPU {row['server_cpu_ms_per_search']} ms a search "
                  f"({row['searches_per_cpu_s']} per CPU s), RSS peak {row['rss_peak_mb']} MB", file=sys.stderr)  # fmt: skip
    finally:
        server.send_signal(2)  # SIGINT: the server's graceful stop
        try:
            _, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
        results["server_exit"] = server.returncode
        if server.returncode:
            print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
