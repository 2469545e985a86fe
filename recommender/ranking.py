"""Fusion of ranked lists (pure functions, no database): each list is [(id, score)] best first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

RRF_K = 60

Rankings = Mapping[str, Sequence[tuple[int, float]]]


@dataclass
class Fused:
    key: int
    score: float
    signals: list[str] = field(default_factory=list)


def reciprocal_rank_fusion(rankings: Rankings, weights: Mapping[str, float], *, k: int = RRF_K) -> list[Fused]:
    """Score each id by sum(weight / (k + rank)) over the lists it appears in; best first.

    Scores are divided by the best score a film could reach (rank 1 in every list), so they fall in 0..1.
    """
    return _fuse(rankings, weights, lambda rank, score, scores, ranking: 1 / (k + rank), best=1 / (k + 1))


def relative_score_fusion(
    rankings: Rankings, weights: Mapping[str, float], *, absolute: frozenset[str] = frozenset()
) -> list[Fused]:
    """Sum each list's scores rescaled to 0..1 (its best 1, its worst 0), times the list's weight; the lists
    named in `absolute` already score on a fixed 0..1 scale and keep it (a weak best match stays weak).

    Unlike ranks, scores keep a signal's confidence: a film far ahead on one signal stays ahead after fusion.
    """
    absolute_lists = {id(rankings[name]) for name in absolute if name in rankings}

    def rescaled(rank: int, score: float, scores: Sequence[float], ranking) -> float:
        if id(ranking) in absolute_lists:
            return min(max(score, 0.0), 1.0)
        low, high = min(scores), max(scores)
        return (score - low) / (high - low) if high > low else 1.0

    return _fuse(rankings, weights, rescaled, best=1.0)


def _fuse(rankings: Rankings, weights: Mapping[str, float], contribution: Callable, *, best: float) -> list[Fused]:
    total_weight = sum(weights.get(name, 0.0) for name, ranking in rankings.items() if ranking) or 1.0
    fused: dict[int, Fused] = {}
    # Heaviest list first, so ties keep its order and `signals` lists the strongest evidence first.
    for name in sorted(rankings, key=lambda n: -weights.get(n, 0.0)):
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        scores = [score for _, score in rankings[name]]
        for rank, (key, score) in enumerate(rankings[name], start=1):
            entry = fused.setdefault(key, Fused(key=key, score=0.0))
            entry.score += weight * contribution(rank, score, scores, rankings[name])
            entry.signals.append(name)
    results = sorted(fused.values(), key=lambda f: -f.score)
    for entry in results:
        entry.score = round(entry.score / (total_weight * best), 6)
    return results
