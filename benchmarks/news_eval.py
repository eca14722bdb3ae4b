"""News-shaped test collections built from Reuters-21578 (../shared/corpora), for benchmarks/eval.py.

The stories are the 10,051 of NEWID 1-11000 that have a body, in newsindex's text format
(`reuters21578-text.tar.gz`: no headline, the body starting with its dateline), indexed as they are.
The SGML originals (`reuters21578/reut2-000..010.sgm`) give what is judged:

- `reuters-known` (known-item search): the query is a story's own SGML `<TITLE>` (the wire headline, in
  capitals, e.g. "U.S. OIL PRICES RISE"), which the text format leaves out; the one relevant story is the
  story itself. Every 30th story with a title, by NEWID, leaving out stories of fewer than
  MIN_WORDS words (results tables: "Shr 17 cts vs 18 cts / Net 339,000 vs …", whose company the text
  format names only in the headline left out, so that no system can find them) and those whose body
  another story repeats word for word (the wire repeats stories: which copy is "the" item?): about 270
  topics. MAP here is the mean reciprocal rank (one relevant story a topic).
- `reuters-topics`: the query is a TOPICS label as words ("crude", "money-fx" → "money fx"), the
  relevant stories are those filed under it; every label with at least two stories.

`prepare(name, folder)` writes `topics.tsv`, `qrels.txt` and `corpus.jsonl` (id = file name, body: what
the other systems index) into `folder` and returns the folder of text files newsindex indexes.
"""

from __future__ import annotations

import html
import json
import re
import tarfile
from collections import defaultdict
from pathlib import Path

from newsindex.evaluation.trec import write_qrels

CORPORA = next(
    (
        folder
        for folder in (
            Path(__file__).resolve().parents[1].parent / "shared" / "corpora",
            Path(__file__).resolve().parents[3] / "shared" / "corpora",
        )
        if folder.exists()
    ),
    Path("/work/shared/corpora"),
)
KNOWN_ITEM_EVERY = 30
MIN_WORDS = 50  # one story in this many (by NEWID) gives a known-item topic
# Known-item runs hold the best 100 stories a topic (a story found lower adds under 0.01 to its reciprocal rank)
DEPTHS = {"reuters-known": 100}
NEWS_COLLECTIONS = {"reuters-known": "Reuters known-item", "reuters-topics": "Reuters topics"}

_RECORD = re.compile(r"<REUTERS\b[^>]*\bNEWID=\"(\d+)\"[^>]*>(.*?)</REUTERS>", re.DOTALL)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.DOTALL)
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.DOTALL)
_D = re.compile(r"<D>(.*?)</D>")


def read_sgml() -> dict[int, tuple[str | None, list[str]]]:
    """NEWID → (title or None, topic labels) of the SGML files."""
    records: dict[int, tuple[str | None, list[str]]] = {}
    for path in sorted((CORPORA / "reuters21578").glob("reut2-0*.sgm")):
        text = path.read_text(encoding="latin-1")
        for match in _RECORD.finditer(text):
            body = match.group(2)
            title = _TITLE.search(body)
            topics = _TOPICS.search(body)
            records[int(match.group(1))] = (
                " ".join(html.unescape(title.group(1)).split()) if title else None,
                _D.findall(topics.group(1)) if topics else [],
            )
    return records


def text_folder(workdir: Path) -> Path:
    """The text-format stories, extracted once under `workdir`."""
    folder = workdir / "reuters21578-text"
    if not folder.exists():
        with tarfile.open(CORPORA / "reuters21578-text.tar.gz") as archive:
            archive.extractall(workdir, filter="data")
    return folder


def prepare(name: str, folder: Path, workdir: Path) -> tuple[Path, dict[str, int]]:
    """Write the topics, qrels and corpus.jsonl of collection `name` into `folder`; the text folder and sizes."""
    texts = text_folder(workdir)
    stories: dict[int, tuple[str, str]] = {}  # NEWID → (file name, body)
    for path in sorted(texts.glob("*.txt")):
        content = path.read_text(encoding="utf-8")
        stories[int(path.name[:5])] = (path.name, content.split("\n\n", 1)[1] if "\n\n" in content else content)
    sgml = read_sgml()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as corpus:
        for file_name, body in stories.values():
            corpus.write(json.dumps({"id": file_name, "body": body}, ensure_ascii=False) + "\n")
    qrels: dict[str, dict[str, int]] = {}
    topics: list[tuple[str, str]] = []
    if name == "reuters-known":
        same_body: dict[str, list[str]] = defaultdict(list)
        for file_name, body in stories.values():
            same_body[" ".join(body.split())].append(file_name)
        with_title = [newid for newid in sorted(stories) if sgml.get(newid, (None, []))[0]]
        for newid in with_title[::KNOWN_ITEM_EVERY]:
            file_name, body = stories[newid]
            if len(same_body[" ".join(body.split())]) > 1 or len(body.split()) < MIN_WORDS:
                continue
            topics.append((str(newid), str(sgml[newid][0])))
            qrels[str(newid)] = {file_name: 1}
    elif name == "reuters-topics":
        filed: dict[str, list[str]] = defaultdict(list)
        for newid, (file_name, _) in stories.items():
            for label in sgml.get(newid, (None, []))[1]:
                filed[label].append(file_name)
        for number, label in enumerate(sorted(label for label, found in filed.items() if len(found) >= 2), start=1):
            topics.append((str(number), label.replace("-", " ")))
            qrels[str(number)] = {file_name: 1 for file_name in filed[label]}
    else:
        raise ValueError(f"unknown news collection {name!r}")
    with open(folder / "topics.tsv", "w", encoding="utf-8") as tsv:
        tsv.writelines(f"{topic_id}\t{text}\n" for topic_id, text in topics)
    with open(folder / "qrels.txt", "w", encoding="utf-8") as file:
        write_qrels(qrels, file)
    return texts, {"documents": len(stories), "topics": len(topics), "judged_topics": len(qrels)}
