"""An index written by an earlier release opens and answers as it did (tests/data/README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.golden import STORIES
from newsindex import NewsIndex, Story
from newsindex.cli import app

GOLDEN = Path(__file__).parent / "data"


@pytest.fixture
def golden_v1(tmp_path: Path) -> Path:
    """A copy of the committed index (a search may take a lock or write a cache: never the original)."""
    return Path(shutil.copytree(GOLDEN / "golden-v1", tmp_path / "golden-v1"))


def test_an_index_of_release_0_1_0_opens_and_answers_as_it_did(golden_v1: Path) -> None:
    news = NewsIndex.open(golden_v1)
    assert news.count() == len(STORIES)
    assert [hit.story.id for hit in news.search("iran oil exports").hits][:1] == ["iran-oil"]
    assert {hit.story.id for hit in news.search("albania", limit=10).hits} == {"albania-iran", "albania-football"}
    assert [hit.story.id for hit in news.search("albania", start="2019-01-01").hits] == ["albania-iran"]
    grain = news.search('"grain ships" Portland', require_all=True).hits
    assert len(grain) == 1 and set((grain[0].story.id, *grain[0].duplicates)) == {"grain-1", "grain-1-refiled"}
    for story in STORIES:
        assert news.get(story.id) == story


def test_an_index_of_release_0_1_0_passes_check_and_takes_new_stories(golden_v1: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--index", str(golden_v1)])
    assert result.exit_code == 0, result.output
    news = NewsIndex.open(golden_v1)
    news.add([Story(id="new", body="TIRANA (Reuters) - Albania opened a new harbour on Friday.")])
    assert {hit.story.id for hit in news.search("harbour").hits} == {"new", "undated"}
    assert news.count() == len(STORIES) + 1
