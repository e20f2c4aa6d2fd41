"""Hybrid fusion semantics (README, "How search scores"), checked against hand-computed values."""
import pytest

from imgsearch_core.search.engine import SearchError, check_alpha, fuse


def as_scores(rows):
    return {r[0]: round(r[1], 9) for r in rows}


def test_hand_computed_hybrid():
    bm25 = [("a", 6.0), ("b", 4.0), ("c", 2.0)]
    cosine = [("b", 0.9), ("d", 0.5), ("a", 0.3)]
    rows = fuse(bm25, cosine, alpha=0.25)
    # bm25 norm: a=1, b=0.5, c=0 ; cosine norm: b=1, d=(0.5-0.3)/0.6=1/3, a=0
    expected = {"a": 0.75 * 1.0, "b": 0.25 * 1.0 + 0.75 * 0.5, "c": 0.0, "d": 0.25 / 3}
    assert as_scores(rows) == {k: round(v, 9) for k, v in expected.items()}
    assert [r[0] for r in rows] == ["a", "b", "d", "c"]
    by_id = {r[0]: r for r in rows}
    assert by_id["d"][2] is None and by_id["d"][3] == 0.0  # missing BM25 side counts 0
    assert by_id["c"][4] is None and by_id["c"][5] == 0.0


def test_equal_scores_on_one_side_normalise_to_one():
    rows = fuse([("a", 3.0), ("b", 3.0)], [("a", 0.2)], alpha=0.5)
    by_id = {r[0]: r for r in rows}
    assert by_id["a"][3] == 1.0 and by_id["b"][3] == 1.0 and by_id["a"][5] == 1.0


@pytest.mark.parametrize("alpha, side", [(0.0, "bm25"), (1.0, "cosine")])
def test_extremes_reproduce_each_side_order(alpha, side):
    bm25 = [("a", 5.0), ("b", 5.0), ("c", 1.0), ("e", 0.5)]
    cosine = [("d", 0.8), ("c", 0.7), ("a", 0.7), ("f", 0.1)]
    ranked = [r[0] for r in fuse(bm25, cosine, alpha)]
    source = bm25 if side == "bm25" else cosine
    expected = [doc for doc, _ in sorted(source, key=lambda x: (-x[1], x[0]))]
    assert ranked[: len(expected)] == expected


@pytest.mark.parametrize("bad", [-0.01, 1.5, float("nan"), "0.5"])
def test_alpha_outside_range_is_an_error(bad):
    with pytest.raises(SearchError, match="alpha"):
        check_alpha(bad)


def test_at_the_ends_only_the_weighted_side_gives_results():
    bm25, cosine = [("a", 2.0)], [("a", 0.9), ("b", 0.8)]
    assert [row[0] for row in fuse(bm25, cosine, 0.0)] == ["a"]
    assert fuse([], cosine, 0.0) == []
    assert [row[0] for row in fuse(bm25, cosine, 1.0)] == ["a", "b"]
    assert fuse(bm25, [], 1.0) == []
    assert fuse(bm25, cosine, 0.0)[0][4] == 0.9  # the other side's part is still shown
