"""The text a person reads: results with their snippets, facets as bars, a story."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from newsindex.models import SearchResults, Story


def wants_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render_results(results: SearchResults, *, color: bool) -> str:
    blocks = []
    if results.suggestion is not None:
        suggestion = typer.style(results.suggestion, bold=True) if color else results.suggestion
        blocks.append(f"Did you mean: {suggestion}?")
    if results.message is not None:
        blocks.append(f"Note: {results.message}")
    for hit in results.hits:
        story = hit.story
        facts = [story.published.isoformat()[:10] if story.published else "undated"]
        facts += [value for value in (_place_text(story), ", ".join(story.bylines), story.source) if value]
        title = story.title
        blocks.append(
            "\n".join(
                [
                    f"{hit.rank:>3}. {' · '.join(facts)}   [{_score_text(hit.score)}]",
                    f"     {typer.style(title, bold=True) if color else title}",
                    f"     {_terminal_snippet(hit.snippet, color)}",
                    *_tags_line(story),
                    f"     id: {story.id}",
                    *_versions_line(hit.duplicates),
                    *([f"     updated version of {hit.revises} (other figures)"] if hit.revises else []),
                ]
            )
        )
    first = (results.page - 1) * results.limit + 1
    if results.hits:
        blocks.append(
            f"Stories {first}-{first + len(results.hits) - 1} of {results.total:,} ({results.took_ms:.0f} ms)"
        )
    elif results.total:
        blocks.append(f"No stories on page {results.page}; {results.total:,} in all")
    else:
        blocks.append("No stories matched.")
    return "\n\n".join(blocks)


def _place_text(story: Story) -> str | None:
    """The dateline's place as a reporter writes it: "San Mateo, Calif.", or the city or region alone."""
    return ", ".join(part for part in (story.location, story.region) if part) or None


def _tags_line(story: Story) -> list[str]:
    """ "topics: grain, wheat · places: usa" under a hit whose source tags it; nothing for one without tags."""
    parts = [f"{name}: {', '.join(values)}" for name, values in _tag_lists(story)]
    return [f"     {' · '.join(parts)}"] if parts else []


def _tag_lists(story: Story) -> list[tuple[str, tuple[str, ...]]]:
    """The story's non-empty tag lists, by name: topics, places, orgs, people."""
    tags = (("topics", story.topics), ("places", story.places), ("orgs", story.orgs), ("people", story.people))
    return [(name, values) for name, values in tags if values]


def _score_text(score: float) -> str:
    """Two decimals, or two significant digits for the tiny scores of old stories under --recent."""
    return f"{score:.2g}" if 0 < abs(score) < 0.01 else f"{score:.2f}"


def render_facets(results: SearchResults, *, all_versions: bool) -> str:
    from newsindex.cli.charts import bar_rows

    # Facets count every story, copies included; a folded total counts duplicate groups instead.
    counted = f"of all {results.total:,} matching" if all_versions else "every matching story, copies included"
    blocks = []
    for name, pairs in results.facets.items():
        rows = bar_rows(pairs, width=20) if name in ("year", "month") else [f"  {n:>8,}  {v}" for v, n in pairs]
        blocks.append("\n".join([f"{name} ({counted}):", *(rows or ["  -"])]))
    return "\n\n".join(blocks)


def _versions_line(duplicates: tuple[str, ...]) -> list[str]:
    """ "+2 similar versions: id, id" under a hit whose duplicate group has other matching stories."""
    if not duplicates:
        return []
    shown = ", ".join(duplicates[:5]) + (" …" if len(duplicates) > 5 else "")
    return [f"     +{len(duplicates)} similar version{'' if len(duplicates) == 1 else 's'}: {shown}"]


def _terminal_snippet(snippet: str, color: bool) -> str:
    import html

    def mark(match: re.Match[str]) -> str:
        word = html.unescape(match.group(1))
        return typer.style(word, fg="yellow", bold=True) if color else f"*{word}*"

    marked = re.sub(r"<mark>(.*?)</mark>", mark, snippet)
    return html.unescape(marked)


def render_story(story: Story) -> str:
    lines = [f"id:        {story.id}"]
    if story.headline:
        lines.append(f"headline:  {story.headline}")
    lines += [
        f"published: {story.published.isoformat() if story.published else 'undated'}",
        f"bylines:   {', '.join(story.bylines) or '-'}",
        f"location:  {story.location or '-'}",
        f"region:    {story.region or '-'}",
        f"source:    {story.source or '-'}",
    ]
    lines += [f"{name + ':':<10} {', '.join(values)}" for name, values in _tag_lists(story)]
    lines += [f"{credit.role.lower() + ':':<10} {', '.join(credit.names)}" for credit in story.credits]
    if story.path:
        lines.append(f"path:      {story.path}")
    return "\n".join(lines) + "\n\n" + story.body
