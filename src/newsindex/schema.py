"""The name indexes pickle newsindex's schema classes under; the code lives in `newsindex.store.schema`.

Every index file names the classes of its schema by module and name (`newsindex.schema.NewsAnalyzer`, …),
so this module re-exports them under that name for as long as such an index may be opened
(tests/test_golden.py opens one written by an earlier release; tests/test_pickled_names.py checks the names).
"""

from newsindex.store.schema import BytesColumnField, ColumnField, NewsAnalyzer, PublishedField, TabSplitAnalyzer

__all__ = ["BytesColumnField", "ColumnField", "NewsAnalyzer", "PublishedField", "TabSplitAnalyzer"]
