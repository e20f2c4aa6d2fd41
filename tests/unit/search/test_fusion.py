"""Fusion methods and the adaptive cutoff (imgsearch_core.search.fusion): ends, monotonicity, the relative
normalisation's found-beats-missing property, a hand-computed RRF, and autocut's definition."""
import pytest
from hypothesis import given, settings, strategies as st

from imgsearch_core.search.fusion import (
    LINEAR_MINMAX, LINEAR_RELATIVE, METHODS, RRF, RRF_K, FusionError, autocut, fuse, relative,
)

ids = st.sampled_from([f"d{i}" for i in range(12)])
bm25_side = st.dictionaries(ids, st.floats(0.01, 20, allow_nan=False), max_size=10).map(lambda d: list(d.items()))
cos_side = st.dictionaries(ids, st.floats(0.001, 1, allow_nan=False), max_size=10).map(lambda d: list(d.items()))
alphas = st.floats(0, 1, allow_nan=False)


def order(side):
    return [doc for doc, _ in sorted(side, key=lambda x: (-x[1], x[0]))]


@settings(max_examples=200, deadline=None)
@given(bm25_side, cos_side, st.sampled_from(METHODS))
def test_each_method_at_the_ends_is_the_pure_sides_ranking(bm25, cosine, method):
    assert [r.id for r in fuse(bm25, cosine, 0.0, method)] == order(bm25)
    assert [r.id for r in fuse(bm25, cosine, 1.0, method)] == order(cosine)


@settings(max_examples=200, deadline=None)
@given(bm25_side, cos_side, st.sampled_from(METHODS), alphas, alphas)
def test_moving_the_slider_moves_a_documents_score_monotonically(bm25, cosine, method, a, b):
    """score(alpha) = alpha*cos_part + (1-alpha)*bm25_part: towards semantic, a document whose vector part
    beats its keyword part gains (never loses), and the other way round."""
    low, high = sorted((a, b))
    if not 0 < low < high < 1:  # inside the open interval both sides' candidates are results
        return
    before = {r.id: r for r in fuse(bm25, cosine, low, method)}
    after = {r.id: r for r in fuse(bm25, cosine, high, method)}
    assert before.keys() == after.keys()
    for doc, row in before.items():
        moved = after[doc].score - row.score
        lean = row.cosine_norm - row.bm25_norm
        assert moved == pytest.approx((high - low) * lean, abs=1e-12)
        assert (moved >= -1e-12) if lean >= 0 else (moved <= 1e-12)


@settings(max_examples=300, deadline=None)
@given(bm25_side, cos_side, alphas, st.sampled_from(["bm25", "cosine"]), st.floats(0.0001, 1, allow_nan=False))
def test_relative_a_weak_candidate_never_turns_found_into_not_found(bm25, cosine, alpha, side, share):
    """linear-relative: every candidate's part is > 0 (above "not found"); adding a candidate weaker than
    the side's best leaves every other part unchanged and is itself above "not found"."""
    rows = {r.id: r for r in fuse(bm25, cosine, alpha, LINEAR_RELATIVE)}
    for doc, _ in bm25:
        assert doc not in rows or rows[doc].bm25_norm > 0
    for doc, _ in cosine:
        assert doc not in rows or rows[doc].cosine_norm > 0
    target = bm25 if side == "bm25" else cosine
    if not target:
        return
    best = max(s for _, s in target)
    grown = target + [("weak", best * share)]
    new = fuse(grown, cosine, alpha, LINEAR_RELATIVE) if side == "bm25" else fuse(bm25, grown, alpha, LINEAR_RELATIVE)
    new_rows = {r.id: r for r in new}
    part = "bm25_norm" if side == "bm25" else "cosine_norm"
    for doc, row in rows.items():
        assert getattr(new_rows[doc], part) == pytest.approx(getattr(row, part))
    if "weak" in new_rows:
        assert getattr(new_rows["weak"], part) > 0


def test_minmax_does_map_the_weakest_candidate_to_not_found():
    """The flaw linear-relative exists for: under min-max the weakest BM25 hit counts as much as a miss."""
    bm25, cosine = [("a", 4.0), ("b", 1.0)], [("a", 0.5), ("c", 0.4)]
    minmax = {r.id: r for r in fuse(bm25, cosine, 0.5, LINEAR_MINMAX)}
    rel = {r.id: r for r in fuse(bm25, cosine, 0.5, LINEAR_RELATIVE)}
    assert minmax["b"].bm25_norm == 0.0 == minmax["c"].bm25_norm
    assert rel["b"].bm25_norm == pytest.approx(0.25) and rel["c"].bm25_norm == 0.0
    assert relative({"x": 0.3, "y": 0.6}, 0.0) == {"x": 0.5, "y": 1.0}


def test_rrf_matches_a_hand_computed_case():
    bm25 = [("a", 6.0), ("b", 4.0), ("c", 2.0)]  # ranks a1 b2 c3
    cosine = [("b", 0.9), ("d", 0.5), ("a", 0.3)]  # ranks b1 d2 a3
    alpha = 0.25
    rows = fuse(bm25, cosine, alpha, RRF)
    k = RRF_K
    expected = {
        "a": 0.25 / (k + 3) + 0.75 / (k + 1),
        "b": 0.25 / (k + 1) + 0.75 / (k + 2),
        "c": 0.75 / (k + 3),
        "d": 0.25 / (k + 2),
    }
    assert {r.id: r.score for r in rows} == pytest.approx(expected, abs=1e-15)
    assert [r.id for r in rows] == ["a", "b", "c", "d"]  # a: 0.016263 > b: 0.016195
    by_id = {r.id: r for r in rows}
    assert (by_id["a"].bm25_rank, by_id["a"].vector_rank) == (1, 3)
    assert by_id["d"].bm25_rank is None and by_id["d"].bm25_norm == 0.0  # not found: contributes 0
    assert by_id["d"].cosine_norm == pytest.approx(1 / (k + 2))


def test_unknown_method_is_a_clear_error():
    with pytest.raises(FusionError, match="Unknown fusion method"):
        fuse([("a", 1.0)], [], 0.5, "geometric")


# ----- the cutoff ------------------------------------------------------------------------------------
@pytest.mark.parametrize("scores, kept", [
    ([0.9, 0.88, 0.85, 0.4, 0.38, 0.35], 3),   # one big drop after the third
    ([0.9, 0.5, 0.48, 0.47, 0.46], 1),          # only the first stands out
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], 6),        # an even decline has no large gap
    ([0.5, 0.5, 0.5], 3),                       # flat: nothing to cut
    ([0.9, 0.1], 2),                            # too short to cut
    ([], 0),
])
def test_autocut_keeps_what_lies_above_the_first_large_gap(scores, kept):
    assert autocut(scores) == kept


def test_autocut_is_scale_free_and_checks_its_input():
    scores = [0.9, 0.88, 0.85, 0.4, 0.38, 0.35]
    assert autocut([s * 0.02 + 7 for s in scores]) == autocut(scores) == 3
    assert autocut(scores, gap=0.9) == 6 and autocut(scores, gap=0.1) == 3 and autocut(scores, gap=0.05) == 2
    assert autocut([0.9, 0.86, 0.83, 0.4], gap=0.05) == 1  # the FIRST gap of 5 % of the range wins
    with pytest.raises(FusionError, match="best first"):
        autocut([0.1, 0.5, 0.2])
    with pytest.raises(FusionError, match="gap"):
        autocut(scores, gap=0)
