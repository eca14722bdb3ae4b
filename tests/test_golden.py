"""An index written by an earlier release opens and answers as it did (tests/data/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.golden import STORIES
from newsindex import Filters, NewsIndex, Story, __version__
from newsindex.cli.commands import app
from newsindex.store.schema import SCHEMA_VERSION

GOLDEN = Path(__file__).parent / "data"


@pytest.fixture
def golden_v1(tmp_path: Path) -> Path:
    """A copy of the committed index (a search may take a lock or write a cache: never the original)."""
    return Path(shutil.copytree(GOLDEN / "golden-v1", tmp_path / "golden-v1"))


@pytest.fixture(params=["golden-v1", "golden-v2"])
def golden(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A copy of each committed index, one per format version."""
    return Path(shutil.copytree(GOLDEN / request.param, tmp_path / request.param))


def test_an_index_of_every_format_opens_and_answers_as_it_did(golden: Path) -> None:
    news = NewsIndex.open(golden)
    assert news.count() == len(STORIES)
    assert [hit.story.id for hit in news.search("iran oil exports").hits][:1] == ["iran-oil"]
    assert {hit.story.id for hit in news.search("albania", limit=10).hits} == {"albania-iran", "albania-football"}
    assert [hit.story.id for hit in news.search("albania", filters=Filters(start="2019-01-01")).hits] == [
        "albania-iran"
    ]
    grain = news.search('"grain ships" Portland', filters=Filters(require_all=True)).hits
    assert len(grain) == 1 and set((grain[0].story.id, *grain[0].duplicates)) == {"grain-1", "grain-1-refiled"}
    for story in STORIES:
        assert news.get(story.id) == story


def test_an_index_of_every_format_passes_check_and_takes_new_stories(golden: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--index", str(golden)])
    assert result.exit_code == 0, result.output
    news = NewsIndex.open(golden)
    news.add([Story(id="new", body="TIRANA (Reuters) - Albania opened a new harbour on Friday.")])
    assert {hit.story.id for hit in news.search("harbour").hits} == {"new", "undated"}
    assert news.count() == len(STORIES) + 1


def test_the_manifest_says_which_format_and_a_write_upgrades_an_older_one(golden_v1: Path, tmp_path: Path) -> None:
    manifest = json.loads((golden_v1 / "newsindex.json").read_text())
    assert manifest["schema_version"] == 1  # as 0.1.0 wrote it
    NewsIndex.open(golden_v1).search("albania")  # reading changes nothing
    assert json.loads((golden_v1 / "newsindex.json").read_text()) == manifest
    NewsIndex.open(golden_v1).add([Story(id="new", body="TIRANA (Reuters) - A new story.")])
    upgraded = json.loads((golden_v1 / "newsindex.json").read_text())
    assert (upgraded["schema_version"], upgraded["created_as"]) == (SCHEMA_VERSION, 1)
    assert upgraded["written_by"] == f"newsindex {__version__}"
    fresh = json.loads((NewsIndex.create(tmp_path / "new").path / "newsindex.json").read_text())
    assert fresh["schema_version"] == SCHEMA_VERSION and {"written_by", "codec", "analysis"} <= set(fresh)


def test_an_index_of_a_newer_format_is_refused_with_a_clear_message(golden_v1: Path) -> None:
    manifest_path = golden_v1 / "newsindex.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_version": SCHEMA_VERSION + 1}))
    result = CliRunner().invoke(app, ["search", "albania", "--index", str(golden_v1)])
    assert result.exit_code == 4
    assert "written by a newer newsindex" in result.stderr and "pip install -U newsindex-search" in result.stderr
