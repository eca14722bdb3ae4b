"""Timelines drawn: bar charts as text for the terminal, CSV rows, and PNG or SVG files (matplotlib)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from newsindex.errors import UsageError
from newsindex.timeline import Timeline

BAR_WIDTH = 40
PLOT_SUFFIXES = (".png", ".svg")


def bar_rows(rows: Sequence[tuple[str, int]], *, width: int = BAR_WIDTH, peak: int | None = None) -> list[str]:
    """One line per (label, count): the label, the count and a bar scaled so that `peak` fills `width`."""
    peak = max((count for _, count in rows), default=0) if peak is None else peak
    label_width = max((len(label) for label, _ in rows), default=0)
    lines = []
    for label, count in rows:
        bar = "█" * round(width * count / peak) if peak else ""
        if count and not bar:
            bar = "▏"  # a story is never drawn as nothing
        lines.append(f"  {label:<{label_width}}  {count:>8,}  {bar}".rstrip())
    return lines


def timeline_text(timeline: Timeline) -> str:
    """The timeline as one bar chart per query, all on the same scale so that they compare."""
    peak = max((count for series in timeline.series for count in series.counts), default=0)
    kind = "ISO week" if timeline.by == "week" else timeline.by
    blocks = []
    for series in timeline.series:
        span = f", {timeline.periods[0]} to {timeline.periods[-1]}" if timeline.periods else ""
        head = f"{_label(series.query)}: {series.total:,} {_stories(series.total)} by {kind}{span}"
        if series.undated:
            head += f" (and {series.undated:,} undated, not shown)"
        rows = bar_rows(list(zip(timeline.periods, series.counts, strict=True)), peak=peak)
        blocks.append("\n".join([head, *rows]) if rows else f"{head}\n  (no dated stories)")
    return "\n\n".join(blocks)


def timeline_csv(timeline: Timeline) -> str:
    """The timeline as CSV: a `period` column, then one column of story counts per query."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", *(_label(series.query) for series in timeline.series)])
    for index, period in enumerate(timeline.periods):
        writer.writerow([period, *(series.counts[index] for series in timeline.series)])
    return out.getvalue()


def check_plot_path(path: str) -> Path:
    """`path` as the file a chart goes to: UsageError unless it ends in .png or .svg, its folder exists and
    matplotlib is installed."""
    target = Path(path)
    if target.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot writes .png or .svg files, not {target.name!r}")
    if not target.parent.is_dir():
        raise UsageError(f"--plot: no folder {str(target.parent)!r} to write {target.name!r} in")
    try:
        import matplotlib
    except ImportError as error:
        if error.name != "matplotlib":
            raise
        raise UsageError(
            "--plot needs matplotlib, which is not installed: pip install 'newsindex-search[plot]'"
        ) from None
    matplotlib.use("Agg")  # files only: no window, no display needed
    return target


def plot_timeline(timeline: Timeline, path: str) -> Path:
    """Draw the timeline to a PNG or SVG file (by its suffix): one line per query. Needs newsindex-search[plot]."""
    target = check_plot_path(path)
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    figure, axes = pyplot.subplots(figsize=(10, 4.5), layout="constrained")
    try:
        positions = range(len(timeline.periods))
        for series in timeline.series:
            style = "-o" if len(timeline.periods) <= 60 else "-"
            axes.plot(positions, series.counts, style, markersize=3, label=f"{_label(series.query)} ({series.total:,})")
        ticks = list(positions)[:: max(1, len(timeline.periods) // 12)]
        axes.set_xticks(ticks, [timeline.periods[tick] for tick in ticks], rotation=45, ha="right")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylim(bottom=0)
        axes.set_ylabel("stories")
        axes.set_xlabel("ISO week" if timeline.by == "week" else timeline.by)
        axes.grid(axis="y", alpha=0.3)
        axes.legend()
        figure.savefig(target)
    finally:
        pyplot.close(figure)
    return target


def _label(query: str) -> str:
    """How a series is named: its query, or "every story" for the empty one."""
    return query if query.strip() else "every story"


def _stories(count: int) -> str:
    return "story" if count == 1 else "stories"
