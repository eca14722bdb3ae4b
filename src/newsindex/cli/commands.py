"""The `newsindex` command: arguments → NewsIndex → text for people or JSON for programs.

Heavy modules (Whoosh, Rich) are imported inside the commands that need them: `newsindex --help`
should not pay for them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from newsindex.cli.options import (
    FILTERS,
    AllVersionsOption,
    DebugOption,
    ExpandOption,
    FacetName,
    HalfLifeOption,
    IndexOption,
    JsonOption,
    PeriodName,
    RecentOption,
    SortOrder,
    filter_options,
)
from newsindex.cli.output import EXIT_PIPE_CLOSED, echo, pipe_closed, reported_errors
from newsindex.cli.render import render_facets, render_results, render_story, wants_color
from newsindex.errors import (
    IndexDamagedError,
    InputError,
    UsageError,
)

if TYPE_CHECKING:
    from newsindex.index import NewsIndex
    from newsindex.models import Filters, IndexReport

_MAX_PROBLEM_LINES = 50

app = typer.Typer(
    help="Full-text search over a folder of news stories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from newsindex import __version__

        typer.echo(f"newsindex {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


# -- index --------------------------------------------------------------------------------------------


@app.command()
def index(
    corpus: Annotated[
        list[str], typer.Argument(help="Files, folders or globs of stories; - reads JSON Lines from stdin.")
    ],
    index_path: IndexOption = "index",
    format: Annotated[
        Optional[str],
        typer.Option(
            "--format", help="Force the input format: text, jsonl, csv, reuters, newsml, feed, html, warc or zip."
        ),
    ] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Remove stories whose files are gone.")] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Start from an empty index (the old one stays until done).")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 7 if any input was skipped.")] = False,
    lock_timeout: Annotated[float, typer.Option("--lock-timeout", help="Seconds to wait for another writer.")] = 30.0,
    procs: Annotated[
        Optional[int], typer.Option("--procs", min=1, help="Worker processes (default: every core for large inputs).")
    ] = None,
    no_fsync: Annotated[
        bool, typer.Option("--no-fsync", help="Do not force commits to disk: faster, for throwaway indexes only.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Index stories: new ones are added, changed ones updated, unchanged ones skipped."""
    with reported_errors(debug), _removed_if_failed_empty(index_path) as opened:
        from newsindex.index import NewsIndex
        from newsindex.ingest.sources import find_sources

        find_sources(corpus, format=format)  # a path that names nothing fails before an index is made
        with _progress(quiet) as on_file:
            if rebuild:  # never opens the old index: it may be what needs rebuilding
                report = NewsIndex.rebuild(
                    index_path,
                    corpus,
                    format=format,
                    procs=procs,
                    lock_timeout=lock_timeout,
                    fsync=not no_fsync,
                    on_file=on_file,
                )
                news = NewsIndex.open(index_path, fsync=not no_fsync)
            else:
                news = opened(NewsIndex.open_or_create(index_path, fsync=not no_fsync, lock_timeout=lock_timeout))
                report = news.add_files(
                    corpus, format=format, prune=prune, procs=procs, lock_timeout=lock_timeout, on_file=on_file
                )
        _print_problems(report)
        if as_json:
            echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        elif not quiet:
            typer.echo(_summary(report, news.count()), err=True)
        if strict and report.skipped:
            raise InputError(f"{report.skipped} input(s) skipped (--strict)")


@contextmanager
def _removed_if_failed_empty(index_path: str) -> Iterator[Any]:
    """Yield `opened(news)`; if `index` then fails on an index this run made and nothing is in it, take it away.

    A failed first run leaves the folder as it found it (absent, or empty), not an empty index that
    later commands would take for a real one.
    """
    from pathlib import Path

    folder = Path(index_path)
    existed = folder.exists()
    before = set(folder.iterdir()) if folder.is_dir() else set()
    fresh = not (folder / "newsindex.json").exists()
    made: list[NewsIndex] = []

    def opened(news: NewsIndex) -> NewsIndex:
        made.append(news)
        return news

    try:
        yield opened
    except BaseException:
        if fresh and made and _is_empty(made[0]):
            made[0].close()
            import shutil

            for entry in set(folder.iterdir()) - before if folder.is_dir() else ():
                with suppress(OSError):
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            if not existed:
                with suppress(OSError):
                    folder.rmdir()
        raise


def _is_empty(news: NewsIndex) -> bool:
    try:
        return news.count() == 0
    except Exception:
        return False  # what cannot be read is not known to be empty: left alone


@contextmanager
def _progress(quiet: bool) -> Iterator[Any]:
    """A progress bar over the input files on stderr, only for people watching a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("Indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("files"), TimeRemainingColumn())
    with Progress(*columns, transient=True, console=_stderr_console()) as bar:
        task = bar.add_task("index", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _print_problems(report: IndexReport) -> None:
    for problem in report.problems[:_MAX_PROBLEM_LINES]:
        label = "skipped" if problem.kind == "skipped" else "warning"
        typer.echo(f"{label}: {problem}", err=True)
    more = report.problem_count - min(len(report.problems), _MAX_PROBLEM_LINES)
    if more > 0:
        listed = len(report.problems)
        hint = "use --json for all" if listed == report.problem_count else f"--json lists the first {listed:,}"
        typer.echo(f"… and {more:,} more ({hint})", err=True)


def _summary(report: IndexReport, stories: int) -> str:
    reasons = report.skipped_reasons()
    skipped = f"{report.skipped} skipped" + (
        f" ({', '.join(f'{n} {r}' for r, n in reasons.items())})" if reasons else ""
    )
    rate = (report.written + report.unchanged) / report.seconds if report.seconds else 0.0
    return (
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, {report.removed} removed, "
        f"{skipped} in {report.seconds:.1f} s ({rate:,.0f} stories/s); the index holds {stories:,} {'story' if stories == 1 else 'stories'}"
    )


# -- search -------------------------------------------------------------------------------------------


@app.command()
@filter_options
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words, "phrases", "near words"~5, terror*, koleka~1, iran^2, AND/OR/NOT, field:value, date:[-30d TO now].'
        ),
    ],
    index_path: IndexOption = "index",
    filters: Filters = FILTERS,
    sort: Annotated[
        SortOrder, typer.Option("--sort", help="relevance, date (oldest first) or -date.")
    ] = SortOrder.relevance,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Stories per page.")] = 10,
    page: Annotated[int, typer.Option("--page", min=1, help="Page number.")] = 1,
    as_json: JsonOption = False,
    as_jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per hit.")] = False,
    expand: ExpandOption = False,
    recent: RecentOption = False,
    half_life: HalfLifeOption = None,
    facet: Annotated[
        Optional[list[FacetName]],
        typer.Option(
            "--facet",
            help="Count every matching story per bylines, location, source, region, topic, place, org, person, "
            "year or month.",
        ),
    ] = None,
    facet_top: Annotated[int, typer.Option("--facet-top", min=1, help="Names listed per name facet.")] = 10,
    all_versions: AllVersionsOption = False,
    debug: DebugOption = False,
) -> None:
    """Search the index: ranked stories with date, location, bylines and a snippet; copies of a story fold into one hit."""
    with reported_errors(debug):
        if as_jsonl and (as_json or facet):
            raise UsageError("--jsonl prints hits only: use --json for one object (with --facet, its facets)")
        results = _open(index_path).search(
            query,
            filters=filters,
            sort=sort.value,
            limit=limit,
            page=page,
            expand=expand,
            recency_half_life=_half_life(recent, half_life),
            facets=[name.value for name in facet or ()],
            facet_top=facet_top,
            all_versions=all_versions,
        )
        if as_json:
            echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        elif as_jsonl:
            for hit in results.hits:
                echo(json.dumps(hit.to_dict(), ensure_ascii=False))
            if results.suggestion is not None:  # one hit per line on stdout: the hint goes to the person
                typer.echo(f"Did you mean: {results.suggestion}?", err=True)
            if results.message is not None:
                typer.echo(f"Note: {results.message}", err=True)
        else:
            echo(render_results(results, color=wants_color()))
            if results.facets:
                echo("\n" + render_facets(results, all_versions=all_versions))
        if not as_json:
            for note in results.notes:  # what the deadline cut short (in --json, under "notes")
                typer.echo(f"Note: {note}", err=True)


def _half_life(recent: bool, half_life: float | None) -> float | None:
    """--recent alone means a 30-day half-life; --half-life DAYS means --recent with that one."""
    if not recent and half_life is None:
        return None  # ranking (and Whoosh under it) not imported
    from newsindex.search.ranking import half_life_for

    return half_life_for(recent, half_life)  # checked before the index is opened


def _open(index_path: str) -> NewsIndex:
    from newsindex.index import NewsIndex

    return NewsIndex.open(index_path)


# -- timeline -------------------------------------------------------------------------------------------


@app.command()
@filter_options
def timeline(
    queries: Annotated[list[str], typer.Argument(help="One or more queries: one series each.")],
    index_path: IndexOption = "index",
    by: Annotated[
        PeriodName,
        typer.Option(
            "--by",
            help="day, week (ISO 8601, Monday to Sunday), month, year, or auto (days when the matches span at most "
            "92 days, months up to 36 months, else years).",
        ),
    ] = PeriodName.year,
    filters: Filters = FILTERS,
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: period, then one column per query.")] = False,
    plot: Annotated[
        Optional[str],
        typer.Option("--plot", metavar="FILE", help="Also draw a .png or .svg chart (newsindex-search[plot])."),
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Matching stories per day, week, month or year (or auto): every period in the range, zeros included."""
    with reported_errors(debug):
        from newsindex.cli.charts import check_plot_path, plot_timeline, timeline_csv, timeline_text

        if as_json and as_csv:
            raise UsageError("--json and --csv are two outputs: choose one")
        if plot:
            check_plot_path(plot)  # before the work
        found = _open(index_path).timeline(queries, by=by.value, filters=filters)
        for series in found.series:
            if series.matched == "any" and filters.match != "any":
                typer.echo(f"Note: {series.query}: no story has every word; counting stories with some", err=True)
        if plot:
            written = plot_timeline(found, plot)
            typer.echo(f"Chart written to {written}", err=True)
        if as_json:
            echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        elif as_csv:
            echo(timeline_csv(found), nl=False)
            for series in found.series:
                if series.undated:
                    stories = "story" if series.undated == 1 else "stories"
                    typer.echo(f"Note: {series.query}: {series.undated:,} undated {stories} not in the rows", err=True)
        else:
            echo(timeline_text(found))


# -- show, stats ----------------------------------------------------------------------------------------


@app.command()
def show(
    story_id: Annotated[str, typer.Argument(metavar="ID", help="The story's id, as search prints it.")],
    index_path: IndexOption = "index",
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Print one story in full."""
    with reported_errors(debug):
        story = _open(index_path).get(story_id)
        if story is None:
            raise UsageError(f"no story with id {story_id!r} in {index_path}; search prints the ids")
        echo(json.dumps(story.to_dict(), ensure_ascii=False, indent=2) if as_json else render_story(story))


@app.command()
def similar(
    story_id: Annotated[str, typer.Argument(metavar="ID", help="The story's id, as search prints it.")],
    index_path: IndexOption = "index",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many stories.")] = 10,
    all_versions: AllVersionsOption = False,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Print the stories most like this one (its own copies left out), best first."""
    with reported_errors(debug):
        results = _open(index_path).similar(story_id, limit=limit, all_versions=all_versions)
        if as_json:
            echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        elif results.hits:
            echo(render_results(results, color=wants_color()))
        else:
            echo("No similar stories found.")


@app.command()
def stats(
    index_path: IndexOption = "index",
    top: Annotated[int, typer.Option("--top", min=1, help="How many bylines, locations and sources to list.")] = 10,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Print what the index holds: story count, date span, stories per year, top names."""
    from newsindex.cli.charts import bar_rows

    with reported_errors(debug):
        summary = _open(index_path).stats(top=top)
        if as_json:
            echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
            return
        first = summary.first_published.isoformat() if summary.first_published else "-"
        last = summary.last_published.isoformat() if summary.last_published else "-"
        lines = [f"stories:   {summary.stories:,} ({summary.undated:,} undated)", f"published: {first} to {last}"]
        lines.append("stories per year:" if summary.years else "stories per year: -")
        lines += bar_rows([(str(year), count) for year, count in summary.years], width=30)
        for title, values in (
            ("bylines", summary.top_bylines),
            ("locations", summary.top_locations),
            ("sources", summary.top_sources),
        ):
            lines.append(f"top {title}:")
            lines += [f"  {count:>8,}  {name}" for name, count in values] or ["  -"]
        echo("\n".join(lines))


@app.command()
def check(
    index_path: IndexOption = "index",
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Verify the index: every file against its checksum, every segment read through. Exit 4 if damaged."""
    with reported_errors(debug):
        from newsindex.index import NewsIndex

        report = NewsIndex.check(index_path)
        if as_json:
            echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        elif report.is_whole:
            echo(f"OK: {report.stories:,} stories, {report.files} files ({report.bytes:,} bytes) verified")
        for problem in report.problems:
            typer.echo(f"damaged: {problem}", err=True)
        if not report.is_whole:
            raise IndexDamagedError(
                f"{len(report.problems)} problem(s) in {index_path}; rebuild it with "
                f"`newsindex index --rebuild CORPUS --index {index_path}`"
            )


def main() -> None:
    """Run the command line (the `newsindex` console script)."""
    try:
        app()
    except SystemExit:
        try:  # what is still buffered for stdout, written while the reader may be gone
            sys.stdout.flush()
        except BrokenPipeError:
            with suppress(typer.Exit):
                pipe_closed()
            raise SystemExit(EXIT_PIPE_CLOSED) from None
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click met the closed pipe itself (--help)
            raise SystemExit(EXIT_PIPE_CLOSED) from None
        raise


# -- serve ------------------------------------------------------------------------------------------------


@app.command()
def serve(
    index_path: IndexOption = "index",
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 lets other machines in.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes (each answers searches).")] = 1,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request on stderr.")] = False,
    allowed_host: Annotated[
        Optional[list[str]],
        typer.Option(
            "--allowed-host",
            metavar="NAME",
            help="Also answer requests addressed to this host name (repeatable; * for any). IP addresses and "
            "localhost always pass; other names get 421, against DNS rebinding.",
        ),
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Serve the search page and the JSON API over HTTP, read-only, until Ctrl-C (needs newsindex-search[serve])."""
    with reported_errors(debug):
        try:
            from newsindex.server.app import check_address
            from newsindex.server.app import serve as serve_index
        except ImportError as error:
            if error.name not in {"fastapi", "starlette", "uvicorn", "pydantic", "anyio"}:
                raise
            raise UsageError(
                f"`newsindex serve` needs the serve extra ({error.name} is missing): pip install 'newsindex-search[serve]'"
            ) from None
        from newsindex.index import NewsIndex

        stories = NewsIndex.open(index_path).count()  # a missing or damaged index fails here, exit 4
        check_address(host, port)  # a taken port fails here, exit 2, before the server says it serves
        if host not in {"127.0.0.1", "localhost", "::1"}:
            typer.echo(f"Warning: listening on {host}: other machines can search this index", err=True)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(
            f"Serving {stories:,} {'story' if stories == 1 else 'stories'} from {index_path} "
            f"at http://{shown}:{port}/ (Ctrl-C stops)",
            err=True,
        )
        serve_index(
            index_path, host=host, port=port, workers=workers, access_log=access_log, allowed_hosts=allowed_host or ()
        )


# -- export ---------------------------------------------------------------------------------------------


@app.command()
@filter_options
def export(
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="File to write (- for stdout with jsonl and csv); opensearch writes PATH-0001.ndjson, PATH-0002…",
        ),
    ],
    query: Annotated[str, typer.Argument(help="Only stories matching this query (default: every story).")] = "",
    index_path: IndexOption = "index",
    format: Annotated[str, typer.Option("--format", help="jsonl, csv or opensearch (bulk NDJSON).")] = "jsonl",
    filters: Filters = FILTERS,
    chunk_mb: Annotated[
        Optional[float], typer.Option("--chunk-mb", help="opensearch: at most this many MiB per file (default 50).")
    ] = None,
    mapping: Annotated[
        Optional[str], typer.Option("--mapping", help="Also write the OpenSearch/Elasticsearch index mapping here.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
    debug: DebugOption = False,
) -> None:
    """Export stories, all or those matching, with every field: JSON Lines, CSV or OpenSearch bulk files."""
    with reported_errors(debug):
        from newsindex.export import DEFAULT_CHUNK_MB, export_stories, write_mapping

        news = _open(index_path)
        if mapping:
            write_mapping(mapping, force=force)
        stories = news.grouped_stories(
            query, filters=filters, on_fallback=lambda message: typer.echo(f"Note: {message}", err=True)
        )
        destination = sys.stdout if output == "-" else output
        chunk = DEFAULT_CHUNK_MB if chunk_mb is None else chunk_mb
        report = export_stories(stories, destination, format=format, chunk_mb=chunk, force=force)
        if not quiet:
            where = ", ".join(report.files[:3]) + (f" … {report.files[-1]}" if len(report.files) > 3 else "")
            typer.echo(
                f"Exported {report.stories:,} {'story' if report.stories == 1 else 'stories'} "
                f"({report.bytes / 1024 / 1024:,.1f} MiB) to {where or 'stdout'}"
                + (f"; mapping in {mapping}" if mapping else ""),
                err=True,
            )


# -- batch, evaluate --------------------------------------------------------------------------------------


class RunFormat(StrEnum):
    trec = "trec"
    jsonl = "jsonl"


class QrelsFormat(StrEnum):
    trec = "trec"
    cran = "cran"
    cisi = "cisi"


@app.command("batch")
def batch_command(
    topics: Annotated[str, typer.Argument(metavar="QUERIES.tsv", help="Topics, one `id TAB text` per line.")],
    index_path: IndexOption = "index",
    format: Annotated[
        RunFormat, typer.Option("--format", help="trec (qid Q0 docid rank score tag) or jsonl (one hit per line).")
    ] = RunFormat.trec,
    run_tag: Annotated[str, typer.Option("--run-tag", help="The run's name, last column of a TREC run.")] = "newsindex",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Stories per topic.")] = 1000,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Write the run to this file (default: stdout).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 7 if any topic was skipped.")] = False,
    expand: ExpandOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
    debug: DebugOption = False,
) -> None:
    """Search every topic of a file (query syntax taken out) and write the hits as a TREC run or JSON Lines."""
    with reported_errors(debug):
        import time

        from newsindex.evaluation.batch import Topic, rank_topics, read_topics, run_topics
        from newsindex.evaluation.trec import trec_run_lines
        from newsindex.models import Problem

        if format is RunFormat.trec:
            list(trec_run_lines("-", (), run_tag))  # a bad tag fails before any search
        skipped: list[Problem] = []

        def skip(problem: Problem) -> None:
            skipped.append(problem)
            typer.echo(f"skipped: {problem}", err=True)

        def failed(topic: Topic, error: Exception) -> None:
            skip(Problem(topics, f"topic {topic.id}: {error}", record=topic.line))

        started = time.perf_counter()
        queries = read_topics(topics, on_problem=skip)
        news = _open(index_path)
        ran = hits = 0
        with _run_output(output) as out:
            if format is RunFormat.trec:  # ids and scores only: no story read, no snippet made
                for topic, ranked in rank_topics(news, queries, limit=limit, on_failure=failed, expand=expand):
                    ran += 1
                    hits += len(ranked)
                    out.writelines(line + "\n" for line in trec_run_lines(topic.id, ranked, run_tag))
            else:
                for topic, results in run_topics(news, queries, limit=limit, on_failure=failed, expand=expand):
                    ran += 1
                    hits += len(results.hits)
                    out.writelines(
                        json.dumps({"qid": topic.id, **hit.to_dict()}, ensure_ascii=False) + "\n"
                        for hit in results.hits
                    )
        if not quiet:
            typer.echo(
                f"{ran:,} of {len(queries):,} topics run, {hits:,} hits, {len(skipped)} skipped "
                f"in {time.perf_counter() - started:.1f} s" + (f"; run in {output}" if output else ""),
                err=True,
            )
        if strict and skipped:
            raise InputError(f"{len(skipped)} topic(s) or line(s) skipped (--strict)")


@contextmanager
def _run_output(output: str | None) -> Iterator[Any]:
    """stdout, or a file that appears under its name only once the whole run is written."""
    if output is None or output == "-":
        yield sys.stdout
        sys.stdout.flush()  # a closed pipe is met here, where it is reported as one
        return
    partial = f"{output}.partial"
    try:
        with open(partial, "w", encoding="utf-8") as file:
            yield file
        os.replace(partial, output)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


@app.command("evaluate")
def evaluate_command(
    run: Annotated[str, typer.Argument(metavar="RUN", help="A TREC run: qid Q0 docid rank score tag per line.")],
    qrels: Annotated[str, typer.Argument(metavar="QRELS", help="Relevance judgements: qid 0 docid grade per line.")],
    qrels_format: Annotated[
        QrelsFormat, typer.Option("--qrels-format", help="trec, cran (Cranfield's cranqrel) or cisi (CISI.REL).")
    ] = QrelsFormat.trec,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Measure a run against relevance judgements: MAP, nDCG@10, P@10, Recall@100, as trec_eval -c does."""
    with reported_errors(debug):
        from newsindex.evaluation.trec import evaluate, read_qrels, read_run

        judgements = read_qrels(qrels, format=qrels_format.value)
        answers = read_run(run)
        result = evaluate(answers, judgements)
        if not result.queries:
            raise UsageError(f"no topic of {qrels} has a relevant document: is it a qrels file?")
        if len(result.missing) == result.queries:
            typer.echo(f"Warning: no topic of {run} is judged in {qrels}: are they the same topics?", err=True)
        elif result.missing:
            shown = ", ".join(result.missing[:10]) + (" …" if len(result.missing) > 10 else "")
            typer.echo(f"Note: {len(result.missing)} judged topic(s) have no run lines, scored 0: {shown}", err=True)
        if as_json:
            echo(json.dumps({"run": run, "qrels": qrels, **result.to_dict()}, ensure_ascii=False, indent=2))
            return
        rows = [("queries", str(result.queries))]
        rows += [
            (name, f"{value:.4f}")
            for name, value in (
                ("MAP", result.map),
                ("nDCG@10", result.ndcg_10),
                ("P@10", result.p_10),
                ("Recall@100", result.recall_100),
            )
        ]
        echo("\n".join(f"{name:<11} {value}" for name, value in rows))
