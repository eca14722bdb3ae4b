"""How a query plan is run over a searcher: the stories it matches, their ranking, the page of hits,
timelines' and facets' matches, similar stories and the index's statistics, all within the request's
deadline. `NewsIndex` (index.py) opens the searcher and calls these; nothing here opens an index."""

from __future__ import annotations

import dataclasses
import html
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from whoosh import query as query_module
from whoosh.collectors import FilterCollector, WrappingCollector
from whoosh.searching import Searcher, TimeLimit

from newsindex import deadline as deadlines
from newsindex.deadline import SEARCH_SECONDS
from newsindex.errors import (
    QueryRejectedError,
)
from newsindex.models import (
    Hit,
    IndexStats,
    Match,
    lead_span,
)
from newsindex.search import expansion
from newsindex.search.collapsing import Folded, story_groups
from newsindex.search.expansion import expanded_plan, feedback_share, feedback_weights, kept_first, relevance_model
from newsindex.search.facets import posting_docnums as _posting_docnums
from newsindex.search.query import FALLBACK_NOTE, QueryPlan, check_expansion, query_marks
from newsindex.search.ranking import (
    Recency,
    SummedUnions,
    coordinated,
    first_stage_depth,
    query_words,
    with_proximity,
)
from newsindex.search.snippets import SCAN_CHARS, snippet
from newsindex.store.dateindex import AllowedOnly, allowed_by_segment, date_filter, live_dates
from newsindex.store.schema import (
    PublishedField,
    index_words,
    matched_words,
    story_from_stored,
)
from newsindex.text.dates import from_seconds
from newsindex.text.names import merge_spellings

SELECTIVE_FILTER = 10  # a filter passing at most 1/10 of the stories is applied inside the matcher


class Scoring(NamedTuple):
    """How a search ranks by relevance beyond BM25F: feedback expansion and recency."""

    expand: bool = False
    require_all: bool = False
    half_life: float | None = None

    def recency(self, searcher: Searcher) -> Recency | None:
        return Recency(searcher, "published", self.half_life) if self.half_life else None


def search_page(
    searcher: Searcher,
    plan: QueryPlan,
    order: str,
    limit: int,
    page: int,
    scoring: Scoring = Scoring(),
    all_versions: bool = False,
    notes: list[str] | None = None,
) -> tuple[int, set[int], tuple[Hit, ...], QueryPlan]:
    """The total, every matching story (document numbers), one page of hits of `plan`, ranked by
    `order`, and the plan searched (its fallback when no story has every word); duplicate groups fold
    into their best story and count once unless `all_versions`. Hits in date order carry their
    relevance score too. What the deadline cut short is said in `notes`."""
    plan = check_expansion(plan, searcher.reader())  # fuzzy words as the index words they stand for
    # the user's words, not the words expansion adds; a phrase's words only where they stand as the phrase
    terms, phrases = query_marks(plan.query, plan.marked_words(searcher.reader()))
    wanted = page * limit
    matching, rank, searched = ranked_matches(searcher, plan, order, scoring)
    groups = None if all_versions else story_groups(searcher)
    if groups is None:
        found, total = [Folded(docnum, score) for docnum, score in rank(wanted)], len(matching)
    else:
        found, total = groups.fold(rank, wanted, matching), groups.count(matching)
    shown = found[wanted - limit : wanted]
    if order != "relevance" and searched.has_words and shown:
        scores = _scores(searcher, searched.query, {folded.docnum for folded in shown})
        scores = dict(with_proximity(searcher, list(scores.items()), query_words(searched.query)))  # as ranked
        shown = [dataclasses.replace(folded, score=scores.get(folded.docnum, 0.0)) for folded in shown]
    hits = _hits(
        searcher,
        [(folded.docnum, folded.score, folded.duplicates) for folded in shown],
        wanted - limit + 1,
        terms,
        phrases,
        notes,
    )
    return total, matching, hits, searched


PAST_DEADLINE = f"the {deadlines.SEARCH_SECONDS:g} s deadline passed"


def _hits(
    searcher: Searcher,
    shown: Sequence[tuple[int, float, Sequence[int]]],
    first_rank: int,
    terms: set[str],
    phrases: Sequence[Any],
    notes: list[str] | None,
) -> tuple[Hit, ...]:
    """The hits of (docnum, score, duplicates' docnums), ranked from `first_rank`: their stories read and
    snippets made until the request's deadline; past it, the lead stands for the snippet and the
    duplicates' ids are not read (a note says so)."""
    deadline = deadlines.current()
    hits = []
    cut = 0
    duplicates: tuple[str, ...]
    for rank_number, (docnum, score, duplicate_docnums) in enumerate(shown, start=first_rank):
        stored = searcher.stored_fields(docnum)
        story = story_from_stored(stored)
        if deadline.expired():
            cut += 1
            marked, duplicates = html.escape(story.lead, quote=False), ()
        else:
            after = 0 if story.headline else lead_span(story.body)[1]  # the lead is shown as the title
            analyzer = _body_analyzer(searcher)
            words = (  # every word's place for phrases; else the query's words only
                index_words(story.body, analyzer)
                if phrases
                else matched_words(story.body, terms, analyzer, limit=SCAN_CHARS)
            )
            marked = snippet(
                story.body, terms, words, fallback=story.lead, phrases=phrases, after=after, expired=deadline.expired
            )
            duplicates = tuple(_ids(searcher, duplicate_docnums, deadline))
        hits.append(Hit(story, score, rank_number, marked, duplicates=duplicates, revises=stored.get("revises")))
    if cut and notes is not None:
        notes.append(f"{cut} of {len(shown)} hits shown without a snippet or versions: {PAST_DEADLINE}")
    return tuple(hits)


def _ids(searcher: Searcher, docnums: Iterable[int], deadline: deadlines.Deadline) -> Iterator[str]:
    """The story ids of `docnums`, until the deadline: from the id column, no stored story read."""
    column: Any = None
    for docnum in docnums:
        if deadline.expired():
            return
        if column is None:
            column = _id_column(searcher)
        yield column[docnum] if column else searcher.stored_fields(docnum)["id"]


def _id_column(searcher: Searcher) -> Any:
    """The id column's reader (False: none), kept with the searcher: opening it reads every story's
    offset (1.3 ms on 10,000 stories), which a search did for each page of hits with versions."""
    try:
        return searcher._newsindex_id_column
    except AttributeError:
        reader = searcher.reader()
        column = reader.column_reader("id") if reader.has_column("id") else False
        searcher._newsindex_id_column = column
        return column


def _body_analyzer(searcher: Searcher) -> Any:
    """The analyzer the index cuts bodies with (an older index keeps its own)."""
    return searcher.schema["body"].analyzer


def ranked_matches(
    searcher: Searcher, plan: QueryPlan, order: str, scoring: Scoring
) -> tuple[set[int], Callable[[int], list[tuple[int, float]]], QueryPlan]:
    """Every story matching `plan` (document numbers), its ranking in `order` (a function giving the
    first `depth` (docnum, score) pairs) and the plan searched: its fallback when no story has every word."""
    plan = check_expansion(plan, searcher.reader())
    parts = {name: getattr(plan, name) for name in ("query", "ranked_first", "fallback")}
    plan = dataclasses.replace(
        plan, **{name: coordinated(part, searcher) for name, part in parts.items() if part is not None}
    )
    recency = scoring.recency(searcher)
    from newsindex.search import vector  # NumPy: imported when a search first ranks, not when the CLI starts

    evaluated = vector.ranking(searcher, plan, order, recency, scoring.expand)
    if evaluated is not None:  # the shapes people type, scored with arrays; the rest through Whoosh
        return evaluated
    allowed = _allowed_docnums(searcher, plan)
    plan, matching = _settled(searcher, plan, allowed)
    searched = plan
    kept: list[int] = []  # the first run's best stories, which keep their place (see expansion.FEEDBACK_KEEP)
    if order == "relevance" and scoring.expand:  # the feedback words also match, unless `require_all`
        plan, kept = _expanded(searcher, plan, allowed, recency, require_all=scoring.require_all)
        matching = _allowed_matches(searcher, plan, allowed)
    # With a filter, only the stories that match and pass it are scored: often far fewer.
    narrowed = None if allowed is None else matching

    def rank(depth: int) -> list[tuple[int, float]]:
        if not matching:  # Whoosh reads an empty filter as no filter at all
            return []
        if order != "relevance":
            return _by_date(searcher, plan.query, narrowed, depth, newest_first=order == "-date")
        return kept_first(_ranked(searcher, plan, narrowed, depth + len(kept), recency, words), kept)[:depth]

    words = query_words(searched.query)  # the user's words: not those feedback adds
    return matching, rank, searched


def suggestion_finds_more(searcher: Searcher, plan: QueryPlan, typed_total: int, deadline: deadlines.Deadline) -> bool:
    """Whether to offer a suggested query: always when the query typed found nothing (the spelling is then
    the one help there is), else only when the suggestion, searched as `search` would (filters, the
    every-word rule and its fallback), finds stories with every word (under `match="any"`: more stories).

    The query typed found something, so a suggestion that finds nothing better is not made, as
    Elasticsearch's phrase suggester prunes with `collate`: `caesars world caw` (a ticker no story names,
    the other words found) is not "corrected" to `caesars world car`, which no story has either. Past
    the deadline, no suggestion."""
    if typed_total == 0:
        return True
    if deadline.expired():
        return False
    try:
        searched, matching = _every_match(searcher, plan)
    except QueryRejectedError:  # the request's time ran out while looking: the search stands without it
        return False
    if plan.fallback is None and plan.matched == "any":  # the user asked for any of the words
        return len(matching) > typed_total
    return bool(matching) and searched.matched == "all"


def _settled(searcher: Searcher, plan: QueryPlan, allowed: set[int] | None) -> tuple[QueryPlan, set[int]]:
    """The plan to search and the stories it matches among those the filters allow: `plan`, or its
    fallback (some of the words) when no allowed story has every word."""
    matching = _allowed_matches(searcher, plan, allowed)
    if not matching and plan.fallback is not None and (allowed is None or allowed):
        plan = plan.fall_back()
        matching = _allowed_matches(searcher, plan, allowed)
    return plan, matching


def _every_match(searcher: Searcher, plan: QueryPlan) -> tuple[QueryPlan, set[int]]:
    """Every story matching `plan` (document numbers), and the plan searched (see `_settled`)."""
    plan = check_expansion(plan, searcher.reader())
    return _settled(searcher, plan, _allowed_docnums(searcher, plan))


def timeline_matches(searcher: Searcher, plan: QueryPlan) -> tuple[Match, set[int]]:
    """The stories a timeline of `plan` counts, with its date range left out (undated stories are
    counted apart; the range bounds the periods), and which set they are. Whether to fall back to some
    of the words is decided inside the range, as `search` decides it."""
    plan = check_expansion(plan, searcher.reader())
    if plan.start is not None or plan.end is not None:
        if plan.fallback is not None:
            plan, _ = _settled(searcher, plan, _allowed_docnums(searcher, plan))
        plan = dataclasses.replace(plan, start=None, end=None, fallback=None)
    plan, matching = _settled(searcher, plan, _allowed_docnums(searcher, plan))
    return plan.matched, matching


def _scores(searcher: Searcher, query: Any, docnums: set[int]) -> dict[int, float]:
    """The relevance score of each of these stories for `query`."""
    results = _timed_search(searcher, query, limit=len(docnums), filter=docnums)
    return {hit.docnum: float(hit.score) for hit in results}


def _allowed_matches(searcher: Searcher, plan: QueryPlan, allowed: set[int] | None) -> set[int]:
    """The stories matching `plan`'s query among those its filters allow (`allowed`, None for all)."""
    if allowed is not None and (not allowed or not plan.has_words):
        return allowed  # filters alone: what passes them is the answer
    matching = _matching(searcher, plan.query)
    return matching if allowed is None else matching & allowed


def _expanded(
    searcher: Searcher, plan: QueryPlan, allowed: set[int] | None, recency: Recency | None, *, require_all: bool
) -> tuple[QueryPlan, list[int]]:
    """`plan` with the words of its best stories added (RM3, see newsindex.search.expansion), and the first
    run's best FEEDBACK_KEEP stories, which keep their place."""
    first = _ranked(searcher, plan, allowed, expansion.FEEDBACK_STORIES + 1, recency)
    share = feedback_share(first)
    if share <= 0:
        return plan, []  # one story stands out: the query has its answer, feedback would only drift
    feedback = feedback_weights(first)
    texts = []
    for docnum, score in feedback:
        story = story_from_stored(searcher.stored_fields(docnum))
        texts.append((f"{story.headline or ''}\n{story.body}", score))
    reader = searcher.reader()
    stories = max(1, reader.doc_count())
    analyzer = _body_analyzer(searcher)
    model = relevance_model(texts, share=lambda term: reader.doc_frequency("body", term) / stories, analyzer=analyzer)
    kept = [docnum for docnum, _ in first[: expansion.FEEDBACK_KEEP]]
    return expanded_plan(plan, model, require_all=require_all, share=share), kept


def similar_stories(
    searcher: Searcher, story_id: str, limit: int, all_versions: bool, notes: list[str] | None = None
) -> tuple[Hit, ...] | None:
    """The hits of `NewsIndex.similar`, or None if there is no such story."""
    from newsindex.search.similar import KEY_TERMS_CHARS, key_terms, more_like

    docnum = searcher.document_number(id=story_id)
    if docnum is None:
        return None
    story = story_from_stored(searcher.stored_fields(docnum))
    weighted = key_terms(searcher, f"{story.headline or ''}\n{story.body[:KEY_TERMS_CHARS]}")

    def search(query: Any, depth: int, left_out: set[int]) -> list[tuple[int, float]]:
        return [(hit.docnum, float(hit.score)) for hit in _timed_search(searcher, query, limit=depth, mask=left_out)]

    found = more_like(searcher, docnum, weighted, limit, all_versions=all_versions, search=search)
    shown = [(folded.docnum, folded.score, folded.duplicates) for folded in found]
    return _hits(searcher, shown, 1, {term for term, _ in weighted}, (), notes)


def matching_by_date(
    searcher: Searcher, plan: QueryPlan | None, on_fallback: Callable[[str], None] | None = None
) -> list[int]:
    """The document numbers matching `plan` (every live one if None), oldest first, undated last;
    `on_fallback` hears the message when no story has every word and those with some are listed."""
    if plan is None:
        matching: Iterable[int] = searcher.reader().all_doc_ids()
    else:
        plan, matching = _every_match(searcher, plan)
        if plan.fell_back and on_fallback is not None:
            on_fallback(FALLBACK_NOTE)
    dates: dict[int, int] = {}
    for leaf, offset in searcher.leaf_searchers():
        stop_at_deadline(deadlines.current())
        reader = leaf.reader()
        if reader.has_column("published"):
            column = reader.column_reader("published", translate=False)
            dates.update((offset + docnum, column[docnum]) for docnum in range(reader.doc_count_all()))
    undated = PublishedField.MISSING
    return sorted(matching, key=lambda docnum: (dates.get(docnum, undated) == undated, dates.get(docnum, 0), docnum))


def index_stats(searcher: Searcher, top: int) -> IndexStats:
    reader = searcher.reader()
    dated = [
        from_seconds(value) for leaf, _ in searcher.leaf_searchers() for value in live_dates(leaf.reader(), "published")
    ]
    years = Counter(moment.year for moment in dated)
    span = range(min(years), max(years) + 1) if years else range(0)
    return IndexStats(
        stories=reader.doc_count(),
        first_published=min(dated).date() if dated else None,
        last_published=max(dated).date() if dated else None,
        undated=reader.doc_count() - len(dated),
        years=tuple((year, years.get(year, 0)) for year in span),
        top_bylines=_top_values(reader, "byline_exact", top),
        top_locations=_top_values(reader, "location_exact", top),
        top_sources=_top_values(reader, "source_exact", top),
    )


def read_through(searcher: Searcher) -> list[str]:
    """Read every stored story, column and posting list of every segment; one line per failure."""
    problems = []
    for leaf, _ in searcher.leaf_searchers():
        reader = leaf.reader()
        if reader.segment() is None:  # an empty index has no segment to read
            continue
        segment = reader.segment().segment_id()
        try:
            for docnum in range(reader.doc_count_all()):
                if not reader.is_deleted(docnum):
                    story_from_stored(reader.stored_fields(docnum))
            for fieldname in reader.schema.names():
                if reader.has_column(fieldname):
                    column = reader.column_reader(fieldname)
                    for docnum in range(reader.doc_count_all()):
                        column[docnum]
                if reader.schema[fieldname].indexed:
                    for term in reader.lexicon(fieldname):
                        _posting_docnums(reader.postings(fieldname, term))
        except Exception as error:
            problems.append(f"segment {segment} cannot be read: {type(error).__name__}: {error}")
    return problems


def _allowed_docnums(searcher: Searcher, plan: QueryPlan) -> set[int] | None:
    """The stories that pass the plan's date range and filters (None: every story passes)."""
    allowed: set[int] | None = None
    if plan.start is not None or plan.end is not None:
        allowed = date_filter(searcher, "published", plan.start, plan.end)
    for filter_query in plan.filters:
        matching = _docs_within_deadline(searcher, filter_query)
        allowed = matching if allowed is None else allowed & matching
    return allowed


def _ranked(
    searcher: Searcher,
    plan: QueryPlan,
    allowed: set[int] | None,
    wanted: int,
    recency: Recency | None = None,
    words: Sequence[str] | None = None,
) -> list[tuple[int, float]]:
    """The top `wanted` (docnum, score): stories matching every word first, then those matching some;
    within each, the best ranked again with the proximity of the query's `words` (the user's words in
    order, by default those of `plan.query`: see `ranking.with_proximity`)."""
    words = query_words(plan.query) if words is None else words
    found: list[tuple[int, float]] = []
    for tier in (plan.ranked_first, plan.query):
        if tier is None or len(found) >= wanted:
            continue
        already = {docnum for docnum, _ in found}
        depth = first_stage_depth(wanted - len(found))
        results = _timed_search(searcher, tier, limit=depth, filter=allowed, mask=already or None, recency=recency)
        tier_found = with_proximity(searcher, [(hit.docnum, float(hit.score)) for hit in results], words, recency)
        found.extend(tier_found[: wanted - len(found)])
    return found


def _by_date(
    searcher: Searcher, query: Any, allowed: set[int] | None, wanted: int, *, newest_first: bool
) -> list[tuple[int, float]]:
    """The first `wanted` matches by date; stories without a date come last either way."""
    dated = date_filter(searcher, "published", None, None)
    first = dated if allowed is None else allowed & dated
    results = _timed_search(searcher, query, limit=wanted, filter=first, sortedby="published", reverse=newest_first)
    found = [(hit.docnum, 0.0) for hit in results]
    if len(found) < wanted:
        results = _timed_search(searcher, query, limit=wanted - len(found), filter=allowed, mask=dated)
        found.extend((hit.docnum, 0.0) for hit in results)
    return found


def _timed_search(
    searcher: Searcher,
    query: Any,
    *,
    filter: set[int] | None = None,
    mask: set[int] | None = None,
    recency: Recency | None = None,
    **options: Any,
) -> Any:
    """Whoosh's search, stopped with QueryRejectedError when the request's deadline passes."""
    if filter is not None and not filter:
        return []  # Whoosh reads an empty filter as no filter at all
    query = SummedUnions(query)  # true score bounds for its ORs (newsindex.search.ranking)
    if filter is not None and len(filter) * SELECTIVE_FILTER <= searcher.doc_count_all():
        # A few allowed stories: score only those, rather than every match and then filter.
        query, filter = AllowedOnly(query, allowed_by_segment(searcher, filter)), None
    # The deadline wraps the ranking collector, the filter wraps both: Whoosh's own TimeLimitCollector
    # would bypass the filter, which lives in FilterCollector.collect_matches.
    ranking = recency.collector(options["limit"]) if recency else searcher.collector(**options)
    collector: Any = _Deadline(ranking, deadlines.current())
    if filter is not None or mask:
        collector = FilterCollector(collector, allow=filter, restrict=mask or None)
    try:
        searcher.search_with_collector(query, collector)
    except TimeLimit:
        raise QueryRejectedError(
            f"the search took longer than {SEARCH_SECONDS:g} s and was stopped: make the query more specific"
        ) from None
    return collector.results()


class _Deadline(WrappingCollector):  # type: ignore[misc]
    """Raises TimeLimit when a search collects past its deadline."""

    def __init__(self, child: Any, deadline: deadlines.Deadline) -> None:
        super().__init__(child)
        self._deadline = deadline

    def collect(self, sub_docnum: int) -> Any:
        if self._deadline.expired():
            raise TimeLimit
        return self.child.collect(sub_docnum)


def _matching(searcher: Searcher, query: Any) -> set[int]:
    """The stories matching `query`."""
    matching = _union_of_terms(searcher, query)
    if matching is None and isinstance(query, query_module.And) and query.subqueries:
        # every word (the default): each word's stories from the postings, intersected, rarest first
        parts = [_union_of_terms(searcher, part) for part in query.subqueries]
        if all(part is not None for part in parts):
            found = sorted((part for part in parts if part is not None), key=len)
            return found[0].intersection(*found[1:])
    return _docs_within_deadline(searcher, query) if matching is None else matching


def _docs_within_deadline(searcher: Searcher, query: Any) -> set[int]:
    """Whoosh's `docs_for_query`, stopped with QueryRejectedError when the request's deadline passes."""
    deadline = deadlines.current()
    found: set[int] = set()
    for docnum in searcher.docs_for_query(query):
        stop_at_deadline(deadline)
        found.add(docnum)
    return found


def stop_at_deadline(deadline: deadlines.Deadline) -> None:
    """QueryRejectedError once `deadline` has passed."""
    if deadline.expired():
        raise QueryRejectedError(
            f"the search took longer than {SEARCH_SECONDS:g} s and was stopped: make the query more specific"
        )


def _union_of_terms(searcher: Searcher, query: Any) -> set[int] | None:
    """The stories matching any term of an OR-of-terms query, read a postings block at a time.

    Counting through Whoosh's matchers costs a Python call per story per term; plain keyword queries
    (terms OR-ed across fields) are most queries and can be counted from the postings directly.
    None when the query has other parts (phrases, AND, NOT, ranges).
    """
    if not _is_or_of_terms(query):
        return None
    found: set[int] = set()
    deadline = deadlines.current()
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        for term in query.leaves():
            stop_at_deadline(deadline)
            if (term.fieldname, term.text) not in reader:
                continue
            docnums = _posting_docnums(reader.postings(term.fieldname, term.text))
            found.update(docnums if offset == 0 else (docnum + offset for docnum in docnums))
    return found


def _is_or_of_terms(query: Any) -> bool:
    if isinstance(query, query_module.Term):
        return type(query) is query_module.Term  # not a Prefix, Wildcard or other subclass
    return isinstance(query, query_module.Or) and all(_is_or_of_terms(child) for child in query.children())


def _top_values(reader: Any, fieldname: str, top: int) -> tuple[tuple[str, int], ...]:
    counts: Counter[str] = Counter()
    for term in reader.lexicon(fieldname):
        postings = reader.postings(fieldname, term)
        counts[term.decode("utf-8")] = sum(1 for _ in postings.all_ids())
    merged = Counter(merge_spellings(counts))  # "Peter Torday" and "PETER TORDAY" are one name
    return tuple((name, count) for name, count in merged.most_common(top) if count)


# -- the folder ---------------------------------------------------------------------------------------
