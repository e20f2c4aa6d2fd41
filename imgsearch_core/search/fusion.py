"""Fusing the keyword (BM25) and vector (cosine) candidate lists, and the adaptive relevance cutoff.

Pure functions of the two candidate lists, so every method can be swept, tested and explained without
a store. Each method maps a side's raw score to a "normalised" part and fuses linearly:

    score = alpha * cosine_norm + (1 - alpha) * bm25_norm

so the per-hit breakdown is always "weight x part", whichever method ran. A document missing from one
side scores 0 there. At the ends (alpha 0 or 1) only the weighted side's candidates are results and
the ranking is exactly that side's (ties broken by its raw score, then id).

Methods:
- ``linear-minmax`` (the default): min-max over each side's candidates; a side whose max equals its
  min normalises to 1. Its known flaw: a side's weakest real candidate maps to 0, the same as "not found".
- ``linear-relative``: each side relative to its best candidate, from a floor no found document can
  reach (see `relative`), so "found but weakest" stays above "not found".
- ``rrf``: weighted reciprocal rank fusion; a side's part is 1 / (RRF_K + rank) (rank 1 = its best),
  0 when that side did not find the document.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

LINEAR_MINMAX, LINEAR_RELATIVE, RRF = "linear-minmax", "linear-relative", "rrf"
METHODS: tuple[str, ...] = (LINEAR_MINMAX, LINEAR_RELATIVE, RRF)
DEFAULT_METHOD = LINEAR_MINMAX
METHOD_LABELS = {
    LINEAR_MINMAX: "linear, min-max",
    LINEAR_RELATIVE: "linear, relative to the best",
    RRF: "reciprocal rank fusion",
}
RRF_K = 60
COSINE_FLOOR = 0.0  # orthogonal: no shared meaning (linear-relative's "not found" level of the cosine)
DEFAULT_METHOD_SETTING = "default_fusion"  # the collection's saved fusion method (Collection.settings)
CUTOFF_GAP = 0.25  # a gap is "large" from this share of the listed scores' range on
CUTOFF_MIN_RESULTS = 3  # lists shorter than this are never cut


class SearchError(ValueError):
    """A bad search request; the message is meant for the user (imgsearch_core.search.engine re-exports it)."""


FusionError = SearchError


class Fused(NamedTuple):
    """One fused document. The first six fields are the historic tuple (id, score, bm25, bm25_norm,
    cosine, cosine_norm); ranks are 1-based positions in each side's candidate list (None: not found)."""

    id: str
    score: float
    bm25: float | None
    bm25_norm: float
    cosine: float | None
    cosine_norm: float
    bm25_rank: int | None
    vector_rank: int | None


def check_method(method: str) -> str:
    if method not in METHODS:
        raise FusionError(f"Unknown fusion method {method!r}: use one of {', '.join(METHODS)}.")
    return method


def saved_method(collection) -> str:
    """The collection's saved default fusion method (Evaluate page, `evaluate --save-alpha`), else the default."""
    saved = collection.settings().get(f"setting_{DEFAULT_METHOD_SETTING}")
    return saved if saved in METHODS else DEFAULT_METHOD


def minmax(scores: dict[str, float]) -> dict[str, float]:
    """(s - min) / (max - min) over the candidates; all 1 when max equals min."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {key: 1.0 for key in scores}
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def relative(scores: dict[str, float], floor: float) -> dict[str, float]:
    """(s - floor) / (max - floor): the side's best is 1 and `floor` (what "not found" is worth) is 0.

    Why this normalisation (not min-max, not z-scores): the floor is fixed, not taken from the
    candidates, so a document's part depends only on its own score and the side's best. Hence a found
    document's part is always > 0, and adding a weaker candidate changes no other document's part at all;
    min-max maps the weakest candidate to 0 (= not found), and distribution-based scores (mean +- 3 std)
    move every part when a candidate is added and clip outliers to 0.

    BM25's floor is 0, its own score for "no query term", and every BM25 candidate scores > 0. The
    cosine's floor is 0 (orthogonal, no shared meaning): CLIP's related text-image pairs score well
    above it, and a candidate with cosine <= 0 counts as no semantic match (part 0). On the demo
    collection floor 0 measured better than -1 (the lowest cosine, which squeezes every vector
    candidate into 0.95..1 and leaves the slider little to weigh): MRR@5 0.730 against 0.708.
    """
    if not scores:
        return {}
    high = max(scores.values())
    if high <= floor:
        return {key: 1.0 for key in scores}
    return {key: max(value - floor, 0.0) / (high - floor) for key, value in scores.items()}


def side_ranks(scores: Sequence[tuple[str, float]]) -> dict[str, int]:
    """1-based rank of each candidate by raw score descending, equal scores by id."""
    ordered = sorted(dict(scores).items(), key=lambda item: (-item[1], item[0]))
    return {doc_id: rank for rank, (doc_id, _) in enumerate(ordered, start=1)}


def _parts(method: str, raw_bm25: dict[str, float], raw_cos: dict[str, float],
           ranks_bm25: dict[str, int], ranks_cos: dict[str, int]) -> tuple[dict[str, float], dict[str, float]]:
    if method == LINEAR_MINMAX:
        return minmax(raw_bm25), minmax(raw_cos)
    if method == LINEAR_RELATIVE:
        return relative(raw_bm25, 0.0), relative(raw_cos, COSINE_FLOOR)
    return ({i: 1.0 / (RRF_K + r) for i, r in ranks_bm25.items()}, {i: 1.0 / (RRF_K + r) for i, r in ranks_cos.items()})


def check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or math.isnan(alpha) or not 0.0 <= alpha <= 1.0:
        raise FusionError(f"alpha must be between 0 (keyword) and 1 (semantic), got {alpha!r}.")
    return float(alpha)


def fuse(
    bm25: Sequence[tuple[str, float]],
    cosine: Sequence[tuple[str, float]],
    alpha: float,
    method: str = DEFAULT_METHOD,
) -> list[Fused]:
    """Fuse two candidate lists with `method`, best first.

    Ties are broken by the raw score of the side that carries the weight, then by id, so alpha=0
    reproduces the keyword ranking and alpha=1 the vector ranking exactly, for every method.
    """
    check_alpha(alpha)
    check_method(method)
    raw_bm25, raw_cos = dict(bm25), dict(cosine)
    ranks_bm25, ranks_cos = side_ranks(bm25), side_ranks(cosine)
    norm_bm25, norm_cos = _parts(method, raw_bm25, raw_cos, ranks_bm25, ranks_cos)
    # At the ends only the weighted side's candidates are results (the other side still shows its parts).
    ids = raw_bm25.keys() if alpha == 0 else raw_cos.keys() if alpha == 1 else raw_bm25.keys() | raw_cos.keys()
    fused = []
    for doc_id in ids:
        nb, nc = norm_bm25.get(doc_id, 0.0), norm_cos.get(doc_id, 0.0)
        fused.append(Fused(doc_id, alpha * nc + (1 - alpha) * nb, raw_bm25.get(doc_id), nb, raw_cos.get(doc_id), nc,
                           ranks_bm25.get(doc_id), ranks_cos.get(doc_id)))

    def key(row: Fused) -> tuple:
        lead = row.cosine if alpha >= 0.5 else row.bm25
        return (-row.score, -(lead if lead is not None else -math.inf), row.id)

    return sorted(fused, key=key)


# ----- the adaptive cutoff ---------------------------------------------------------------------------
def autocut(scores: Sequence[float], gap: float = CUTOFF_GAP, min_results: int = CUTOFF_MIN_RESULTS) -> int:
    """How many of a ranking's best-first `scores` are "clearly relevant": the cut is at the first large gap.

    A gap is the drop between neighbours, s[i] - s[i+1]; it is large when it is at least `gap` times
    the range of the listed scores (s[0] - s[-1]), as Weaviate's autocut looks for the first jump. The
    result keeps everything above the first large gap. A list shorter than `min_results`, a flat list
    (range 0) or one without a large gap is not cut (the full length is returned). Scale-free: the same
    cut for any method's scores and for scores multiplied or shifted by a constant.
    """
    values = [float(s) for s in scores]
    if not 0.0 < gap <= 1.0:
        raise FusionError(f"The cutoff gap must be a share of the score range in (0, 1], got {gap!r}.")
    if any(b > a + 1e-12 for a, b in zip(values, values[1:])):
        raise FusionError("The cutoff needs scores best first.")
    if len(values) < max(min_results, 2):
        return len(values)
    spread = values[0] - values[-1]
    if spread <= 0:
        return len(values)
    for i, (a, b) in enumerate(zip(values, values[1:]), start=1):
        if a - b >= gap * spread:
            return i
    return len(values)
