"""The learned fusion of the search signals: a linear model per mode over per-signal scores, the hand-set
fusion's own score, the film's vote count and the query's shape (in hybrid mode also every candidate's BM25F
and share of the query's words, the semantic pool's films included), trained by benchmarks/train_ranker.py on the
dev halves of benchmarks/search_quality.py's query sets. It ranks description-shaped queries only (titles,
partial titles and names keep the hand-set fusion of catalog/search.py, which ranks them better). Its weights
(catalog/ranker_weights.json, about 1 KB, no network) are rebuilt by that one command; in the dev
cross-validation it beat the hand-set fusion on described plots in every mode (benchmarks/RESULTS.md, issue 13,
fourth and fifth rounds). A missing file means hand-set fusion; a present but unreadable one is logged and ignored.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.search import Fused

log = logging.getLogger(__name__)

WEIGHTS_PATH = Path(__file__).resolve().parent / "ranker_weights.json"
# The signals' rankings are scored this deep: a film beyond it counts as absent from that ranking.
LEXICAL = ("kw", "kw_rr", "kw_in", "title", "title_lead", "title_in", "title_x_short")
SEMANTIC = ("sem", "sem_rel", "sem_rr", "sem_x_long")
SHARED = ("hand", "title_top", "votes", "votes_x_short")
# Hybrid mode's keyword evidence for every candidate, the semantic pool's included (BM25F and the share of the
# query's words each film has; `search.bm25_rescore`'s "bm25f" and "coverage", for described plots only).
EVERY_CANDIDATE = ("kw_all", "kw_share")
FEATURES_BY_MODE = {
    "keyword": (*LEXICAL, *SHARED, "kw_x_long"),
    # Semantic mode: the cosine (the greater of the story's and the document's) and the film's votes, shaped.
    # The pool's ranks and the hand fusion's score as well fitted the dev folds unevenly (sixth round). The
    # log of the votes, the same weight for every length, traded long descriptions (mostly of known films)
    # against taglines of 8-15 words (of any film); two saturating priors, one of them growing with the
    # query's length, took 0.713 -> 0.736 MRR on tmdb's dev descriptions and 0.688 -> 0.711 on merged's in
    # the two-fold CV, taglines within 0.012 (benchmarks/RESULTS.md, issue 13, seventh round). The fit gives
    # the first a small negative weight: at 8-12 words (mostly taglines, of films of any popularity) a
    # well-known film needs a little more cosine; the second outweighs it from ~12 words on.
    "semantic": ("sem", "votes_sat", "votes_sat_x_long"),
    "hybrid": (*LEXICAL, *SEMANTIC, *SHARED, "kw_x_long", *EVERY_CANDIDATE),
}
# A query of this many words or more reads as a description (its shape feature is 1), a title or a name below.
LONG_QUERY_WORDS = 8
# Semantic mode's popularity priors (`votes_sat`, `votes_sat_x_long`): 1 - exp(-votes / scale), the second
# times a ramp from LONG_QUERY_WORDS words (0) to LONGER_QUERY_WORDS (1). Scales and ramp chosen in the dev CV
# among 300, 1,000, 3,000 and 10,000 votes and ramps to 16, 24 and 40 words (RESULTS.md, seventh round).
VOTES_SCALE = 10_000
VOTES_SCALE_LONG = 1_000
LONGER_QUERY_WORDS = 24


def query_shape(query: str) -> float:
    """0 for a one-word query, 1 for a description of LONG_QUERY_WORDS words or more."""
    return min(1.0, (len(query.split()) - 1) / (LONG_QUERY_WORDS - 1))


def description_length(query: str) -> float:
    """0 for a query of LONG_QUERY_WORDS words or fewer, 1 for one of LONGER_QUERY_WORDS or more: a pasted
    paragraph rather than a line."""
    words = len(query.split())
    return min(1.0, max(0.0, (words - LONG_QUERY_WORDS) / (LONGER_QUERY_WORDS - LONG_QUERY_WORDS)))


def features(
    rankings: Mapping[str, Sequence[tuple[int, float]]],
    query: str,
    priors: Mapping[int, float],
    *,
    mode: str = "hybrid",
    alpha: float = 0.5,
) -> tuple[list[int], dict[str, list[float]]]:
    """The candidates (every film in any ranking) and each feature's value for each of them."""
    from catalog.search import hand_fusion

    keys = list(dict.fromkeys(key for ranking in rankings.values() for key, _ in ranking))
    # The hand-set fusion's score is a feature: the model learns what to add to it (the film's votes, the
    # query's shape), so it starts from what was already known to work.
    hand = {entry.key: entry.score for entry in hand_fusion(rankings, query, mode=mode, alpha=alpha)}
    columns_hand = [hand.get(key, 0.0) for key in keys]
    long = query_shape(query)
    short = 1.0 - long
    columns: dict[str, list[float]] = {"hand": columns_hand}

    def ranked(name: str) -> tuple[dict[int, float], dict[int, int]]:
        ranking = rankings.get(name) or []
        return {key: score for key, score in ranking}, {key: rank for rank, (key, _) in enumerate(ranking, 1)}

    kw, kw_rank = ranked("keyword")
    best_kw = max(kw.values(), default=0.0) or 1.0
    columns["kw"] = [kw.get(key, 0.0) / best_kw for key in keys]
    columns["kw_rr"] = [1.0 / kw_rank[key] if key in kw_rank else 0.0 for key in keys]
    columns["kw_in"] = [float(key in kw) for key in keys]
    columns["kw_x_long"] = [value * long for value in columns["kw"]]
    # title_scores gives closeness cubed; the model wants the closeness itself.
    title, _ = ranked("title")
    closeness = {key: max(score, 0.0) ** (1 / 3) for key, score in title.items()}
    top = [*sorted(closeness.values(), reverse=True)[:2], 0.0, 0.0]
    columns["title"] = [closeness.get(key, 0.0) for key in keys]
    # How far the title stands out from the next-closest one: a typo'd title is that film.
    columns["title_lead"] = [
        (closeness[key] - top[1]) if key in closeness and closeness[key] >= top[0] else 0.0 for key in keys
    ]
    columns["title_in"] = [float(key in closeness) for key in keys]
    # Title first: the one title within a typo or two of the query, clearly ahead of the next.
    columns["title_top"] = [
        float(key in closeness and closeness[key] >= top[0] and top[0] >= 0.75 and top[0] - top[1] >= 0.1)
        for key in keys
    ]
    columns["title_x_short"] = [value * short for value in columns["title"]]
    sem, sem_rank = ranked("semantic")
    floor = min(sem.values(), default=0.0)
    best_sem = max(sem.values(), default=0.0)
    columns["sem"] = [sem.get(key, floor) for key in keys]
    columns["sem_rel"] = [
        (sem.get(key, floor) - floor) / (best_sem - floor) if best_sem > floor else 0.0 for key in keys
    ]
    columns["sem_rr"] = [1.0 / sem_rank[key] if key in sem_rank else 0.0 for key in keys]
    columns["sem_x_long"] = [value * long for value in columns["sem_rel"]]
    bm25f, _ = ranked("bm25f")
    best_bm25f = max(bm25f.values(), default=0.0) or 1.0
    columns["kw_all"] = [bm25f.get(key, 0.0) / best_bm25f for key in keys]
    coverage, _ = ranked("coverage")
    columns["kw_share"] = [coverage.get(key, 0.0) for key in keys]
    columns["votes"] = [math.log1p(max(priors.get(key) or 0.0, 0.0)) / 10 for key in keys]
    columns["votes_x_short"] = [value * short for value in columns["votes"]]
    if mode == "semantic":
        # A prior that saturates: past a few thousand votes a film is known, and more votes say nothing more.
        # The log of the votes kept rewarding the most voted films over the right one (dev CV, seventh round).
        votes = [max(priors.get(key) or 0.0, 0.0) for key in keys]
        paragraph = description_length(query)
        columns["votes_sat"] = [1.0 - math.exp(-value / VOTES_SCALE) for value in votes]
        columns["votes_sat_x_long"] = [(1.0 - math.exp(-value / VOTES_SCALE_LONG)) * paragraph for value in votes]
    return keys, columns


@dataclass
class LinearRanker:
    """weights[mode][feature]; the film's score is the sigmoid of the weighted sum."""

    weights: dict[str, dict[str, float]]

    def covers(self, mode: str, alpha: float, query: str) -> bool:
        """Whether the model ranks this query: a description-shaped one (titles, partial titles and names keep
        the hand-set fusion, which ranked them better on the dev sets), in a mode a model was shipped for."""
        if len(query.split()) < LONG_QUERY_WORDS:
            return False
        if mode == "hybrid" and alpha <= 0:
            mode = "keyword"
        elif mode == "hybrid" and alpha >= 1:
            mode = "semantic"
        return mode in self.weights

    def rank(
        self,
        rankings: Mapping[str, Sequence[tuple[int, float]]],
        query: str,
        *,
        mode: str,
        alpha: float,
        priors: Mapping[int, float],
    ) -> list[Fused]:
        from catalog.search import Fused

        if mode == "hybrid" and alpha <= 0:
            mode = "keyword"
        elif mode == "hybrid" and alpha >= 1:
            mode = "semantic"
        weights = self.weights[mode]
        keys, columns = features(rankings, query, priors, mode=mode, alpha=alpha)
        if not keys:
            return []
        bias = self.weights.get("bias", {}).get(mode, 0.0)
        scores = [bias] * len(keys)
        for name, weight in weights.items():
            column = columns[name]
            factor = weight
            scores = [score + factor * value for score, value in zip(scores, column, strict=True)]
        order = sorted(range(len(keys)), key=lambda i: (-scores[i], i))
        found = {name: {key for key, _ in rankings.get(name) or []} for name in ("title", "keyword", "semantic")}
        return [
            Fused(
                key=keys[i],
                score=round(1 / (1 + math.exp(-max(min(scores[i], 50.0), -50.0))), 6),
                signals=[name for name, members in found.items() if keys[i] in members],
            )
            for i in order
        ]


@lru_cache(maxsize=1)
def current() -> LinearRanker | None:
    """The shipped model, or None (hand-set fusion) when its file is missing or unreadable."""
    if not WEIGHTS_PATH.exists():
        log.debug("no search ranker weights at %s: hand-set fusion", WEIGHTS_PATH)
        return None
    try:
        data = json.loads(WEIGHTS_PATH.read_text())
        weights = {mode: {name: float(w) for name, w in table.items()} for mode, table in data["weights"].items()}
        weights["bias"] = {mode: float(b) for mode, b in data.get("bias", {}).items()}
        return LinearRanker(weights=weights)
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("search ranker weights not loaded (%s): using the hand-set fusion weights", error)
        return None
