"""Evaluation of a collection: which mode, fusion method and alpha work best here, measured, not guessed.

Queries come from one of several interchangeable sources (imgsearch_core.evaluation.query_sources): a relevance
file the user supplies; otherwise, in this order of preference, editors' judgements (imgsearch_core.evaluation.
judgements), alternative captions held out from indexing, and registered sources such as the generated demo
scenes, picked by the rule in imgsearch_core.evaluation.source_rule (a small source never replaces a large one).
Every source drops a query whose text is an indexed caption (the no-leak rule).

Each query's candidates are retrieved once and re-ranked for every mode, fusion method and alpha (what
the slider does), so a full sweep costs one embedding per query.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from imgsearch_core.evaluation import metrics
from imgsearch_core.search.fusion import DEFAULT_METHOD, DEFAULT_METHOD_SETTING, METHODS, check_method, saved_method
from imgsearch_core.evaluation.judgements import JudgedQueries, JudgementStore
from imgsearch_core.evaluation.query_sources import (  # noqa: F401 - re-exported: the evaluation API in one place
    EvalQuery,
    EvaluationError,
    HeldOutCaptions,
    QuerySet,
    QuerySource,
    RelevanceFile,
    queries_from_held_out_captions,
    queries_from_relevance_file,
    registered,
    without_leaks,
)
from imgsearch_core.evaluation.source_rule import is_small, pick_automatic
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.records import StoredItem

ALPHAS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
RECALL_KS: tuple[int, ...] = (1, 5, 10)
MRR_KS: tuple[int, ...] = (1, 3, 5, 10, 20)
DEPTH = max(MRR_KS)
METRICS: tuple[str, ...] = (
    *(f"recall@{k}" for k in RECALL_KS), *(f"mrr@{k}" for k in MRR_KS), *(f"precision@{k}" for k in RECALL_KS)
)
DEFAULT_ALPHA_SETTING = "default_alpha"  # the collection's saved slider value (Collection.settings)
GROUP_KEYS: tuple[str, ...] = ("group", "label", "category")
NO_METHOD = "-"  # the method column of the text and vector rows (nothing is fused)
AUTO = "automatic"


def query_sources(collection: Collection, relevance_file: bytes | None = None) -> list[QuerySource]:
    """The sources an evaluation of `collection` can draw from, in the order of preference."""
    limit = collection._store.settings.max_relevance_bytes  # noqa: SLF001 - the collection's store settings
    found: list[QuerySource] = [RelevanceFile(relevance_file, max_bytes=limit)] if relevance_file is not None else []
    return [*found, JudgedQueries(JudgementStore.of(collection), collection.name), HeldOutCaptions(), *registered()]


def choose_query_set(
    collection: Collection,
    relevance_file: bytes | None = None,
    items: Sequence[StoredItem] | None = None,
    source: str = AUTO,
    sources: Sequence[QuerySource] | None = None,
) -> QuerySet:
    """The query set for `collection`'s `items` (which the caller may already hold): of the source named by
    `source`; for AUTO, of a relevance file when given (the user's explicit choice), else the one
    `source_rule.pick_automatic` picks among `sources` (by default `query_sources`)."""
    items = collection.all_items() if items is None else items
    if not items:
        raise EvaluationError(f"Collection {collection.name!r} is empty: ingest images first.")
    candidates = list(sources) if sources is not None else query_sources(collection, relevance_file)
    if source == AUTO and relevance_file is not None:
        source = RelevanceFile.name
    if source != AUTO:
        named = [s for s in candidates if s.name == source]
        if not named:
            raise EvaluationError(f"Unknown query source {source!r}: use one of {', '.join(s.name for s in candidates)}.")
        query_set = named[0].queries(items)
        if query_set is None or not query_set.queries:
            raise EvaluationError(f"The query source {source!r} has no usable queries for collection {collection.name!r}.")
        return query_set
    found = [q for q in (c.queries(items) for c in candidates) if q is not None and q.queries]
    if found:
        return pick_automatic(found)
    raise EvaluationError(
        "No queries to evaluate with: give a relevance file (CSV with query and relevant columns), mark search "
        "results right or wrong, or ingest a caption file that lists two or more captions for some images (one is "
        "held out as a query)."
    )


# ----- the sweep -----------------------------------------------------------------------------------------
def configurations(alphas: Sequence[float] = ALPHAS, methods: Sequence[str] = METHODS) -> list[tuple[str, str, float]]:
    """(mode, method, alpha): text and vector once, hybrid for every method and alpha."""
    return [("text", NO_METHOD, 0.0), ("vector", NO_METHOD, 1.0)] + [("hybrid", m, a) for m in methods for a in alphas]


def score_rankings(rankings: Sequence[Sequence[str]], relevant: Sequence[frozenset[str]]) -> dict[str, float]:
    """Recall@k and Precision@k (k = 1, 5, 10) and MRR@k (k = 1, 3, 5, 10, 20), averaged over queries."""
    row: dict[str, float] = {}
    for k in RECALL_KS:
        row[f"recall@{k}"] = metrics.mean(metrics.recall_at_k(r, set(s), k) for r, s in zip(rankings, relevant))[0]
    for k in MRR_KS:
        row[f"mrr@{k}"] = metrics.mean(metrics.mrr_at_k(r, set(s), k) for r, s in zip(rankings, relevant))[0]
    for k in RECALL_KS:
        row[f"precision@{k}"] = metrics.mean(metrics.precision_at_k(r, set(s), k) for r, s in zip(rankings, relevant))[0]
    return row


def sweep(
    searcher: Searcher,
    query_set: QuerySet,
    alphas: Sequence[float] = ALPHAS,
    progress: Callable[[int, int], None] | None = None,
    methods: Sequence[str] = METHODS,
) -> pd.DataFrame:
    """One row per (mode, method, alpha) with every metric; candidates are retrieved once per query."""
    configs = configurations(alphas, [check_method(m) for m in methods])
    rankings: dict[tuple[str, str, float], list[list[str]]] = {c: [] for c in configs}
    for done, query in enumerate(query_set.queries, start=1):
        candidates = searcher.text_candidates(query.text)
        for mode, method, alpha in configs:
            fused = searcher.fused_rows(candidates, mode, alpha, DEPTH, DEFAULT_METHOD if method == NO_METHOD else method)
            rankings[(mode, method, alpha)].append([row[0] for row in fused[1]])
        if progress is not None:
            progress(done, len(query_set.queries))
    relevant = [q.relevant for q in query_set.queries]
    rows = [{"mode": mode, "method": method, "alpha": alpha, **score_rankings(rankings[(mode, method, alpha)], relevant)}
            for mode, method, alpha in configs]
    table = pd.DataFrame(rows)
    table["queries"] = len(query_set.queries)
    return table


def _hybrid(table: pd.DataFrame, method: str) -> pd.DataFrame:
    return table[(table["mode"] == "hybrid") & (table["method"] == method)].sort_values("alpha").reset_index(drop=True)


def best_alpha(table: pd.DataFrame, method: str = DEFAULT_METHOD) -> dict[str, float]:
    """For each metric, the hybrid alpha of `method` that maximises it (the smallest alpha among ties)."""
    hybrid = _hybrid(table, method)
    return {m: float(hybrid.loc[hybrid[m].idxmax(), "alpha"]) for m in metric_columns(table)}


def swept_methods(table: pd.DataFrame) -> list[str]:
    return [m for m in METHODS if m in set(table["method"])]


def best_by_method(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {method: best_alpha(table, method) for method in swept_methods(table)}


def best_configuration(table: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """For each metric, the (method, alpha) that maximises it; ties go to the earlier method in METHODS
    (the default first), then to the smaller alpha."""
    best: dict[str, tuple[str, float]] = {}
    for metric in metric_columns(table):
        top: tuple[float, str, float] | None = None
        for method in swept_methods(table):
            hybrid = _hybrid(table, method)
            row = hybrid.loc[hybrid[metric].idxmax()]
            if top is None or row[metric] > top[0] + 1e-12:
                top = (float(row[metric]), method, float(row["alpha"]))
        best[metric] = (top[1], top[2])
    return best


def metric_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if "@" in c]


def save_default(collection: Collection, method: str, alpha: float) -> None:
    """The collection's default fusion method and slider value (Text search starts there)."""
    collection.set_setting(DEFAULT_METHOD_SETTING, check_method(method))
    collection.set_setting(DEFAULT_ALPHA_SETTING, float(alpha))


def default_method(collection: Collection) -> str:
    return saved_method(collection)


# ----- image to image ------------------------------------------------------------------------------------
def item_groups(items: Sequence[StoredItem], sources: Sequence[QuerySource] | None = None) -> dict[str, str]:
    """id -> group label, from a group/label/category column or from a source that offers groups (for demo
    scenes, the objects shown)."""
    for key in GROUP_KEYS:
        labelled = {i.id: str(i.metadata[key]) for i in items if str(i.metadata.get(key, "")).strip()}
        if labelled:
            return labelled
    for source in registered() if sources is None else sources:
        groups = getattr(source, "groups", None)
        if callable(groups) and (found := groups(items)):
            return found
    return {}


def image_to_image_mmp(searcher: Searcher, groups: dict[str, str], limit: int = 300) -> dict[str, Any] | None:
    """mMP@5 of "more like this" from labelled items (the query item itself is never a hit)."""
    members: dict[str, set[str]] = {}
    for item_id, label in groups.items():
        members.setdefault(label, set()).add(item_id)
    queries = sorted(i for i, label in groups.items() if len(members[label]) > 1)[:limit]
    if not queries:
        return None
    scores = []
    for item_id in queries:
        ranked = [h.id for h in searcher.similar(item_id=item_id, k=5).hits]
        scores.append(metrics.mmp_at_5(ranked, members[groups[item_id]] - {item_id}))
    return {"mmp@5": metrics.mean(scores)[0], "queries": len(queries)}


@dataclass
class Evaluation:
    collection: str
    model: str
    query_set: QuerySet
    table: pd.DataFrame
    best: dict[str, float]  # metric -> alpha of the best configuration (its method in best_method)
    image_to_image: dict[str, Any] | None
    best_method: dict[str, str]
    by_method: dict[str, dict[str, float]]  # method -> metric -> its best alpha

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "model": self.model,
            "query_source": self.query_set.source,
            "queries": len(self.query_set.queries),
            "dropped_leaks": self.query_set.dropped_leaks,
            "notes": self.query_set.notes,
            "few_queries": is_small(self.query_set),
            "rows": self.table.to_dict(orient="records"),
            "best_alpha": self.best,
            "best_method": self.best_method,
            "best_alpha_by_method": self.by_method,
            "image_to_image": self.image_to_image,
        }


def evaluate(
    searcher: Searcher,
    relevance_file: bytes | None = None,
    query_set: QuerySet | None = None,
    progress: Callable[[int, int], None] | None = None,
    source: str = AUTO,
    sources: Sequence[QuerySource] | None = None,
) -> Evaluation:
    """The full evaluation of the searcher's collection: query set, sweep of every method, the best
    configuration per metric, mMP@5."""
    collection = searcher.collection
    items = collection.all_items()
    query_set = query_set or choose_query_set(collection, relevance_file, items, source, sources)
    table = sweep(searcher, query_set, progress=progress)
    groups = item_groups(items)
    best = best_configuration(table)
    return Evaluation(collection.name, collection.model.name, query_set, table, {m: a for m, (_, a) in best.items()},
                      image_to_image_mmp(searcher, groups) if groups else None,
                      {m: method for m, (method, _) in best.items()}, best_by_method(table))
