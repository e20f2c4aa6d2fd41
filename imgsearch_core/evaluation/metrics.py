"""Retrieval metrics as pure functions of a ranked id list and a set of relevant ids.

Conventions (shared by the quality table, the evaluate page and the tests):
- ``ranked`` is best first; a repeated id counts once, at its first (best) rank.
- A query with no relevant items has no defined recall/precision/MRR: the per-query functions return
  ``None`` and ``mean`` leaves such queries out (it reports how many it averaged).
- Ties: ``rank_by_score`` sorts by score descending, then id ascending, so equal scores never make a
  ranking depend on input order.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def rank_by_score(scores: Mapping[str, float] | Iterable[tuple[str, float]]) -> list[str]:
    """Ids by score descending; ties broken by id ascending (deterministic)."""
    items = scores.items() if isinstance(scores, Mapping) else scores
    return [i for i, _ in sorted(items, key=lambda item: (-item[1], item[0]))]


def _top(ranked: Sequence[str], k: int) -> list[str]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    seen: set[str] = set()
    top = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            top.append(item)
            if len(top) == k:
                break
    return top


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float | None:
    """1.0 when at least one relevant item is in the top ``k`` (hit rate), else 0.0."""
    if not relevant:
        return None
    return 1.0 if any(i in relevant for i in _top(ranked, k)) else 0.0


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float | None:
    """Relevant items in the top ``k`` divided by ``k`` (a short list still divides by ``k``)."""
    if not relevant:
        return None
    return sum(i in relevant for i in _top(ranked, k)) / k


def mrr_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float | None:
    """1 / rank of the first relevant item within the top ``k``; 0 when there is none."""
    if not relevant:
        return None
    for rank, item in enumerate(_top(ranked, k), start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def mmp_at_5(ranked: Sequence[str], relevant: set[str]) -> float | None:
    """Relevant items in the top 5 divided by min(5, number of relevant items)."""
    if not relevant:
        return None
    return sum(i in relevant for i in _top(ranked, 5)) / min(5, len(relevant))


def mean(values: Iterable[float | None]) -> tuple[float, int]:
    """Mean over defined values and how many there were; (nan, 0) when none are defined."""
    defined = [v for v in values if v is not None]
    return (sum(defined) / len(defined) if defined else float("nan")), len(defined)


def summarize(rankings: Sequence[Sequence[str]], relevant: Sequence[set[str]], ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Recall@k and Precision@k for each k, MRR@10 and mMP@5 over a set of queries."""
    if len(rankings) != len(relevant):
        raise ValueError("one relevant set per ranking")
    out: dict[str, float | int] = {}
    for k in ks:
        out[f"recall@{k}"] = mean(recall_at_k(r, s, k) for r, s in zip(rankings, relevant))[0]
        out[f"precision@{k}"] = mean(precision_at_k(r, s, k) for r, s in zip(rankings, relevant))[0]
    out["mrr@10"] = mean(mrr_at_k(r, s, 10) for r, s in zip(rankings, relevant))[0]
    out["mmp@5"], out["n_queries"] = mean(mmp_at_5(r, s) for r, s in zip(rankings, relevant))
    return out
