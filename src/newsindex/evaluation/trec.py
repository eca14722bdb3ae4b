"""Ranking quality: TREC runs and qrels read and written, and MAP, nDCG@10, P@10, Recall@100 as trec_eval has them.

Pure Python (no Whoosh): a run is what a search engine answered for a set of topics, qrels are what
people judged relevant. The definitions follow trec_eval 9 (`trec_eval -c -m map -m ndcg_cut.10
-m P.10 -m recall.100`):

- the documents of a topic are ordered by score, highest first, ties broken by document id in
  *descending* string order; the rank column of the run is ignored, as trec_eval ignores it;
- a document is relevant when its grade is 1 or more (trec_eval's default `-l 1`);
- AP = the sum of the precision at each relevant document retrieved, over the number of relevant
  documents; MAP is its mean;
- P@10 = relevant documents in the top 10 / 10 (a short list is not excused);
- Recall@100 = relevant documents in the top 100 / all relevant documents;
- nDCG@10 = DCG@10 / ideal DCG@10, the gain of a document being its grade, discounted by
  log2(rank + 1); the ideal ranking is every judged grade of the topic, sorted best first;
- every mean is over the topics of the qrels that have at least one relevant document; such a topic
  with no line in the run counts as 0 everywhere (trec_eval's -c). Topics of the run that the qrels do
  not judge are ignored. (trec_eval also averages in, as 0, a topic whose judgements are all
  non-relevant; here such a topic is left out, since no ranking can score on it.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from newsindex.errors import UsageError

# topic id → document id → grade (TREC gains: 0 not relevant, higher is better)
Qrels = dict[str, dict[str, int]]
# topic id → document id → score
Run = dict[str, dict[str, float]]

QRELS_FORMATS = ("trec", "cran", "cisi")
RELEVANT = 1  # the lowest grade that counts as relevant
CRANFIELD_WORST = 5  # Cleverdon's "no interest" grade: gain = 5 - grade turns 1 (best) .. 4 into 4 .. 1
_SCORE_STEPS = 10_000  # run scores are written to 4 decimals
_WHITE_OR_PERCENT = re.compile(r"[\s%]")


@dataclass(frozen=True, slots=True)
class TopicScores:
    """The measures of one topic."""

    topic: str
    relevant: int  # how many documents the qrels judge relevant
    retrieved: int  # how many documents the run lists
    ap: float
    ndcg_10: float
    p_10: float
    recall_100: float

    def to_dict(self) -> dict[str, Any]:
        """The scores as JSON-ready data."""
        return {
            "relevant": self.relevant,
            "retrieved": self.retrieved,
            "ap": round(self.ap, 4),
            "ndcg_10": round(self.ndcg_10, 4),
            "p_10": round(self.p_10, 4),
            "recall_100": round(self.recall_100, 4),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A run measured against qrels: the means over the judged topics, and each topic's scores."""

    topics: tuple[TopicScores, ...]
    missing: tuple[str, ...]  # judged topics the run has no line for (counted as 0)
    unjudged: tuple[str, ...]  # topics of the run the qrels do not judge (ignored)

    @property
    def queries(self) -> int:
        """How many topics the means are over."""
        return len(self.topics)

    @property
    def map(self) -> float:
        """Mean average precision."""
        return _mean(topic.ap for topic in self.topics)

    @property
    def ndcg_10(self) -> float:
        """Mean nDCG at 10."""
        return _mean(topic.ndcg_10 for topic in self.topics)

    @property
    def p_10(self) -> float:
        """Mean precision at 10."""
        return _mean(topic.p_10 for topic in self.topics)

    @property
    def recall_100(self) -> float:
        """Mean recall at 100."""
        return _mean(topic.recall_100 for topic in self.topics)

    def to_dict(self) -> dict[str, Any]:
        """The evaluation as JSON-ready data, the shape of `newsindex evaluate --json`."""
        return {
            "queries": self.queries,
            "map": round(self.map, 4),
            "ndcg_10": round(self.ndcg_10, 4),
            "p_10": round(self.p_10, 4),
            "recall_100": round(self.recall_100, 4),
            "missing": list(self.missing),
            "unjudged": list(self.unjudged),
            "per_query": {topic.topic: topic.to_dict() for topic in self.topics},
        }


# -- measuring ------------------------------------------------------------------------------------


def evaluate(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]) -> Evaluation:
    """Measure `run` against `qrels`: MAP, nDCG@10, P@10 and Recall@100 over the judged topics."""
    judged = [topic for topic in qrels if any(grade >= RELEVANT for grade in qrels[topic].values())]
    topics = tuple(_score_topic(topic, run.get(topic, {}), qrels[topic]) for topic in _topic_order(judged))
    missing = tuple(topic for topic in _topic_order(judged) if topic not in run)
    unjudged = tuple(topic for topic in _topic_order(list(run)) if topic not in qrels)
    return Evaluation(topics=topics, missing=missing, unjudged=unjudged)


def ranking(scores: Mapping[str, float]) -> list[str]:
    """A topic's documents in trec_eval's order: score descending, then document id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def _score_topic(topic: str, scores: Mapping[str, float], grades: Mapping[str, int]) -> TopicScores:
    ranked = ranking(scores)
    gains = [max(grades.get(doc, 0), 0) for doc in ranked]
    relevant = sum(1 for grade in grades.values() if grade >= RELEVANT)
    found = 0
    precision_sum = 0.0
    for rank, gain in enumerate(gains, start=1):
        if gain >= RELEVANT:
            found += 1
            precision_sum += found / rank
    ideal = sorted((grade for grade in grades.values() if grade > 0), reverse=True)
    ideal_dcg = _dcg(ideal[:10])
    return TopicScores(
        topic=topic,
        relevant=relevant,
        retrieved=len(ranked),
        ap=precision_sum / relevant,
        ndcg_10=_dcg(gains[:10]) / ideal_dcg if ideal_dcg else 0.0,
        p_10=sum(1 for gain in gains[:10] if gain >= RELEVANT) / 10,
        recall_100=sum(1 for gain in gains[:100] if gain >= RELEVANT) / relevant,
    )


def _dcg(gains: Sequence[int]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1) if gain > 0)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _topic_order(topics: Iterable[str]) -> list[str]:
    """Topics in natural order: numbers by value ("2" before "10"), then the rest by name."""
    return sorted(topics, key=lambda topic: (0, int(topic), "") if topic.isdigit() else (1, 0, topic))


# -- runs -----------------------------------------------------------------------------------------


def trec_run_lines(topic: str, ranked: Iterable[tuple[str, float]], tag: str) -> Iterator[str]:
    """TREC run lines (`topic Q0 docid rank score tag`) for one topic's documents, best first.

    trec_eval orders a topic's documents by score, not by rank, so the scores written keep the
    engine's order: each is the engine's score to 4 decimals or, where that is not below the score
    above it (tied stories, or the all-words tier of a newsindex search ranked above a higher-scoring
    some-words story), 0.0001 below the score above. (Steps of 0.0001 stay apart in the single
    precision that older trec_eval builds and pytrec_eval read scores in; millionths would not.)
    Ids with white space or % are written with those characters percent-encoded (a space is %20):
    the format splits on white space.
    """
    if not tag or any(char.isspace() for char in tag):
        raise UsageError(f"the run tag must be one word without spaces, not {tag!r}")
    previous: int | None = None
    for rank, (doc, score) in enumerate(ranked, start=1):
        steps = round(score * _SCORE_STEPS)
        if previous is not None and steps >= previous:
            steps = previous - 1
        previous = steps
        yield f"{topic} Q0 {trec_id(doc)} {rank} {steps / _SCORE_STEPS:.4f} {tag}"


def trec_id(doc: str) -> str:
    """`doc` as one word of a TREC file: white space and % percent-encoded ("a b.txt" → "a%20b.txt")."""
    return _WHITE_OR_PERCENT.sub(lambda match: "".join(f"%{byte:02X}" for byte in match.group().encode()), doc)


def read_run(path: str | Path) -> Run:
    """A TREC run file (`topic Q0 docid rank score tag` per line); UsageError naming a bad line."""
    run: Run = {}
    for number, fields in _lines(path):
        if len(fields) != 6:
            raise UsageError(
                f"{path}:{number}: a run line has 6 columns (topic Q0 docid rank score tag), not {len(fields)}"
            )
        topic, _, doc, _, score, _ = fields
        try:
            value = float(score)
        except ValueError:
            raise UsageError(f"{path}:{number}: the score {score!r} is not a number") from None
        scores = run.setdefault(topic, {})
        if doc in scores:
            raise UsageError(f"{path}:{number}: document {doc} is listed twice for topic {topic}")
        scores[doc] = value
    return run


# -- qrels ----------------------------------------------------------------------------------------


def read_qrels(path: str | Path, *, format: str = "trec") -> Qrels:
    """Relevance judgements as TREC qrels (topic → document → grade), converting the collections' formats.

    - `trec`: `topic iteration docid grade` (Medline's MED.REL is one);
    - `cran`: Cranfield's cranqrel, `topic docid grade` with Cleverdon's grades 1 (a complete answer)
      to 4 (minimum interest) and -1 (not relevant): gain = 5 - grade, so 1 → 4 … 4 → 1, and -1 → 0;
    - `cisi`: CISI.REL, `topic docid 0 0.000000`, where every listed pair is relevant (grade 1).
    """
    if format not in QRELS_FORMATS:
        raise UsageError(f"unknown qrels format {format!r}: use one of {', '.join(QRELS_FORMATS)}")
    qrels: Qrels = {}
    for number, fields in _lines(path):
        topic, doc, grade = _qrels_line(fields, format, f"{path}:{number}")
        grades = qrels.setdefault(topic, {})
        if doc in grades:
            raise UsageError(f"{path}:{number}: document {doc} is judged twice for topic {topic}")
        grades[doc] = grade
    return qrels


def _qrels_line(fields: list[str], format: str, where: str) -> tuple[str, str, int]:
    if format == "cran":
        if len(fields) != 3:
            raise UsageError(f"{where}: a Cranfield qrels line has 3 columns (topic docid grade), not {len(fields)}")
        topic, doc, grade = fields
        value = _whole_number(grade, where)
        if value not in (-1, 1, 2, 3, 4):
            raise UsageError(f"{where}: Cranfield grades are 1 to 4 or -1, not {grade}")
        return topic, doc, CRANFIELD_WORST - value if value > 0 else 0
    if format == "cisi":
        if len(fields) != 4:
            raise UsageError(f"{where}: a CISI qrels line has 4 columns (topic docid 0 0.0), not {len(fields)}")
        return fields[0], fields[1], 1
    if len(fields) != 4:
        hint = " (Cranfield's cranqrel? use --qrels-format cran)" if len(fields) == 3 else ""
        raise UsageError(f"{where}: a TREC qrels line has 4 columns (topic 0 docid grade), not {len(fields)}{hint}")
    topic, _, doc, grade = fields
    if not re.fullmatch(r"-?\d+", grade):
        hint = " (CISI.REL? use --qrels-format cisi)" if re.fullmatch(r"\d+\.\d+", grade) else ""
        raise UsageError(f"{where}: the grade {grade!r} is not a whole number{hint}")
    return topic, doc, int(grade)


def _whole_number(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{where}: the grade {text!r} is not a whole number") from None


def write_qrels(qrels: Mapping[str, Mapping[str, int]], file: TextIO) -> None:
    """Write `qrels` as TREC qrels lines (`topic 0 docid grade`), topics in natural order."""
    for topic in _topic_order(qrels):
        for doc, grade in qrels[topic].items():
            file.write(f"{topic} 0 {trec_id(doc)} {grade}\n")


def _lines(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, white-space separated fields) of each non-blank line; UsageError if unreadable."""
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                fields = line.split()
                if fields:
                    yield number, fields
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (not UTF-8)") from None
