"""The three nouns of newsindex: Story, Hit and SearchResults (plus what readers report)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

from newsindex.errors import NewsIndexError, QueryError, QueryRejectedError, UsageError
from newsindex.text.dateline import split_dateline
from newsindex.text.dates import DateError, from_seconds, parse_bound, parse_since, to_seconds

# A sentence ends at . ! or ? (maybe closed by a quote or bracket) followed by space and a capital,
# a digit or an opening quote; the abbreviation check below keeps "U.S. officials" in one sentence.
_SENTENCE_END = re.compile(r"""[.!?]["'”’)\]]*\s+(?=["“‘'(]?[A-Z0-9])""")
# A full stop that ends an abbreviation, not a sentence: an initial or the last letter of U.S., U.K.; a title,
# a company suffix, a month; "No." only before a number ("No. 2", not "she said no. Then"). Any case: wire
# copy comes in capitals too ("MRS. THATCHER", "JAN. 5").
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]\.|\b(?:Mr|Mrs|Ms|Dr|Prof|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|St|Jr|Sr|Inc|Corp|Co|Ltd|vs|Jan|Feb|"
    r"Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.)$",
    re.IGNORECASE,
)
_NUMBER_ABBREVIATION = re.compile(r"\bno\.$", re.IGNORECASE)
_LEAD_MAX_CHARS = 400
_OPTIONAL_TEXT = ("headline", "location", "region", "source", "path")
_NAME_TUPLES = ("bylines", "topics", "places", "orgs", "people")  # tuples of names or labels
Sort = Literal["relevance", "date", "-date"]  # the orders of search: by relevance, oldest first, newest first
SORTS: tuple[Sort, ...] = get_args(Sort)
Match = Literal["all", "any"]  # every word of the query (the default), or some of them
MATCHES: tuple[Match, ...] = get_args(Match)
MAX_NAMES = 50  # bylines given to one search
MAX_NAME_CHARS = 200  # characters of one byline, location or source filter


@dataclass(frozen=True, slots=True)
class Credit:
    """One part of a wire credit line, e.g. role "Editing" with names ("David Holmes",)."""

    role: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Story:
    """A news story as newsindex knows it; only `id` and `body` are always present."""

    id: str
    body: str
    headline: str | None = None
    published: date | None = None  # a date, or a datetime when the source gives a time
    bylines: tuple[str, ...] = ()
    location: str | None = None
    region: str | None = None  # the dateline's state, province or country: "Calif.", "Alberta", "West Germany"
    source: str | None = None
    credits: tuple[Credit, ...] = ()
    path: str | None = None
    topics: tuple[str, ...] = ()  # subject codes, categories and tags as the source gives them
    places: tuple[str, ...] = ()  # the places the source tags the story with (Reuters PLACES, RCV1 countries)
    orgs: tuple[str, ...] = ()  # organisations the source tags it with (Reuters ORGS)
    people: tuple[str, ...] = ()  # people the source tags it with (Reuters PEOPLE)

    def __post_init__(self) -> None:
        # Cheap checks (a few type tests a story): the indexer makes a Story for every story it reads.
        if not isinstance(self.id, str) or not self.id.strip():
            raise UsageError(f"Story.id must be a non-empty str, not {self.id!r}")
        if not isinstance(self.body, str) or not self.body.strip():
            raise UsageError(f"Story.body of story {self.id!r} must be a non-blank str, not {_shown(self.body)}")
        if self.published is not None and not isinstance(self.published, date):
            raise UsageError(
                f"Story.published of story {self.id!r} must be a datetime.date or datetime.datetime, "
                f"not {type(self.published).__name__} {self.published!r}"
            )
        for name in _OPTIONAL_TEXT:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise UsageError(f"Story.{name} of story {self.id!r} must be a str or None, not {_shown(value)}")
        for name in _NAME_TUPLES:
            values = getattr(self, name)
            if type(values) is not tuple:
                values = _name_tuple(self.id, name, values)
                object.__setattr__(self, name, values)  # a list given is kept as a tuple
            if values and not all(isinstance(value, str) for value in values):
                raise UsageError(f"Story.{name} of story {self.id!r} must hold only str values, not {values!r}")
        if type(self.credits) is not tuple:
            object.__setattr__(self, "credits", _name_tuple(self.id, "credits", self.credits))
        if self.credits and not all(isinstance(credit, Credit) for credit in self.credits):
            raise UsageError(f"Story.credits of story {self.id!r} must be a tuple of Credit, not {self.credits!r}")

    @property
    def lead(self) -> str:
        """The first sentence of the body, dateline removed: what the text format shows as headline."""
        return lead_sentence(self.body)

    @property
    def title(self) -> str:
        """The headline when there is one, otherwise the lead sentence."""
        return self.headline or self.lead

    def to_dict(self) -> dict[str, Any]:
        """The story as JSON-ready data (dates in ISO 8601, credits as role → names)."""
        return {
            "id": self.id,
            "headline": self.headline,
            "published": self.published.isoformat() if self.published else None,
            "bylines": list(self.bylines),
            "location": self.location,
            "region": self.region,
            "source": self.source,
            "credits": {credit.role: list(credit.names) for credit in self.credits},
            "topics": list(self.topics),
            "places": list(self.places),
            "orgs": list(self.orgs),
            "people": list(self.people),
            "lead": self.lead,
            "body": self.body,
            "path": self.path,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """A story that matched a query; rank 1 is the best match."""

    story: Story
    score: float
    rank: int
    snippet: str = ""  # an HTML fragment: the text escaped, matched words in <mark>…</mark>
    duplicates: tuple[str, ...] = ()  # ids of the other matching versions of this story, folded into this hit
    revises: str | None = None  # id of an earlier story this one updates with other figures (duplicates.py)

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON-ready data: the story's fields without its body, plus score and snippet."""
        story = self.story
        return {
            "id": story.id,
            "rank": self.rank,
            "score": float(f"{self.score:.4g}") if 0 < abs(self.score) < 1 else round(self.score, 4),  # --recent: tiny
            "published": story.published.isoformat() if story.published else None,
            "headline": story.headline,
            "lead": story.lead,
            "bylines": list(story.bylines),
            "location": story.location,
            "region": story.region,
            "source": story.source,
            "topics": list(story.topics),
            "places": list(story.places),
            "orgs": list(story.orgs),
            "people": list(story.people),
            "snippet": self.snippet,
            "path": story.path,
            "duplicates": list(self.duplicates),
            "revises": self.revises,
        }


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of ranked hits and how many stories matched in all."""

    query: str
    total: int
    hits: tuple[Hit, ...]
    page: int = 1
    limit: int = 10
    took_ms: float = 0.0
    suggestion: str | None = None  # "Did you mean": the query with unknown words corrected, when few stories matched
    # facet name → (value, stories) pairs over every matching story; only the facets asked for
    facets: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    # The set total, facets and hits are of: stories with every word ("all") or with some ("any"); and
    # why, when it is "any" without being asked for (no story has every word).
    matched: Match = "all"
    message: str | None = None
    notes: tuple[str, ...] = ()  # what was cut short to answer inside the deadline ("3 of 10 hits … without a snippet")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def to_dict(self) -> dict[str, Any]:
        """The results as JSON-ready data, the shape of `newsindex search --json`."""
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "limit": self.limit,
            "took_ms": round(self.took_ms, 2),
            "suggestion": self.suggestion,
            "matched": self.matched,
            "message": self.message,
            "hits": [hit.to_dict() for hit in self.hits],
            **({"facets": self.facets_dict()} if self.facets else {}),
            **({"notes": list(self.notes)} if self.notes else {}),
        }

    def facets_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The facet counts as JSON-ready data: name → [{"name": value, "stories": count}, …]."""
        return {
            facet: [{"name": value, "stories": count} for value, count in pairs] for facet, pairs in self.facets.items()
        }


@dataclass(frozen=True, slots=True)
class Filters:
    """Which stories a search, timeline or export looks at, and how its words must match: every argument
    of `NewsIndex.search`, `timeline`, `stories` and `grouped_stories` but the query text, order and paging.

    `start` and `end` are inclusive and may be partial (end="2019-10" includes all of October 2019) or
    relative ("7d", "2w", "3m", "1y", "today", "now"); `since` ("7d") keeps stories from that long ago on.
    `bylines` keeps stories by any of these reporters; `topics`, `places`, `orgs`, `people` those the
    source tagged with any of these labels (one str is one name, not its letters; kept as tuples, blank
    names left out); `location`, `source` and `region` (state or country of the dateline) one name each.
    `match="any"` asks for stories with some of the words (those with every word ranked first);
    `require_all` for every word, never falling back to some; `plain` reads the query as words only (no
    syntax); `fuzzy` lets every word match near spellings.

    Checked when made: QueryError for a date that cannot be read, UsageError for a range that ends before
    it starts or an unknown `match`, QueryRejectedError for more names than a search may take.
    """

    start: str | date | None = None
    end: str | date | None = None
    since: str | None = None
    bylines: Iterable[str] = ()
    location: str | None = None
    source: str | None = None
    region: str | None = None
    topics: Iterable[str] = ()
    places: Iterable[str] = ()
    orgs: Iterable[str] = ()
    people: Iterable[str] = ()
    match: Match = "all"
    require_all: bool = False
    plain: bool = False
    fuzzy: bool = False

    def __post_init__(self) -> None:
        for name in _FILTER_NAMES:
            object.__setattr__(self, name, _labels(getattr(self, name)))
        for name in _FILTER_TEXTS:
            if getattr(self, name) == "":  # a blank option is no filter (HTTP sends `from=` for an empty box)
                object.__setattr__(self, name, None)
        check_match(self.match, self.require_all)
        _check_names(tuple(self.bylines), self.location, self.source)
        self.bounds()  # a date that cannot be read, or a range that ends before it starts, fails now

    def bounds(self) -> tuple[int | None, int | None]:
        """The date range in seconds (`newsindex.text.dates.to_seconds`), `since` in it; None: open on that side.
        Relative bounds ("7d") count back from now, at each call."""
        first = _bound(self.start, end=False)
        if self.since is not None:
            since = _since(self.since)
            first = since if first is None else max(first, since)
        last = _bound(self.end, end=True)
        check_range(first, last, UsageError)
        return first, last

    def tags(self) -> dict[str, tuple[str, ...]]:
        """The region and tag filters given, by field (`newsindex.store.schema.TAG_FIELDS`)."""
        given = {
            "region": (self.region,) if self.region else (),
            "topic": tuple(self.topics),
            "place": tuple(self.places),
            "org": tuple(self.orgs),
            "person": tuple(self.people),
        }
        return {fieldname: values for fieldname, values in given.items() if values}

    @property
    def narrows(self) -> bool:
        """True when some filter leaves stories out (`match`, `plain` and the like only shape the query)."""
        dates = self.start is not None or self.end is not None or self.since is not None
        return dates or bool(tuple(self.bylines)) or bool(self.location or self.source or self.tags())


_FILTER_NAMES = ("bylines", "topics", "places", "orgs", "people")
_FILTER_TEXTS = ("start", "end", "since", "location", "source", "region")


def check_match(match: str, require_all: bool = False) -> None:
    """UsageError for an unknown matching rule, or for asking for every word and for any at once."""
    if match not in MATCHES:
        raise UsageError(f"unknown match {match!r}: use all (every word, the default) or any (some words)")
    if require_all and match == "any":
        raise UsageError("every word (all) and some words (any) at once: choose one")


def check_range(start: int | None, end: int | None, error: type[NewsIndexError]) -> None:
    """`error` for a date range (in seconds) that ends before it starts: no story could match."""
    if start is not None and end is not None and start > end:
        first, last = from_seconds(start).date().isoformat(), from_seconds(end).date().isoformat()
        raise error(f"the date range starts ({first}) after it ends ({last}): swap the dates")


def _labels(values: Iterable[str]) -> tuple[str, ...]:
    """Names as given, blank ones left out: one str is one name, not the letters of one (`bylines="Benet Koleka"`)."""
    given = (values,) if isinstance(values, str) else tuple(values)
    return tuple(value for value in given if value.strip())


def _check_names(bylines: tuple[str, ...], location: str | None, source: str | None) -> None:
    """QueryRejectedError for name filters past what one search may be given (each name is a phrase)."""
    if len(bylines) > MAX_NAMES:
        raise QueryRejectedError(f"{len(bylines):,} bylines in one search; the limit is {MAX_NAMES}")
    for option, values in (("byline", bylines), ("location", (location or "",)), ("source", (source or "",))):
        for value in values:
            if len(value) > MAX_NAME_CHARS:
                raise QueryRejectedError(
                    f"the {option} filter is {len(value):,} characters long; the limit is {MAX_NAME_CHARS}"
                )


def _bound(value: str | date | None, *, end: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, date):
        return to_seconds(parse_bound(value.isoformat(), end=end))
    try:
        return to_seconds(parse_bound(value, end=end))
    except DateError as error:
        side = "end" if end else "start"
        raise QueryError(
            f"invalid {side} date: {error}; use YYYY, YYYY-MM, YYYY-MM-DD, a timestamp, or 7d, 2w, 3m, 1y, today, now"
        ) from None


def _since(value: str) -> int:
    try:
        return to_seconds(parse_since(value))
    except DateError as error:
        raise QueryError(f"{error}: use a number of days, weeks, months or years: 7d, 2w, 3m, 1y (or today)") from None


NO_FILTERS = Filters()  # every story


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an input file or record was skipped, or read only in part ("degraded")."""

    path: str
    reason: str
    kind: Literal["skipped", "degraded"] = "skipped"
    record: int | None = None  # 1-based line or row for multi-story files
    story: str | None = None  # the story's own id when the record gave one (Reuters NEWID, a JSON "id")
    # Reported once per input: a later problem of the same input with the same `once` key is left out.
    once: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.record}" if self.record is not None else self.path
        if self.story is not None:
            where = f"{where} (story {self.story})"
        return f"{where}: {self.reason}"


KEPT_PROBLEMS = 10_000  # problems of a run kept in detail (about 220 bytes each); the rest are counted


class Problems(list[Problem]):
    """The problems of a run: every one counted, the first `keep` kept in detail.

    A run over a corpus of millions of bad records would otherwise hold a Problem for each (220 bytes);
    past `keep`, `append` only counts it: `total` all, `more` those not kept, `skipped` the skipped
    inputs among all, and `skipped_reasons` how many of those had each reason (as `problem_kind` words it).
    """

    _KINDS = 100  # distinct reasons counted by name; the rest under "other"

    def __init__(self, keep: int | None = None) -> None:
        super().__init__()
        self.keep = KEPT_PROBLEMS if keep is None else keep
        self.total = 0
        self.skipped = 0
        self.skipped_reasons: dict[str, int] = {}

    def append(self, problem: Problem) -> None:
        self.total += 1
        if problem.kind == "skipped":
            self.skipped += 1
            reason = problem_kind(problem.reason)
            if reason not in self.skipped_reasons and len(self.skipped_reasons) >= self._KINDS:
                reason = "other"
            self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1
        if len(self) < self.keep:
            super().append(problem)

    @property
    def more(self) -> int:
        """How many problems were counted but not kept."""
        return self.total - len(self)


def problem_kind(reason: str) -> str:
    """A reason without its details: "invalid JSON (…)" → "invalid JSON", "cannot read: …" → "cannot read"."""
    return re.sub(r"\s*\(.*|:.*", "", reason)


@dataclass(slots=True)
class IndexReport:
    """What one `add` run did: counts by outcome, problems by input, time taken."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[Problem] = field(default_factory=Problems)  # the first KEPT_PROBLEMS, if a Problems
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        """How many inputs were skipped outright (degraded ones were still indexed)."""
        if isinstance(self.problems, Problems):
            return self.problems.skipped
        return sum(1 for problem in self.problems if problem.kind == "skipped")

    @property
    def problem_count(self) -> int:
        """How many problems the run had, those not kept in `problems` too."""
        return self.problems.total if isinstance(self.problems, Problems) else len(self.problems)

    def skipped_reasons(self) -> dict[str, int]:
        """How many inputs were skipped for each kind of reason (`problem_kind`)."""
        if isinstance(self.problems, Problems):
            return dict(self.problems.skipped_reasons)
        reasons: dict[str, int] = {}
        for problem in self.problems:
            if problem.kind == "skipped":
                reason = problem_kind(problem.reason)
                reasons[reason] = reasons.get(reason, 0) + 1
        return reasons

    @property
    def written(self) -> int:
        """How many stories this run wrote to the index."""
        return self.added + self.updated

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        rate = (self.written + self.unchanged) / self.seconds if self.seconds else 0.0
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": self.skipped,
            "problems": [
                {"path": p.path, "record": p.record, "story": p.story, "kind": p.kind, "reason": p.reason}
                for p in self.problems
            ],
            "problem_count": self.problem_count,  # `problems` lists the first KEPT_PROBLEMS of them
            "seconds": round(self.seconds, 3),
            "stories_per_second": round(rate, 1),
        }


def _name_tuple(story_id: str, name: str, values: object) -> tuple[str, ...]:
    """A list of names (or credits) as a tuple; UsageError for one str (not the letters of a name) or a non-sequence."""
    if isinstance(values, str):
        raise UsageError(
            f"Story.{name} of story {story_id!r} must be a tuple of names, not the str {values!r}: "
            f"write {name}=({values!r},)"
        )
    if not isinstance(values, (list, tuple)):
        raise UsageError(f"Story.{name} of story {story_id!r} must be a tuple of str, not {_shown(values)}")
    return tuple(values)


def _shown(value: object) -> str:
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:60] + '…'}"


def lead_sentence(body: str) -> str:
    """The first sentence of `body` after its dateline, at most a few hundred characters."""
    start, end = lead_span(body)
    lead = body[start:end].strip()
    if len(lead) > _LEAD_MAX_CHARS:
        cut = lead.rfind(" ", 0, _LEAD_MAX_CHARS)
        lead = lead[: cut if cut > 0 else _LEAD_MAX_CHARS] + "…"
    return lead


def lead_span(body: str) -> tuple[int, int]:
    """Where the lead sentence lies in `body`: (start, end) character offsets, the dateline skipped."""
    rest = split_dateline(body)[1]
    start = len(body) - len(rest)
    start += len(rest) - len(rest.lstrip())
    newline = body.find("\n", start)
    paragraph_end = len(body) if newline < 0 else newline
    end = next(sentence_ends(body, start, paragraph_end), paragraph_end)
    return start, end


def sentence_ends(text: str, low: int, high: int) -> Iterator[int]:
    """Where each sentence of `text[low:high]` but the last ends: the offset of the next one's first
    character, in order. A full stop ending an abbreviation ("U.S. officials", "Jan. 5") ends none."""
    for match in _SENTENCE_END.finditer(text, low, high):
        before = text[low : match.start() + 1]
        if _ABBREVIATION.search(before):
            continue
        if _NUMBER_ABBREVIATION.search(before) and text[match.end() : match.end() + 1].isdigit():
            continue
        yield match.end()


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What an index holds: story count, date span, stories per year, most frequent names."""

    stories: int
    first_published: date | None
    last_published: date | None
    undated: int
    years: tuple[tuple[int, int], ...]  # (year, stories), every year in the span, zeros included
    top_bylines: tuple[tuple[str, int], ...]
    top_locations: tuple[tuple[str, int], ...]
    top_sources: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        """The stats as JSON-ready data, the shape of `newsindex stats --json`."""
        return {
            "stories": self.stories,
            "first_published": self.first_published.isoformat() if self.first_published else None,
            "last_published": self.last_published.isoformat() if self.last_published else None,
            "undated": self.undated,
            "years": {str(year): count for year, count in self.years},
            "top_bylines": [{"name": name, "stories": count} for name, count in self.top_bylines],
            "top_locations": [{"name": name, "stories": count} for name, count in self.top_locations],
            "top_sources": [{"name": name, "stories": count} for name, count in self.top_sources],
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What `newsindex check` found: the problems (none when the index is whole) and what was read."""

    stories: int
    files: int
    bytes: int
    problems: tuple[str, ...]

    @property
    def is_whole(self) -> bool:
        """True when every file matches its checksum and every segment could be read."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "whole": self.is_whole,
            "stories": self.stories,
            "files": self.files,
            "bytes": self.bytes,
            "problems": list(self.problems),
        }
