"""The recovery path and the promises around it (issue 17): --rebuild from any damage, an interrupted
rebuild, per-block checks on large indexes, check without a record, concurrent first runs, readers
through a switch-over, and no code run from an index file."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_story
from newsindex import NewsIndex, Story
from newsindex.cli.commands import app
from newsindex.errors import IndexBusyError, IndexDamagedError, NewsIndexError
from newsindex.store import storage as storage_module
from newsindex.store.storage import UntrustedIndexError

runner = CliRunner()


def corpus_of(folder: Path, count: int, *, words: int = 20) -> Path:
    for n in range(count):
        body = f"ROME (Reuters) - Story {n} about the harbour and oil. " + " ".join(
            f"word{n % 5}x{i}" for i in range(words)
        )
        write_story(folder, f"s{n:04d}.txt", body, date=f"2020-0{n % 9 + 1}-{n % 28 + 1:02d}", by="Jane Doe")
    return folder


def build(tmp_path: Path, count: int = 40) -> tuple[Path, Path]:
    corpus = corpus_of(tmp_path / "corpus", count)
    index = tmp_path / "index"
    result = runner.invoke(app, ["index", str(corpus), "-i", str(index), "-q", "--procs", "1"])
    assert result.exit_code == 0, result.stderr
    return corpus, index


def index_name(index: Path) -> str:
    return str(json.loads((index / "newsindex.json").read_text())["index_name"])


def files_of(index: Path, suffix: str) -> list[Path]:
    name = index_name(index)
    return sorted(path for path in index.iterdir() if path.name.startswith(name) and path.name.endswith(suffix))


def largest(index: Path, suffix: str) -> Path:
    return max(files_of(index, suffix), key=lambda path: path.stat().st_size)


def toc(index: Path) -> Path:
    return next(path for path in index.iterdir() if path.name.endswith(".toc") and index_name(index) in path.name)


def zero(path: Path) -> None:
    path.write_bytes(b"\0" * path.stat().st_size)


def flip_middle(path: Path, count: int = 64) -> None:
    """Same-size damage: `count` bytes in the middle of the file inverted."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, min(len(data), middle + count)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def search_ids(index: Path, query: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["search", query, "-i", str(index), "--json", "--limit", "1000", "--all-versions"])
    if result.exit_code:
        return result.exit_code, []
    return 0, sorted(hit["id"] for hit in json.loads(result.stdout)["hits"])


# -- 1. --rebuild recovers from every damage ------------------------------------------------------------

DAMAGES: dict[str, Callable[[Path], object]] = {
    "postings zeroed": lambda index: zero(largest(index, ".pst")),
    "postings half": lambda index: largest(index, ".pst").write_bytes(largest(index, ".pst").read_bytes()[:100]),
    "terms zeroed": lambda index: zero(largest(index, ".trm")),
    "stored stories missing": lambda index: largest(index, "._stored.col").unlink(),
    "toc empty": lambda index: toc(index).write_bytes(b""),
    "toc garbage": lambda index: toc(index).write_bytes(os.urandom(300)),
    "toc missing": lambda index: toc(index).unlink(),
    "manifest garbage": lambda index: (index / "newsindex.json").write_text("{not json"),
    "manifest empty": lambda index: (index / "newsindex.json").write_text(""),
    "manifest names no index": lambda index: (index / "newsindex.json").write_text(
        json.dumps({"format": "newsindex", "schema_version": 1, "index_name": "stories_000000000000"})
    ),
    "older schema version": lambda index: (index / "newsindex.json").write_text(
        json.dumps({**json.loads((index / "newsindex.json").read_text()), "schema_version": 0})
    ),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_rebuild_recovers_from_every_damage(tmp_path: Path, damage: str) -> None:
    corpus, index = build(tmp_path)
    _, before = search_ids(index, "harbour")
    assert len(before) == 40
    DAMAGES[damage](index)
    result = runner.invoke(app, ["index", "--rebuild", str(corpus), "-i", str(index), "-q", "--procs", "1"])
    assert result.exit_code == 0, result.stderr
    assert search_ids(index, "harbour") == (0, before)
    checked = runner.invoke(app, ["check", "-i", str(index)])
    assert checked.exit_code == 0, checked.stderr
    names = {re.match(r"_?(stories_[0-9a-f]{12})", path.name) for path in index.iterdir()}
    assert {match.group(1) for match in names if match} == {index_name(index)}  # nothing of the damaged index left


def test_rebuild_makes_an_index_where_there_was_none(tmp_path: Path) -> None:
    corpus = corpus_of(tmp_path / "corpus", 5)
    result = runner.invoke(app, ["index", "--rebuild", str(corpus), "-i", str(tmp_path / "new"), "-q"])
    assert result.exit_code == 0, result.stderr
    assert NewsIndex.open(tmp_path / "new").count() == 5


# -- 2. an interrupted rebuild ------------------------------------------------------------------------------

_KILLED_REBUILD = """
import os, sys
from newsindex import NewsIndex
seen = [0]
def on_story(story):
    seen[0] += 1
    if seen[0] == int(sys.argv[3]):
        os._exit(137) if sys.argv[4] == "kill" else (_ for _ in ()).throw(KeyboardInterrupt())
NewsIndex.open(sys.argv[1]).rebuild_files([sys.argv[2]], procs=1, on_story=on_story)
"""


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_an_interrupted_rebuild_leaves_damage_detection_on_the_live_index(tmp_path: Path, how: str) -> None:
    corpus, index = build(tmp_path, 60)
    live = index_name(index)
    _, before = search_ids(index, "oil")
    # Many small batches, so that the abandoned index has committed (and recorded) segments of its own.
    script = _KILLED_REBUILD
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", script, str(index), str(corpus), "50", how]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment)
    assert killed.returncode != 0
    assert index_name(index) == live
    assert not list(index.glob("*_WRITELOCK"))
    assert NewsIndex.open(index).add([Story(id="after", body="The lock is free.")], lock_timeout=0).added == 1
    report = NewsIndex.check(index)
    assert report.is_whole and report.files > 0 and report.stories == 61
    zero(largest(index, ".pst"))
    assert not NewsIndex.check(index).is_whole
    assert search_ids(index, "oil")[0] == 4
    assert before  # the live index answered before the damage


def test_a_rebuild_in_progress_keeps_the_live_index_record(tmp_path: Path) -> None:
    corpus, index = build(tmp_path, 30)
    live = index_name(index)
    record_during: list[bool] = []

    def on_story(story: Story) -> None:
        if not record_during:
            record_during.append(storage_module.read_checksums(index, live) is not None)

    NewsIndex.open(index).rebuild_files([str(corpus)], procs=1, on_story=on_story)
    assert record_during == [True]
    assert storage_module.read_checksums(index, live) is None  # the replaced index's record went with it


# -- 3. large indexes: per-block checks --------------------------------------------------------------------


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the index were over the size checked in full at open."""
    monkeypatch.setattr(storage_module, "VERIFY_ON_OPEN_BYTES", 0)


LARGE_DAMAGES: dict[str, Callable[[Path], object]] = {
    "postings flipped": lambda index: flip_middle(largest(index, ".pst")),
    "postings zeroed": lambda index: zero(largest(index, ".pst")),
    "stored flipped": lambda index: flip_middle(largest(index, "._stored.col")),
    "stored zeroed": lambda index: zero(largest(index, "._stored.col")),
    "dates zeroed": lambda index: zero(largest(index, "published.col")),
    "lengths zeroed": lambda index: zero(largest(index, "_body_len.col")),
    "terms flipped": lambda index: flip_middle(largest(index, ".trm")),
}


QUERIES = [
    "harbour",
    "oil",
    "date:2020-03",
    "date:2020-07",
    *(f"word{n}x{i}" for n in range(5) for i in range(0, 60, 3)),
]


def answers(index: Path) -> dict[str, object]:
    """Each query's ids (all versions), or the name of the error it raised; the stories of a page read too."""
    found: dict[str, object] = {}
    try:
        news = NewsIndex.open(index)
    except NewsIndexError as error:
        return {"open": type(error).__name__}
    for query in QUERIES:
        try:
            results = news.search(query, limit=1000, all_versions=True)
            found[query] = sorted(hit.story.id for hit in results.hits)
        except NewsIndexError as error:
            found[query] = type(error).__name__
    news.close()
    return found


@pytest.fixture(scope="module")
def large_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """One index of 400 stories and its answers, built once: each damage is done to a copy of it."""
    folder = tmp_path_factory.mktemp("large")
    corpus = corpus_of(folder / "corpus", 400, words=60)
    index = folder / "index"
    assert runner.invoke(app, ["index", str(corpus), "-i", str(index), "-q", "--procs", "1"]).exit_code == 0
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(storage_module, "VERIFY_ON_OPEN_BYTES", 0)  # as the `large` fixture does
        truth = answers(index)
    assert all(isinstance(ids, list) and ids for ids in truth.values())
    return index, truth


@pytest.mark.parametrize("damage", LARGE_DAMAGES)
def test_same_size_damage_to_a_large_index_is_never_a_silent_answer(
    tmp_path: Path, large: None, damage: str, large_index: tuple[Path, dict[str, object]]
) -> None:
    index = tmp_path / "index"
    shutil.copytree(large_index[0], index)
    truth = large_index[1]
    LARGE_DAMAGES[damage](index)
    after = answers(index)
    refused = [query for query, ids in after.items() if ids == "IndexDamagedError"]
    assert refused  # the damage is found by some read
    assert all(after[query] == truth[query] for query in after if query not in refused and query != "open")
    query = refused[0] if refused[0] != "open" else "oil"  # the CLI reads the same stories as answers()
    result = runner.invoke(app, ["search", query, "-i", str(index), "--limit", "1000", "--all-versions"])
    assert result.exit_code == 4 and "damaged" in result.stderr, result.stderr
    assert runner.invoke(app, ["check", "-i", str(index)]).exit_code == 4


def test_a_damaged_posting_block_is_found_when_read_not_at_open(tmp_path: Path, large: None) -> None:
    corpus = corpus_of(tmp_path / "corpus", 300, words=60)
    news = NewsIndex.create(tmp_path / "index")
    news.add_files([str(corpus)], procs=1)
    news.close()
    flip_middle(largest(news.path, ".pst"))
    reopened = NewsIndex.open(news.path)  # the postings are not read at open
    with pytest.raises(IndexDamagedError, match=r"index at .* is damaged: the block of postings at byte .* fails"):
        for n in range(5):
            for i in range(60):
                reopened.search(f"word{n}x{i}")


def test_an_index_written_before_block_checksums_reads_when_large(tmp_path: Path, large: None) -> None:
    """The golden index of 0.1.0 has no block checksums: it reads, and checks whole, on the large-index path."""
    golden = Path(__file__).parent / "data" / "golden-v1"
    copy = tmp_path / "golden"
    shutil.copytree(golden, copy)
    copy.chmod(0o700)
    news = NewsIndex.open(copy)
    total = news.count()
    assert total > 0
    assert len(list(news.stories())) == total
    assert NewsIndex.check(copy).is_whole


# -- 4. check without a checksum record ---------------------------------------------------------------------

ZEROED = {
    "postings": ".pst",
    "dates": "published.col",
    "lengths": "_body_len.col",
    "terms": ".trm",
    "stored": "._stored.col",
}


@pytest.mark.parametrize("kind", ZEROED)
def test_check_finds_zeroed_files_without_a_checksum_record(tmp_path: Path, kind: str) -> None:
    _, index = build(tmp_path)
    for record in index.glob("*sums.json"):
        record.unlink()
    zero(largest(index, ZEROED[kind]))
    result = runner.invoke(app, ["check", "-i", str(index)])
    assert result.exit_code == 4, result.stderr
    assert "internal error" not in result.stderr


# -- 5. two first runs at once --------------------------------------------------------------------------------


def test_creating_an_index_waits_for_the_folder_lock(tmp_path: Path) -> None:
    from newsindex.store.storage import folder_lock

    folder = tmp_path / "new"
    folder.mkdir(mode=0o700)
    with folder_lock(folder, timeout=1), pytest.raises(IndexBusyError, match="index is busy"):
        NewsIndex.open_or_create(folder, lock_timeout=0.2)
    assert not (folder / "newsindex.json").exists()
    result = runner.invoke(app, ["index", str(corpus_of(tmp_path / "c", 2)), "-i", str(folder), "-q"])
    assert result.exit_code == 0


def test_two_first_runs_at_once_make_one_index_with_both_runs_stories(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    corpora = [corpus_of(tmp_path / f"c{n}", 30) for n in range(2)]
    for n, corpus in enumerate(corpora):  # distinct ids per run
        for path in corpus.iterdir():
            path.rename(corpus / f"run{n}-{path.name}")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def first_run(corpus: Path) -> None:
        try:
            barrier.wait()
            news = NewsIndex.open_or_create(folder)
            news.add_files([str(corpus)], procs=1)
            news.close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first_run, args=(corpus,)) for corpus in corpora]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert NewsIndex.open(folder).count() == 60
    assert NewsIndex.check(folder).is_whole


# -- 6. readers through a switch-over --------------------------------------------------------------------------


def test_threads_sharing_one_index_follow_rebuilds_without_an_error(tmp_path: Path) -> None:
    corpus, index = build(tmp_path, 60)
    shared = NewsIndex.open(index)
    stop = threading.Event()
    errors: list[BaseException] = []
    answers: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                answers.append(shared.search("harbour", limit=5, all_versions=True).total)
                shared.get("s0001.txt")
            except BaseException as error:
                errors.append(error)
                return

    readers = [threading.Thread(target=reader) for _ in range(6)]
    for thread in readers:
        thread.start()
    try:
        for _ in range(4):
            NewsIndex.open(index).rebuild_files([str(corpus)], procs=1)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert errors == []
    assert answers and set(answers) == {60}
    assert shared._manifest["index_name"] == index_name(index)


# -- security: no code runs from an index file -----------------------------------------------------------------


class _Planted:
    """A pickle that, when loaded, writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def _plant_in_toc(toc_path: Path, payload: object, *, where: str) -> None:
    """Rewrite a TOC with `payload` as its schema or as its segment list, the rest intact."""
    from whoosh.filedb.structfile import StructFile

    stream = StructFile(io.BytesIO(toc_path.read_bytes()))
    head = [stream.read_varint() for _ in range(3)]
    check, version = stream.read_int(), stream.read_int()
    release = [stream.read_varint() for _ in range(3)]
    schema = stream.read_string()
    generation, unused = stream.read_int(), stream.read_int()
    segments = stream.file.read()
    out = io.BytesIO()
    writer = StructFile(out)
    for number in head:
        writer.write_varint(number)
    writer.write_int(check)
    writer.write_int(version)
    for number in release:
        writer.write_varint(number)
    writer.write_string(pickle.dumps(payload, 2) if where == "schema" else schema)
    writer.write_int(generation)
    writer.write_int(unused)
    writer.write(pickle.dumps(payload) if where == "segments" else segments)
    toc_path.write_bytes(out.getvalue())


@pytest.mark.parametrize("where", ["schema", "segments"])
def test_a_planted_pickle_in_a_trusted_folder_runs_no_code(tmp_path: Path, where: str) -> None:
    _, index = build(tmp_path, 5)
    marker = tmp_path / "marker"
    planted = toc(index)
    _plant_in_toc(planted, _Planted(marker), where=where)
    for record in index.glob("*sums.json"):  # the planter rewrites the record too
        record.unlink()
    for command in (["search", "harbour"], ["stats"], ["check"], ["index", str(tmp_path / "corpus")]):
        result = runner.invoke(app, [*command, "-i", str(index)])
        assert result.exit_code == 4, (command, result.stderr)
        assert planted.name in result.stderr
        assert "holds a pickle naming" in result.stderr
        assert not marker.exists()
    with pytest.raises(IndexDamagedError, match=planted.name):
        NewsIndex.open(index)
    assert not marker.exists()


def test_a_planted_stored_story_runs_no_code(tmp_path: Path) -> None:
    from whoosh.filedb.structfile import StructFile

    from newsindex.store.codec import STORED_COLUMN

    marker = tmp_path / "marker"
    out = io.BytesIO()
    writer = STORED_COLUMN.writer(StructFile(out))
    writer.add(0, {"id": "a", "body": "fine"})
    writer.add(1, _Planted(marker))
    writer.finish(2)
    data = out.getvalue()
    reader = STORED_COLUMN.reader(StructFile(io.BytesIO(data), name="planted._stored.col"), 0, len(data), 2)
    assert reader[0] == {"id": "a", "body": "fine"}
    with pytest.raises(IndexDamagedError, match=r"planted\._stored\.col holds a pickle naming"):
        reader[1]
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_a_world_writable_toc_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    _, index = build(tmp_path, 3)
    planted = toc(index)
    os.chown(planted, 4242, 4242)
    planted.chmod(0o666)
    with pytest.raises(UntrustedIndexError, match=f"{planted.name} belongs to another user"):
        NewsIndex.open(index)
    result = runner.invoke(app, ["check", "-i", str(index)])
    assert result.exit_code == 4 and "refusing to open" in result.stderr


def test_a_world_writable_index_file_is_refused(tmp_path: Path) -> None:
    _, index = build(tmp_path, 3)
    segment = largest(index, ".pst")
    segment.chmod(0o666)
    with pytest.raises(UntrustedIndexError, match=f"{segment.name} is writable by other users"):
        NewsIndex.open(index)
    segment.chmod(0o644)
    assert NewsIndex.open(index).count() == 3


def test_every_class_in_real_tocs_is_admitted(tmp_path: Path) -> None:
    """Today's index with deletions, merges and several segments reads through the restricted unpickler."""
    news = NewsIndex.create(tmp_path / "index")
    for batch in range(3):
        news.add(
            Story(id=f"s{n}", body=f"Batch {batch} story {n} about oil.", bylines=("Jane Doe",)) for n in range(20)
        )
    news.close()
    reopened = NewsIndex.open(news.path)
    assert reopened.count() == 20
    assert reopened.search("oil", all_versions=True).total == 20
    assert reopened.stats().stories == 20
    with pytest.raises(NewsIndexError):
        storage_module.safe_loads(pickle.dumps(os.system), "x.toc")


def test_the_server_answers_through_rebuilds_without_an_error(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from newsindex.server.app import create_app

    corpus, index = build(tmp_path, 60)
    stop = threading.Event()
    statuses: list[int] = []
    with TestClient(create_app(index), raise_server_exceptions=False) as client:

        def reader() -> None:
            while not stop.is_set():
                response = client.get("/api/search", params={"q": "harbour"})
                statuses.append(response.status_code)

        readers = [threading.Thread(target=reader) for _ in range(4)]
        for thread in readers:
            thread.start()
        try:
            for _ in range(3):
                NewsIndex.open(index).rebuild_files([str(corpus)], procs=1)
        finally:
            stop.set()
            for thread in readers:
                thread.join(timeout=30)
    assert statuses and set(statuses) == {200}


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_a_rebuild_killed_at_many_moments_never_disables_damage_detection(tmp_path: Path, how: int) -> None:
    """os._exit (as kill -9) or KeyboardInterrupt (as Ctrl-C) after 1 … 600 of the rebuild's stories."""
    corpus, index = build(tmp_path, 600)
    truth = search_ids(index, "harbour")
    command = [sys.executable, "-m", "newsindex", "index", "--rebuild", str(corpus), "-i", str(index), "-q"]
    for stories_before_kill in (1, 100, 300, 550, 599, 600):
        arguments = [str(index), str(corpus), str(stories_before_kill), "kill" if how == signal.SIGKILL else "int"]
        subprocess.run([sys.executable, "-c", _KILLED_REBUILD, *arguments], capture_output=True, timeout=120)
        assert not list(index.glob("*_WRITELOCK"))
        report = NewsIndex.check(index)
        assert report.is_whole and report.files > 0, report.problems
        assert search_ids(index, "harbour") == truth
    assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    zero(largest(copy, ".pst"))
    assert not NewsIndex.check(copy).is_whole


def test_a_planted_story_in_a_segment_of_whooshs_own_format_runs_no_code(tmp_path: Path) -> None:
    """Segments written before the packed codec name Whoosh's W3Codec: read as SafeW3Codec, whose stored
    stories are unpickled admitting no class either."""
    from whoosh import columns
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.filedb.structfile import StructFile

    from newsindex.store.codec import SafeW3Codec, SafeW3PerDocReader

    codec = storage_module.safe_loads(pickle.dumps(W3Codec()), "x.toc")
    assert type(codec) is SafeW3Codec
    assert SafeW3PerDocReader.stored_fields is not None
    marker = tmp_path / "marker"
    out = io.BytesIO()
    writer = columns.PickleColumn(columns.CompressedBytesColumn()).writer(StructFile(out))
    writer.add(0, {"id": "a"})
    writer.add(1, _Planted(marker))
    writer.finish(2)
    data = out.getvalue()
    from newsindex.store.codec import _SAFE_W3_STORED

    reader = _SAFE_W3_STORED.reader(StructFile(io.BytesIO(data), name="old._stored.col"), 0, len(data), 2)
    assert reader[0] == {"id": "a"}
    with pytest.raises(IndexDamagedError, match=r"old\._stored\.col holds a pickle naming"):
        reader[1]
    assert not marker.exists()
