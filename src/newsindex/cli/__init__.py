"""The `newsindex` command: `commands` defines it, `charts` draws its timelines.

`newsindex.cli:main` is the console script's entry point, so `app` and `main` are re-exported here.
"""

from newsindex.cli.commands import app, main

__all__ = ["app", "main"]
