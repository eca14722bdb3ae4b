"""Pseudo-relevance feedback (RM3): words of the best stories added to the query, with weights.

A search with `expand=True` runs twice. The first run's best FEEDBACK_STORIES stories are taken as
relevant; their words, each weighted by how much of each story it makes up and by the story's score,
form a relevance model; its FEEDBACK_WORDS heaviest words join the query, interpolated with the
original (ORIGINAL_WEIGHT) as RM3 does in Anserini and Pyserini. The user's query is kept whole,
phrases and all, and the added words only ever add to a score: a story matching none of the
user's words can still be found through them (a story about "Tirana" for a query about "Albania").
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from whoosh import query

from newsindex.search.query import MAX_WORDS, QueryPlan, distinct_words
from newsindex.store.schema import TEXT_FIELDS, NewsAnalyzer

FEEDBACK_STORIES = 10  # the first run's best stories taken as relevant, at most (Anserini's fbDocs)
FEEDBACK_WORDS = 10  # words of the relevance model added to the query (Anserini's fbTerms)
ORIGINAL_WEIGHT = 0.7  # the user's words against the added ones (Anserini's originalQueryWeight; 0.5 before)
MAX_SHARE = 0.1  # words in more than this share of the stories say little and are not added (as Anserini)
# Adaptive feedback. A story "stands with the best" when it scores at least FEEDBACK_RATIO of the first
# run's best. FEEDBACK_MODE says what that changes:
# - "fixed": nothing (the best FEEDBACK_STORIES, as before);
# - "cut": only the stories standing with the best are feedback, each weighing its score, or with
#   FEEDBACK_GAP how far it scores above the first story left out;
# - "scaled": the best FEEDBACK_STORIES are feedback, and the added words weigh in proportion to how many
#   of them stand with the best (none but the best one: no expansion). A query with one clear answer (a
#   headline, a known story) keeps its ranking; one with many near-equal answers (a topic) is expanded.
# A news topic has two or three relevant stories, a Medline topic twenty: a fixed ten stories at half
# weight feeds a news query mostly off-topic words.
FEEDBACK_MODE = "softmax"  # measured against the others in benchmarks/EVAL.md (session 8)
FEEDBACK_RATIO = 0.7
FEEDBACK_GAP = False
# - "softmax": the best FEEDBACK_STORIES, each weighing exp((score − best) / FEEDBACK_TEMPERATURE), as the
#   relevance model weighs a story by its query likelihood P(Q|D) (BM25's score standing for its log).
FEEDBACK_TEMPERATURE = 1.0
# The first run's best FEEDBACK_KEEP stories keep their places above the expanded ranking. RM3 takes them
# as relevant; ranked again by the expanded query, a story with one clear answer (a headline looked up)
# sees that answer's neighbours, which share its feedback words, overtake it. Expansion adds stories
# below what the user's own words ranked first. 0: the expanded query ranks everything.
FEEDBACK_KEEP = 1
# The feedback as shipped before it adapted (for measuring against: benchmarks/eval.py).
BEFORE = {"FEEDBACK_STORIES": 10, "FEEDBACK_WORDS": 10, "ORIGINAL_WEIGHT": 0.5, "FEEDBACK_MODE": "fixed"}
_ANALYZER = NewsAnalyzer()  # the analysis of new indexes, for callers that have no index at hand


def feedback_weights(ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The stories of a first run (document number, score; best first, at least FEEDBACK_STORIES + 1 of
    them when there are) taken as relevant, each with its weight in the relevance model."""
    if not ranked:
        return []
    if FEEDBACK_MODE == "softmax":
        best = ranked[0][1]
        return [
            (docnum, math.exp((score - best) / FEEDBACK_TEMPERATURE)) for docnum, score in ranked[:FEEDBACK_STORIES]
        ]
    if FEEDBACK_MODE != "cut":
        return ranked[:FEEDBACK_STORIES]
    best = ranked[0][1]
    chosen = [(docnum, score) for docnum, score in ranked[:FEEDBACK_STORIES] if score >= FEEDBACK_RATIO * best]
    if not FEEDBACK_GAP:
        return chosen
    floor = ranked[len(chosen)][1] if len(chosen) < len(ranked) else 0.0
    return [(docnum, score - floor) for docnum, score in chosen if score > floor]


def kept_first(ranked: list[tuple[int, float]], kept: list[int]) -> list[tuple[int, float]]:
    """`ranked` (docnum, score; best first) with the `kept` stories first, in their order, each scoring
    at least the best score of `ranked` (so that scores still fall down the list), the rest after them."""
    if not kept:
        return ranked
    scores = dict(ranked)
    best = max(scores.values(), default=0.0)
    keep = set(kept)
    return [(docnum, max(scores.get(docnum, 0.0), best)) for docnum in kept] + [
        (docnum, score) for docnum, score in ranked if docnum not in keep
    ]


def feedback_share(ranked: list[tuple[int, float]]) -> float:
    """How much of the expansion's weight a query gets from its first run (best first): 1 but in the
    "scaled" mode, where it is the share of the other feedback stories standing with the best one."""
    feedback = ranked[:FEEDBACK_STORIES]
    if FEEDBACK_MODE != "scaled":
        return 1.0
    if len(feedback) < 2:
        return 0.0  # one story found: nothing stands with it
    best = feedback[0][1]
    return sum(1 for _, score in feedback[1:] if score >= FEEDBACK_RATIO * best) / (len(feedback) - 1)


def relevance_model(
    feedback: Iterable[tuple[str, float]],
    *,
    share: Callable[[str], float],
    words: int | None = None,
    analyzer: Any = None,
) -> list[tuple[str, float]]:
    """The heaviest `words` (index term, weight) of the texts of the feedback stories, weights summing to 1.

    `feedback` holds (text, score) per story; `share(term)` is the share of the index's stories
    holding the term. A term weighs the sum over the stories of score × its frequency in the story.
    `analyzer` cuts the texts into index terms: the index's own (an older index keeps its analysis).
    """
    words = FEEDBACK_WORDS if words is None else words
    analyzer = _ANALYZER if analyzer is None else analyzer
    weights: dict[str, float] = {}
    for text, score in feedback:
        counts = Counter(token.text for token in analyzer(text))
        length = sum(counts.values())
        for term, count in counts.items():
            weights[term] = weights.get(term, 0.0) + score * count / length
    heaviest = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    chosen = [(term, weight) for term, weight in heaviest if share(term) <= MAX_SHARE][:words]
    total = sum(weight for _, weight in chosen)
    return [(term, weight / total) for term, weight in chosen] if total > 0 else []


def expanded_plan(
    plan: QueryPlan, model: list[tuple[str, float]], *, require_all: bool, share: float = 1.0
) -> QueryPlan:
    """`plan` with the words of `model` added to what it ranks by (and, unless `require_all`, matches).

    RM3 gives each word λ·(its share of the query) + (1-λ)·(its model weight); here the user's query
    keeps its own scoring (each word counting once) and the model's words are added as further
    optional clauses scaled to match: (1-λ)/λ × (words in the query) × model weight, in every text
    field with the field's weight. The query guard's limit of distinct words holds for the whole.
    """
    room = MAX_WORDS - len(distinct_words(plan.query))
    model = model[: max(0, room)]
    if not model or not plan.has_words or share <= 0:
        return plan
    scale = share * (1 - ORIGINAL_WEIGHT) / ORIGINAL_WEIGHT * max(1, len(plan.terms()))
    added = query.Or(
        [
            query.Term(fieldname, term, boost=weight * scale * field_weight)
            for term, weight in model
            for fieldname, field_weight in TEXT_FIELDS.items()
        ]
    )
    ranked_first = plan.ranked_first
    if require_all:
        main: Any = query.AndMaybe(plan.query, added)
    else:
        main = query.Or([plan.query, added])
        if ranked_first is not None:
            ranked_first = query.AndMaybe(ranked_first, added)
    return dataclasses.replace(plan, query=main, ranked_first=ranked_first)
