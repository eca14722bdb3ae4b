"""The name indexes pickle newsindex's codec classes under; the code lives in `newsindex.store.codec`.

Every segment in an index's table of contents names its codec and posting format by module and name:
`newsindex.codec.NewsCodec` and `newsindex.codec.PackedPositions`, and `newsindex.codec.SafeW3Codec` for
a segment written by Whoosh's own codec once such an index is committed to. This module re-exports them
under that name for as long as such an index may be opened (tests/test_golden.py,
tests/test_pickled_names.py).
"""

from newsindex.store.codec import NewsCodec, PackedPositions, SafeW3Codec

__all__ = ["NewsCodec", "PackedPositions", "SafeW3Codec"]
