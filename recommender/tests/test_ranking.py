from __future__ import annotations

import pytest

from recommender.ranking import RRF_K, reciprocal_rank_fusion


def test_a_film_found_by_every_signal_wins_and_scores_one():
    fused = reciprocal_rank_fusion({"keyword": [1, 2, 3], "semantic": [1, 3, 4]}, {"keyword": 0.5, "semantic": 0.5})
    assert [f.key for f in fused] == [1, 3, 2, 4]
    assert fused[0].score == pytest.approx(1.0)
    assert fused[0].signals == ["keyword", "semantic"]


def test_weights_move_the_balance_and_zero_weight_lists_are_ignored():
    rankings = {"keyword": [1, 2], "semantic": [2, 1]}
    assert reciprocal_rank_fusion(rankings, {"keyword": 0.9, "semantic": 0.1})[0].key == 1
    assert reciprocal_rank_fusion(rankings, {"keyword": 0.1, "semantic": 0.9})[0].key == 2
    only_keyword = reciprocal_rank_fusion(rankings, {"keyword": 1.0, "semantic": 0.0})
    assert all(f.signals == ["keyword"] for f in only_keyword)


def test_scores_follow_the_rrf_formula():
    fused = reciprocal_rank_fusion({"a": [7, 8]}, {"a": 1.0})
    assert fused[1].score == pytest.approx((1 / (RRF_K + 2)) / (1 / (RRF_K + 1)), abs=1e-6)


def test_no_rankings_fuse_to_nothing():
    assert reciprocal_rank_fusion({}, {"keyword": 1.0}) == []
