"""web.py: RSS and Atom feeds, saved HTML pages and WARC crawls → stories, and their problems.

HTML and WARC need the web extra: those tests skip when it is not installed.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpers.files import read_all, reasons
from newsindex.ingest.sources import find_sources
from newsindex.ingest.web import html_text

# ── RSS and Atom ─────────────────────────────────────────────────────────────────────────────────────

RSS_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
<title>Harbour Gazette: World</title>
<link>https://gazette.example/</link>
<description>News <![CDATA[ <item> in a CDATA section is no item ]]></description>
"""
RSS_ITEM = """<item>
  <title>Dock workers return to the harbour</title>
  <link>https://gazette.example/2019/10/harbour</link>
  <guid isPermaLink="false">gazette-2019-1</guid>
  <pubDate>Wed, 23 Oct 2019 10:00:00 +0000</pubDate>
  <dc:creator>Ana Ruiz</dc:creator>
  <category>World</category><category>Ports</category>
  <description>&lt;p&gt;A short summary.&lt;/p&gt;</description>
  <content:encoded><![CDATA[<p>VALPARAISO (Reuters) - Dock workers returned on <b>Wednesday</b>.</p>
<p>Loading resumed, said one </item> official.</p><script>track()</script>]]></content:encoded>
</item>
"""
RSS_TAIL = "</channel>\n</rss>\n"


def test_an_rss_item_gives_every_field(tmp_path: Path) -> None:
    path = tmp_path / "world.rss"
    path.write_text(RSS_HEAD + RSS_ITEM + RSS_TAIL, encoding="utf-8")
    stories, problems = read_all(path)
    assert problems == []
    [story] = stories
    assert story.id == "https://gazette.example/2019/10/harbour"  # the link
    assert story.headline == "Dock workers return to the harbour"
    assert story.published == datetime(2019, 10, 23, 10, 0, tzinfo=UTC)
    assert story.bylines == ("Ana Ruiz",)
    assert story.location == "Valparaiso"
    assert story.source == "Reuters"  # the dateline's agency; the feed's title when there is none
    assert story.topics == ("World", "Ports")
    # content:encoded is fuller than the description; its HTML is stripped, scripts and all.
    assert (
        story.body
        == "VALPARAISO (Reuters) - Dock workers returned on Wednesday.\n\nLoading resumed, said one official."
    )


def test_feed_items_without_link_date_or_text(tmp_path: Path) -> None:
    items = (
        "<item><title>No link</title><guid>gazette-7</guid><description>Only a guid &amp; a summary.</description></item>"
        "<item><title>Nothing at all</title><description>A summary with no id.</description></item>"
        "<item><title>Empty</title><link>https://gazette.example/empty</link></item>"
    )
    path = tmp_path / "feed.xml"  # .xml: told from NewsML by content
    path.write_text(RSS_HEAD + items + RSS_TAIL, encoding="utf-8")
    stories, problems = read_all(path)
    assert [(story.id, story.source, story.body) for story in stories] == [
        ("gazette-7", "Harbour Gazette: World", "Only a guid & a summary."),
        ("feed.xml:2", "Harbour Gazette: World", "A summary with no id."),
    ]
    assert reasons(problems) == [
        ("feed.xml", "degraded", 1, "no date"),
        ("feed.xml", "degraded", 2, "no date"),
        ("feed.xml", "skipped", 3, "no content or summary"),
    ]


def test_an_atom_entry(tmp_path: Path) -> None:
    path = tmp_path / "atom.xml"
    path.write_text(
        """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Harbour Gazette</title>
  <entry>
    <title type="html">Grain &lt;b&gt;exports&lt;/b&gt; rise</title>
    <link href="https://gazette.example/grain"/>
    <id>urn:uuid:60a76c80</id>
    <published>2019-06-15T08:30:00+02:00</published>
    <author><name>Ana Ruiz</name></author>
    <author><name>Li Wei</name></author>
    <category term="trade"/>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Exports rose in June.</p><p>Ships queued.</p></div></content>
  </entry>
</feed>
""",
        encoding="utf-8",
    )
    [story], problems = read_all(path)
    assert problems == []
    assert story.id == "https://gazette.example/grain"
    assert story.headline == "Grain exports rise"
    assert story.published == datetime(2019, 6, 15, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    assert story.bylines == ("Ana Ruiz", "Li Wei")
    assert story.topics == ("trade",)
    assert story.source == "Harbour Gazette"
    assert story.body == "Exports rose in June.\n\nShips queued."


def test_an_rss_1_0_feed(tmp_path: Path) -> None:
    path = tmp_path / "rdf.xml"
    path.write_text(
        """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://gazette.example/"><title>Gazette</title></channel>
  <item rdf:about="https://gazette.example/a"><title>Tides</title><link>https://gazette.example/a</link>
    <description>High tides closed the port.</description><dc:date>2019-01-02</dc:date></item>
</rdf:RDF>
""",
        encoding="utf-8",
    )
    [source] = find_sources([str(path)])
    assert source.format == "feed"
    [story], problems = read_all(path)
    assert (story.id, story.body, problems) == ("https://gazette.example/a", "High tides closed the port.", [])


def test_a_large_feed_is_read_in_batches_with_item_numbers(tmp_path: Path) -> None:
    items = "".join(
        RSS_ITEM.replace("/2019/10/harbour", f"/{n}").replace("<pubDate>Wed, 23 Oct 2019 10:00:00 +0000</pubDate>", "")
        for n in range(1, 1201)
    )
    path = tmp_path / "big.rss"
    path.write_text(RSS_HEAD + items + RSS_TAIL, encoding="utf-8")
    stories, problems = read_all(path)
    assert len(stories) == 1200
    assert stories[-1].id == "https://gazette.example/1200"
    assert [problem.record for problem in problems] == list(range(1, 1201))  # "no date", item by item


def test_html_text_keeps_paragraphs_and_drops_scripts() -> None:
    markup = "<div><p>One &amp; <i>two</i></p><script>x()</script><ul><li>three</li><li>four<br>five</li></ul></div>"
    assert html_text(markup) == "One & two\n\nthree\n\nfour\nfive"


# ── Saved pages and WARC crawls (the web extra) ──────────────────────────────────────────────────────

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dock workers return to the harbour | Harbour Gazette</title>
<meta name="author" content="Ana Ruiz">
<meta property="article:published_time" content="2019-10-23T10:15:00+02:00">
<meta property="og:site_name" content="Harbour Gazette">
<meta name="keywords" content="ports, labour">
</head><body><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article><h1>Dock workers return to the harbour</h1>
<p>VALPARAISO, Oct 23 - Dock workers returned to the harbour on Wednesday after a week of storms, the port authority said in a statement.</p>
<p>Loading and unloading resumed in the afternoon, and officials expect the backlog of ships to clear by the end of the month.</p>
</article><footer>Copyright 2019 Harbour Gazette. All rights reserved.</footer></body></html>
"""


def test_a_saved_page_gives_its_article(tmp_path: Path) -> None:
    pytest.importorskip("trafilatura")
    path = tmp_path / "pages" / "harbour.html"
    path.parent.mkdir()
    path.write_text(PAGE, encoding="utf-8")
    (tmp_path / "pages" / "menu.htm").write_text("<html><body><nav>Home</nav></body></html>", encoding="utf-8")
    stories, problems = read_all(tmp_path / "pages")
    [story] = stories
    assert story.id == "harbour.html"
    assert story.headline == "Dock workers return to the harbour"
    assert story.published == datetime(2019, 10, 23, 10, 15, tzinfo=timezone(timedelta(hours=2)))
    assert story.bylines == ("Ana Ruiz",)
    assert story.location == "Valparaiso"
    assert story.source == "Harbour Gazette"
    assert story.topics == ("ports", "labour")
    assert story.body.startswith("VALPARAISO, Oct 23 - Dock workers returned")
    assert "\n\nLoading and unloading resumed" in story.body
    assert "Home" not in story.body and "Copyright" not in story.body
    assert reasons(problems) == [("menu.htm", "skipped", None, "no article text found in the page")]


def test_a_page_with_only_a_day(tmp_path: Path) -> None:
    pytest.importorskip("trafilatura")
    path = tmp_path / "day.html"
    path.write_text(PAGE.replace("2019-10-23T10:15:00+02:00", "2019-10-23"), encoding="utf-8")
    [story], _ = read_all(path)
    assert story.published == date(2019, 10, 23)


def write_warc(path: Path, records: list[tuple[str, str, str, bytes]]) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=path.suffix == ".gz")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "newsindex tests"}))
        for url, status, content_type, payload in records:
            headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=headers
            )  # with its length, warcio needs no temporary file (which it would leave open)
            writer.write_record(record)
    return path


def test_a_warc_crawl_gives_one_story_per_article_page(tmp_path: Path) -> None:
    pytest.importorskip("trafilatura")
    pytest.importorskip("warcio")
    page = PAGE.encode("utf-8")
    path = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://gazette.example/harbour", "200 OK", "text/html; charset=utf-8", page),
            ("https://gazette.example/logo.png", "200 OK", "image/png", b"\x89PNG\r\n"),
            ("https://gazette.example/old", "301 Moved Permanently", "text/html", b""),
            ("https://gazette.example/menu", "200 OK", "text/html", b"<html><body><nav>Home</nav></body></html>"),
            ("https://gazette.example/storms", "200 OK", "text/html", page.replace(b"harbour", b"port")),
        ],
    )
    [source] = find_sources([str(path)])
    assert source.format == "warc"
    stories, problems = read_all(path)
    assert [story.id for story in stories] == ["https://gazette.example/harbour", "https://gazette.example/storms"]
    assert all(story.path == str(path) for story in stories)
    assert stories[0].headline == "Dock workers return to the harbour"
    assert reasons(problems) == [("crawl.warc.gz", "skipped", 5, "no article text found in the page")]


def test_without_the_web_extra_pages_are_skipped_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsindex.ingest.web._loaded", {"trafilatura": None, "warcio": None})
    page = tmp_path / "a.html"
    page.write_text(PAGE, encoding="utf-8")
    crawl = tmp_path / "b.warc"
    crawl.write_text("WARC/1.0\r\nWARC-Type: warcinfo\r\n\r\n", encoding="utf-8")
    stories, problems = read_all(page, crawl)
    assert stories == []
    assert reasons(problems) == [
        (
            "a.html",
            "skipped",
            None,
            "reading HTML pages needs the optional web extra: pip install 'newsindex-search[web]'",
        ),
        (
            "b.warc",
            "skipped",
            None,
            "reading WARC files needs the optional web extra: pip install 'newsindex-search[web]'",
        ),
    ]


def test_formats_are_sniffed_from_content(tmp_path: Path) -> None:
    (tmp_path / "a").write_text(RSS_HEAD + RSS_ITEM + RSS_TAIL, encoding="utf-8")
    (tmp_path / "b").write_text(PAGE, encoding="utf-8")
    (tmp_path / "c").write_text("WARC/1.1\r\nWARC-Type: warcinfo\r\n\r\n", encoding="utf-8")
    (tmp_path / "d").write_text('<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>\n')
    assert [source.format for source in find_sources([str(tmp_path)])] == ["feed", "html", "warc", "feed"]


def test_feed_problems_name_the_item_by_its_link(tmp_path: Path) -> None:
    items = (
        "<item><title>No link</title><guid>gazette-7</guid><description>A summary.</description></item>"
        "<item><title>No id</title><description>A summary.</description></item>"
    )
    path = tmp_path / "feed.rss"
    path.write_text(RSS_HEAD + items + RSS_TAIL, encoding="utf-8")
    _, problems = read_all(path)
    assert [(p.record, p.story) for p in problems] == [(1, "gazette-7"), (2, None)]  # no id of its own: none
    assert str(problems[0]) == f"{path}:1 (story gazette-7): no date"
