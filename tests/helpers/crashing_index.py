"""`newsindex index` that dies (os._exit, like a kill -9) just before its Nth file operation.

Used by the crash tests as a subprocess: python crashing_index.py N BATCH_STORIES newsindex-args…
With N = 0 it never dies and prints how many file operations the run made.
"""

from __future__ import annotations

import os
import sys

from newsindex.cli.commands import main
from newsindex.store import indexer, storage

crash_at, batch = int(sys.argv[1]), int(sys.argv[2])
operations = 0


def before(self: storage.DurableStorage, operation: str, name: str) -> None:
    global operations
    operations += 1
    if operations == crash_at:
        os._exit(137)


storage.DurableStorage.before = before  # type: ignore[method-assign]
indexer.BATCH_STORIES = batch
sys.argv = ["newsindex", *sys.argv[3:]]
try:
    main()
finally:
    if crash_at == 0:
        print(operations, file=sys.stderr)
