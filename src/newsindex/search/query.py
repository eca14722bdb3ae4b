"""User text → a query plan: what must match, what ranks first, and the date range to filter by.

Two readings of the text: the query language (phrases, proximity, patterns, fuzzy words, boosts, fields,
dates), or with `plain` a lenient one for search boxes and natural-language topics where every character
is text and only the words count.

The matching rule (README "Query syntax"): the clauses written side by side (words, phrases, groups)
must all match; clauses joined by AND, in parentheses or marked + always must. With `match="all"` (the
default), when no story has every side-by-side clause the search falls back to stories with some of
them and says so (`QueryPlan.fallback`, `SearchResults.matched`); `require_all` never falls back;
`match="any"` asks for stories with some of them, those with every one ranked first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import islice
from typing import Any

from whoosh import qparser, query
from whoosh.codec.base import Automata
from whoosh.fields import Schema
from whoosh.query.spans import Span, SpanNear2, bisect_spans

from newsindex.deadline import SEARCH_SECONDS as SEARCH_SECONDS  # where it was, for callers
from newsindex.deadline import current
from newsindex.errors import NewsIndexError, QueryError, QueryRejectedError, UsageError
from newsindex.models import Match, check_match, check_range
from newsindex.search import ranking
from newsindex.search.snippets import Phrase
from newsindex.store.dateindex import PublishedRange
from newsindex.store.schema import FIELD_ALIASES, NAME_FIELDS, TEXT_FIELDS, NewsAnalyzer, fold

# What one query may cost (the query guard): Whoosh obeys whatever it is given, `*` alone took 28 s
# on 5,000 stories, and deep nesting overflows its recursive parser.
MAX_QUERY_CHARS = 2_000
MAX_NESTING = 10
MAX_WORDS = 200  # distinct words (a word searched in two fields counts once)
MAX_EXPANSION = 2_000  # index terms the patterns and fuzzy words may stand for (all of them together)
MAX_EDITS = 2  # word~2 at most: past two edits a fuzzy word matches nearly anything, slowly
MAX_FUZZY_LETTERS = 30  # Whoosh builds an automaton per fuzzy word, in Python: a long word takes seconds
MAX_BOOST = 1_000_000  # iran^1e308 would overflow every score to inf
BOOST_ERROR = f"a boost must be a number above 0 and at most {MAX_BOOST:,}, as in iran^2 (twice the weight) or iran^0.5"

# Field names start with a letter, so "10:30" stays a time and is searched as words; a name in capitals
# ("NYSE:IBM", "TOKYO:") and a URL's scheme ("http://x.com/a") are text, not fields.
_FIELD_PREFIX = r"(?P<text>(?![A-Z][A-Z0-9_]*:)[A-Za-z_]\w*|[*]):(?!//)"
# "<" and ">" are comparisons only right after a field ("date:>2019-06"); elsewhere they are text ("<IBM>").
_GT_LT = r"(?<=:)(?P<rel>(<=|>=|<|>|=<|=>))"
FALLBACK_NOTE = "no story has every word; showing stories with some"
_FILTER_FIELDS = frozenset(NAME_FIELDS) | {"published", "id"}
_NAMES = NewsAnalyzer(stemming=False)
_WORDS = NewsAnalyzer()
_FUZZY_FIELDS = frozenset(TEXT_FIELDS) | frozenset(NAME_FIELDS)
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"  # of indexed words, which are folded to lower-case ASCII


@dataclass(frozen=True)
class QueryPlan:
    """How to run one search.

    `query` is what a story must match; `ranked_first`, when set, is the stricter query (every word)
    whose matches rank above the rest; `fallback`, when set, is the wider query (some of the words) to
    search instead when no story matches `query` and the filters (see `fall_back`); `filters` must all match
    and add nothing to the score; `start`/`end` (seconds since 1970, inclusive) is the date range,
    answered from the date column. `matched` says which set `query` is: "all" (every word) or "any"
    (some words), and `fell_back` that it is "any" because no story had every word.
    """

    text: str
    query: Any
    ranked_first: Any | None
    filters: tuple[Any, ...]
    start: int | None
    end: int | None
    has_words: bool
    plain: bool = False
    fallback: Any | None = None
    matched: Match = "all"
    fell_back: bool = False

    def fall_back(self) -> QueryPlan:
        """The plan searching its fallback (some of the words): for when no story matches every word."""
        if self.fallback is None:
            return self
        return replace(self, query=self.fallback, ranked_first=None, fallback=None, matched="any", fell_back=True)

    def terms(self) -> set[str]:
        """The searched words (stemmed as indexed), for highlighting."""
        words: set[str] = set()
        for fieldname, text in self.query.iter_all_terms():
            if fieldname in TEXT_FIELDS:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return words

    def marked_words(self, reader: Any) -> set[str]:
        """The words to mark in snippets: the searched words, and the index words its patterns stand for
        (`terror*`, `wom?n`; fuzzy words are index words once the plan went through check_expansion)."""
        words = self.terms()
        for fieldname, text in self.query.existing_terms(reader, expand=True):
            if fieldname in TEXT_FIELDS:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return words


def parse_query(
    text: str,
    schema: Schema,
    *,
    require_all: bool = False,
    match: str = "all",
    start: int | None = None,
    end: int | None = None,
    bylines: Iterable[str] = (),
    location: str | None = None,
    source: str | None = None,
    plain: bool = False,
    fuzzy: bool = False,
    tags: Mapping[str, Iterable[str]] | None = None,
) -> QueryPlan:
    """Read the user's query text and keyword filters into a QueryPlan.

    `tags` are more name filters, by field (region, topic, place, org, person): each any of its values.

    With `plain`, the text is words only: nothing in it is syntax and it never fails, but for having no
    word at all (only common words) and no filter. With `fuzzy`, every searched word also matches words
    one or two edits away (see `fuzzy_edits`). `match` and `require_all` choose the matching rule (see the
    module's docstring). QueryError when the text is unreadable or its date range empty, QueryRejectedError
    when it would cost too much.
    """
    check_match(match, require_all)
    check_range(start, end, UsageError)  # from the caller's arguments (NewsIndex checked them in Filters)
    if plain:
        parsed = _plain_words(text, schema)
    else:
        _check_size(text)
        _check_balanced(text)
        parsed = _parse(text, schema) if text.strip() else query.NullQuery
        _raise_first_error(parsed, schema)
        parsed = _guarded(parsed)

    loose: list[Any] = []  # side by side: every one, or with match="any" some
    bound: list[Any] = []  # joined by AND, grouped in parentheses: always every one
    required: list[Any] = []
    for clause, side_by_side in _top_level_clauses(parsed):
        if isinstance(clause, PublishedRange):
            start, end = _narrow(start, end, clause)
        elif isinstance(clause, query.Not) or _is_filter(clause):
            required.append(clause)
        else:
            (loose if side_by_side else bound).append(clause)
    check_range(start, end, QueryError)  # with the query's own dates

    filters = list(_name_filters(bylines, location, source))
    for fieldname, values in (tags or {}).items():
        names = [name for name in values if name.strip()]
        if names:
            filters.append(query.Or([_name_query(fieldname, name) for name in names]).normalize())
    for clause in required:  # negations and field filters written in the text filter too
        clause = clause.normalize()  # NOT "" is nothing: an empty phrase would fail in Whoosh's matcher
        if clause is not query.NullQuery:
            filters.append(clause)
    loose, bound = _clauses(loose, fuzzy), _clauses(bound, fuzzy)
    if not loose and not bound and not filters and start is None and end is None:
        shown = text if len(text) <= 80 else text[:80] + "…"
        raise QueryError(f"nothing to search for in {shown!r}: give some words, a phrase or a filter")

    every_word = query.And(bound + loose).normalize() if loose or bound else query.Every()
    some_words = query.And([*bound, query.Or(loose)]).normalize() if len(loose) > 1 else None
    widest = some_words is not None and match == "any"
    return QueryPlan(
        text=text,
        query=some_words if widest else every_word,
        ranked_first=every_word if widest else None,
        filters=tuple(filters),
        start=start,
        end=end,
        has_words=bool(loose or bound),
        plain=plain,
        fallback=some_words if not widest and not require_all else None,
        matched="any" if widest else "all",
    )


def _clauses(clauses: list[Any], fuzzy: bool) -> list[Any]:
    clauses = [clause.normalize() for clause in clauses]
    clauses = [clause for clause in clauses if clause is not query.NullQuery]
    return [_fuzzed(clause) for clause in clauses] if fuzzy else clauses


def check_expansion(plan: QueryPlan, reader: Any) -> QueryPlan:
    """The plan with its fuzzy words expanded into the index words they stand for; QueryRejectedError when
    its wildcards, prefixes and fuzzy words stand for too many index terms (counted, not guessed), or take
    longer than the search deadline to expand.

    Whoosh would expand a fuzzy word again for each field, segment and search run (ranking tiers, count),
    each time through an automaton it rebuilds in Python: expanded once here, the plan holds plain words.
    """
    budget = MAX_EXPANSION
    deadline = current()  # the request's: expansion is part of the search
    expansions: dict[tuple[str, str, int, int], list[str]] = {}
    leaves = [leaf for part in (plan.query, *plan.filters) for leaf in ([part] if part.is_leaf() else part.leaves())]
    for leaf in leaves:
        if isinstance(leaf, query.FuzzyTerm):
            key = (leaf.fieldname, leaf.text, leaf.maxdist, leaf.prefixlength)
            if key not in expansions:
                expansions[key] = _fuzzy_words(reader, key, budget + 1)
                budget -= len(expansions[key])
        elif isinstance(leaf, (query.Prefix, query.Wildcard)):
            budget -= sum(1 for _ in islice(leaf._btexts(reader), budget + 1))  # Whoosh's own expansion
        if budget < 0:
            raise QueryRejectedError(
                f"{_pattern_text(leaf)} and the other patterns match more than {MAX_EXPANSION:,} words: "
                "make them longer or more specific"
            )
        if deadline.expired():
            raise QueryRejectedError(
                f"expanding {_pattern_text(leaf)} and the other patterns took longer than {SEARCH_SECONDS:g} s: "
                "make them longer or more specific"
            )

    if not expansions and not any(type(leaf) in _TIMED for leaf in leaves):
        return plan

    def expand(node: Any) -> Any:
        if type(node) in _TIMED:  # the same pattern, its words' matchers built within the deadline
            return _TIMED[type(node)](node.fieldname, node.text, boost=node.boost, constantscore=node.constantscore)
        if isinstance(node, query.FuzzyTerm):
            words = expansions[node.fieldname, node.text, node.maxdist, node.prefixlength]
            if not words:  # the word itself, which no story has: matches nothing, as the fuzzy word did
                return query.Term(node.fieldname, node.text, boost=node.boost)
            # scored as Whoosh scores a fuzzy word that is not constant-scored: an OR of its words
            return query.Or([query.Term(node.fieldname, word) for word in words], boost=node.boost)
        return node if node.is_leaf() else node.apply(expand)

    return replace(
        plan,
        query=expand(plan.query),
        ranked_first=None if plan.ranked_first is None else expand(plan.ranked_first),
        fallback=None if plan.fallback is None else expand(plan.fallback),
        filters=tuple(expand(part) for part in plan.filters),
    )


class _TimedTerm(query.Term):  # type: ignore[misc]
    """One of the words a pattern stands for: its matcher is built only while the request's deadline allows."""

    pattern = "the query"

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        if current().expired():
            raise QueryRejectedError(
                f"searching for the words {self.pattern} stands for took longer than {SEARCH_SECONDS:g} s: "
                "make it longer or more specific"
            )
        return super().matcher(searcher, context)


class _TimedPattern:
    """Whoosh's `MultiTerm.matcher` (whoosh-reloaded 2.7.5) with the deadline checked word by word.

    Whoosh builds the matcher of every word a pattern stands for (up to MAX_EXPANSION) in one go, before
    the first match is collected: `a*` on a loaded machine ran a second past the deadline doing it.
    """

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        from whoosh.matching import NullMatcher
        from whoosh.searching import SearchContext

        leaf: Any = self
        words = [word for word in leaf._btexts(searcher.reader()) if word]
        terms = [_TimedTerm(leaf.field(), word) for word in words]
        for term in terms:
            term.pattern = _pattern_text(leaf)
        if not terms:
            return NullMatcher()
        if len(terms) == 1:
            return terms[0].matcher(searcher, context)
        if leaf.constantscore:  # the words' scores do not matter: Whoosh's way of saying so
            context = context.set(weighting=None) if context else SearchContext(weighting=None)
        return query.Or(terms, boost=leaf.boost).matcher(searcher, context)


class _TimedPrefix(_TimedPattern, query.Prefix):  # type: ignore[misc]
    """`terror*`, its words' matchers built within the deadline."""


class _TimedWildcard(_TimedPattern, query.Wildcard):  # type: ignore[misc]
    """`wom?n`, its words' matchers built within the deadline."""


_TIMED: dict[type, type] = {query.Prefix: _TimedPrefix, query.Wildcard: _TimedWildcard}


def _fuzzy_words(reader: Any, key: tuple[str, str, int, int], most: int) -> list[str]:
    """The index words of a field within `maxdist` edits of a word, about `most` of them at most: for one
    edit its candidates looked up, for two Whoosh's automaton walked along each segment's word list."""
    fieldname, text, maxdist, prefix = key
    if maxdist <= 1:  # a few hundred look-ups beat walking the word list; a swap counts as one edit here
        candidates = {text} | (one_edit(text) if maxdist else set())
        return sorted(word for word in candidates if word[:prefix] == text[:prefix] and (fieldname, word) in reader)
    automaton = _levenshtein(text, maxdist, prefix)
    words: set[str] = set()
    for segment, _ in reader.leaf_readers():  # Whoosh's cursor over all segments lacks what the walk needs
        if fieldname in segment.schema and segment.field_length(fieldname):
            words.update(islice(Automata.find_matches(automaton, segment.cursor(fieldname)), most))
            if len(words) >= most:
                break
    return sorted(words)


@lru_cache(maxsize=512)
def _levenshtein(text: str, maxdist: int, prefix: int) -> Any:
    return Automata.levenshtein_dfa(text, maxdist, prefix)


def fuzzy_edits(word: str) -> int:
    """How many edits `--fuzzy` allows a word as indexed: one from 3 letters on; none for shorter words,
    numbers ("2019" is not a misspelled "2018") and words over MAX_FUZZY_LETTERS.

    One, not two for long words as some engines do: one edit is a few hundred dictionary look-ups, two
    a walk of Whoosh's automaton along every word of the index (about a second per segment at 100,000
    stories, measured on this machine).
    """
    if len(word) <= 2 or len(word) > MAX_FUZZY_LETTERS or any(char.isdigit() for char in word):
        return 0
    return 1


def one_edit(word: str) -> set[str]:
    """Every string one edit from `word`: a letter deleted, inserted or changed, or two neighbours swapped."""
    splits = [(word[:cut], word[cut:]) for cut in range(len(word) + 1)]
    found = {head + tail[1:] for head, tail in splits if tail}
    found.update(head + tail[1] + tail[0] + tail[2:] for head, tail in splits if len(tail) > 1)
    found.update(head + letter + tail[1:] for head, tail in splits if tail for letter in _LETTERS)
    found.update(head + letter + tail for head, tail in splits for letter in _LETTERS)
    found.discard(word)
    return found


def _pattern_text(leaf: Any) -> str:
    text = getattr(leaf, "text", None)
    if not isinstance(text, str):  # not a word (every story, a range): the deadline passed on it
        return "the query"
    text = text if len(text) <= 40 else text[:40] + "…"
    if isinstance(leaf, query.FuzzyTerm):
        return f"{text}~{leaf.maxdist}"
    return f"{text}{'*' if isinstance(leaf, query.Prefix) else ''}"


def _plain_words(text: str, schema: Schema) -> Any:
    """The words of `text` as the parser reads plain words, each in every text field; the first MAX_WORDS
    distinct words only (a longer text is searched for those, not refused). The words are cut as the
    index cuts them (its own analyzer: an older index keeps its analysis); function words are left out
    unless there is nothing else, and a repeated word weighs more (see `newsindex.search.ranking`)."""
    analyzer = schema["body"].analyzer if "body" in schema else _WORDS
    terms: dict[str, int] = {}
    for token in analyzer(text):
        if token.text in terms:
            terms[token.text] += 1
        elif len(terms) < MAX_WORDS:
            terms[token.text] = 1
    kept = {term: count for term, count in terms.items() if term not in ranking.FUNCTION_WORDS} or terms
    return query.And(
        [
            query.Or(
                [
                    query.Term(fieldname, term, boost=boost * ranking.query_term_weight(count))
                    for fieldname, boost in TEXT_FIELDS.items()
                ]
            )
            for term, count in kept.items()
        ]
    )


def _fuzzed(node: Any) -> Any:
    """`node` with each of its words (outside NOT) matching words `fuzzy_edits` away, as `word~` does."""
    if isinstance(node, query.Not):
        return node
    if type(node) is query.Term and node.fieldname in _FUZZY_FIELDS and fuzzy_edits(node.text):
        return query.FuzzyTerm(
            node.fieldname, node.text, boost=node.boost, maxdist=fuzzy_edits(node.text), constantscore=False
        )
    return node.apply(_fuzzed) if not node.is_leaf() else node


def _check_size(text: str) -> None:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRejectedError(f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    depth = deepest = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise QueryRejectedError(f"the query nests parentheses {deepest} deep; the limit is {MAX_NESTING}")


def distinct_words(node: Any) -> set[Any]:
    """The distinct words of a parsed query, as the guard counts them (a word in two fields counts once)."""
    leaves = [node] if node.is_leaf() else list(node.leaves())
    return {word for leaf in leaves for word in (getattr(leaf, "words", None) or [getattr(leaf, "text", leaf)])}


def _parts(node: Any) -> Iterator[Any]:
    """The node and every query inside it."""
    yield node
    for child in node.children():
        yield from _parts(child)


def _guarded(node: Any) -> Any:
    """The parsed query with its patterns folded like indexed words; QueryRejectedError for what would
    cost too much: a bare *, a pattern starting with a wildcard, a word range, too many words, too fuzzy."""
    leaves = [node] if node.is_leaf() else list(node.leaves())
    # Whoosh divides by a boost (iran^0), and nan or inf make every score nan or inf: nothing ranks
    if any(not 0 < getattr(part, "boost", 1.0) <= MAX_BOOST for part in _parts(node)):
        raise QueryError(BOOST_ERROR)
    words = distinct_words(node)
    if len(words) > MAX_WORDS:
        raise QueryRejectedError(f"the query has {len(words):,} distinct words; the limit is {MAX_WORDS:,}")
    for leaf in leaves:
        if isinstance(leaf, query.FuzzyTerm):
            if leaf.maxdist > MAX_EDITS:
                raise QueryRejectedError(f"{_pattern_text(leaf)} allows too many edits: the limit is ~{MAX_EDITS}")
            if len(leaf.text) > MAX_FUZZY_LETTERS:
                raise QueryRejectedError(
                    f"{_pattern_text(leaf)} is too long to match loosely: fuzzy words have at most "
                    f"{MAX_FUZZY_LETTERS} letters"
                )
            leaf.prefixlength = min(leaf.prefixlength, len(leaf.text))  # iran~2/99: every letter exact
            leaf.constantscore = False  # each word it stands for scores as a word would, rarer ones higher
            continue
        is_pattern = isinstance(leaf, (query.Prefix, query.Wildcard))
        if isinstance(leaf, query.Every) or (is_pattern and not leaf.text.strip("*?")):
            bare = leaf.text if is_pattern else "*"  # what was typed: *, ?, ??
            raise QueryRejectedError(
                f"a bare {bare} would list every story: search for words, or give only filters (--from, --byline …)"
            )
        if isinstance(leaf, query.TermRange):
            raise QueryRejectedError(f"ranges work on dates only (date:[2019-01 TO 2019-06]), not on {leaf.fieldname}")
        if is_pattern:
            if leaf.text[0] in "*?":
                raise QueryRejectedError(
                    f"{leaf.text!r} starts with a wildcard, which means reading every word of the index: "
                    "start with at least one letter"
                )
            leaf.text = fold(leaf.text)
    return node


def parse_tree(text: str, schema: Schema) -> Any:
    """The parser's own tree for `text`, unchecked, each word with its place in the text (for suggestions)."""
    return _parse(text, schema)


def _parse(text: str, schema: Schema) -> Any:
    try:
        return _parser(schema).parse(text, normalize=False)
    except NewsIndexError:
        raise
    except Exception:  # Whoosh's parser trips over some inputs ("NOT NOT iran") with IndexError and the like
        raise QueryError(f"cannot read the query {text[:80]!r}: check its quotes, brackets and operators") from None


def _parser(schema: Schema) -> qparser.QueryParser:
    parser = qparser.MultifieldParser(list(TEXT_FIELDS), schema, fieldboosts=TEXT_FIELDS, group=qparser.AndGroup)
    parser.remove_plugin_class(qparser.FieldsPlugin)
    parser.add_plugin(qparser.FieldsPlugin(expr=_FIELD_PREFIX, remove_unknown=False))
    # "-word" excludes, "+word" requires, but only at the start of a word: "2019-10" and "al-Qaeda" stay
    # whole, and a lone "-" or "+" (a dash, "(-)") is text
    parser.add_plugin(
        qparser.PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+(?=[^\s)+-])", minusexpr=r"(?<![^\s(])-(?=[^\s)+-])")
    )
    parser.add_plugin(_UrlPlugin())
    parser.remove_plugin_class(qparser.PhrasePlugin)
    parser.add_plugin(_PhrasePlugin())
    parser.add_plugin(qparser.GtLtPlugin(expr=_GT_LT))
    parser.remove_plugin_class(qparser.BoostPlugin)
    parser.add_plugin(_BoostPlugin())
    parser.add_plugin(qparser.FuzzyTermPlugin())  # koleka~, koleka~2, koleka~2/3 (3 letters must match)
    aliases: dict[str, list[str]] = {}
    for alias, fieldname in FIELD_ALIASES.items():
        if alias != fieldname:
            aliases.setdefault(fieldname, []).append(alias)
    parser.add_plugin(qparser.FieldAliasPlugin(aliases))
    return parser


class GappedPhrase(query.Phrase):  # type: ignore[misc]
    """A phrase whose words stand `gaps` places apart, the places of the stop words it holds ("Bank of
    England": bank, then england two places on), as an index of analysis 3 keeps them (see
    `newsindex.store.schema.ANALYSIS_VERSION`). With a slop of s, each word stands within s - 1 places
    past where the phrase puts it."""

    def __init__(
        self, fieldname: str, words: list[str], slop: int = 1, gaps: tuple[int, ...] | None = None, **options: Any
    ) -> None:
        super().__init__(fieldname, words, slop=slop, **options)
        self.gaps = gaps or (1,) * (len(words) - 1)

    def normalize(self) -> Any:
        found = super().normalize()
        if isinstance(found, GappedPhrase):
            found.gaps = self.gaps
        return found

    def __eq__(self, other: object) -> bool:
        return bool(super().__eq__(other)) and self.gaps == getattr(other, "gaps", None)

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.gaps))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fieldname!r}, {self.words!r}, gaps={self.gaps!r}, slop={self.slop})"

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        from whoosh import matching

        if len(self.words) < 2:
            return super().matcher(searcher, context)
        field = searcher.schema[self.fieldname] if self.fieldname in searcher.schema else None  # noqa: SIM401
        reader = searcher.reader()
        terms = []
        for word in self.words:
            if field is None or (self.fieldname, field.to_bytes(word)) not in reader:
                return matching.NullMatcher()  # a word no story has: no story has the phrase
            terms.append(query.Term(self.fieldname, word))
        found = _GappedMatcher([term.matcher(searcher, context) for term in terms], self.gaps, int(self.slop))
        return matching.WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


class _GappedMatcher(SpanNear2.SpanNear2Matcher):  # type: ignore[misc]
    """Whoosh's phrase matcher (ordered, in one field), each word `gaps[i]` to `gaps[i] + slop - 1`
    places after the one before."""

    def __init__(self, matchers: list[Any], gaps: tuple[int, ...], slop: int = 1) -> None:
        self.gaps = gaps
        super().__init__(matchers, slop=slop, ordered=True, mindist=1)

    def copy(self) -> Any:
        return type(self)([matcher.copy() for matcher in self.ms], self.gaps, self.slop)

    def _get_spans(self) -> list[Any]:
        found = self.ms[0].spans()
        for matcher, gap in zip(self.ms[1:], self.gaps, strict=True):
            if not found:
                break
            following = matcher.spans()
            joined = set()
            for span in found:
                low, high = span.end + gap, span.end + gap + self.slop - 1
                index = bisect_spans(following, low)
                while index < len(following) and following[index].start <= high:
                    joined.add(Span(span.start, following[index].end))
                    index += 1
            found = sorted(joined)
        return list(found)


class _PhrasePlugin(qparser.PhrasePlugin):  # type: ignore[misc]
    """Whoosh's "quoted phrase"~slop, made a GappedPhrase where the field's analyzer keeps stop words' places."""

    class PhraseNode(qparser.PhrasePlugin.PhraseNode):  # type: ignore[misc]
        def query(self, parser: Any) -> Any:
            found = super().query(parser)
            fieldname = self.fieldname or parser.fieldname
            analyzer: Any = getattr(parser.schema[fieldname], "analyzer", None) if fieldname in parser.schema else None
            if not isinstance(found, query.Phrase) or not getattr(analyzer, "gaps", False):
                return found
            places = [token.pos for token in analyzer(self.text, positions=True, mode="query")]
            gaps = tuple(later - earlier for earlier, later in itertools.pairwise(places))
            if len(places) != len(found.words) or all(gap == 1 for gap in gaps):
                return found
            phrase = GappedPhrase(
                found.fieldname, found.words, found.slop, gaps, boost=found.boost, char_ranges=found.char_ranges
            )
            return qparser.syntax.attach(phrase, self)

    class PhraseTagger(qparser.PhrasePlugin.PhraseTagger):  # type: ignore[misc]
        def create(self, parser: Any, match: re.Match[str]) -> Any:
            slop = match.group("slop")
            return _PhrasePlugin.PhraseNode(match.group("text"), match.start("text"), int(slop) if slop else 1)


class _UrlPlugin(qparser.TaggingPlugin):  # type: ignore[misc]
    """A URL is one word: its `?` and `*` are no wildcards, its `:` no field (http://x.com/a?b=1)."""

    expr = r"(?P<text>(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.)[^\s()\"]+)"
    nodetype = qparser.syntax.WordNode
    priority = -1  # before fields and wildcards


class _BoostPlugin(qparser.BoostPlugin):  # type: ignore[misc]
    """Whoosh's `word^2`, but a `^` right after a word followed by anything but a number is an error:
    Whoosh read `oil^nan` as the words oil and nan, which no story has. The value is checked in _guarded."""

    expr = r"\^(?P<boost>[^\s()]*)($|(?=[\s)]))"

    def create(self, parser: Any, match: re.Match[str]) -> Any:
        start = match.start()
        if start == 0 or match.string[start - 1].isspace() or match.string[start - 1] == "(":
            return qparser.syntax.WordNode(match.group(0))  # nothing before it to boost: a word
        try:
            return self.BoostNode(match.group(0), float(match.group("boost")))
        except ValueError:
            raise QueryError(BOOST_ERROR) from None


def _check_balanced(text: str) -> None:
    if text.count('"') % 2:
        raise QueryError(f'unbalanced quote in {text!r}: close the phrase with another "')
    depth = 0
    for char in re.sub(r'"[^"]*"', "", text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth:
        raise QueryError(f"unbalanced parenthesis in {text!r}: every ( needs a )")


def _raise_first_error(node: Any, schema: Schema) -> None:
    """Whoosh turns a bad clause into an empty one with an `error` note; we turn it into an error."""
    error = getattr(node, "error", None)
    if error:
        raise QueryError(f"{error}") from None
    fieldname = getattr(node, "fieldname", None)
    if fieldname and fieldname not in schema.names():
        known = ", ".join(sorted({alias for alias in FIELD_ALIASES if alias in set(FIELD_ALIASES.values())}))
        raise QueryError(f"unknown field {fieldname!r}: use one of {known}, or put the words in quotes")
    for child in node.children() if hasattr(node, "children") else ():
        _raise_first_error(child, schema)


def _top_level_clauses(parsed: Any) -> Iterator[tuple[Any, bool]]:
    """The clauses of the text, each with whether it stands side by side with the others (True) or is
    bound to them by AND or parentheses (False).

    Whoosh wraps the whole text in one AND group: its children stand side by side. An AND inside it is
    an explicit `a AND b` or a group in parentheses: its parts are bound, whatever stands around them.
    """
    if isinstance(parsed, query.And):
        for child in parsed.subqueries:
            if isinstance(child, query.And):
                yield from ((clause, False) for clause in _bound_clauses(child))
            else:
                yield from _top_level_clauses(child) if isinstance(child, query.AndNot) else ((child, True),)
    elif isinstance(parsed, query.AndNot):  # "-word" clauses gathered by Whoosh's plus/minus plugin
        yield from _top_level_clauses(parsed.a)
        yield query.Not(parsed.b), False
    elif parsed is not query.NullQuery:
        yield parsed, True


def _bound_clauses(node: Any) -> Iterator[Any]:
    """The parts of an explicit AND (or a group in parentheses), nested ones flattened: all must match."""
    for child in node.subqueries:
        if isinstance(child, query.And):
            yield from _bound_clauses(child)
        elif isinstance(child, query.AndNot):
            yield from _bound_clauses(query.And([child.a]))
            yield query.Not(child.b)
        else:
            yield child


def _is_filter(clause: Any) -> bool:
    """A clause made only of field clauses (byline:, location:, source:, date:, id:) filters, not ranks."""
    leaves = [clause] if clause.is_leaf() else list(clause.leaves())
    return bool(leaves) and all(getattr(leaf, "fieldname", None) in _FILTER_FIELDS for leaf in leaves)


def _narrow(start: int | None, end: int | None, clause: PublishedRange) -> tuple[int | None, int | None]:
    if clause.start is not None:
        start = clause.start if start is None else max(start, clause.start)
    if clause.end is not None:
        end = clause.end if end is None else min(end, clause.end)
    return start, end


def _name_filters(bylines: Iterable[str], location: str | None, source: str | None) -> Iterator[Any]:
    """One filter per option: any of the given bylines, the location, the source (as name words)."""
    names = [name for name in bylines if name.strip()]
    if names:
        yield query.Or([_name_query("byline", name) for name in names])
    if location:
        yield _name_query("location", location)
    if source:
        yield _name_query("source", source)


def _name_query(fieldname: str, name: str) -> Any:
    words = [token.text for token in _NAMES(name)]
    if not words:
        raise QueryError(f"no words in the {fieldname} filter {name!r}")
    return query.Term(fieldname, words[0]) if len(words) == 1 else query.Phrase(fieldname, words)


def query_marks(found: object, words: set[str]) -> tuple[set[str], tuple[Phrase, ...]]:
    """What to mark for a query: the words to mark wherever they stand (`words`, the query's marked words,
    less those it has only inside phrases), and its phrases of the text fields."""
    leaves = [found] if found.is_leaf() else list(found.leaves())  # type: ignore[attr-defined]
    phrases = {
        Phrase(tuple(leaf.words), max(1, int(leaf.slop)), tuple(getattr(leaf, "gaps", ())))
        for leaf in leaves
        if isinstance(leaf, query.Phrase) and leaf.fieldname in TEXT_FIELDS and len(leaf.words) > 1
    }
    alone = {getattr(leaf, "text", None) for leaf in leaves if not isinstance(leaf, query.Phrase)}
    only_in_phrases = {word for phrase in phrases for word in phrase.words} - alone
    return words - only_in_phrases, tuple(sorted(phrases, key=lambda phrase: (phrase.words, phrase.slop)))
