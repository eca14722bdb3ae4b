"""The web's formats: RSS and Atom feeds (feedparser), saved HTML article pages and WARC crawls.

Pages are reduced to their article (text, headline, author, date) by trafilatura, WARC files are read
by warcio: both come with the optional `web` extra (`pip install 'newsindex-search[web]'`); without it those
files are skipped with a message saying so. Feeds need only feedparser, a core dependency. Every
third-party module is imported when the first file that needs it is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from types import ModuleType
from typing import Any

from newsindex.ingest.archives import Element, split_elements
from newsindex.ingest.records import (
    MAX_STORY_BYTES,
    Reader,
    Replayed,
    Where,
    byline_names,
    checked_body,
    checked_id,
    count_rest,
    make_story,
    one_line,
    oversized,
    published_date,
)
from newsindex.ingest.sources import ProblemHandler, Source
from newsindex.models import Problem, Story
from newsindex.text.dates import parse_published

__all__ = ["READERS", "html_text"]

WEB_EXTRA_HINT = "pip install 'newsindex-search[web]'"

# ── HTML to text ─────────────────────────────────────────────────────────────────────────────────────

_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "header"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td"}
    | {"th", "tr", "ul"}
)
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title"})


class _TextOfHtml(HTMLParser):
    """Collects the text of an HTML fragment: a paragraph per block element, <br> a line end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._words: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.end_paragraph()
        elif tag == "br":
            self._words.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.end_paragraph()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._words.append(data)

    def end_paragraph(self) -> None:
        lines = ("".join(self._words)).split("\n")
        text = "\n".join(" ".join(line.split()) for line in lines).strip()
        if text:
            self.paragraphs.append(text)
        self._words = []


def html_text(markup: str) -> str:
    """The text of an HTML fragment: tags out, entities resolved, one paragraph per block, blank lines between."""
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    parser.end_paragraph()
    return "\n\n".join(parser.paragraphs)


# ── RSS and Atom feeds ───────────────────────────────────────────────────────────────────────────────

# <item> (RSS 0.9x, 1.0, 2.0) and <entry> (Atom), possibly with a namespace prefix
_ITEM_START = re.compile(rb"<(?P<name>(?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?=[\s>/])")
_TAG = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<[?!][^>]*>|<(?P<close>/)?(?P<name>[A-Za-z_][\w:.-]*)[^>]*?(?P<empty>/)?>",
    re.DOTALL,
)
_BATCH_BYTES = 1024 * 1024  # items parsed together: feedparser's cost per call is then negligible
_BATCH_ITEMS = 500


def _read_feed(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One story per item or entry; the id is its link (else its guid or id).

    Items are cut out of the stream one by one and handed to feedparser in batches, each wrapped in the
    feed's own opening (the XML declaration, namespaces, channel) and the matching closing tags: memory
    stays flat on a feed of any size.
    """
    prefix: list[bytes] = []
    batch: list[Element] = []
    found = False
    for element in split_elements(stream, _ITEM_START, skip_cdata=True, on_prefix=prefix.append):
        found = True
        if element.data is None:
            report(Problem(source.path, element.problem(), record=element.number))
            continue
        batch.append(element)
        if sum(len(item.data or b"") for item in batch) >= _BATCH_BYTES or len(batch) >= _BATCH_ITEMS:
            yield from _feed_batch(prefix[0], batch, source, report)
            batch = []
    if batch:
        yield from _feed_batch(prefix[0], batch, source, report)
    if not found:
        report(Problem(source.path, "no items in the feed"))


def _feed_batch(head: bytes, items: list[Element], source: Source, report: ProblemHandler) -> Iterator[Story]:
    import feedparser

    wrapped = head + b"".join(item.data or b"" for item in items) + _closing_tags(head)
    parsed = feedparser.parse(wrapped)
    entries = parsed.entries
    if len(entries) != len(items) and len(items) > 1:  # an item feedparser could not read: find out which
        for item in items:
            yield from _feed_batch(head, [item], source, report)
        return
    feed_title = one_line(_feed_text(parsed.feed.get("title_detail")) or "")
    if not entries:
        reason = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
        report(Problem(source.path, f"unreadable feed item{reason}", record=items[0].number))
        return
    for item, entry in zip(items, entries, strict=True):
        story = _entry_story(
            entry, feed_title, f"{source.id_base}:{item.number}", Where(source.path, item.number, report)
        )
        if story is not None:
            yield story


def _closing_tags(head: bytes) -> bytes:
    """The end tags of the elements left open in a feed's opening ("</channel></rss>")."""
    open_elements: list[bytes] = []
    for tag in _TAG.finditer(head):
        name = tag["name"]
        if name is None or tag["empty"]:
            continue
        if not tag["close"]:
            open_elements.append(name)
        elif name in open_elements:
            del open_elements[len(open_elements) - 1 - open_elements[::-1].index(name) :]
    return b"".join(b"</" + name + b">" for name in reversed(open_elements))


def _entry_story(entry: Any, feed_title: str | None, fallback_id: str, where: Where) -> Story | None:
    story_id = checked_id(entry.get("link") or entry.get("id") or None, fallback_id, where)
    if story_id is None:
        return None
    if story_id != fallback_id:
        where = where.named(story_id)  # problems name the item's link, not only its number
    # The fullest text: content (content:encoded, Atom content) when there is some, else the summary.
    texts = [_feed_text(content) for content in entry.get("content", ())] + [_feed_text(entry.get("summary_detail"))]
    text = max((text for text in texts if text), key=len, default="")
    if not text.strip():
        where.skipped("no content or summary")
        return None
    body = checked_body(text, where)
    if body is None:
        return None
    authors = [author.get("name") for author in entry.get("authors", ()) if author.get("name")]
    names = [name for author in authors or [entry.get("author") or ""] for name in byline_names(author)]
    labels = (one_line(tag.get("term") or tag.get("label") or "") for tag in entry.get("tags", ()))
    origin = entry.get("source") or {}
    story = make_story(
        where,
        story_id,
        body,
        headline=one_line(_feed_text(entry.get("title_detail")) or ""),
        published=published_date(entry.get("published") or entry.get("updated"), where),
        bylines=tuple(dict.fromkeys(names)),
        topics=tuple(dict.fromkeys(label for label in labels if label)),
    )
    # The agency of the dateline ("TIRANA (Reuters) -") says more than the feed it came through.
    return _with_source(story, one_line(origin.get("title") or "") or feed_title)


def _with_source(story: Story, outlet: str | None) -> Story:
    return story if story.source or not outlet else replace(story, source=outlet)


def _feed_text(detail: Any) -> str | None:
    """The text of a feedparser text construct (title, summary, content): HTML stripped when it is HTML."""
    if not detail or not detail.get("value"):
        return None
    value: str = detail["value"]
    return html_text(value) if "html" in (detail.get("type") or "") else value


# ── Saved HTML pages and WARC crawls ─────────────────────────────────────────────────────────────────

# Dates with their time when the page gives one; the publication date, not the last change.
_DATE_OPTIONS = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_MIDNIGHT = "T00:00:00"
_MIN_UNTITLED_CHARS = 80
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _read_html(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One article per saved page; the id is the file's, like the text format's."""
    extractor = _web_module("trafilatura", "HTML pages", source.path, report)
    if extractor is None:
        return
    where = Where(source.path, None, report)
    data = stream.read(MAX_STORY_BYTES + 1)
    if len(data) > MAX_STORY_BYTES:
        where.skipped(oversized(len(data) + count_rest(stream)))
        return
    story = _page_story(extractor, data, None, source.id_base, where)
    if story is not None:
        yield story


def _read_warc(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One article per HTML page the crawl fetched (responses with status 200); the id is the page's URL."""
    extractor = _web_module("trafilatura", "WARC files", source.path, report)
    warcio = _web_module("warcio", "WARC files", source.path, report) if extractor else None
    if extractor is None or warcio is None:
        return
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    number = 0
    try:
        for record in ArchiveIterator(stream):
            number += 1
            if not _is_page(record):
                continue  # requests, metadata, images, redirects: not articles
            where = Where(source.path, number, report)
            data = record.content_stream().read(MAX_STORY_BYTES + 1)
            if len(data) > MAX_STORY_BYTES:  # the iterator reads past the rest of the record
                where.skipped(oversized(len(data)))
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            story = _page_story(extractor, data, url, url or f"{source.id_base}:{number}", where)
            if story is not None:
                yield story
    except ArchiveLoadFailed as error:
        report(Problem(source.path, f"unreadable WARC record ({error.msg})", record=number + 1))


def _is_page(record: Any) -> bool:
    if record.rec_type == "response" and record.http_headers is not None:
        content_type = record.http_headers.get_header("Content-Type") or ""
        return record.http_headers.get_statuscode() == "200" and content_type.lower().startswith(_HTML_TYPES)
    if record.rec_type == "resource":
        return (record.rec_headers.get_header("Content-Type") or "").lower().startswith(_HTML_TYPES)
    return False


def _page_story(extractor: ModuleType, data: bytes, url: str | None, story_id: str, where: Where) -> Story | None:
    """The article of one HTML page, by trafilatura: main text, headline, author, date, site, categories."""
    usable_id = checked_id(story_id, story_id, where)
    if usable_id is None:
        return None
    if url and where.record is not None:
        where = where.named(usable_id)  # a WARC record: problems name its URL
    document = extractor.bare_extraction(
        data, url=url, with_metadata=True, include_comments=False, date_extraction_params=_DATE_OPTIONS
    )
    lines = [line.strip() for line in (document.text or "").split("\n") if line.strip()] if document else []
    if document and lines and document.title and lines[0] == document.title.strip():
        lines = lines[1:]  # the headline opens the extracted text: it is the headline, not the body
    # Without a title, a few words are a page's navigation or a notice, not an article.
    if not lines or (not document.title and sum(map(len, lines)) < _MIN_UNTITLED_CHARS):
        where.skipped("no article text found in the page")
        return None
    body = checked_body("\n\n".join(lines), where)
    if body is None:
        return None
    labels = [part for label in (document.categories or []) + (document.tags or []) for part in label.split(",")]
    story = make_story(
        where,
        usable_id,
        body,
        headline=one_line(document.title or "") or None,
        published=_page_date(document.date, where),
        bylines=tuple(name for author in (document.author or "").split(";") for name in byline_names(author)),
        topics=tuple(dict.fromkeys(label for label in map(one_line, labels) if label)),
    )
    return _with_source(story, one_line(document.sitename or document.hostname or ""))


def _page_date(text: str | None, where: Where) -> date | None:
    if text and text.endswith(_MIDNIGHT):  # a page that gives only a day comes out at midnight
        return published_date(text.removesuffix(_MIDNIGHT), where)
    if text:
        try:
            return parse_published(text)
        except ValueError:
            pass
    return published_date(text, where)


_loaded: dict[str, ModuleType | None] = {}


def _web_module(name: str, what: str, path: str, report: ProblemHandler) -> ModuleType | None:
    """The optional module `name`, or None after reporting that reading `what` needs the web extra."""
    if name not in _loaded:
        import importlib

        try:
            _loaded[name] = importlib.import_module(name)
        except ImportError:
            _loaded[name] = None
    module = _loaded[name]
    if module is None:
        report(Problem(path, f"reading {what} needs the optional web extra: {WEB_EXTRA_HINT}"))
    return module


READERS: dict[str, Reader] = {"feed": _read_feed, "html": _read_html, "warc": _read_warc}
