"""Finding the input files: paths, folders and globs → Sources, each with its format, from its name or first bytes."""

from __future__ import annotations

import csv
import glob
import gzip
import io
import itertools
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from newsindex.errors import UsageError
from newsindex.models import Problem

__all__ = ["FORMATS", "ProblemHandler", "Source", "find_sources", "roots"]

# "zip" is a container: its members are read by name or content, or in the format forced with it.
FORMATS = ("text", "jsonl", "csv", "reuters", "newsml", "feed", "html", "warc", "zip")

ProblemHandler = Callable[[Problem], None]

_STDIN = "-"
# The files that mark a folder as an index (index.MANIFEST and storage.LOCK; a test keeps them equal).
INDEX_MARKERS = ("newsindex.json", "newsindex.lock")
_SNIFF_BYTES = 8 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Windows tools save "Unicode" text as UTF-16 with one of these
_EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".sgm": "reuters",
    ".sgml": "reuters",
    ".rss": "feed",
    ".atom": "feed",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".warc": "warc",
    ".zip": "zip",
}  # .xml is NewsML, RSS or Atom: told apart by content
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or the end record of an empty archive
# The markup formats by the name of their DOCTYPE or first element.
_MARKUP_ROOTS = {"lewis": "reuters", "reuters": "reuters", "newsitem": "newsml", "rss": "feed", "feed": "feed"}
_MARKUP_ROOTS |= {"html": "html", "rdf:rdf": "feed"}  # an rdf:RDF root is RSS 1.0 only with its namespace
_PROLOG_PART = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE\s+(?P<doctype>[\w:.-]+)[^>]*>)", re.DOTALL | re.IGNORECASE
)
_FIRST_ELEMENT = re.compile(r"\s*<(?P<name>[A-Za-z_][\w:.-]*)")

# Record keys and CSV columns, matched after field_key(); the first alias present wins.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "story_id", "doc_id", "docid", "guid", "uuid", "newid", "itemid"),
    "headline": ("headline", "title"),
    "published": ("published", "date", "published_at", "pubdate", "publish_date", "datetime", "timestamp"),
    "bylines": ("bylines", "byline", "author", "authors", "by", "creator"),
    "location": ("location", "dateline", "place"),
    "region": ("region", "state", "province"),
    "source": ("source", "agency", "publisher", "outlet"),
    "body": ("body", "text", "content", "article", "story"),
    "credits": ("credits",),
    "topics": ("topics", "categories", "tags", "subjects", "keywords"),
    "places": ("places", "countries"),  # "countries" as exports made before the rename have it
    "orgs": ("orgs", "organisations", "organizations"),
    "people": ("people", "persons"),
}
_KNOWN_KEYS = frozenset(itertools.chain.from_iterable(KEY_ALIASES.values()))

# " date 2019-10-23 By Benet Koleka": the leading space, "By" and the names are all optional.
TEXT_HEADER = re.compile(r"\s*date\b(?P<date>.*?)(?:\bby\b(?P<names>.*))?", re.IGNORECASE)
_GLOB_MAGIC = re.compile(r"[*?[]")
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)


class ByteStream(Protocol):
    """What open_bytes gives: a file, a gzip stream or stdin's buffer."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Source:
    """One input file (or stdin) and the root its story ids are relative to."""

    path: str  # absolute path of the file, or "-" for stdin
    id_base: str  # path relative to the root argument (posix "/"); a file argument's name; "-" for stdin
    format: str  # one of FORMATS
    size: int | None = None
    mtime_ns: int | None = None
    member_format: str | None = None  # for a zip archive: the format its members are read in (None: each its own)

    def __post_init__(self) -> None:
        _check_format(self.format)
        if self.member_format is not None:
            _check_format(self.member_format)

    @property
    def stamp(self) -> str | None:
        """ "size:mtime_ns", which changes when the file does; None for stdin."""
        if self.size is None or self.mtime_ns is None:
            return None
        return f"{self.size}:{self.mtime_ns}"


# ── Finding the input files ──────────────────────────────────────────────────────────────────────────


def find_sources(
    paths: Iterable[str], *, format: str | None = None, on_problem: ProblemHandler | None = None
) -> Iterator[Source]:
    """The input files named by `paths` (files, directories, globs, "-" for stdin), in a stable order.

    Raises UsageError at once, before any file is read, for an unknown format or a path that names nothing.
    """
    if isinstance(paths, str):  # a lone str is also an iterable of one-letter paths
        paths = [paths]
    if format is not None:
        _check_format(format)
    arguments = [(path, _expand(path)) for path in map(os.fspath, paths)]
    if not arguments:
        raise UsageError("no corpus path given")
    return _sources(arguments, format, on_problem or ignore_problem)


def roots(paths: Iterable[str]) -> list[str]:
    """The absolute folder or file each path argument stands for (a glob stands for its fixed leading folder); stdin ('-') has none.

    Pruning uses them: a story read from a file under one of these roots whose file is gone gets removed.
    """
    if isinstance(paths, str):  # a lone str is also an iterable of one-letter paths
        paths = [paths]
    found = []
    for path in map(os.fspath, paths):
        if path == _STDIN:
            continue
        # As in _expand: a path that exists is itself, even with glob characters in its name.
        is_glob = not os.path.lexists(path) and _GLOB_MAGIC.search(path)
        found.append(os.path.abspath(_glob_base(path) if is_glob else path))
    return found


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r} (choose one of: {', '.join(FORMATS)})")


def _expand(path: str) -> list[str] | None:
    """A glob's sorted matches, or None for stdin or a path that exists."""
    if path == _STDIN or os.path.lexists(path):
        return None
    if not _GLOB_MAGIC.search(path):
        raise UsageError(f"no such file or directory: {path}")
    matches = sorted(glob.glob(path, recursive=True))
    if not matches:
        raise UsageError(f"no files match {path}")
    return matches


def _sources(
    arguments: list[tuple[str, list[str] | None]], format: str | None, report: ProblemHandler
) -> Iterator[Source]:
    # Overlapping arguments ("corpus/ corpus/*.txt") would read a file twice; one argument never does.
    seen: set[str] | None = set() if len(arguments) > 1 else None
    for argument, matches in arguments:
        for path, id_base in _files(argument, matches, report):
            if seen is not None:
                if os.path.abspath(path) in seen:
                    continue
                seen.add(os.path.abspath(path))
            source = _source(path, id_base, format, report)
            if source is not None:
                yield source


def _files(argument: str, matches: list[str] | None, report: ProblemHandler) -> Iterator[tuple[str, str]]:
    """(file path, id_base) for every file one path argument names."""
    if argument == _STDIN:
        yield _STDIN, _STDIN
    elif matches is None:
        # A path the user named is followed wherever it points; only what we find under it is fenced in.
        if os.path.isdir(argument):
            yield from _walk(argument, argument, report)
        else:
            yield argument, os.path.basename(argument)
    else:
        base = _glob_base(argument)
        real_base = os.path.realpath(base)
        for match in matches:
            if not _is_within(os.path.realpath(match), real_base):
                report(Problem(os.path.abspath(match), f"symlink points outside {base}"))
            elif os.path.isdir(match):
                yield from _walk(match, base, report)
            else:
                yield match, _relative_id(match, base)


def _glob_base(pattern: str) -> str:
    """The directory a glob's matches are relative to: its leading parts without wildcards."""
    parts = pattern.replace(os.sep, "/").split("/")[:-1]
    leading = list(itertools.takewhile(lambda part: not _GLOB_MAGIC.search(part), parts))
    if leading == [""]:
        return "/"
    return "/".join(leading) or "."


def is_index_folder(directory: str) -> bool:
    """Whether `directory` holds a newsindex index (its manifest or folder lock): never part of a corpus."""
    return any(os.path.exists(os.path.join(directory, name)) for name in INDEX_MARKERS)


def _walk(directory: str, root: str, report: ProblemHandler) -> Iterator[tuple[str, str]]:
    """(file path, id_base) for the files under `directory`, sorted; ids are relative to `root`."""
    if is_index_folder(directory):
        report(Problem(os.path.abspath(directory), "is a newsindex index, not a folder of stories"))
        return
    real_directory = os.path.realpath(directory)
    yield from _walk_below(directory, real_directory, root, os.path.realpath(root), (real_directory,), report)


def _walk_below(
    directory: str, real_directory: str, root: str, real_root: str, ancestors: tuple[str, ...], report: ProblemHandler
) -> Iterator[tuple[str, str]]:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        report(Problem(os.path.abspath(directory), f"cannot read directory ({describe_error(error)})"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue  # .git, .DS_Store, editor swap files: never part of a corpus
        try:
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                if not _is_within(real, real_root):
                    report(Problem(os.path.abspath(entry.path), f"symlink points outside {root}"))
                    continue
            else:
                real = os.path.join(real_directory, entry.name)
            is_directory = entry.is_dir()
        except OSError as error:
            report(Problem(os.path.abspath(entry.path), f"cannot read ({describe_error(error)})"))
            continue
        if not is_directory:
            yield entry.path, _relative_id(entry.path, root)
        elif real in ancestors:
            report(Problem(os.path.abspath(entry.path), "symlink loop"))
        elif is_index_folder(entry.path):
            continue  # an index kept beside its stories (`newsindex index . --index ./index`): not stories
        else:
            # A symlink to elsewhere inside the root is read like a copy, under its own ids.
            yield from _walk_below(entry.path, real, root, real_root, (*ancestors, real), report)


def _is_within(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _relative_id(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def _source(path: str, id_base: str, format: str | None, report: ProblemHandler) -> Source | None:
    """The Source for one file, or None after reporting why it cannot be read."""
    if path == _STDIN:
        return Source(_STDIN, _STDIN, format or "jsonl")
    absolute = os.path.abspath(path)
    try:
        status = os.stat(path)
    except OSError as error:
        report(
            Problem(absolute, "broken symlink" if os.path.islink(path) else f"cannot read ({describe_error(error)})")
        )
        return None
    if not stat.S_ISREG(status.st_mode):
        report(Problem(absolute, "not a regular file"))  # a pipe would be used up by sniffing
        return None
    by_name = format_from_name(absolute)
    if by_name == "zip":  # a container whatever the format forced: that format is its members'
        member_format = format if format != "zip" else None
        return Source(absolute, id_base, "zip", status.st_size, status.st_mtime_ns, member_format)
    chosen = format or by_name or _sniff_file(absolute, report)
    if chosen is None:
        return None
    return Source(absolute, id_base, chosen, status.st_size, status.st_mtime_ns)


def format_from_name(path: str) -> str | None:
    """The format a file's extension names (".gz" looked through), or None."""
    name = path.lower().removesuffix(".gz")
    return _EXTENSIONS.get(os.path.splitext(name)[1])


def _sniff_file(path: str, report: ProblemHandler) -> str | None:
    """The format the first bytes of `path` look like, or None after reporting why there is none."""
    try:
        with open_bytes(path) as stream:
            head = read_head(stream)
    except (OSError, EOFError, zlib.error) as error:
        report(Problem(path, f"cannot read ({describe_error(error)})"))
        return None
    format, problem = sniff_head(head)
    if format is None:
        report(Problem(path, problem))
    return format


def sniff_head(head: bytes) -> tuple[str | None, str]:
    """The format the first bytes of a file look like, or None and why the file cannot be read."""
    if head.startswith(_ZIP_MAGIC):
        return "zip", ""
    problem = head_problem(head)
    format = None if problem else _sniff(head)
    if format is None and not problem:
        problem = _unknown_markup(head) or "binary file"
    return format, problem or ""


def _sniff(head: bytes) -> str | None:
    if head.startswith(UTF16_BOMS):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    if head.lstrip().startswith(b"WARC/"):
        return "warc"
    if head.lstrip().startswith(b"<"):
        root = markup_root(head)
        format = _MARKUP_ROOTS.get(root or "")
        if root == "rdf:rdf" and b"purl.org/rss/1.0" not in head:
            format = None
        if format is not None or head.lstrip().startswith(b"<?xml"):
            return format  # XML of a kind we do not read is no text story either
    first_line = head.decode("utf-8", errors="replace").lstrip().split("\n", 1)[0].strip()
    if TEXT_HEADER.fullmatch(first_line):
        return "text"
    if first_line.startswith("{"):
        return "jsonl"
    columns = [field_key(name) for name in next(csv.reader([first_line], delimiter=guess_delimiter(first_line)))]
    if len(columns) > 1 and _KNOWN_KEYS.intersection(columns):
        return "csv"
    # Binary data is full of control bytes even without a NUL; text, in any 8-bit encoding, has almost none.
    if len(head.translate(None, _NOT_CONTROL_BYTES)) * 50 <= len(head):
        return "text"
    return None


def markup_root(head: bytes) -> str | None:
    """The lower-case name of the DOCTYPE or first element of a markup document ("rss", "newsitem"), or None."""
    text = head.decode("latin-1")  # every byte is a character: enough to see ASCII tag names in any 8-bit encoding
    position = 0
    while match := _PROLOG_PART.match(text, position):
        if match["doctype"]:
            return match["doctype"].lower()
        position = match.end()
    element = _FIRST_ELEMENT.match(text, position)
    return element["name"].lower() if element else None


def _unknown_markup(head: bytes) -> str | None:
    """Why an XML file is not read: it is none of the kinds newsindex knows."""
    if not head.lstrip().startswith(b"<?xml"):
        return None
    root = markup_root(head)
    return f"XML of an unknown kind ({f'<{root}>' if root else 'no root element'}; expected NewsML, RSS or Atom)"


# ── Shared with readers.py: the bytes of a file, and what each format looks like ─────────────────────


@contextmanager
def open_bytes(path: str) -> Iterator[ByteStream]:
    """The bytes at `path` ("-": stdin, left open), decompressed when they are gzip whatever the name."""
    if path == _STDIN:
        yield _stdin_bytes()
        return
    with open(path, "rb") as file:
        if file.peek(2)[:2] != _GZIP_MAGIC:
            yield file
            return
        with gzip.GzipFile(fileobj=file) as unzipped:
            yield unzipped


def _stdin_bytes() -> ByteStream:
    """sys.stdin as bytes, looked up now so that tests and CliRunner can swap it."""
    stream: ByteStream | None = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        return stream
    # A text-only stand-in such as io.StringIO: small by nature, so reading it whole is fine.
    return io.BytesIO(sys.stdin.read().encode("utf-8"))


def read_head(stream: ByteStream) -> bytes:
    """The first bytes of `stream`, enough to tell its format, without a UTF-8 byte order mark."""
    return stream.read(_SNIFF_BYTES).removeprefix(_UTF8_BOM)


def head_problem(head: bytes) -> str | None:
    """Why a file whose first bytes are `head` cannot hold stories, or None."""
    if len(head) < _SNIFF_BYTES and not head.strip():
        return "empty file"
    if head.startswith(UTF16_BOMS):
        return None  # NUL bytes are how UTF-16 writes ASCII, not a sign of binary data
    # Binary data is full of NUL and other control bytes; a text with a NUL or two here and there is text
    # with damaged records, which its reader reports one by one (the rest of the file is still read).
    if b"\0" in head and len(head.translate(None, _NOT_CONTROL_BYTES)) * 50 > len(head):
        return "binary file"
    return None


def field_key(name: str) -> str:
    """ "Story ID", "story-id" → "story_id"."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def guess_delimiter(header_line: str) -> str:
    """The CSV delimiter a header line most likely uses."""
    return max(",\t;|", key=header_line.count)  # ties, and no delimiter at all, give ","


def describe_error(error: BaseException) -> str:
    """Why reading failed, in a few words, for a problem report."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def ignore_problem(problem: Problem) -> None:
    """The on_problem handler when the caller gives none."""
