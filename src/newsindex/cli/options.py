"""The options the commands share, and the filter options that become one `Filters`."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from newsindex.models import Filters

from newsindex.cli.output import reported_errors


class FacetName(StrEnum):
    bylines = "bylines"
    location = "location"
    source = "source"
    region = "region"
    topic = "topic"
    place = "place"
    org = "org"
    person = "person"
    year = "year"
    month = "month"


class PeriodName(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    year = "year"
    auto = "auto"  # by the span of the matching stories, as the page draws it


class SortOrder(StrEnum):
    relevance = "relevance"
    date = "date"
    newest = "-date"


IndexOption = Annotated[
    str,
    typer.Option("--index", "-i", envvar="NEWSINDEX_INDEX", help="Index folder.", show_envvar=True),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
# The filters of search and export.
FromOption = Annotated[
    Optional[str],
    typer.Option(
        "--from", help="Earliest date, inclusive: YYYY, YYYY-MM, YYYY-MM-DD, or that long ago: 30d, 2w, 3m, 1y."
    ),
]
ToOption = Annotated[Optional[str], typer.Option("--to", help="Latest date, inclusive: --to 2019-10 includes Oct 31.")]
BylineOption = Annotated[
    Optional[list[str]], typer.Option("--byline", help="Only stories by this reporter (repeatable).")
]
LocationOption = Annotated[Optional[str], typer.Option("--location", help="Only stories datelined here.")]
SourceOption = Annotated[Optional[str], typer.Option("--source", help="Only stories from this agency or outlet.")]
RegionOption = Annotated[
    Optional[str], typer.Option("--region", help="Only stories datelined in this state or country (Calif., Alberta).")
]
TopicOption = Annotated[
    Optional[list[str]], typer.Option("--topic", help="Only stories tagged with this topic (repeatable: any).")
]
PlaceOption = Annotated[
    Optional[list[str]], typer.Option("--place", help="Only stories tagged with this place (repeatable: any).")
]
OrgOption = Annotated[
    Optional[list[str]], typer.Option("--org", help="Only stories tagged with this organisation (repeatable: any).")
]
PersonOption = Annotated[
    Optional[list[str]], typer.Option("--person", help="Only stories tagged with this person (repeatable: any).")
]
AllOption = Annotated[
    bool, typer.Option("--all", help="Every word must match, even when no story has them all (no fallback).")
]
AnyOption = Annotated[
    bool, typer.Option("--any", help="Stories with some of the words (every word ranks first), not just every word.")
]
ExpandOption = Annotated[
    bool, typer.Option("--expand", help="Add words of the best stories to the query (pseudo-relevance feedback).")
]
RecentOption = Annotated[
    bool, typer.Option("--recent", help="Rank newer stories higher: relevance halves for every 30 days of age.")
]
HalfLifeOption = Annotated[
    Optional[float],
    typer.Option(
        "--half-life", metavar="DAYS", help="With --recent: days in which relevance halves (implies --recent)."
    ),
]
SinceOption = Annotated[
    Optional[str], typer.Option("--since", help="Only stories from this long ago on: 7d, 2w, 3m, 1y or today.")
]
PlainOption = Annotated[bool, typer.Option("--plain", help="Read the query as plain words: nothing in it is syntax.")]
FuzzyOption = Annotated[bool, typer.Option("--fuzzy", help="Let every word of 3+ letters match words one edit away.")]
# Where a command (decorated with filter_options) takes the filter options above, as one Filters.
FILTERS: Any = None
AllVersionsOption = Annotated[
    bool, typer.Option("--all-versions", help="Show every copy of a story, not one hit per duplicate group.")
]


FILTER_OPTIONS: dict[str, tuple[Any, Any]] = {  # parameter: (annotation, default)
    "start": (FromOption, None),
    "end": (ToOption, None),
    "since": (SinceOption, None),
    "byline": (BylineOption, None),
    "location": (LocationOption, None),
    "source": (SourceOption, None),
    "region": (RegionOption, None),
    "topic": (TopicOption, None),
    "place": (PlaceOption, None),
    "org": (OrgOption, None),
    "person": (PersonOption, None),
    "require_all": (AllOption, False),
    "any_word": (AnyOption, False),
    "plain": (PlainOption, False),
    "fuzzy": (FuzzyOption, False),
}


def filters_from(options: dict[str, Any]) -> Filters:
    """The Filters of the filter options given (`FILTER_OPTIONS`); --any: some of the words, else every
    word (with its fallback unless --all). QueryError or UsageError for a value they refuse."""
    from newsindex.models import Filters

    return Filters(
        start=options["start"],
        end=options["end"],
        since=options["since"],
        bylines=options["byline"] or (),
        location=options["location"],
        source=options["source"],
        region=options["region"],
        topics=options["topic"] or (),
        places=options["place"] or (),
        orgs=options["org"] or (),
        people=options["person"] or (),
        match="any" if options["any_word"] else "all",
        require_all=options["require_all"],
        plain=options["plain"],
        fuzzy=options["fuzzy"],
    )


def filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with the filter options (`FILTER_OPTIONS`: --from, --to, --byline, …) in place of its
    `filters` parameter, which it is given as the one Filters they make (`filters_from`).

    Typer reads a command's options from its signature: this one signature is shared by search,
    timeline and export, instead of the same fifteen parameters spelled out in each.
    """
    import inspect
    from typing import get_type_hints

    hints = get_type_hints(command, localns={"Filters": Any}, include_extras=True)
    parameters: list[inspect.Parameter] = []
    for parameter in inspect.signature(command).parameters.values():
        if parameter.name == "filters":
            parameters += [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                for name, (annotation, default) in FILTER_OPTIONS.items()
            ]
        else:
            parameters.append(parameter.replace(annotation=hints[parameter.name], kind=inspect.Parameter.KEYWORD_ONLY))

    def run(**given: Any) -> None:
        options = {name: given.pop(name) for name in FILTER_OPTIONS}
        with reported_errors(given.get("debug", False)):
            filters = filters_from(options)
        command(**given, filters=filters)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    run.__name__, run.__qualname__, run.__doc__ = command.__name__, command.__qualname__, command.__doc__
    run.__module__ = command.__module__
    return run
