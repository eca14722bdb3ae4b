"""Indexes pickle eight class paths; they stay `newsindex.schema.*` and `newsindex.codec.*` wherever the code lives."""

from __future__ import annotations

import pickle
import re
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

import newsindex.codec
import newsindex.schema
from newsindex import NewsIndex, Story
from newsindex.store import codec, schema

PICKLED = {
    "newsindex.schema": {"BytesColumnField", "ColumnField", "NewsAnalyzer", "PublishedField", "TabSplitAnalyzer"},
    "newsindex.codec": {"NewsCodec", "PackedPositions", "SafeW3Codec"},  # SafeW3Codec: old segments, re-committed
}


@pytest.mark.parametrize(("shim", "home"), [(newsindex.schema, schema), (newsindex.codec, codec)])
def test_the_old_module_names_give_the_classes_of_their_new_home(shim: ModuleType, home: ModuleType) -> None:
    names = PICKLED[shim.__name__]
    assert set(shim.__all__) == names
    for name in names:
        cls = getattr(shim, name)
        assert cls is getattr(home, name)
        assert cls.__module__ == shim.__name__
        assert pickle.loads(pickle.dumps(cls)) is cls


def test_a_new_index_names_only_the_eight_pickled_classes_under_their_old_modules(tmp_path: Path) -> None:
    news = NewsIndex.create(tmp_path / "index")
    news.add(
        [
            Story(
                id="a",
                headline="Oil prices rise",
                body="TEHRAN (Reuters) - Oil prices rose.",
                published=date(2019, 1, 2),
            )
        ]
    )
    news.close()
    table = b"".join(path.read_bytes() for path in (tmp_path / "index").glob("*.toc"))
    named = set(re.findall(rb"(newsindex\.[a-z_.]+)[\n\x8c\x94\x00-\x1f]+([A-Za-z_]+)", table))
    found: dict[str, set[str]] = {}
    for module, name in named:
        found.setdefault(module.decode(), set()).add(name.decode().lstrip("\t"))
    assert set(found) == set(PICKLED)
    for module, names in found.items():
        assert names <= PICKLED[module]
    assert found["newsindex.schema"] >= {"NewsAnalyzer", "PublishedField"}
    assert found["newsindex.codec"] >= {"NewsCodec"}
