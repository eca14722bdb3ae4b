"""What `serve` takes on: the deadline starts when a request arrives, a bounded queue of searches with 503
and Retry-After beyond it, requests that waited past their deadline refused unrun, and /health answered
while every search thread is busy. Time is a fake clock; order is decided by events, never sleeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install '.[serve]'")

from fastapi.testclient import TestClient

import newsindex.server.app as server_module
from newsindex import NewsIndex, Story
from newsindex import deadline as deadlines
from newsindex.server import admission

WAIT = 30  # seconds an event may take before the test fails (never reached when all is well)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add([Story(id=f"s{n}", headline=f"Oil report {n}", body=f"Oil prices rose on day {n}.") for n in range(4)])
    return tmp_path / "index"


def test_a_request_that_waited_past_its_deadline_is_refused_without_running(
    index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(deadlines, "clock", clock)
    ran: list[str] = []
    searched = NewsIndex.search

    def counted(self: NewsIndex, *args: Any, **kwargs: Any) -> Any:
        ran.append("search")
        return searched(self, *args, **kwargs)

    monkeypatch.setattr(NewsIndex, "search", counted)
    guard: Any = server_module.create_app(index_path)
    routes = guard.app.app

    async def queued_for_ten_seconds(scope: Any, receive: Any, send: Any) -> None:
        clock.now += 10  # between arrival (the deadline starts) and the handler: waiting for a thread
        await routes(scope, receive, send)

    with TestClient(guard) as client:
        assert client.get("/api/search", params={"q": "oil"}).status_code == 200
        assert ran == ["search"]
        guard.app.app = queued_for_ten_seconds
        for path in ("/api/search?q=oil", "/api/timeline?q=oil", "/api/stats", "/api/stories/s1", "/api/similar/s1"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "1"
            assert response.json()["error"] == "overloaded"
            assert "waited for its turn past its 5 s deadline" in response.json()["message"]
        assert ran == ["search"]  # the late search never ran
        assert client.get("/health").json()["status"] == "ok"  # not a search: never refused as late


class _Blocked:
    """Searches that wait until released, counting how many are inside."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.inside = 0
        self.changed = threading.Condition()

    def search(self, news: NewsIndex, *args: Any, **kwargs: Any) -> Any:
        with self.changed:
            self.inside += 1
            self.changed.notify_all()
        assert self.release.wait(WAIT)
        return NewsIndex.search.__wrapped__(news, *args, **kwargs)  # type: ignore[attr-defined]

    def wait_inside(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.inside >= count, WAIT)


@pytest.fixture
def blocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Blocked]:
    searches = _Blocked()
    original = NewsIndex.search

    def waiting(self: NewsIndex, *args: Any, **kwargs: Any) -> Any:
        return searches.search(self, *args, **kwargs)

    waiting.__wrapped__ = original  # type: ignore[attr-defined]
    monkeypatch.setattr(NewsIndex, "search", waiting)
    yield searches
    searches.release.set()


def test_health_answers_while_every_turn_is_taken_and_the_queue_is_bounded(
    index_path: Path, monkeypatch: pytest.MonkeyPatch, blocked: _Blocked
) -> None:
    monkeypatch.setattr(admission, "WORKING", 2)  # two searches work at once
    monkeypatch.setattr(admission, "QUEUED", 1)  # one more may wait for its turn
    guard: Any = server_module.create_app(index_path)
    with TestClient(guard) as client, ThreadPoolExecutor(4) as pool:
        admitted = [pool.submit(client.get, "/api/search", params={"q": "oil"}) for _ in range(2)]
        blocked.wait_inside(2)  # both turns taken
        waiting = pool.submit(client.get, "/api/search", params={"q": "oil"})
        wait_until(lambda: guard.app.inside == 3)  # admitted, waiting for its turn
        refused = client.get("/api/search", params={"q": "oil"})  # a fourth: beyond the queue
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "overloaded"
        health = client.get("/health")  # every turn taken, the queue full: health still answers
        assert health.status_code == 200 and health.json() == {"status": "ok", "stories": 4}
        assert blocked.inside == 2 and not waiting.done()
        blocked.release.set()
        assert [future.result(WAIT).status_code for future in [*admitted, waiting]] == [200, 200, 200]
    assert guard.app.refused == 1 and guard.app.inside == 0


def wait_until(condition: Any) -> None:
    """Wait for a state another thread brings about (polled: the admission layer has no event to wait on)."""
    never = threading.Event()
    for _ in range(WAIT * 100):
        if condition():
            return
        never.wait(0.01)
    raise AssertionError("the state was never reached")
