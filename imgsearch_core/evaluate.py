"""Evaluation of a collection: which mode and which alpha work best here, measured, not guessed.

Query sets, in order of preference: (a) a relevance file the user supplies; (b) alternative captions
held out as queries (only the first caption of an item is indexed); (c) for generated demo scenes,
paraphrased queries with exact relevance from the stored scene descriptions. A query whose text is an
indexed caption is dropped (and counted), so no query is scored against an index holding its own text.

Each query's candidates are retrieved once and re-ranked for every mode and alpha (what the slider
does), so a full sweep costs one embedding per query.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from imgsearch_core import metrics
from imgsearch_core.captions import ALT_CAPTIONS_KEY, ALT_CAPTIONS_SEPARATOR
from imgsearch_core.search import Searcher
from imgsearch_core.store import Collection, StoredItem

ALPHAS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
RECALL_KS: tuple[int, ...] = (1, 5, 10)
MRR_KS: tuple[int, ...] = (1, 3, 5, 10, 20)
DEPTH = max(MRR_KS)
METRICS: tuple[str, ...] = (
    *(f"recall@{k}" for k in RECALL_KS), *(f"mrr@{k}" for k in MRR_KS), *(f"precision@{k}" for k in RECALL_KS)
)
DEFAULT_ALPHA_SETTING = "default_alpha"  # the collection's saved slider value (Collection.settings)
GROUP_KEYS: tuple[str, ...] = ("group", "label", "category")
QUERY_COLUMNS = ("query", "text", "question")
RELEVANT_COLUMNS = ("relevant", "relevant_ids", "relevant_files", "files", "ids")
RELEVANT_SEPARATORS = ("|", ";")


class EvaluationError(ValueError):
    """The collection or the relevance file cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class EvalQuery:
    text: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class QuerySet:
    source: str  # "relevance file", "held-out captions" or "demo scenes"
    queries: list[EvalQuery]
    dropped_leaks: int = 0
    notes: list[str] = field(default_factory=list)


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def without_leaks(queries: Sequence[EvalQuery], items: Sequence[StoredItem]) -> tuple[list[EvalQuery], int]:
    """Drop queries whose text is an indexed caption: they would be scored against their own text."""
    indexed = {_normalise(item.caption) for item in items if item.caption.strip()}
    kept = [q for q in queries if _normalise(q.text) not in indexed and q.relevant]
    return kept, len(queries) - len(kept)


# ----- (a) a relevance file ----------------------------------------------------------------------
def _column(header: list[str], wanted: tuple[str, ...], what: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for name in wanted:
        if name in lowered:
            return lowered[name]
    raise EvaluationError(f"The relevance file needs a {what} column ({', '.join(wanted)}); found {', '.join(header) or 'none'}.")


def queries_from_relevance_file(data: bytes, items: Sequence[StoredItem]) -> QuerySet:
    """CSV with a query column and a relevant column (file names or ids, separated by | or ;)."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EvaluationError(f"The relevance file is not a readable UTF-8 CSV ({exc}).") from exc
    if not rows:
        raise EvaluationError("The relevance file has no rows.")
    query_col = _column(list(rows[0]), QUERY_COLUMNS, "query")
    relevant_col = _column(list(rows[0]), RELEVANT_COLUMNS, "relevant")
    by_name: dict[str, set[str]] = {}
    for item in items:
        by_name.setdefault(str(item.metadata.get("file_name", "")).lower(), set()).add(item.id)
        by_name.setdefault(item.id, set()).add(item.id)
    queries, unknown = [], set()
    for row in rows:
        text = (row.get(query_col) or "").strip()
        raw = row.get(relevant_col) or ""
        for separator in RELEVANT_SEPARATORS:
            raw = raw.replace(separator, "\n")
        names = [n.strip() for n in raw.splitlines() if n.strip()]
        relevant = {i for n in names for i in by_name.get(n.lower(), by_name.get(n, set()))}
        unknown.update(n for n in names if n.lower() not in by_name and n not in by_name)
        if text:
            queries.append(EvalQuery(text, frozenset(relevant)))
    kept, leaks = without_leaks(queries, items)
    notes = [f"{len(unknown)} relevant names match no item (e.g. {sorted(unknown)[0]!r})."] if unknown else []
    if not kept:
        raise EvaluationError("No query in the relevance file has a relevant item in this collection.")
    return QuerySet("relevance file", kept, leaks, notes)


# ----- (b) held-out alternative captions -----------------------------------------------------------
def queries_from_held_out_captions(items: Sequence[StoredItem]) -> QuerySet | None:
    """Items with two or more captions: the indexed one stays, each other one becomes a query."""
    queries = []
    for item in items:
        for text in str(item.metadata.get(ALT_CAPTIONS_KEY, "")).split(ALT_CAPTIONS_SEPARATOR):
            if text.strip():
                queries.append(EvalQuery(text.strip(), frozenset({item.id})))
    if not queries:
        return None
    kept, leaks = without_leaks(queries, items)
    return QuerySet("held-out captions", kept, leaks) if kept else None


# ----- (c) generated scenes ---------------------------------------------------------------------------
def queries_from_scenes(items: Sequence[StoredItem], n_one: int = 300, n_two: int = 300, seed: int = 0) -> QuerySet | None:
    """Paraphrased one- and two-object queries with relevance judged from the stored scene descriptions."""
    from imgsearch_core.demo.queries import one_object_queries, two_object_queries
    from imgsearch_core.demo.scenes import Scene, satisfies, vocabulary_of

    described = [(item.id, Scene.from_metadata(item.metadata)) for item in items if "scene" in item.metadata]
    if not described:
        return None
    scenes = [scene for _, scene in described]
    vocab = vocabulary_of(next(item.metadata for item in items if "scene" in item.metadata))
    generated = one_object_queries(scenes, n_one, seed, vocab=vocab) + two_object_queries(scenes, n_two, seed, vocab=vocab)
    queries = [EvalQuery(q.text, frozenset(i for i, s in described if satisfies(s, q.spec))) for q in generated]
    kept, leaks = without_leaks(queries, items)
    return QuerySet("demo scenes", kept, leaks)


def choose_query_set(
    collection: Collection, relevance_file: bytes | None = None, items: Sequence[StoredItem] | None = None
) -> QuerySet:
    """The best available query set for `collection` (whose `items` the caller may already hold),
    in the order of preference (a), (b), (c)."""
    items = collection.all_items() if items is None else items
    if not items:
        raise EvaluationError(f"Collection {collection.name!r} is empty: ingest images first.")
    if relevance_file is not None:
        return queries_from_relevance_file(relevance_file, items)
    query_set = queries_from_held_out_captions(items) or queries_from_scenes(items)
    if query_set is None:
        raise EvaluationError(
            "No queries to evaluate with: give a relevance file (CSV with query and relevant columns), or "
            "ingest a caption file that lists two or more captions for some images (one is held out as a query)."
        )
    return query_set


# ----- the sweep -----------------------------------------------------------------------------------------
def configurations(alphas: Sequence[float] = ALPHAS) -> list[tuple[str, float]]:
    return [("text", 0.0), ("vector", 1.0)] + [("hybrid", a) for a in alphas]


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
) -> pd.DataFrame:
    """One row per (mode, alpha) with every metric; candidates are retrieved once per query."""
    configs = configurations(alphas)
    rankings: dict[tuple[str, float], list[list[str]]] = {c: [] for c in configs}
    for done, query in enumerate(query_set.queries, start=1):
        candidates = searcher.text_candidates(query.text)
        for mode, alpha in configs:
            rankings[(mode, alpha)].append([row[0] for row in searcher.fused_rows(candidates, mode, alpha, DEPTH)[1]])
        if progress is not None:
            progress(done, len(query_set.queries))
    relevant = [q.relevant for q in query_set.queries]
    rows = [{"mode": mode, "alpha": alpha, **score_rankings(rankings[(mode, alpha)], relevant)} for mode, alpha in configs]
    table = pd.DataFrame(rows)
    table["queries"] = len(query_set.queries)
    return table


def best_alpha(table: pd.DataFrame) -> dict[str, float]:
    """For each metric, the hybrid alpha that maximises it (the smallest alpha among ties)."""
    hybrid = table[table["mode"] == "hybrid"].sort_values("alpha").reset_index(drop=True)
    return {m: float(hybrid.loc[hybrid[m].idxmax(), "alpha"]) for m in metric_columns(table)}


def metric_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if "@" in c]


# ----- image to image ------------------------------------------------------------------------------------
def item_groups(items: Sequence[StoredItem]) -> dict[str, str]:
    """id -> group label, from a group/label/category column or, for demo scenes, the objects shown."""
    for key in GROUP_KEYS:
        labelled = {i.id: str(i.metadata[key]) for i in items if str(i.metadata.get(key, "")).strip()}
        if labelled:
            return labelled
    if any("scene" in i.metadata for i in items):
        from imgsearch_core.demo.scenes import Scene

        return {
            i.id: "|".join(sorted(o.key() for o in Scene.from_metadata(i.metadata).objects))
            for i in items if "scene" in i.metadata
        }
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
    best: dict[str, float]
    image_to_image: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "model": self.model,
            "query_source": self.query_set.source,
            "queries": len(self.query_set.queries),
            "dropped_leaks": self.query_set.dropped_leaks,
            "notes": self.query_set.notes,
            "rows": self.table.to_dict(orient="records"),
            "best_alpha": self.best,
            "image_to_image": self.image_to_image,
        }


def evaluate(
    searcher: Searcher,
    relevance_file: bytes | None = None,
    query_set: QuerySet | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """The full evaluation of the searcher's collection: query set, sweep, best alpha, mMP@5."""
    collection = searcher.collection
    items = collection.all_items()
    query_set = query_set or choose_query_set(collection, relevance_file, items)
    table = sweep(searcher, query_set, progress=progress)
    groups = item_groups(items)
    return Evaluation(collection.name, collection.model.name, query_set, table, best_alpha(table),
                      image_to_image_mmp(searcher, groups) if groups else None)
