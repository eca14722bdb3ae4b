"""The HTTP API of `newsindex serve`, through an in-process client: every route, every error status."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install '.[serve]'")

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from newsindex import Filters, NewsIndex, Story
from newsindex.cli.commands import app
from newsindex.search.facets import FACETS
from newsindex.server.app import MAX_PAGE_SIZE, STATIC, create_app


@pytest.fixture
def client(index_path: str) -> Iterator[TestClient]:
    """An in-process client of the server over the crafted corpus's index."""
    with TestClient(create_app(index_path)) as test_client:
        yield test_client


def ids(body: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in body["hits"]]


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    """An error is JSON {status, error, message} with the right HTTP status and no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status
    assert body["error"] == code
    for word in words:
        assert word in body["message"]
    assert "Traceback" not in response.text


# -- search ------------------------------------------------------------------------------------------


def test_search_returns_ranked_hits_with_the_cli_json_keys(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "Albania Iran"}).json()
    assert ids(body)[0] == "albania-iran-ties.txt"
    assert set(body) == {
        "query", "plain", "total", "page", "pages", "limit", "took_ms", "suggestion", "matched", "message", "hits"
    }  # fmt: skip
    assert body["query"] == "Albania Iran"
    assert body["total"] == len(body["hits"])
    assert body["pages"] == 1
    hit = body["hits"][0]
    assert set(hit) == {"id", "rank", "score", "published", "headline", "lead", "bylines", "location", "region",
                        "source", "topics", "places", "orgs", "people", "snippet", "path", "duplicates",
                        "revises", "versions"}  # fmt: skip
    assert hit["duplicates"] == hit["versions"] == []
    assert hit["published"] == "2019-10-23"
    assert hit["bylines"] == ["Benet Koleka"]
    assert hit["location"] == "Tirana"
    assert hit["snippet"] == "The foreign ministry said the diplomats had damaged national security."  # after the lead


@pytest.mark.parametrize(
    ("params", "python_call"),
    [
        (
            {"q": "iran", "from": "2019", "to": "2019-10"},
            {"text": "iran", "filters": Filters(start="2019", end="2019-10")},
        ),
        ({"q": "", "bylines": ["koleka", "smith"]}, {"text": "", "filters": Filters(bylines=["koleka", "smith"])}),
        ({"q": "albania", "location": "tirana"}, {"text": "albania", "filters": Filters(location="tirana")}),
        ({"q": "attacks", "source": "afp"}, {"text": "attacks", "filters": Filters(source="afp")}),
        ({"q": "albania iran", "all": "true"}, {"text": "albania iran", "filters": Filters(require_all=True)}),
        ({"q": "iran", "sort": "-date"}, {"text": "iran", "sort": "-date"}),
        (
            {"q": "iran", "sort": "date", "limit": "2", "page": "2"},
            {"text": "iran", "sort": "date", "limit": 2, "page": 2},
        ),
        ({"q": "irna", "fuzzy": "true"}, {"text": "irna", "filters": Filters(fuzzy=True)}),
        ({"q": "iran", "expand": "true"}, {"text": "iran", "expand": True}),  # reorders the stories of "iran"
        ({"q": "iran", "recent": "true"}, {"text": "iran", "recency_half_life": 30}),
        ({"q": "iran", "half_life": "7"}, {"text": "iran", "recency_half_life": 7}),
        ({"q": "iran", "collapse": "false"}, {"text": "iran", "all_versions": True}),
    ],
)
def test_search_parameters_mirror_the_python_api(
    client: TestClient, news: NewsIndex, params: dict[str, Any], python_call: dict[str, Any]
) -> None:
    text = python_call.pop("text")
    expected = news.search(text, **python_call)
    body = client.get("/api/search", params=params).json()
    assert ids(body) == [hit.story.id for hit in expected.hits]
    assert body["total"] == expected.total
    assert ids(body), "each case should find something"


def test_since_keeps_stories_from_that_long_ago_on(
    client: TestClient, news: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from newsindex.text import dates

    monkeypatch.setattr(dates, "now", lambda: datetime(2019, 11, 1, tzinfo=UTC))
    every = ids(client.get("/api/search", params={"q": "iran"}).json())
    recent = ids(client.get("/api/search", params={"q": "iran", "since": "30d"}).json())
    assert recent == [hit.story.id for hit in news.search("iran", filters=Filters(since="30d")).hits]
    assert 0 < len(recent) < len(every)
    timeline = client.get("/api/timeline", params={"q": "iran", "since": "30d", "by": "month"}).json()
    assert timeline["buckets"][0]["period"] == "2019-10"
    assert sum(bucket["stories"] for bucket in timeline["buckets"]) == len(recent)


def test_search_pages_say_how_many_there_are(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "iran", "limit": 2, "page": 2}).json()
    assert (body["total"], body["page"], body["limit"], body["pages"]) == (4, 2, 2, 2)
    assert [hit["rank"] for hit in body["hits"]] == [3, 4]


def test_search_counts_facets_of_the_matching_stories(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "albania", "facet": "all"}).json()
    assert body["facets_exact"] is True
    assert body["facets_counted"] == body["total"] == 3
    facets = body["facets"]
    assert set(facets) == set(FACETS)  # the names of `newsindex search --facet` and NewsIndex.search
    assert {"name": "Tirana", "stories": 2} in facets["location"]
    assert facets["location"][0] == {"name": "Tirana", "stories": 2}  # most frequent first
    assert {"name": "Benet Koleka", "stories": 1} in facets["bylines"]
    assert [year["name"] for year in facets["year"]] == ["2018", "2019"]  # in order


def test_search_gives_only_the_facets_asked_for(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "albania", "facet": ["year", "source"]}).json()
    assert set(body["facets"]) == {"year", "source"}
    assert body["facets"]["source"] == [{"name": "Reuters", "stories": 3}]


def test_facets_are_named_as_in_the_cli_and_python(client: TestClient, news: NewsIndex) -> None:
    asked = ["bylines", "location", "source", "year", "month"]
    body = client.get("/api/search", params={"q": "albania", "facet": asked}).json()
    assert body["facets"] == news.search("albania", facets=asked).facets_dict()


def test_the_older_plural_facet_names_are_still_taken(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "albania", "facet": ["years", "sources", "locations"]}).json()
    assert set(body["facets"]) == {"years", "sources", "locations"}  # under the names asked
    assert body["facets"]["sources"] == [{"name": "Reuters", "stories": 3}]
    same = client.get("/api/search", params={"q": "albania", "facet": ["year", "years"]}).json()
    assert set(same["facets"]) == {"year"}  # one facet, counted once


def test_facets_count_every_matching_story_not_just_the_page(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "albania", "facet": "year", "limit": 1}).json()
    assert (body["total"], len(body["hits"])) == (3, 1)
    assert (body["facets_exact"], body["facets_counted"]) == (True, 3)
    assert sum(year["stories"] for year in body["facets"]["year"]) == 3


def test_plain_mode_reads_every_character_as_text(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": 'albania AND (iran "'}).status_code == 400
    body = client.get("/api/search", params={"q": 'albania AND (iran "', "plain": "1"}).json()
    assert body["plain"] is True
    assert ids(body)[0] == "albania-iran-ties.txt"


@pytest.mark.parametrize(
    "text",
    ['"iranian agents', "albania AND (iran OR", "byline:koleka location:", "iran -oil +gas", "attack* ~2 ^3 ? [2019 TO",
     "10:30 talks", "well-known U.S. officials", "*a* \\ { (((((((((((((((((( iran"],
)  # fmt: skip
def test_plain_mode_searches_any_text(client: TestClient, text: str) -> None:
    response = client.get("/api/search", params={"q": text, "plain": "1"})
    assert response.status_code == 200, response.json()


def test_plain_mode_with_no_words_is_a_bad_query(client: TestClient) -> None:
    assert_error(
        client.get("/api/search", params={"q": '"*"', "plain": "1"}), 400, "bad_query", "nothing to search for"
    )


def test_collapse_folds_copies_of_a_story_into_the_best(client: TestClient, news: NewsIndex) -> None:
    original = news.get("albania-iran-ties.txt")
    assert original is not None
    refiled = original.body.replace("TIRANA (Reuters)", "TIRANA, Oct 24 (Reuters)") + "\n\nTehran said nothing."
    news.add([Story(id="albania-iran-ties-v2", body=refiled, location="Tirana")])
    every = client.get("/api/search", params={"q": "expelled diplomats", "collapse": "false"}).json()
    first, second = ids(every)
    assert {first, second} == {"albania-iran-ties.txt", "albania-iran-ties-v2"}
    assert every["total"] == 2
    assert "versions" not in every["hits"][0]
    folded = client.get("/api/search", params={"q": "expelled diplomats"}).json()  # collapsed by default
    assert ids(folded) == [first]
    assert folded["hits"][0]["duplicates"] == [second]
    assert [version["id"] for version in folded["hits"][0]["versions"]] == [second]
    assert folded["hits"][0]["versions"][0]["location"] == "Tirana"
    assert folded["total"] == 1  # total counts duplicate groups


def test_search_sees_commits_of_other_writers(client: TestClient, index_path: str) -> None:
    before = client.get("/api/search", params={"q": "paris", "facet": "location"}).json()
    assert before["facets"]["location"] == [{"name": "Paris", "stories": 2}]
    NewsIndex.open(index_path).add([Story(id="zoo", body="PARIS - A zebra escaped from the zoo.", location="Paris")])
    after = client.get("/api/search", params={"q": "paris", "facet": "location"}).json()
    assert "zoo" in ids(after)
    assert after["facets"]["location"] == [{"name": "Paris", "stories": 3}]  # the cached counts were dropped


# -- stories, similar, timeline, stats, health ------------------------------------------------------


def test_story_is_served_in_full(client: TestClient, news: NewsIndex) -> None:
    body = client.get("/api/stories/albania-iran-ties.txt").json()
    story = news.get("albania-iran-ties.txt")
    assert story is not None
    assert body == {**story.to_dict(), "path": "albania-iran-ties.txt"}  # relative to the corpus folder
    assert body["credits"] == {"Reporting": ["Benet Koleka"], "Editing": ["David Holmes"]}


def test_story_ids_may_hold_slashes(client: TestClient, news: NewsIndex) -> None:
    news.add([Story(id="2019/10/albania.txt", body="TIRANA (Reuters) - A story in a sub-folder.")])
    assert client.get("/api/stories/2019/10/albania.txt").json()["id"] == "2019/10/albania.txt"
    assert client.get("/api/similar/2019/10/albania.txt").status_code == 200


def test_unknown_story_is_404(client: TestClient) -> None:
    assert_error(client.get("/api/stories/no-such-story"), 404, "unknown_story", "no-such-story")
    assert_error(client.get("/api/similar/no-such-story"), 404, "unknown_story", "no-such-story")


def test_similar_stories_share_words_and_leave_the_story_out(client: TestClient) -> None:
    body = client.get("/api/similar/agents-phrase.txt", params={"limit": 2}).json()
    assert body["id"] == "agents-phrase.txt"
    assert len(ids(body)) == 2
    assert ids(body)[0] == "phrase-reversed.txt"  # Iranian agents, Paris
    assert [hit["rank"] for hit in body["hits"]] == [1, 2]
    assert "agents-phrase.txt" not in ids(client.get("/api/similar/agents-phrase.txt", params={"limit": 20}).json())


def test_timeline_counts_matching_stories_per_period(client: TestClient) -> None:
    years = client.get("/api/timeline", params={"q": "iran"}).json()
    assert years["by"] == "year"
    assert years["buckets"] == [{"period": "2019", "stories": 3}]
    assert (years["total"], years["counted"], years["exact"], years["undated"]) == (4, 4, True, 1)
    months = client.get("/api/timeline", params={"q": "iran", "by": "month"}).json()
    assert [bucket["period"] for bucket in months["buckets"]] == [f"2019-{m:02d}" for m in range(6, 13)]
    assert sum(bucket["stories"] for bucket in months["buckets"]) == 3


def test_timeline_fills_empty_periods_and_picks_a_scale(client: TestClient) -> None:
    body = client.get("/api/timeline", params={"q": "albania", "by": "auto"}).json()
    assert body["by"] == "month"  # March 2018 to December 2019
    assert len(body["buckets"]) == 22
    assert body["buckets"][0] == {"period": "2018-03", "stories": 1}
    days = client.get("/api/timeline", params={"q": "paris agents", "by": "auto"}).json()
    assert days["by"] == "day"
    assert days["buckets"] == [{"period": "2017-05-05", "stories": 1}, {"period": "2017-05-06", "stories": 1}]


def test_search_gives_the_timeline_when_asked(client: TestClient) -> None:
    alone = client.get("/api/timeline", params={"q": "albania", "by": "auto"}).json()
    body = client.get("/api/search", params={"q": "albania", "timeline": "auto"}).json()
    assert body["timeline"] == alone
    assert "facets" not in body


def test_timeline_takes_the_search_filters(client: TestClient) -> None:
    body = client.get("/api/timeline", params={"q": "", "bylines": "jane doe", "from": "2019-06"}).json()
    assert body["buckets"] == [{"period": "2019", "stories": 1}]


def test_timeline_of_the_whole_index_counts_every_story(client: TestClient) -> None:
    body = client.get("/api/timeline").json()
    assert body["exact"] is True
    assert (body["total"], body["undated"]) == (10, 1)
    assert body["buckets"][0] == {"period": "2017", "stories": 2}
    assert [bucket["period"] for bucket in body["buckets"]] == ["2017", "2018", "2019", "2020"]
    months = client.get("/api/timeline", params={"by": "month"}).json()
    assert (months["by"], len(months["buckets"]), months["buckets"][0]) == (
        "month",
        35,
        {"period": "2017-05", "stories": 2},
    )


def test_stats_are_those_of_the_python_api(client: TestClient, news: NewsIndex) -> None:
    assert client.get("/api/stats").json() == news.stats().to_dict()
    assert len(client.get("/api/stats", params={"top": 1}).json()["top_bylines"]) == 1


def test_health_reports_the_story_count(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "stories": 10}


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"q": '"albania'}, "bad_query", ["unbalanced quote"]),
        ({"q": "colour:red"}, "bad_query", ["colour"]),
        ({"q": "the of"}, "bad_query", []),
        ({"q": ""}, "bad_query", ["nothing to search"]),
        ({"q": "*"}, "query_rejected", []),
        ({"q": "x" * 2_500}, "query_rejected", []),
        ({"q": "iran", "from": "2019-02-30"}, "bad_query", ["invalid start date"]),
        ({"q": "iran", "sort": "best"}, "bad_request", ["sort"]),
        ({"q": "iran", "limit": "0"}, "bad_request", ["limit"]),
        ({"q": "iran", "limit": str(MAX_PAGE_SIZE + 1)}, "bad_request", ["limit"]),
        ({"q": "iran", "page": "0"}, "bad_request", ["page"]),
        ({"q": "iran", "page": "two"}, "bad_request", ["page"]),
        ({"q": "iran", "page": "101", "limit": "100"}, "bad_request", ["10,000"]),
        ({"q": "iran", "facet": "colours"}, "bad_request", ["facet"]),
        ({"q": "iran", "plain": "maybe"}, "bad_request", ["plain"]),
        ({"q": "iran", "since": "lately"}, "bad_query", ["lately"]),
        ({"q": "iran", "half_life": "0"}, "bad_request", ["half-life"]),
        ({"q": "iran", "half_life": "soon"}, "bad_request", ["half_life"]),
    ],
)
def test_bad_searches_are_400(client: TestClient, params: dict[str, str], code: str, words: list[str]) -> None:
    assert_error(client.get("/api/search", params=params), 400, code, *words)


def test_bad_parameters_of_other_routes_are_400(client: TestClient) -> None:
    assert_error(client.get("/api/timeline", params={"q": "iran", "by": "fortnight"}), 400, "bad_request", "by")
    assert_error(client.get("/api/timeline", params={"q": '"iran'}), 400, "bad_query")
    assert_error(client.get("/api/similar/iran-oil.txt", params={"limit": 50}), 400, "bad_request", "limit")
    assert_error(client.get("/api/stats", params={"top": 0}), 400, "bad_request", "top")


def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert_error(client.get("/api/nothing"), 404, "not_found")
    assert_error(client.post("/api/search"), 405, "method_not_allowed")


def test_request_size_is_capped(client: TestClient) -> None:
    assert_error(client.get("/api/search", params={"q": "iran " * 2_000}), 414, "uri_too_long")
    assert_error(client.request("GET", "/api/search", content=b"x" * 5_000), 413, "too_large")


def test_missing_index_is_503_until_it_is_built(tmp_path: Path, corpus: Path) -> None:
    folder = tmp_path / "later"
    with TestClient(create_app(folder)) as client:
        for url in ("/health", "/api/search?q=iran", "/api/stats", "/api/stories/iran-oil.txt", "/api/timeline"):
            assert_error(client.get(url), 503, "index_unavailable", "no index")
        NewsIndex.create(folder).add_files([str(corpus)])
        assert client.get("/health").json() == {"status": "ok", "stories": 10}


def test_damaged_index_is_503(tmp_path: Path) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "newsindex.json").write_text("{not json", encoding="utf-8")
    with TestClient(create_app(folder)) as client:
        assert_error(client.get("/api/search?q=iran"), 503, "index_unavailable", "unreadable")


def test_internal_errors_are_500_without_a_traceback(index_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(NewsIndex, "stats", broken)
    with TestClient(create_app(index_path), raise_server_exceptions=False) as client:
        response = client.get("/api/stats")
    assert_error(response, 500, "internal")
    assert "secret detail" not in response.text


# -- the page and the API description ---------------------------------------------------------------


def test_openapi_describes_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/search",
        "/api/stories/{story_id}",
        "/api/similar/{story_id}",
        "/api/timeline",
        "/api/stats",
        "/health",
    }
    search = spec["paths"]["/api/search"]["get"]
    names = {parameter["name"] for parameter in search["parameters"]}
    assert names == {"q", "from", "to", "bylines", "byline", "location", "source", "region", "topic", "place", "org",
                     "person", "all", "match", "sort", "page", "limit", "facet", "facet_top", "plain", "since", "fuzzy",
                     "expand", "recent", "half_life", "collapse", "all_versions", "timeline"}  # fmt: skip
    assert {"200", "400", "503"} <= set(search["responses"])
    assert client.get("/docs").status_code == 404  # the interactive docs would load scripts from a CDN


def test_readme_documents_every_route(client: TestClient) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for path in client.get("/openapi.json").json()["paths"]:
        assert f"`{path.replace('{story_id}', '{id}')}" in readme, f"README's API reference lacks {path}"


def test_page_is_served_with_its_files_and_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")


def test_page_loads_nothing_from_elsewhere() -> None:
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        for pattern in ('src="http', 'href="http', "url(http", "@import", "//cdn", "fonts.googleapis"):
            assert pattern not in text, f"{path.name} loads {pattern}…"


# -- the serve command -------------------------------------------------------------------------------


def test_serve_without_the_extra_says_how_to_install_it(index_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "newsindex.server.app")
    monkeypatch.setitem(sys.modules, "fastapi", None)  # importing it now raises ImportError
    result = CliRunner().invoke(app, ["serve", "--index", index_path])
    assert result.exit_code == 2
    assert "pip install 'newsindex-search[serve]'" in result.stderr


def test_serve_without_an_index_exits_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--index", str(tmp_path / "none"), "--port", str(_free_port())])
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: no index at")


def test_serve_on_a_taken_port_exits_2(index_path: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--index", index_path, "--port", str(port)])
    assert result.exit_code == 2
    # One line, and no "Serving …" before it: the port is tried before the server says it serves.
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; give another --port\n"


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_until_interrupted(index_path: str, workers: int) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "newsindex", "serve", "-i", index_path, "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": ""},
        start_new_session=True,  # its worker processes can be killed with it, whatever happens
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/health")
        assert health == b'{"status":"ok","stories":10}'
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert b"newsindex" in page.read()
        # A commit by this process is seen by the server's processes, facets included.
        search = f"http://127.0.0.1:{port}/api/search?q=zebra&facet=location"
        assert json.loads(_wait_for(search))["total"] == 0
        NewsIndex.open(index_path).add([Story(id="zoo", body="PARIS - A zebra escaped.", location="Paris")])
        for _ in range(2 * workers):  # whichever worker answers
            found = json.loads(_wait_for(search))
            assert (found["total"], found["facets"]["location"]) == (1, [{"name": "Paris", "stories": 1}])
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever of its group is left: workers hold its pipes
            os.killpg(server.pid, signal.SIGKILL)
        if server.returncode is None:
            server.communicate()
    assert server.returncode == 0, stderr.decode()
    assert f"Serving 10 stories from {index_path} at http://127.0.0.1:{port}/" in stderr.decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, seconds: float = 30.0) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bytes(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
