"""Fusion of ranked lists (pure functions, no database): reciprocal rank fusion with per-list weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RRF_K = 60


@dataclass
class Fused:
    key: int
    score: float
    signals: list[str] = field(default_factory=list)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float], *, k: int = RRF_K
) -> list[Fused]:
    """Score each id by sum(weight / (k + rank)) over the lists it appears in; best first.

    Scores are divided by the best score a film could reach (rank 1 in every list), so they fall in 0..1
    whatever the weights. Ties keep the order of first appearance in the most heavily weighted list.
    """
    total_weight = sum(weights.get(name, 0.0) for name in rankings) or 1.0
    best_possible = total_weight / (k + 1)
    fused: dict[int, Fused] = {}
    for name in sorted(rankings, key=lambda n: -weights.get(n, 0.0)):
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, key in enumerate(rankings[name], start=1):
            entry = fused.setdefault(key, Fused(key=key, score=0.0))
            entry.score += weight / (k + rank)
            entry.signals.append(name)
    results = sorted(fused.values(), key=lambda f: -f.score)
    for entry in results:
        entry.score = round(entry.score / best_possible, 6)
    return results
