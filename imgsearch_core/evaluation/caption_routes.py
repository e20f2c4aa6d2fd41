"""The caption-then-embed route measured beside the image vectors (issue 22: machine captions).

Why a comparison of its own: a captioning system searches the words its captioner wrote, either with keywords or
by embedding them as text and comparing with the query's text embedding; imgsearch already holds CLIP image
vectors that a text query meets directly. Whether machine captions add anything is a measurement, per
collection and captioner, so the evaluation ranks the items that have a machine caption four ways on the same
judged queries:
  (i)   BM25 over the machine captions (the collection language's analysis, as keyword search does);
  (ii)  the CLIP text embedding of each machine caption against the query's text embedding (caption-then-embed);
  (iii) the stored CLIP image vectors against the query's text embedding (today's vector mode);
  (iv)  linear min-max hybrids of each pair of them over the alpha grid, the best one reported.
Every route ranks the same universe (the items with a machine caption); scores are computed exhaustively,
so no candidate depth hides a hit. Nothing is written to the store.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from imgsearch_core.evaluation.evaluate import ALPHAS, score_rankings
from imgsearch_core.evaluation.query_sources import EvaluationError, QuerySet
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.language_policy import caption_language
from imgsearch_core.text.analysis import analyze
from imgsearch_core.text.bm25 import BM25Index

BM25_ROUTE = "machine caption: BM25"
EMBED_ROUTE = "machine caption: CLIP text embedding"
IMAGE_ROUTE = "image vector (vector mode)"
DEPTH = 20  # ranks kept per query: the deepest cut-off score_rankings reads (mrr@20)
BATCH = 256


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _minmax(scores: np.ndarray) -> np.ndarray:
    low, high = float(scores.min()), float(scores.max())
    return np.ones_like(scores) if high == low else (scores - low) / (high - low)


def _top(ids: Sequence[str], scores: np.ndarray) -> list[str]:
    order = np.argsort(-scores, kind="stable")[:DEPTH]
    return [ids[i] for i in order]


def machine_captioned(collection: Collection) -> tuple[list[str], list[str]]:
    """(ids, machine captions) of the items that have one."""
    ids, captions = [], []
    for item in collection.all_items():
        caption = item.metadata.get("machine_caption")
        if isinstance(caption, str) and caption.strip():
            ids.append(item.id)
            captions.append(caption)
    return ids, captions


def route_scores(collection: Collection, embedder: Any, query_set: QuerySet, ids: list[str],
                 captions: list[str]) -> dict[str, np.ndarray]:
    """route -> (queries x items) raw scores over `ids`."""
    language = caption_language(collection).language
    index = BM25Index.build(ids, analyze(captions, language), language)
    queries = [q.text for q in query_set.queries]
    query_vectors = _unit(embedder.embed_texts(queries))
    caption_vectors = np.concatenate([_unit(embedder.embed_texts(captions[i:i + BATCH]))
                                      for i in range(0, len(captions), BATCH)])
    stored = collection.embeddings(ids)
    image_vectors = _unit(np.stack([stored[i] for i in ids]))
    return {
        BM25_ROUTE: np.stack([index.scores(tokens) for tokens in analyze(queries, language)]),
        EMBED_ROUTE: query_vectors @ caption_vectors.T,
        IMAGE_ROUTE: query_vectors @ image_vectors.T,
    }


def compare_routes(collection: Collection, embedder: Any, query_set: QuerySet,
                   alphas: Sequence[float] = ALPHAS, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per route (and the best hybrid of each pair) with every metric of `score_rankings`.

    Queries whose relevant items have no machine caption are left out (they could not be found by any route);
    a collection without machine captions, or without a query left, is an EvaluationError naming the fix.
    """
    ids, captions = machine_captioned(collection)
    if not ids:
        raise EvaluationError(f"Collection {collection.name!r} has no machine captions: write them first "
                              "(Admin > Write machine captions, or `enrich --machine-captions`).")
    universe = set(ids)
    kept = [q for q in query_set.queries if q.relevant & universe]
    if not kept:
        raise EvaluationError("No judged query has a relevant item with a machine caption.")
    scores = route_scores(collection, embedder, replace(query_set, queries=kept), ids, captions)
    relevant = [q.relevant & universe for q in kept]
    rows = []
    for route, matrix in scores.items():
        rows.append({"route": route, "alpha": None, **score_rankings([_top(ids, s) for s in matrix], relevant)})
    pairs = list(combinations(scores, 2))
    for step, (first, second) in enumerate(pairs, start=1):
        normal_first = [_minmax(s) for s in scores[first]]
        normal_second = [_minmax(s) for s in scores[second]]
        best: dict[str, Any] | None = None
        for alpha in alphas:
            rankings = [_top(ids, alpha * a + (1 - alpha) * b) for a, b in zip(normal_first, normal_second)]
            row = {"route": f"hybrid: {first} + {second}", "alpha": alpha, **score_rankings(rankings, relevant)}
            if best is None or row["mrr@5"] > best["mrr@5"]:
                best = row
        rows.append(best)
        if progress is not None:
            progress(step, len(pairs))
    table = pd.DataFrame(rows)
    table["queries"] = len(kept)
    table["items"] = len(ids)
    return table
