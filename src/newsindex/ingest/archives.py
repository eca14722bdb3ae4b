"""News archive formats: Reuters-21578 SGML, RCV1-style NewsML, and zip archives of any readable files.

The stdlib is enough for all three: SGML records are picked out with regular expressions (the files are
not XML: `&#3;` end markers, unclosed `<UNKNOWN>` junk), NewsML goes through ElementTree, zip archives
through zipfile. Multi-record files are read one record at a time, so memory stays flat.
"""

from __future__ import annotations

import gzip
import html
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import IO
from xml.etree import ElementTree

from newsindex.ingest.readers import read_stream
from newsindex.ingest.records import (
    MAX_STORY_BYTES,
    Decoder,
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
from newsindex.ingest.sources import (
    ByteStream,
    ProblemHandler,
    Source,
    describe_error,
    format_from_name,
    read_head,
    sniff_head,
)
from newsindex.models import Problem, Story
from newsindex.text.dateline import parse_dateline

__all__ = ["READERS", "Element", "read_zip", "split_elements"]

_BLOCK = 1024 * 1024
_MAX_ZIP_DEPTH = 3  # a zip in a zip in a zip; deeper is no archive anyone made on purpose
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

# ── Splitting a stream into elements ─────────────────────────────────────────────────────────────────


class Element:
    """One `<name …>…</name>` element cut out of a byte stream, or the size of one too big to keep."""

    __slots__ = ("data", "number", "size", "truncated")

    def __init__(self, number: int, data: bytes | None, size: int, *, truncated: bool = False) -> None:
        self.number = number  # 1 for the first element of the stream
        self.data = data  # None when the element was over the size limit, or cut off by the end of the stream
        self.size = size
        self.truncated = truncated  # the stream ended inside the element

    def problem(self) -> str:
        """Why `data` is None."""
        return "cut off: the file ends inside this record" if self.truncated else oversized(self.size)


def split_elements(
    stream: ByteStream,
    start: re.Pattern[bytes],
    *,
    skip_cdata: bool = False,
    on_prefix: Callable[[bytes], None] | None = None,
    limit: int = MAX_STORY_BYTES,
) -> Iterator[Element]:
    """The elements of `stream` whose start tag `start` matches (its group "name" is the tag name), in order.

    Never holds more than one element (and a block of input) in memory: an element over `limit` bytes is
    read past and given with `data=None`. `on_prefix` receives what comes before the first element (up to
    `limit` bytes). With `skip_cdata`, tags inside CDATA sections and comments do not count.
    An element left open at the end of the stream is given with `data=None` and `truncated`.
    """
    buffer = b""  # a block or two of input; elements are cut from it by offset, without copying the rest
    base = 0  # where the unread part of `buffer` starts
    prefix: list[bytes] = []
    number = 0
    eof = False

    def more(keep_from: int) -> int:
        """Drop `buffer` before `keep_from` and read a block onto it: how far offsets moved, or -1 at the end."""
        nonlocal buffer, eof
        chunk = b"" if eof else stream.read(_BLOCK)
        eof = not chunk
        if not chunk:
            return -1
        buffer = buffer[keep_from:] + chunk
        return keep_from

    while True:
        match, position = _find_start(start, buffer, base, skip_cdata)
        while match is None:
            # Searched up to `position`; from there on, a tag or section may go on in the next block.
            if number == 0 and on_prefix is not None and sum(map(len, prefix)) < limit:
                prefix.append(buffer[base:position])
            if more(position) < 0:
                if number == 0 and on_prefix is not None:
                    on_prefix((b"".join(prefix) + buffer[position:])[:limit])
                return
            base = 0
            match, position = _find_start(start, buffer, 0, skip_cdata)
        if number == 0 and on_prefix is not None:
            on_prefix((b"".join(prefix) + buffer[base : match.start()])[:limit])
        number += 1
        first = match.start()  # where the element (or the part of it still kept) starts in `buffer`
        end = _element_end(match["name"], skip_cdata)
        position = match.end()
        size = 0  # bytes of this element already dropped (when it outgrew the limit)
        while True:
            found, position = _find_end(end, buffer, position)
            if found is not None:
                base = found
                yield Element(number, None if size else buffer[first:found], size + found - first)
                break
            if size + len(buffer) - first > limit:  # too big: keep only what the end search still needs
                keep = max(first, min(position, len(buffer) - 256))
                size += keep - first
                first = keep
            shift = more(first)
            if shift < 0:
                yield Element(number, None, size + len(buffer) - first, truncated=True)
                return
            position -= shift
            first = 0


_SECTION = re.compile(rb"<!\[CDATA\[|<!--")
_SECTION_END = {b"<![CDATA[": b"]]>", b"<!--": b"-->"}


def _find_start(
    start: re.Pattern[bytes], buffer: bytes, position: int, skip_sections: bool
) -> tuple[re.Match[bytes] | None, int]:
    """(the next start tag, outside CDATA sections and comments when asked, or None; where to go on from)."""
    while True:
        match = start.search(buffer, position)
        section = _SECTION.search(buffer, position, match.start() if match else len(buffer)) if skip_sections else None
        if section is None:
            if match is not None:
                return match, match.start()
            return None, max(position, len(buffer) - 256)  # a start tag may straddle two blocks
        close = buffer.find(_SECTION_END[section.group()], section.end())
        if close < 0:
            return None, section.start()  # the section goes on in the next block
        position = close + 3


def _element_end(name: bytes, skip_cdata: bool) -> re.Pattern[bytes]:
    end_tag = rb"</" + re.escape(name) + rb"\s*>"
    return re.compile(rb"<!\[CDATA\[|<!--|" + end_tag if skip_cdata else end_tag)


def _find_end(end: re.Pattern[bytes], buffer: bytes, position: int) -> tuple[int | None, int]:
    """(end of the element, or None) and where to search from once more bytes are in."""
    while match := end.search(buffer, position):
        opener = match.group()
        if opener == b"<![CDATA[" or opener == b"<!--":
            close = buffer.find(b"]]>" if opener == b"<![CDATA[" else b"-->", match.end())
            if close < 0:
                return None, match.start()  # the section goes on in the next block
            position = close + 3
            continue
        return match.end(), position
    return None, max(position, len(buffer) - 256)


# ── Reuters-21578 SGML ───────────────────────────────────────────────────────────────────────────────

_REUTERS_START = re.compile(rb"<(?P<name>REUTERS)[\s>]")
_NEWID = re.compile(r'\bNEWID="?(?P<id>[^"\s>]+)')
_TEXT = re.compile(r"<TEXT\b(?P<attributes>[^>]*)>(?P<text>.*?)(?:</TEXT>|\Z)", re.DOTALL | re.IGNORECASE)
_TYPE = re.compile(r'\bTYPE="?(?P<type>\w+)', re.IGNORECASE)
_LABEL = re.compile(r"<D>(.*?)</D>", re.DOTALL | re.IGNORECASE)
_REUTERS_DATE = re.compile(r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\s*")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}  # not calendar's: it follows the locale
_SIGNATURE = re.compile(r"\s*\bReuters?\s*\Z", re.IGNORECASE)  # "… said.\n Reuter\n&#3;" ends a story
_TAGS = re.compile(r"<[^>]*>")


# The elements of a record, in one pass; upper case, as the corpus writes them.
_ELEMENT = re.compile(
    r"<(?P<tag>DATE|TOPICS|PLACES|PEOPLE|ORGS|TITLE|DATELINE|AUTHOR|BODY)>(?P<text>.*?)</(?P=tag)>", re.DOTALL
)


def _read_reuters(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """Reuters-21578: many `<REUTERS NEWID=…>` records per file; the id is NEWID."""
    decode = Decoder(source.path, report)
    found = False
    for element in split_elements(stream, _REUTERS_START):
        found = True
        where = Where(source.path, element.number, report)
        if element.data is None:
            where.skipped(element.problem())
            continue
        story = _reuters_story(decode(element.data), f"{source.id_base}:{element.number}", where)
        if story is not None:
            yield story
    if not found:
        report(Problem(source.path, "no <REUTERS> records"))


def _reuters_story(record: str, fallback_id: str, where: Where) -> Story | None:
    newid = _NEWID.search(record[: record.find(">") + 1])
    story_id = checked_id(newid["id"] if newid else None, fallback_id, where)
    if story_id is None:
        return None
    if newid:
        where = where.named(story_id)  # "reut2-010.sgm:299 (story 10299): …": NEWID is what `show` takes
    elements: dict[str, re.Match[str]] = {}
    for element in _ELEMENT.finditer(record):
        elements.setdefault(element["tag"], element)
    fields = {name: _sgml_text(elements.get(name)) for name in ("DATE", "TITLE", "DATELINE", "AUTHOR", "BODY")}
    lists = {name: _labels_of(elements.get(name)) for name in ("TOPICS", "PLACES", "ORGS", "PEOPLE")}
    text = _TEXT.search(record)
    kind = _TYPE.search(text["attributes"]) if text else None
    headline = one_line(fields["TITLE"]) if fields["TITLE"] else None
    if kind and kind["type"].upper() == "UNPROC":  # text without TITLE or BODY tags
        body_text = _sgml_text(text)
    elif kind and kind["type"].upper() == "BRIEF":  # a headline only; its text is "Blah blah blah."
        body_text = None
    else:
        body_text = fields["BODY"]
    body_text = _unsigned(_reflow(body_text)) if body_text else None
    if not body_text and not headline:
        where.skipped("no title and no body")
        return None
    # A record without a body keeps its title: for Reuters briefs the title is the story.
    body = checked_body(body_text or headline, where)
    if body is None:
        return None
    dateline = parse_dateline(fields["DATELINE"]) if fields["DATELINE"] else None
    return make_story(
        where,
        story_id,
        body,
        headline=headline,
        published=_reuters_date(fields["DATE"], where),
        bylines=byline_names(fields["AUTHOR"] or ""),  # "By Cal Mankowski, Reuters": the agency is no byline
        location=dateline.location if dateline else None,
        region=dateline.region if dateline else None,
        agency="Reuters",  # the whole collection is Reuters wire copy
        topics=lists["TOPICS"],
        places=lists["PLACES"],
        orgs=lists["ORGS"],
        people=lists["PEOPLE"],
    )


def _sgml_text(match: re.Match[str] | None) -> str | None:
    """The text of a matched element: tags out, entities (`&lt;`, `&#3;`) resolved, end markers gone."""
    if match is None:
        return None
    text = html.unescape(_TAGS.sub("", match["text"]))
    return text.replace("\x02", "").replace("\x03", "").strip() or None


def _unsigned(text: str) -> str:
    """The body without the closing "Reuter" (searched in the last few characters only: it is fast)."""
    tail = len(text) - 20 if len(text) > 20 else 0
    signature = _SIGNATURE.search(text, tail)
    return text[: signature.start()] if signature else text


def _reflow(text: str) -> str:
    """Wire copy wrapped at 70 columns → one line per paragraph; an indented line starts a paragraph."""
    paragraphs: list[list[str]] = []
    starts_paragraph = True
    for line in text.replace("\r", "").split("\n"):
        if not line.strip():
            starts_paragraph = True
            continue
        if starts_paragraph or line[:1] in (" ", "\t"):
            paragraphs.append([])
        paragraphs[-1].append(line.strip())
        starts_paragraph = False
    return "\n\n".join(" ".join(lines) for lines in paragraphs)


def _reuters_date(text: str | None, where: Where) -> date | None:
    """ "26-FEB-1987 15:01:01.79" read fast; anything else through the general date reader."""
    match = _REUTERS_DATE.fullmatch(text or "")
    month = _MONTHS.get(match[2].lower()) if match else None
    if match and month:
        day, year, hour, minute, second = int(match[1]), int(match[3]), int(match[4]), int(match[5]), int(match[6])
        fraction = int((match[7] or "0").ljust(6, "0"))
        try:
            return datetime(year, month, day, hour, minute, second, fraction)
        except ValueError:
            pass  # "31-APR-1987": let the general reader say what is wrong
    return published_date(text, where)


def _labels_of(match: re.Match[str] | None) -> tuple[str, ...]:
    """The values of a list element: "<TOPICS><D>cocoa</D><D>coffee</D></TOPICS>" → ("cocoa", "coffee")."""
    if match is None:
        return ()
    labels = (one_line(html.unescape(label)) for label in _LABEL.findall(match["text"]))
    return tuple(dict.fromkeys(label for label in labels if label))


# ── RCV1-style NewsML ────────────────────────────────────────────────────────────────────────────────

_DATELINE_DATE = re.compile(r"\s+\d{4}-\d\d-\d\d\s*$")


def _read_newsml(stream: Replayed, source: Source, report: ProblemHandler) -> Iterator[Story]:
    """One `<newsitem itemid=… date=…>` per file; the id is its itemid."""
    data = stream.read(MAX_STORY_BYTES + 1)
    where = Where(source.path, None, report)
    if len(data) > MAX_STORY_BYTES:
        where.skipped(oversized(len(data) + count_rest(stream)))
        return
    try:
        item = ElementTree.fromstring(data)  # bytes: the XML declaration's encoding is honoured
    except ElementTree.ParseError as error:
        where.skipped(f"invalid XML ({error})")
        return
    if item.tag != "newsitem":
        where.skipped(f"not a NewsML newsitem (the root is <{item.tag}>)")
        return
    story = _newsml_story(item, source.id_base, where)
    if story is not None:
        yield story


def _newsml_story(item: ElementTree.Element, fallback_id: str, where: Where) -> Story | None:
    story_id = checked_id(item.get("itemid"), fallback_id, where)
    if story_id is None:
        return None
    text = item.find("text")
    paragraphs = [" ".join("".join(p.itertext()).split()) for p in text.iter("p")] if text is not None else []
    if text is not None and not paragraphs:
        paragraphs = ["".join(text.itertext())]
    body_text = "\n\n".join(part for part in paragraphs if part)
    if not body_text.strip():
        where.skipped("no text (<text><p>…</p></text>)")
        return None
    body = checked_body(body_text, where)
    if body is None:
        return None
    topics: list[str] = []
    places: list[str] = []
    for codes in item.iter("codes"):
        kind = codes.get("class", "")
        values = [code.get("code", "").strip() for code in codes.iter("code")]
        target = places if "countries" in kind else topics if ("topics" in kind or "industries" in kind) else None
        if target is not None:
            target.extend(value for value in values if value)
    dublin_core = {dc.get("element"): dc.get("value") for dc in item.iter("dc")}
    dateline_text = _DATELINE_DATE.sub("", item.findtext("dateline") or "").strip()
    dateline = parse_dateline(dateline_text) if dateline_text else None
    if "itemid" in item.attrib:
        where = where.named(story_id)
    return make_story(
        where,
        story_id,
        body,
        headline=one_line(item.findtext("headline") or "") or one_line(item.findtext("title") or ""),
        published=published_date(item.get("date") or dublin_core.get("dc.date.published"), where),
        bylines=byline_names(item.findtext("byline") or ""),
        location=dateline.location if dateline else None,
        region=dateline.region if dateline else None,
        agency=one_line(dublin_core.get("dc.source") or "") or None,
        topics=tuple(dict.fromkeys(topics)),
        places=tuple(dict.fromkeys(places)),
    )


# ── Zip archives ─────────────────────────────────────────────────────────────────────────────────────


def read_zip(source: Source, report: ProblemHandler) -> Iterator[Story]:
    """The stories of every readable member of a zip archive, in member name order.

    Story ids are `archive.zip/member` (or the record's own id); problems name the member. A story's
    path is the archive's, so that an unchanged archive is skipped and pruning sees it.
    """
    if source.path == "-":
        report(Problem("-", "a zip archive cannot be read from stdin: save it to a file"))
        return
    try:
        archive = zipfile.ZipFile(source.path)
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        report(Problem(source.path, f"unreadable zip archive ({describe_error(error)})"))
        return
    with archive:
        yield from _members(archive, source, source.path, source.id_base, report, depth=1)


def _members(
    archive: zipfile.ZipFile, source: Source, where: str, id_base: str, report: ProblemHandler, *, depth: int
) -> Iterator[Story]:
    for info in sorted(archive.infolist(), key=lambda info: info.filename):
        name = info.filename
        if info.is_dir() or name.startswith("__MACOSX/") or any(part.startswith(".") for part in name.split("/")):
            continue  # folders, and the hidden files and resource forks archivers add
        member_path, member_id = f"{where}/{name}", f"{id_base}/{name}"

        def member_report(problem: Problem, member_path: str = member_path) -> None:
            report(replace(problem, path=member_path) if problem.path == source.path else problem)

        if info.flag_bits & 0x1:
            report(Problem(member_path, "encrypted archive member"))
            continue
        try:
            with archive.open(info) as raw:
                yield from _member_stories(raw, name, source, member_path, member_id, member_report, depth)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError) as error:
            report(Problem(member_path, f"cannot read ({describe_error(error)})"))


def _member_stories(
    raw: IO[bytes], name: str, source: Source, member_path: str, member_id: str, report: ProblemHandler, depth: int
) -> Iterator[Story]:
    format = source.member_format or format_from_name(name)
    magic = raw.read(4)
    raw.seek(0)  # a member rewinds by reading again from its start: cheap for four bytes
    if format_from_name(name) == "zip" or magic.startswith(_ZIP_MAGIC):  # a container whatever the format forced
        if depth >= _MAX_ZIP_DEPTH:
            report(Problem(member_path, f"zip archive nested more than {_MAX_ZIP_DEPTH} deep"))
            return
        with zipfile.ZipFile(raw) as inner:
            yield from _members(inner, source, member_path, member_id, report, depth=depth + 1)
        return
    stream: ByteStream = gzip.GzipFile(fileobj=raw) if magic.startswith(_GZIP_MAGIC) else raw
    head = read_head(stream)
    if format is None:
        format, problem = sniff_head(head)
        if format is None or format == "zip":
            report(Problem(source.path, problem or "not readable inside a zip archive"))
            return
    member = Source(source.path, member_id, format, source.size, source.mtime_ns)
    yield from read_stream(Replayed(head, stream), member, report)


READERS: dict[str, Reader] = {"reuters": _read_reuters, "newsml": _read_newsml}
