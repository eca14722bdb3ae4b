"""Topics, places, organisations, people and the dateline's region: searched, filtered, counted, shown and
exported alike in the Python API, the CLI and the HTTP API; and the Story checks that reject malformed input."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers.files import read_all
from newsindex import Filters, NewsIndex, Story
from newsindex.cli.commands import app
from newsindex.errors import UsageError
from newsindex.models import Credit
from newsindex.store.schema import TAG_FIELDS, build_schema, story_from_stored
from test_archives import reuters_file, reuters_record

runner = CliRunner()

STORIES = (
    Story(
        id="portland-grain",
        body="PORTLAND, Ore., Feb 26 - Grain ships loading at Portland: four ships were waiting to load wheat.",
        published=date(1987, 2, 26),
        location="Portland",
        region="Ore.",
        topics=("grain", "wheat", "ship"),
        places=("usa",),
    ),
    Story(
        id="fed-volcker",
        body="WASHINGTON, March 3 - Federal Reserve Board chairman Paul Volcker said the dollar was stable.",
        published=date(1987, 3, 3),
        location="Washington",
        topics=("money-fx", "interest"),
        places=("usa",),
        orgs=("fed",),
        people=("volcker",),
    ),
    Story(
        id="ec-wheat",
        body="BRUSSELS, March 4 - The European Community sold wheat from its stocks at a weekly tender.",
        published=date(1987, 3, 4),
        location="Brussels",
        topics=("grain", "wheat"),
        places=("belgium", "west-germany"),
        orgs=("ec",),
    ),
    Story(
        id="san-mateo",
        body="SAN MATEO, Calif., March 2 - A software maker said it would buy a rival for cash.",
        published=date(1987, 3, 2),
        location="San Mateo",
        region="Calif.",
        topics=("acq",),
        places=("usa",),
    ),
    Story(id="untagged", body="PORTLAND, Maine - A story about wheat fields with no tags at all.", location="Portland"),
)


@pytest.fixture
def news(tmp_path: Path) -> NewsIndex:
    index = NewsIndex.create(tmp_path / "index", fsync=False)
    index.add(STORIES)
    return index


def ids(results: Any) -> list[str]:
    return sorted(hit.story.id for hit in results.hits)


# ── Fields in the query text ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("topic:grain", ["ec-wheat", "portland-grain"]),
        ("topics:acq", ["san-mateo"]),
        ("subject:interest", ["fed-volcker"]),
        ("place:usa", ["fed-volcker", "portland-grain", "san-mateo"]),
        ("places:west-germany", ["ec-wheat"]),
        ("country:belgium", ["ec-wheat"]),
        ("org:ec", ["ec-wheat"]),
        ("organization:fed", ["fed-volcker"]),
        ("person:volcker", ["fed-volcker"]),
        ("people:volcker", ["fed-volcker"]),
        ("region:calif", ["san-mateo"]),  # "Calif." as a word: case and the abbreviation's dot ignored
        ("region:ore", ["portland-grain"]),
        ("wheat place:usa", ["portland-grain"]),
        ("topic:grain -org:ec", ["portland-grain"]),
        ("topic:money-fx", ["fed-volcker"]),
    ],
)
def test_each_tag_is_a_field_of_the_query_language(news: NewsIndex, query: str, expected: list[str]) -> None:
    assert ids(news.search(query)) == expected


def test_place_means_the_tags_and_location_the_dateline(news: NewsIndex) -> None:
    # "Portland" is the dateline of two stories and a place tag of none.
    assert ids(news.search("place:portland")) == []
    assert ids(news.search("location:portland")) == ["portland-grain", "untagged"]


# ── Filters ──────────────────────────────────────────────────────────────────────────────────────────


def test_python_filters_take_one_label_or_a_list_and_match_any(news: NewsIndex) -> None:
    assert ids(news.search("", filters=Filters(topics="grain"))) == ["ec-wheat", "portland-grain"]
    assert ids(news.search("", filters=Filters(topics=["acq", "interest"]))) == ["fed-volcker", "san-mateo"]
    assert ids(news.search("wheat", filters=Filters(places=["usa"]))) == ["portland-grain"]
    assert ids(news.search("", filters=Filters(orgs="ec"))) == ["ec-wheat"]
    assert ids(news.search("", filters=Filters(people=["volcker"]))) == ["fed-volcker"]
    assert ids(news.search("", filters=Filters(region="Calif."))) == ["san-mateo"]
    assert ids(news.search("", filters=Filters(topics="grain", places="usa"))) == [
        "portland-grain"
    ]  # filters combine: all
    assert ids(news.search("wheat", filters=Filters(topics=["", " "]))) == [
        "ec-wheat",
        "portland-grain",
        "untagged",
    ]  # blanks: none


def test_timeline_and_stories_take_the_same_filters(news: NewsIndex) -> None:
    timeline = news.timeline("", filters=Filters(places="usa"), by="month")
    assert dict(zip(timeline.periods, timeline.series[0].counts, strict=True)) == {"1987-02": 1, "1987-03": 2}
    assert [story.id for story in news.stories(filters=Filters(topics="wheat"))] == [
        "portland-grain",
        "ec-wheat",
    ]  # oldest first
    assert [story.id for story in news.stories("dollar", filters=Filters(orgs="fed"))] == ["fed-volcker"]


# ── Facets ───────────────────────────────────────────────────────────────────────────────────────────


def test_tag_facets_count_every_matching_story(news: NewsIndex) -> None:
    facets = news.search("", filters=Filters(places="usa"), facets=("topic", "place", "org", "person", "region")).facets
    assert facets["topic"] == (("acq", 1), ("grain", 1), ("interest", 1), ("money-fx", 1), ("ship", 1), ("wheat", 1))
    assert facets["place"] == (("usa", 3),)
    assert facets["org"] == (("fed", 1),)
    assert facets["person"] == (("volcker", 1),)
    assert facets["region"] == (("Calif.", 1), ("Ore.", 1))
    wheat = news.search("wheat", facets="topic", facet_top=2).facets["topic"]
    assert wheat == (("grain", 2), ("wheat", 2))


def test_an_unknown_facet_names_the_new_ones(news: NewsIndex) -> None:
    with pytest.raises(UsageError, match="region, topic, place, org, person"):
        news.search("wheat", facets=("topics",))


# ── Shown and stored ─────────────────────────────────────────────────────────────────────────────────


def test_tags_survive_the_index_and_reach_hits_and_stories(news: NewsIndex) -> None:
    assert news.get("fed-volcker") == STORIES[1]
    hit = news.search("person:volcker").hits[0].to_dict()
    assert (hit["topics"], hit["places"], hit["orgs"], hit["people"]) == (
        ["money-fx", "interest"],
        ["usa"],
        ["fed"],
        ["volcker"],
    )
    story = news.get("san-mateo")
    assert story is not None
    data = story.to_dict()
    assert (data["region"], data["places"]) == ("Calif.", ["usa"])
    assert "countries" not in data


def test_a_story_stored_with_countries_reads_them_as_places() -> None:
    record = {"body": "Text.", "countries": ["usa", "uk"], "topics": ["trade"]}
    story = story_from_stored({"id": "old", "story": json.dumps(record).encode("utf-8")})
    assert story.places == ("usa", "uk")
    assert story.topics == ("trade",)


def test_records_read_places_orgs_people_and_the_older_countries_key(tmp_path: Path) -> None:
    path = tmp_path / "stories.jsonl"
    lines = [
        {
            "id": "a",
            "date": "1987-03-02",
            "body": "Text a.",
            "countries": ["fr"],
            "organisations": "un; nato",
            "people": ["reagan"],
        },
        {"id": "b", "date": "1987-03-02", "body": "Text b.", "places": "usa, uk", "region": "Calif.", "orgs": ["opec"]},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    stories, problems = read_all(path)
    assert problems == []
    assert [(s.places, s.orgs, s.people, s.region) for s in stories] == [
        (("fr",), ("un", "nato"), ("reagan",), None),
        (("usa", "uk"), ("opec",), (), "Calif."),
    ]


def test_reuters_sgml_orgs_and_people_are_read(tmp_path: Path) -> None:
    record = reuters_record(
        7,
        extra="<TOPICS><D>money-fx</D></TOPICS>\n<PLACES><D>usa</D></PLACES>\n"
        "<PEOPLE><D>volcker</D><D>baker</D></PEOPLE>\n<ORGS><D>fed</D></ORGS>\n<EXCHANGES></EXCHANGES>\n",
        text="<TEXT>&#2;\n<TITLE>FED SAYS DOLLAR STABLE</TITLE>\n"
        "<DATELINE>    WASHINGTON, March 3 - </DATELINE><BODY>The dollar was stable, the Fed said.\n Reuter\n&#3;</BODY></TEXT>",
    )
    [story], problems = read_all(reuters_file(tmp_path, record))
    assert problems == []
    assert (story.topics, story.places, story.orgs, story.people) == (
        ("money-fx",),
        ("usa",),
        ("fed",),
        ("volcker", "baker"),
    )


# ── The command line ─────────────────────────────────────────────────────────────────────────────────


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_cli_filters_and_json_hits(news: NewsIndex) -> None:
    result = cli("search", "", "-i", str(news.path), "--topic", "grain", "--topic", "acq", "--place", "usa", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(hit["id"] for hit in data["hits"]) == ["portland-grain", "san-mateo"]
    hit = next(hit for hit in data["hits"] if hit["id"] == "san-mateo")
    assert (hit["region"], hit["topics"], hit["places"], hit["orgs"], hit["people"]) == (
        "Calif.",
        ["acq"],
        ["usa"],
        [],
        [],
    )
    for option, value, expected in (
        ("--org", "ec", ["ec-wheat"]),
        ("--person", "volcker", ["fed-volcker"]),
        ("--region", "ore.", ["portland-grain"]),
    ):
        result = cli("search", "", "-i", str(news.path), option, value, "--jsonl")
        assert result.exit_code == 0, result.output
        assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == expected


def test_cli_facets_and_the_hit_table(news: NewsIndex) -> None:
    result = cli("search", "wheat", "-i", str(news.path), "--facet", "topic", "--facet", "place", "--facet", "region")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert (
        "topic (every matching story, copies included):\n         2  grain\n         2  wheat\n         1  ship" in out
    )
    assert "place (every matching story, copies included):\n         1  belgium" in out
    assert "region (every matching story, copies included):\n         1  Ore." in out
    portland = next(block for block in out.split("\n\n") if "id: portland-grain" in block)
    assert "1987-02-26 · Portland, Ore." in portland
    assert "topics: grain, wheat, ship · places: usa" in portland
    untagged = next(block for block in out.split("\n\n") if "id: untagged" in block)
    assert "topics:" not in untagged  # no line for a story without tags

    data = json.loads(cli("search", "wheat", "-i", str(news.path), "--facet", "org", "--json").stdout)
    assert data["facets"]["org"] == [{"name": "ec", "stories": 1}]


def test_cli_show_prints_the_tags(news: NewsIndex) -> None:
    result = cli("show", "fed-volcker", "-i", str(news.path))
    assert result.exit_code == 0
    assert "topics:    money-fx, interest\nplaces:    usa\norgs:      fed\npeople:    volcker\n" in result.stdout
    assert "region:    -\n" in result.stdout
    assert "region:    Calif.\n" in cli("show", "san-mateo", "-i", str(news.path)).stdout
    data = json.loads(cli("show", "fed-volcker", "-i", str(news.path), "--json").stdout)
    assert (data["orgs"], data["people"]) == (["fed"], ["volcker"])


def test_cli_export_selects_and_writes_the_tags(news: NewsIndex, tmp_path: Path) -> None:
    result = cli("export", "-o", "-", "-i", str(news.path), "--format", "csv", "--topic", "grain", "-q")
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert sorted(rows) == ["ec-wheat", "portland-grain"]
    assert rows["portland-grain"]["region"] == "Ore."
    assert rows["portland-grain"]["topics"] == "grain; wheat; ship"
    assert rows["ec-wheat"]["places"] == "belgium; west-germany"
    assert rows["ec-wheat"]["orgs"] == "ec"


def test_cli_timeline_takes_the_filters(news: NewsIndex) -> None:
    result = cli("timeline", "", "-i", str(news.path), "--by", "month", "--org", "ec", "--json")
    assert result.exit_code == 0, result.output
    series = json.loads(result.stdout)["series"][0]
    assert sum(bucket["stories"] for bucket in series["buckets"]) == 1


# ── HTTP ─────────────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def client(news: NewsIndex) -> Any:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from newsindex.server.app import create_app

    with TestClient(create_app(str(news.path))) as test_client:
        yield test_client


def test_http_filters_facets_and_story(client: Any) -> None:
    body = client.get("/api/search", params={"q": "", "topic": ["grain", "acq"], "place": "usa"}).json()
    assert sorted(hit["id"] for hit in body["hits"]) == ["portland-grain", "san-mateo"]
    assert {hit["id"]: hit["region"] for hit in body["hits"]} == {"portland-grain": "Ore.", "san-mateo": "Calif."}
    for params, expected in (
        ({"org": "fed"}, ["fed-volcker"]),
        ({"person": "volcker"}, ["fed-volcker"]),
        ({"region": "calif"}, ["san-mateo"]),
        ({"q": "topic:wheat org:ec"}, ["ec-wheat"]),
    ):
        found = client.get("/api/search", params={"q": "", **params}).json()
        assert [hit["id"] for hit in found["hits"]] == expected, params
    facets = client.get("/api/search", params={"q": "wheat", "facet": ["topic", "place", "region"]}).json()["facets"]
    assert facets["topic"][:2] == [{"name": "grain", "stories": 2}, {"name": "wheat", "stories": 2}]
    assert {"name": "belgium", "stories": 1} in facets["place"]
    assert facets["region"] == [{"name": "Ore.", "stories": 1}]
    story = client.get("/api/stories/fed-volcker").json()
    assert (story["topics"], story["places"], story["orgs"], story["people"]) == (
        ["money-fx", "interest"],
        ["usa"],
        ["fed"],
        ["volcker"],
    )
    timeline = client.get("/api/timeline", params={"place": "usa", "by": "month"}).json()
    assert timeline["total"] == 3


# ── An index built before these fields ───────────────────────────────────────────────────────────────


def _schema_before_tags() -> Any:
    schema = build_schema()
    for field in TAG_FIELDS:
        schema.remove(field)
        schema.remove(f"{field}_exact")
    return schema


def test_an_index_built_before_the_fields_searches_them_as_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newsindex.store.manifest

    with monkeypatch.context() as patched:
        patched.setattr(newsindex.store.manifest, "build_schema", _schema_before_tags)
        old = NewsIndex.create(tmp_path / "old", fsync=False)
    assert "topic" not in old._whoosh.schema and "topic_exact" not in old._whoosh.schema
    report = old.add(STORIES)  # the new fields are left out of the documents, not refused
    assert report.added == len(STORIES)
    [warning] = report.problems  # once, not per story
    assert warning.kind == "degraded"
    assert "built before the region, topic, place, org and person fields" in warning.reason
    assert "--rebuild" in warning.reason
    old.close()

    news = NewsIndex.open(tmp_path / "old")
    assert ids(news.search("wheat")) == ["ec-wheat", "portland-grain", "untagged"]
    assert news.search("topic:grain").total == 0
    assert news.search("wheat topic:grain").total == 0
    assert news.search("topic:graim").suggestion is None  # no field words to suggest from
    assert news.search("", filters=Filters(places="usa")).total == 0
    assert news.search("wheat", facets=("topic", "place", "region", "bylines")).facets["topic"] == ()
    assert news.get("fed-volcker") == STORIES[1]  # the stored story keeps its tags
    result = cli("search", "wheat", "-i", str(news.path), "--facet", "person", "--topic", "grain")
    assert result.exit_code == 0, result.output
    assert "No stories matched." in result.stdout


# ── Validation ───────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"id": "", "body": "Text."}, "Story.id"),
        ({"id": "  ", "body": "Text."}, "Story.id"),
        ({"id": 7, "body": "Text."}, "Story.id"),
        ({"id": "a", "body": ""}, "Story.body"),
        ({"id": "a", "body": " \n "}, "Story.body"),
        ({"id": "a", "body": None}, "Story.body"),
        ({"id": "a", "body": "Text.", "published": "2019-10-23"}, "Story.published"),
        ({"id": "a", "body": "Text.", "published": 1571788800}, "Story.published"),
        ({"id": "a", "body": "Text.", "bylines": "Jane Doe"}, "Story.bylines"),
        ({"id": "a", "body": "Text.", "bylines": ("Jane Doe", 7)}, "Story.bylines"),
        ({"id": "a", "body": "Text.", "topics": "grain"}, "Story.topics"),
        ({"id": "a", "body": "Text.", "places": {"usa"}}, "Story.places"),
        ({"id": "a", "body": "Text.", "people": None}, "Story.people"),
        ({"id": "a", "body": "Text.", "headline": 3}, "Story.headline"),
        ({"id": "a", "body": "Text.", "location": ("Tirana",)}, "Story.location"),
        ({"id": "a", "body": "Text.", "region": 1}, "Story.region"),
        ({"id": "a", "body": "Text.", "credits": ("Editing by Ann Lee",)}, "Story.credits"),
        ({"id": "a", "body": "Text.", "credits": "Editing by Ann Lee"}, "Story.credits"),
    ],
)
def test_a_malformed_story_is_refused_naming_the_field(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(UsageError, match=rf"^{field}\b"):
        Story(**arguments)


def test_a_single_byline_str_is_refused_with_the_fix() -> None:
    with pytest.raises(
        UsageError, match=r"must be a tuple of names, not the str 'Jane Doe': write bylines=\('Jane Doe',\)"
    ):
        Story(id="a", body="Text.", bylines="Jane Doe")  # type: ignore[arg-type]


def test_lists_are_kept_as_tuples() -> None:
    story = Story(id="a", body="Text.", bylines=["Jane Doe"], topics=["grain", "wheat"])  # type: ignore[arg-type]
    assert story.bylines == ("Jane Doe",) and story.topics == ("grain", "wheat")
    credited = Story(id="a", body="Text.", credits=[Credit("Editing", ("Ann Lee",))])  # type: ignore[arg-type]
    assert credited.credits == (Credit("Editing", ("Ann Lee",)),)
    assert story == Story(id="a", body="Text.", bylines=("Jane Doe",), topics=("grain", "wheat"))
    assert hash(story) == hash(Story(id="a", body="Text.", bylines=("Jane Doe",), topics=("grain", "wheat")))


def test_add_refuses_what_is_not_a_story_and_keeps_the_index(news: NewsIndex) -> None:
    before = news.count()
    items: list[Any] = [Story(id="fine", body="A fine story."), {"id": "x", "body": "a dict"}]
    with pytest.raises(UsageError, match=r"NewsIndex.add takes Story objects: item 2 is a dict"):
        news.add(items)
    assert NewsIndex.open(news.path).count() == before
    assert news.search("fine").total == 0
