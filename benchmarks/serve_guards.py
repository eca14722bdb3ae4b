"""`newsindex serve`'s guards, measured by hand: slow request heads cut off, and what the per-request check
of the index's files costs.

    python benchmarks/serve_guards.py INDEX [--slow 5]

1. Starts `newsindex serve -i INDEX` on a free port, opens `--slow` connections that send a request head
   and never finish it (Slowloris), and times how long the server keeps each open (given up at 70 s),
   while a normal client asks /health once a second and times each answer.
2. In this process: the time of `_IndexHolder.get()` (a stat of every file of the last commit, then the
   open index) against a bare `NewsIndex.count()`, over 2,000 calls each.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def slow_connection(port: int, held: list[float]) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=70) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        try:
            while connection.recv(65536):
                pass
        except TimeoutError:
            pass
    held.append(time.monotonic() - started)


def measure_slow_heads(index: str, slow: int) -> dict[str, object]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "newsindex", "serve", "-i", index, "--port", str(port)],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        held: list[float] = []
        threads = [threading.Thread(target=slow_connection, args=(port, held)) for _ in range(slow)]
        for thread in threads:
            thread.start()
        health: list[float] = []
        while any(thread.is_alive() for thread in threads):
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
                answer.read()
            health.append((time.perf_counter() - started) * 1000)
            time.sleep(1)
        for thread in threads:
            thread.join()
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(20)
    return {
        "slow_connections": slow,
        "held_s": [round(seconds, 2) for seconds in sorted(held)],
        "health_during_ms": {"count": len(health), "median": round(statistics.median(health), 2),
                             "max": round(max(health), 2)},
    }  # fmt: skip


def measure_check_cost(index: str, calls: int = 2000) -> dict[str, object]:
    from newsindex import NewsIndex
    from newsindex.server.app import _IndexHolder

    holder = _IndexHolder(Path(index).resolve())
    holder.get().count()
    bare = NewsIndex.open(index, fsync=False)
    bare.count()
    timings = {}
    for name, call in (("checked_get_and_count", lambda: holder.get().count()), ("bare_count", bare.count)):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        timings[name] = round((time.perf_counter() - started) / calls * 1e6, 1)
    files = len(holder._state())
    return {"files_checked": files, "microseconds_per_call": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index")
    parser.add_argument("--slow", type=int, default=5)
    arguments = parser.parse_args()
    result = {"slow_heads": measure_slow_heads(arguments.index, arguments.slow),
              "file_check": measure_check_cost(arguments.index)}  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
