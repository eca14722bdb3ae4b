"""Query text copied from wire copy: tickers, ampersands, URLs, quotes, colons, numbers with units.

The parser hands such text to the analyzer (which decides what its tokens are) instead of failing on it:
`<IBM>` is no comparison, `http://x.com/a` and `NYSE:IBM` are no fields.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import TEXT, Schema

from newsindex import NewsIndex, QueryError, QueryRejectedError, Story, UsageError
from newsindex.cli.commands import app
from newsindex.search.query import parse_tree
from newsindex.store.schema import TEXT_FIELDS

runner = CliRunner()

STORIES = {
    "ibm": "NEW YORK, March 3 - International Business Machines Corp <IBM> said its board raised the dividend.",
    "att": "NEW YORK, March 4 - American Telephone and Telegraph Co (NYSE:T) said AT&T would cut prices.",
    "web": "LONDON, March 5 - The agency put the full text at http://www.example.com/report on Tuesday.",
    "cocoa": "ABIDJAN, March 6 - Cocoa arrivals rose 5.2 pct to 1,000 tonnes by 10:30 GMT, traders said.",
}


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    news = NewsIndex.create(tmp_path_factory.mktemp("wire") / "index", fsync=False)
    news.add(Story(id=key, body=body, published=date(1987, 3, 3)) for key, body in STORIES.items())
    return news


def _words_schema() -> Schema:
    """Our text fields, with an analyzer that keeps every space-separated string whole: what the parser
    hands the analyzer shows as it is."""
    return Schema(**{name: TEXT(analyzer=SpaceSeparatedTokenizer()) for name in TEXT_FIELDS})


@pytest.mark.parametrize(
    "text",
    ["<IBM>", "<IBM.N>", "AT&T", "C++", "S&P", "http://x.com/a", "https://www.reuters.com/a?b=1&c=2", "NYSE:IBM"],
)
def test_the_parser_hands_wire_strings_to_the_analyzer_whole(text: str) -> None:
    parsed = parse_tree(text, _words_schema())
    terms = {(fieldname, value) for fieldname, value in parsed.iter_all_terms()}
    assert terms == {(fieldname, text) for fieldname in TEXT_FIELDS}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<IBM>", ["ibm"]),  # Reuters' ticker notation: a word, not a less-than
        ("<IBM> dividend", ["ibm"]),
        ("http://www.example.com/report", ["web"]),  # a URL: no field named http
        ("(NYSE:T) prices", ["att"]),  # an exchange in capitals: no field named NYSE
        ("10:30 GMT", ["cocoa"]),
        ("5.2 pct", ["cocoa"]),
    ],
)
def test_wire_strings_find_their_stories(wire: NewsIndex, text: str, expected: list[str]) -> None:
    assert [hit.story.id for hit in wire.search(text).hits] == expected


def test_a_ticker_on_the_command_line_is_no_internal_error(wire: NewsIndex) -> None:
    result = runner.invoke(app, ["search", "<IBM>", "--json", "-i", str(wire.path)])
    assert result.exit_code == 0, result.output
    assert '"id": "ibm"' in result.stdout


def test_fields_and_comparisons_still_work(wire: NewsIndex) -> None:
    assert wire.search("cocoa date:>1987-03-01").total == 1
    assert wire.search("cocoa date:<1987-03-01").total == 0
    with pytest.raises(QueryError, match="unknown field 'headlin'"):
        wire.search("headlin:cocoa")  # a typed field name that is no field is still an error


def test_an_unreadable_query_names_no_internal_exception(wire: NewsIndex) -> None:
    with pytest.raises(QueryError) as raised:
        wire.search("NOT NOT cocoa")  # Whoosh's parser fails with IndexError
    assert str(raised.value) == "cannot read the query 'NOT NOT cocoa': check its quotes, brackets and operators"


# Fragments of real wire copy (Reuters and AP conventions): tickers and RICs, company names with & and +,
# URLs and e-mail, exchanges before a colon, times, money, percentages, fractions, ratings, abbreviations.
WIRE = st.sampled_from(
    ["<IBM>", "<IBM.N>", "<GM>", "(NYSE:IBM)", "(Nasdaq: AAPL)", "NYSE:T", "AT&T", "S&P 500", "C++", "Marks & Spencer",
     "http://www.reuters.com", "https://x.com/a?b=1&c=2", "www.example.com/report", "press@reuters.com",
     "10:30 GMT", "0930 EST", "$1.5 billion", "1,000 dlrs", "5.2 pct", "5.2%", "3-1/2", "1/4", "8.5 mln",
     "12.3 mln stg", "100 km", "50 kg", "1987/88", "Q1", "AA-", "BBB+", "Fitch: AA-", "Re:", "U.S.", "U.K.",
     "Gov't", "Reuters'", "O'Neill's", "cocoa", "dividend", "prices", "tonnes", "-", "--", "...", "/", ";", ","]
)  # fmt: skip


@st.composite
def wire_text(draw: st.DrawFn) -> str:
    """Wire fragments side by side, some in balanced quotes or parentheses."""
    parts = draw(st.lists(WIRE, min_size=1, max_size=8))
    wrapped = []
    for part in parts:
        wrap = draw(st.sampled_from(["", "", "quote", "paren"]))
        wrapped.append(f'"{part}"' if wrap == "quote" else f"({part})" if wrap == "paren" else part)
    return " ".join(wrapped)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wire_text())
def test_wire_strings_never_fail_but_for_having_no_word(wire: NewsIndex, text: str) -> None:
    try:
        results = wire.search(text)
    except QueryError as error:  # only common words or signs: nothing the analyzer keeps
        assert str(error).startswith("nothing to search for"), (text, str(error))
    else:  # an answer that holds together: a full first page, or every match on it, ranked from 1
        assert len(results.hits) == min(results.total, results.limit), text
        assert [hit.rank for hit in results.hits] == list(range(1, len(results.hits) + 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.one_of(WIRE, st.sampled_from(['"', "(", ")", ":", "AND", "OR", "NOT", "^2", "~", "*"])), max_size=10)
)
def test_wire_strings_with_stray_syntax_raise_only_our_errors(wire: NewsIndex, parts: list[str]) -> None:
    text = " ".join(parts)
    try:
        wire.search(text)
    except (QueryError, QueryRejectedError, UsageError) as error:  # documented, exit 2 or 6
        assert "internal" not in str(error)


@pytest.mark.parametrize("text", ["<IBM> (NYSE:IBM)", 'AT&T "C++" 5.2%', "http://x.com/a?b=1", "Re: <GM> 10:30"])
def test_wire_strings_on_the_command_line_exit_0_or_2(wire: NewsIndex, text: str, tmp_path: Path) -> None:
    for command in (["search", text], ["timeline", text], ["export", text, "-o", str(tmp_path / "out.jsonl")]):
        result = runner.invoke(app, [*command, "-i", str(wire.path), *(["--force"] if command[0] == "export" else [])])
        assert result.exit_code in (0, 2), result.output
        assert "internal error" not in result.output
        if result.exit_code == 2:
            assert result.stderr.startswith("Error: nothing to search for")
