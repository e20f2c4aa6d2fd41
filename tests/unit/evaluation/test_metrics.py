"""Retrieval metrics: hand-computed cases, ties, duplicates and queries without relevant items."""
import math

import pytest

from imgsearch_core.evaluation.metrics import (
    mean,
    mmp_at_5,
    mrr_at_k,
    precision_at_k,
    rank_by_score,
    recall_at_k,
    summarize,
)


def test_hand_computed_values():
    ranked = ["a", "b", "c", "d", "e", "f"]
    relevant = {"c", "f", "z"}
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert recall_at_k(ranked, relevant, 3) == 1.0
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(1 / 5)
    assert precision_at_k(ranked, relevant, 10) == pytest.approx(2 / 10)
    assert mrr_at_k(ranked, relevant, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, relevant, 2) == 0.0
    assert mmp_at_5(ranked, relevant) == pytest.approx(1 / 3)  # 1 of min(5, 3)


def test_mmp_divides_by_min_of_five_and_relevant():
    ranked = list("abcdefgh")
    assert mmp_at_5(ranked, set("abcdefgh")) == 1.0
    assert mmp_at_5(ranked, {"a", "b", "x", "y", "z", "w", "v"}) == pytest.approx(2 / 5)
    assert mmp_at_5(["q", "a"], {"a"}) == 1.0


def test_no_relevant_items_is_undefined_and_left_out_of_means():
    for value in (recall_at_k(["a"], set(), 5), precision_at_k(["a"], set(), 5), mrr_at_k(["a"], set(), 5),
                  mmp_at_5(["a"], set())):
        assert value is None
    assert mean([1.0, None, 0.0]) == (0.5, 2)
    value, n = mean([None])
    assert math.isnan(value) and n == 0
    table = summarize([["a", "b"], ["c"]], [{"b"}, set()])
    assert table["n_queries"] == 1 and table["recall@1"] == 0.0 and table["mrr@10"] == 0.5


def test_duplicates_count_once_at_their_best_rank():
    ranked = ["a", "a", "a", "b"]
    assert precision_at_k(ranked, {"a"}, 2) == pytest.approx(1 / 2)
    assert recall_at_k(ranked, {"b"}, 2) == 1.0
    assert mrr_at_k(ranked, {"b"}, 10) == pytest.approx(1 / 2)


def test_ties_break_by_id_regardless_of_input_order():
    scores = [("b", 0.5), ("a", 0.5), ("c", 0.9), ("d", 0.1)]
    assert rank_by_score(scores) == ["c", "a", "b", "d"]
    assert rank_by_score(dict(reversed(scores))) == ["c", "a", "b", "d"]


def test_bad_k_is_rejected():
    with pytest.raises(ValueError):
        recall_at_k(["a"], {"a"}, 0)
