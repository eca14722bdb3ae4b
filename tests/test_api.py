"""The public API: what `__all__` promises, and README's Python example run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import newsindex

README = Path(__file__).parent.parent / "README.md"


def test_all_names_the_public_api() -> None:
    assert newsindex.__all__ == sorted(newsindex.__all__)
    for name in newsindex.__all__:
        assert getattr(newsindex, name) is not None
    assert {"NewsIndex", "Story", "Hit", "SearchResults", "read_stories", "NewsIndexError"} <= set(newsindex.__all__)


def test_importing_the_package_does_not_import_whoosh() -> None:
    code = "import sys, newsindex.cli.commands; print('whoosh' in sys.modules, 'rich.console' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]


def test_readme_python_example_runs(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    example = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert example, "README has a Python example"
    news = newsindex.NewsIndex.create(tmp_path / "index")
    news.add_files([str(Path(__file__).parent.parent / "seeds")])
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(example.group(1), str(README), "exec"), namespace)
    results = namespace["results"]
    assert results.total == 1  # type: ignore[attr-defined]
    assert results.hits[0].story.id == "000_4cb0f0b9dca24e99.txt"  # type: ignore[attr-defined]
