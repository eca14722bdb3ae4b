"""No code runs from any index file: pickles planted in the term dictionary (its field map, a term's inlined
postings), in posting blocks of Whoosh's own format (header, data) and in a compound segment file are
refused with exit 4 naming the file, and the payload never runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import planting
from newsindex import NewsIndex, Story
from newsindex.cli.commands import app
from newsindex.errors import IndexDamagedError

runner = CliRunner()


def _stories() -> list[Story]:
    return [
        Story(id=f"s{n}", headline=f"Harbour report {n}", body=f"The harbour of Leith handled grain on day {n}.")
        for n in range(5)
    ] + [Story(id="lonely", body="A zeppelin was seen once.")]


def _build(tmp_path: Path, *, whoosh_format: bool = False, monkeypatch: pytest.MonkeyPatch | None = None) -> Path:
    if whoosh_format:  # as newsindex wrote before the packed codec: Whoosh's W3 codec and segment writer
        import whoosh.codec.whoosh3
        from whoosh.writing import SegmentWriter

        import newsindex.store.indexer as indexer_module

        assert monkeypatch is not None
        monkeypatch.setattr(indexer_module, "NewsCodec", whoosh.codec.whoosh3.W3Codec)
        monkeypatch.setattr(indexer_module, "BufferedSegmentWriter", SegmentWriter)
    news = NewsIndex.create(tmp_path / "index", fsync=False)
    news.add(_stories())
    news.close()
    if monkeypatch is not None:
        monkeypatch.undo()
    return tmp_path / "index"


def _refused(index: Path, planted: Path, marker: Path, query: str, *words: str) -> None:
    for command in (["search", query], ["search", query, "--json"], ["export", query, "-o", "-"]):
        result = runner.invoke(app, [*command, "-i", str(index)])
        assert result.exit_code == 4, (command, result.output)
        assert planted.name in result.stderr, result.stderr
        for word in words:
            assert word in result.stderr
        assert not marker.exists()


def test_the_term_dictionary_and_old_blocks_read_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for whoosh_format in (False, True):
        index = _build(tmp_path / str(whoosh_format), whoosh_format=whoosh_format, monkeypatch=monkeypatch)
        news = NewsIndex.open(index)
        assert [hit.story.id for hit in news.search("harbour", all_versions=True, sort="date").hits] == [
            f"s{n}" for n in range(5)
        ]
        assert [hit.story.id for hit in news.search("zeppelin").hits] == ["lonely"]  # inlined postings
        assert news.search("harb*", all_versions=True).total == 5


def test_a_planted_field_map_in_the_term_dictionary_runs_no_code(tmp_path: Path) -> None:
    index = _build(tmp_path)
    marker = tmp_path / "marker"
    planted = planting.plant_in_field_map(index, marker)
    _refused(index, planted, marker, "harbour", "holds a pickle naming")
    with pytest.raises(IndexDamagedError, match=planted.name):
        NewsIndex.open(index).search("harbour")
    assert not marker.exists()


def test_planted_inlined_postings_run_no_code(tmp_path: Path) -> None:
    index = _build(tmp_path)
    marker = tmp_path / "marker"
    planted = planting.plant_inlined_postings(index, marker, "body", "harbour")
    _refused(index, planted, marker, "harbour", "holds a pickle naming")


@pytest.mark.parametrize("where", ["header", "data"])
def test_a_planted_posting_block_of_whooshs_own_format_runs_no_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    index = _build(tmp_path, whoosh_format=True, monkeypatch=monkeypatch)
    marker = tmp_path / "marker"
    planted = planting.plant_in_w3_block(index, marker, "body", "harbour", where=where)
    _refused(index, planted, marker, "harbour", "holds a pickle naming")


def test_a_toc_naming_a_compound_segment_file_is_refused(tmp_path: Path) -> None:
    index = _build(tmp_path)
    marker = tmp_path / "marker"
    planted = planting.plant_compound_segment(index, marker)
    for command in (["search", "harbour"], ["stats"], ["check"]):
        result = runner.invoke(app, [*command, "-i", str(index)])
        assert result.exit_code == 4, (command, result.output)
        assert planted.name in result.stderr and "compound segment file" in result.stderr
        assert not marker.exists()


def test_term_vector_blocks_are_read_admitting_no_class(tmp_path: Path) -> None:
    """Term vectors (Whoosh's own blocks, ids as bytes): read by SafeLeafMatcher, a planted block refused."""
    import io
    import pickle

    from whoosh import formats
    from whoosh.codec.whoosh3 import W3PostingsWriter, W3TermInfo
    from whoosh.filedb.structfile import StructFile

    from newsindex.store.safereading import SafeLeafMatcher

    out = io.BytesIO()
    writer = W3PostingsWriter(StructFile(out), blocklimit=128, byteids=True, compression=3, inlinelimit=0)
    writer.start_postings(formats.Frequency(), W3TermInfo())
    for word in ("crude", "oil"):
        writer.add_posting(word, 2.0, b"")
    writer.finish_postings()
    data = out.getvalue()
    read = SafeLeafMatcher(StructFile(io.BytesIO(data), name="s.vps"), 0, len(data), formats.Frequency(), byteids=True)
    assert list(read.all_ids()) == ["crude", "oil"]
    marker = tmp_path / "marker"
    payload = pickle.dumps(planting.Planted(marker), 2)
    header = StructFile(io.BytesIO())
    header.write_int(-len(payload))
    planted = data[:4] + header.file.getvalue() + payload
    with pytest.raises(IndexDamagedError, match=r"s\.vps holds a pickle naming"):
        SafeLeafMatcher(StructFile(io.BytesIO(planted), name="s.vps"), 0, len(planted), formats.Frequency())
    assert not marker.exists()
