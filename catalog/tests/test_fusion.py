"""Fusion of ranked lists (catalog.search): reciprocal rank fusion and relative score fusion."""

from __future__ import annotations

import pytest

from catalog.search import RRF_K, reciprocal_rank_fusion, relative_score_fusion


def scored(*keys: int, top: float = 1.0, step: float = 0.1) -> list[tuple[int, float]]:
    return [(key, top - index * step) for index, key in enumerate(keys)]


def test_rrf_puts_a_film_found_by_every_signal_first_with_score_one():
    fused = reciprocal_rank_fusion(
        {"keyword": scored(1, 2, 3), "semantic": scored(1, 3, 4)}, {"keyword": 1, "semantic": 1}
    )
    assert [f.key for f in fused] == [1, 3, 2, 4]
    assert fused[0].score == pytest.approx(1.0)
    assert fused[0].signals == ["keyword", "semantic"]


def test_rrf_scores_follow_the_formula():
    fused = reciprocal_rank_fusion({"a": scored(7, 8)}, {"a": 1.0})
    assert fused[1].score == pytest.approx((1 / (RRF_K + 2)) / (1 / (RRF_K + 1)), abs=1e-6)


def test_weights_move_the_balance_and_zero_weight_lists_are_ignored():
    rankings = {"keyword": scored(1, 2), "semantic": scored(2, 1)}
    for fuse in (reciprocal_rank_fusion, relative_score_fusion):
        assert fuse(rankings, {"keyword": 0.9, "semantic": 0.1})[0].key == 1
        assert fuse(rankings, {"keyword": 0.1, "semantic": 0.9})[0].key == 2
        assert all(f.signals == ["keyword"] for f in fuse(rankings, {"keyword": 1.0, "semantic": 0.0}))


def test_relative_scores_keep_a_signals_confidence_where_ranks_lose_it():
    # Film 1 is far ahead on keywords and a close third on meaning; film 2 is barely ahead on meaning.
    rankings = {
        "keyword": [(1, 10.0), (2, 1.1), (3, 1.0), (4, 0.5)],
        "semantic": [(2, 0.60), (3, 0.595), (1, 0.59), (4, 0.40)],
    }
    weights = {"keyword": 1.0, "semantic": 1.0}
    assert reciprocal_rank_fusion(rankings, weights)[0].key == 2
    assert relative_score_fusion(rankings, weights)[0].key == 1


def test_absolute_lists_keep_their_scale():
    weak_title = {"title": [(5, 0.35)], "keyword": [(6, 2.0), (7, 1.0)]}
    fused = relative_score_fusion(weak_title, {"title": 1.0, "keyword": 1.0}, absolute=frozenset({"title"}))
    assert [f.key for f in fused] == [6, 5, 7]
    assert fused[1].score == pytest.approx(0.35 / 2)


def test_no_rankings_fuse_to_nothing():
    assert reciprocal_rank_fusion({}, {"keyword": 1.0}) == []
    assert relative_score_fusion({"keyword": []}, {"keyword": 1.0}) == []


def test_a_quoted_film_stays_first_in_hybrid_mode_whatever_the_semantic_ranking_says():
    from catalog.search import fuse

    # Film 1 holds the query's words in their order (a pasted tagline); film 2 is the semantic favourite and a
    # near-equal keyword match, so plain fusion would put it first.
    rankings = {
        "keyword": [(1, 2.0), (2, 1.9), (3, 0.1)],
        "title": [],
        "semantic": [(2, 0.6), (3, 0.4), (1, 0.2)],
        "quote": [(1, 1.0)],
    }
    query = "once you believe you die"
    assert [f.key for f in fuse(rankings, query, mode="hybrid", alpha=0.5)][:2] == [1, 2]
    without = {name: ranking for name, ranking in rankings.items() if name != "quote"}
    assert [f.key for f in fuse(without, query, mode="hybrid", alpha=0.5)][:2] == [2, 1]
    # Quoted films keep the keyword ranking's order among themselves (the quote list's), not the fused one.
    both = {**rankings, "quote": [(1, 1.0), (2, 1.0)]}
    assert [f.key for f in fuse(both, query, mode="hybrid", alpha=0.5)][:2] == [1, 2]
    assert fuse(both, query, mode="semantic", alpha=0.5)[0].key == 2  # semantic mode has no quotes


def test_a_fused_score_is_rounded_to_the_float_round_gives():
    import math
    import random

    from catalog.search import rounded

    draw = random.Random(16)
    values = [draw.random() * draw.choice([1.0, 1e-3, 1e-7, 10.0, 1e6]) for _ in range(100_000)]
    values += [draw.randint(0, 10**7) / 2e6 for _ in range(20_000)]  # exact halves at the seventh decimal
    values += [round(value, 7) for value in values[:20_000]]  # near ties
    values += [0.0, -0.0, -0.1234565, 1e300, 5e-324, 0.0000005, 0.0000015, 2.5e-6, math.inf, -math.inf]
    for value in values:
        assert math.copysign(1.0, rounded(value)) == math.copysign(1.0, round(value, 6))
        assert rounded(value) == round(value, 6), value
    assert math.isnan(rounded(math.nan))
