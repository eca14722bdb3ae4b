"""The search page in a real headless Chromium, driven by Playwright, against a server on a free port.

Skipped when Playwright or a Chromium executable is missing (`.ci/run` installs Debian's chromium).
Saves screenshots of the results page under build/screenshots/ for review.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS, write_story
from newsindex import NewsIndex

pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install '.[serve]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install '.[test]'")

import uvicorn  # noqa: E402

from newsindex.server.app import create_app  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
# What is known to work here for a root user on a machine with no network but the loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """A Chromium executable: $NEWSINDEX_CHROMIUM, else the first of the usual names on PATH."""
    named = os.environ.get("NEWSINDEX_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
sync_api.expect.set_options(timeout=10_000)  # a loaded CI machine may be slow; a broken page still fails
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium executable found: `apt-get install chromium` (or set NEWSINDEX_CHROMIUM); .ci/run installs it",
)

# More stories than the shared corpus: several pages of Reuters copy, many years, a second version.
MORE_STORIES: dict[str, tuple[str, str | None, str]] = {
    "albania-iran-ties-update.txt": (
        "2019-10-24",
        "Benet Koleka",
        # A re-filed copy (new dateline, a line added): one duplicate group with albania-iran-ties.txt.
        "TIRANA, Oct 24 (Reuters) - Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting "
        "attacks.\n\nThe foreign ministry said the diplomats had damaged national security.\n\n"
        "Tehran called it baseless.\n\n(Reporting by Benet Koleka; Editing by David Holmes)",
    ),
    "albania-iran-embassy-2018.txt": (
        "2018-12-19",
        "Benet Koleka",
        "TIRANA (Reuters) - Albania expelled Iran's ambassador and another diplomat for harming national security, "
        "the foreign ministry said on Wednesday.\n\nThe two had been warned repeatedly, officials said.",
    ),
    "iran-albania-mek-2017.txt": (
        "2017-09-12",
        "Parisa Hafezi",
        "DUBAI (Reuters) - Iran accused Albania of sheltering an exiled opposition group whose members moved to a "
        "camp near Tirana.\n\nTehran says the group is a terrorist organisation.",
    ),
    "albania-protest-2019.txt": (
        "2019-05-11",
        "Benet Koleka",
        "TIRANA (Reuters) - Thousands of Albanians marched on parliament demanding the government resign, "
        "the latest in a series of protests.\n\nPolice used tear gas to disperse the crowd.",
    ),
    "albania-quake-2019.txt": (
        "2019-11-26",
        "Fatos Bytyci",
        "DURRES (Reuters) - A powerful earthquake struck Albania before dawn, killing at least 20 people and "
        "collapsing buildings in the port city of Durres.\n\nRescuers searched the rubble through the day.",
    ),
    "kosovo-albania-2020.txt": (
        "2020-01-17",
        "Fatos Bytyci",
        "PRISTINA (Reuters) - Kosovo and Albania agreed to remove border checks and open a joint customs point.\n\n"
        "(Reporting by Fatos Bytyci; Editing by Peter Graff)",
    ),
    "iran-nuclear-2020.txt": (
        "2020-01-06",
        "Parisa Hafezi",
        "DUBAI (Reuters) - Iran said it would no longer observe limits on uranium enrichment under its 2015 "
        "nuclear deal.\n\nEuropean powers urged Tehran to reconsider.",
    ),
    "iran-sanctions-2018.txt": (
        "2018-11-05",
        "Parisa Hafezi",
        "DUBAI (Reuters) - U.S. sanctions on Iran's oil and banking sectors came into force, and Iran vowed to "
        "keep selling oil.\n\nCrude prices rose slightly.",
    ),
    "iran-protests-2019.txt": (
        "2019-11-17",
        "Babak Dehghanpisheh",
        "BEIRUT (Reuters) - Protests spread across Iran after the government raised fuel prices, and authorities "
        "restricted internet access.\n\nState media reported arrests in several cities.",
    ),
    "greece-albania-2018.txt": (
        "2018-04-02",
        "Renee Maltezou",
        "ATHENS (Reuters) - Greece and Albania began talks on their maritime border and on the rights of "
        "minorities.\n\n(Reporting by Renee Maltezou; Editing by Alison Williams)",
    ),
    "geneva-talks-2019.txt": (
        "2019-07-02",
        "Stephanie Nebehay",
        "GENEVA (Reuters) - Diplomats from Iran and European powers met in Geneva to discuss the nuclear deal.\n\n"
        "No agreement was reached, a spokesman said.",
    ),
    "paris-iran-plot-2018.txt": (
        "2018-10-02",
        "John Irish",
        "PARIS (Reuters) - France froze assets of Iran's intelligence ministry over a foiled bomb plot against an "
        "exiled opposition rally near Paris.\n\nTehran denied any involvement.",
    ),
    "tirana-football-2020.txt": (
        "2020-09-05",
        None,
        "TIRANA (Reuters) - Albania drew with Lithuania in the Nations League, with fans kept out of the stadium.",
    ),
    "rome-albania-2020.txt": (
        "2020-03-28",
        "Crispian Balmer",
        "ROME (Reuters) - Albanian doctors and nurses arrived in Italy to help hospitals in Lombardy fight the "
        "coronavirus outbreak.\n\n(Reporting by Crispian Balmer; Editing by Frances Kerry)",
    ),
    "vienna-iran-2019.txt": (
        "2019-06-28",
        "Francois Murphy",
        "VIENNA (Reuters) - Iran and the remaining parties to its nuclear deal held talks in Vienna, with Iran "
        "saying progress was made.\n\n(Reporting by Francois Murphy; Editing by Mark Heinrich)",
    ),
    "tirana-budget-2019.txt": (
        "2019-12-11",
        "Benet Koleka",
        "TIRANA (Reuters) - Albania's parliament approved a budget for 2020 that raises spending on "
        "reconstruction after the earthquake.",
    ),
}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server over a small corpus, on a free port of the loopback, in a thread of this process."""
    folder = tmp_path_factory.mktemp("browser")
    for name, (date, by, body) in {**CORPUS, **MORE_STORIES}.items():
        write_story(folder / "stories", name, body, date=date, by=by)
    NewsIndex.create(folder / "index").add_files([str(folder / "stories")])
    with _served(folder / "index") as url:
        yield url


@contextmanager
def _served(index: Path) -> Iterator[str]:
    """`newsindex serve` over `index` on a free port of the loopback, in a thread of this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(index), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    """A fresh page that fails the test if it asks anything of another host."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    elsewhere: list[str] = []
    opened.on("request", lambda request: None if request.url.startswith(server_url) else elsewhere.append(request.url))
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not elsewhere, f"the page asked other hosts: {elsewhere}"
    assert not errors, f"script errors: {errors}"


def expect(locator: Any) -> Any:
    return sync_api.expect(locator)


def params(page: Any) -> dict[str, list[str]]:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(page.url).query)


def test_search_refine_open_a_story_and_go_back(page: Any, server_url: str) -> None:
    page.goto(server_url)
    expect(page.locator("#results-status")).to_contain_text("26 stories from 2017-05-05 to 2020-09-05")

    page.fill("#q", "Albania Iran")
    page.press("#q", "Enter")
    first = page.locator(".hit").first
    expect(first.locator("h2")).to_have_text(
        "Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks."
    )
    assert params(page)["q"] == ["Albania Iran"]
    expect(page.locator(".hit mark").first).to_be_visible()
    expect(first.locator(".snippet")).not_to_contain_text("Albania expelled two Iran diplomats")  # the title, once
    expect(first.locator(".versions summary")).to_have_text("+1 similar version")
    expect(page.locator("#timeline svg a")).not_to_have_count(0)
    expect(page.locator("#results-status")).to_contain_text("Stories 1–4 of 4")  # both words
    page.select_option("#match", "any")  # either word: the stories with both first
    expect(page.locator("#results-status")).to_contain_text("Stories 1–10 of 18")
    assert params(page)["match"] == ["any"]
    expect(first.locator("h2")).to_have_text(
        "Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks."
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "serve-results.png"), full_page=True)
    page.screenshot(path=str(SCREENSHOTS / "serve-results-top.png"))  # the first screen, small enough for docs

    page.locator('#facets button[data-facet="location"][data-value="Tirana"]').click()
    expect(page.locator("#active")).to_contain_text("in Tirana")
    assert params(page)["location"] == ["Tirana"]
    metas = page.locator(".hit .meta")
    expect(metas).to_have_count(5)
    assert all("Tirana" in text for text in metas.all_inner_texts())

    page.fill("#from", "2019-01-01")
    expect(page.locator("#active")).to_contain_text("2019-01-01 to …")
    assert params(page)["from"] == ["2019-01-01"]
    expect(metas).to_have_count(3)
    assert all(text >= "2019" for text in page.locator(".hit .meta .date").all_inner_texts())

    page.locator(".hit h2 a").first.click()
    expect(page.locator("#story-title")).to_have_text(
        "Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks."
    )
    expect(page.locator("#story-body p").first).to_contain_text("TIRANA (Reuters)")
    expect(page.locator("#similar li")).not_to_have_count(0)
    expect(page.locator("#results")).to_be_hidden()
    assert params(page)["story"] == ["albania-iran-ties.txt"]  # the best of the two versions (the shorter)

    page.go_back()
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#story")).to_be_hidden()
    expect(page.locator("#from")).to_have_value("2019-01-01")
    expect(page.locator("#q")).to_have_value("Albania Iran")
    expect(metas).to_have_count(3)

    page.go_back()
    expect(page.locator("#from")).to_have_value("")
    expect(metas).to_have_count(5)
    page.go_back()
    expect(page.locator("#active")).to_be_empty()
    expect(page.locator("#results-status")).to_contain_text("Stories 1–10 of 18")
    page.go_back()
    expect(page.locator("#match")).to_have_value("all")
    expect(page.locator("#results-status")).to_contain_text("Stories 1–4 of 4")


def test_a_search_no_story_fully_matches_says_it_shows_some_words(page: Any, server_url: str) -> None:
    page.goto(f"{server_url}/?q=albania+qqqzzz")
    status = page.locator("#results-status")
    expect(status).to_contain_text("No story has every word; showing stories with some. Stories 1–")
    expect(page.locator(".hit").first).to_be_visible()


def test_pages_timeline_and_shared_links(page: Any, server_url: str) -> None:
    page.goto(f"{server_url}/?source=Reuters&sort=-date")  # a shared link: the whole state is in the URL
    status = page.locator("#results-status")
    expect(status).to_contain_text("Stories 1–10 of 23")
    expect(page.locator("#sort")).to_have_value("-date")
    page.get_by_role("link", name="Next page").click()
    expect(status).to_contain_text("Stories 11–20 of 23")
    assert params(page)["page"] == ["2"]
    page.go_back()
    expect(status).to_contain_text("Stories 1–10 of 23")

    page.locator('#timeline a[aria-label^="2018"]').click()
    expect(status).to_contain_text("of 5")
    assert (params(page)["from"], params(page)["to"]) == (["2018-01-01"], ["2018-12-31"])
    expect(page.locator("#to")).to_have_value("2018-12-31")


def test_keyboard_and_query_syntax(page: Any, server_url: str) -> None:
    page.goto(server_url)
    expect(page.locator("#results-status")).to_contain_text("26 stories")
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()

    page.get_by_role("button", name="Query syntax").click()
    expect(page.locator("#syntax")).to_be_visible()
    page.get_by_role("button", name="location:tirana").click()
    expect(page.locator("#syntax")).to_be_hidden()
    expect(page.locator("#q")).to_have_value("location:tirana")
    expect(page.locator("#results-status")).to_contain_text("of 6")

    page.locator(".hit h2 a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#story-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#results-status")).to_contain_text("of 6")


def test_a_bad_query_says_what_is_wrong(page: Any, server_url: str) -> None:
    page.goto(server_url)
    page.fill("#q", '"albania')
    page.press("#q", "Enter")
    expect(page.get_by_role("alert")).to_contain_text("unbalanced quote")
    page.check("#plain")
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.locator(".hit").first).to_be_visible()


def test_phone_layout_fits_the_screen(browser: Any, server_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone = context.new_page()
    try:
        phone.goto(f"{server_url}/?q=albania")
        expect(phone.locator(".hit").first).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert width <= 0, f"the page is {width}px wider than a phone"
        expect(phone.locator("#facets")).to_be_hidden()  # folded under "Refine"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "serve-phone.png"))
        phone.get_by_text("Refine", exact=True).click()
        expect(phone.locator("#facets")).to_be_visible()
        assert re.search(r"q=albania", phone.url)
    finally:
        context.close()


@pytest.fixture(scope="module")
def tagged_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server over one story with a region and the source's tags (what Reuters SGML records have)."""
    from datetime import date

    from newsindex import Story

    folder = tmp_path_factory.mktemp("tagged")
    story = Story(
        id="portland-grain",
        body="PORTLAND, Ore., Feb 26 - Grain ships loading at Portland: four ships were waiting to load wheat.",
        published=date(1987, 2, 26),
        location="Portland",
        region="Ore.",
        topics=("grain", "wheat"),
        places=("usa",),
        orgs=("ec",),
    )
    NewsIndex.create(folder / "index").add([story])
    with _served(folder / "index") as url:
        yield url


def test_the_story_page_shows_region_and_tags(browser: Any, tagged_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        opened = context.new_page()
        opened.goto(f"{tagged_url}/?q=topic%3Agrain")
        hit = opened.locator(".hit").first
        expect(hit.locator(".meta")).to_contain_text("1987-02-26 · Portland, Ore.")
        hit.locator("h2 a").click()
        expect(opened.locator("#story-meta")).to_contain_text("Portland, Ore.")
        credits = opened.locator("#story-credits")
        expect(credits).to_contain_text("Topics")
        expect(credits).to_contain_text("grain, wheat")
        expect(credits).to_contain_text("Places")
        expect(credits).to_contain_text("Organisations")
        expect(credits).not_to_contain_text("People")  # none given: no empty entry
    finally:
        context.close()


def api_searches(page: Any) -> list[dict[str, list[str]]]:
    """The query of every /api/search request the page makes from now on, in order."""
    from urllib.parse import parse_qs, urlsplit

    seen: list[dict[str, list[str]]] = []

    def record(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.path == "/api/search":
            seen.append(parse_qs(parts.query))

    page.on("request", record)
    return seen


def test_match_fuzzy_expand_and_all_versions_controls(page: Any, server_url: str) -> None:
    searches = api_searches(page)
    page.goto(f"{server_url}/?q=albania+iran+diplomats")
    status = page.locator("#results-status")
    expect(status).to_contain_text("Stories 1–")
    assert "match" not in searches[-1] and "fuzzy" not in searches[-1]
    headline = "Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks."
    expect(page.locator(".hit h2", has_text=headline)).to_have_count(1)  # two versions, one hit

    page.select_option("#match", "any")
    expect(page.locator("#match")).to_have_value("any")
    page.wait_for_function("new URLSearchParams(location.search).get('match') === 'any'")
    expect(status).to_contain_text("Stories 1–")
    assert searches[-1]["match"] == ["any"]

    page.check("#fuzzy")
    page.wait_for_function("new URLSearchParams(location.search).get('fuzzy') === '1'")
    expect(status).to_contain_text("Stories 1–")
    assert (searches[-1]["fuzzy"], searches[-1]["match"]) == (["1"], ["any"])

    page.check("#expand")
    page.wait_for_function("new URLSearchParams(location.search).get('expand') === '1'")
    expect(status).to_contain_text("Stories 1–")
    assert searches[-1]["expand"] == ["1"]

    page.check("#all_versions")
    expect(page.locator(".hit h2", has_text=headline)).to_have_count(2)  # each version a hit of its own
    assert searches[-1]["all_versions"] == ["1"]
    expect(page.locator(".hit .versions")).to_have_count(0)

    page.go_back()  # the controls follow the URL
    expect(page.locator("#all_versions")).not_to_be_checked()
    expect(page.locator("#expand")).to_be_checked()
    expect(page.locator(".hit h2", has_text=headline)).to_have_count(1)
    page.go_back()
    page.go_back()
    page.go_back()
    expect(page.locator("#match")).to_have_value("all")
    expect(page.locator("#fuzzy")).not_to_be_checked()


def test_next_shows_the_first_new_hit(page: Any, server_url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto(f"{server_url}/?source=Reuters&sort=-date")
    expect(page.locator("#results-status")).to_contain_text("Stories 1–10 of 23")
    page.get_by_role("link", name="Next page").scroll_into_view_if_needed()
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#results-status")).to_contain_text("Stories 11–20 of 23")
    first = page.locator(".hit h2 a").first
    expect(first).to_be_focused()
    top = page.evaluate("document.querySelector('.hit').getBoundingClientRect().top")
    assert 0 <= top < 700 / 2, top  # the first new hit at the top of the window, not above it


def test_the_first_result_is_three_key_presses_from_the_search_box(page: Any, server_url: str) -> None:
    page.goto(server_url)
    expect(page.locator("#results-status")).to_contain_text("26 stories")
    page.locator("#q").focus()
    page.keyboard.type("albania iran")
    page.keyboard.press("Enter")  # 1: search
    expect(page.locator("#results-status")).to_contain_text("Stories 1–4 of 4")
    page.keyboard.press("ArrowDown")  # 2: the first result
    links = page.locator(".hit h2 a")
    expect(links.first).to_be_focused()
    page.keyboard.press("ArrowDown")  # and on down the list, and back up to the box
    expect(links.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # 3: open it
    expect(page.locator("#story-title")).to_have_text(
        "Albania expelled two Iran diplomats on Wednesday, accusing Iran of plotting attacks."
    )
    expect(page.locator("#story-title")).to_be_focused()


def test_did_you_mean_is_shown_and_one_click_runs_it(page: Any, server_url: str) -> None:
    page.goto(f"{server_url}/?q=Albania+Irna")
    link = page.locator("#suggestion-link")
    expect(link).to_have_text("Albania Iran")
    link.click()
    expect(page.locator("#q")).to_have_value("Albania Iran")
    assert params(page)["q"] == ["Albania Iran"]
    expect(page.locator("#suggestion")).to_be_hidden()  # every word is known now
    expect(page.locator("#hits li.hit").first).to_contain_text("Albania")
    page.go_back()
    expect(page.locator("#q")).to_have_value("Albania Irna")
