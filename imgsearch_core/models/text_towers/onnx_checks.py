"""The checks a tower's ONNX export must pass at export time, once per tower fingerprint.

1. Against sentence-transformers (refuses the export when it fails): on texts in several languages and
   scripts, plus one longer than the truncation length, the tokenizer.json must give exactly the ids and mask
   sentence-transformers gives, and the fp32 graph vectors whose cosine to sentence-transformers' own is
   above 1 - 1e-4.
2. int8 (kept only when it passes): measured faster than fp32 on single queries (interleaved runs, median),
   and faithful on a generated set: mean cosine >= 0.99 to fp32 over the queries, and the top-10 of each query
   among generated documents (demo captions, embedded by fp32: the same targets for both, as a collection's
   image vectors do not depend on the query's tower) overlapping fp32's by >= 0.95 on average.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from imgsearch_core.models.backends.gate import MIN_COSINE, MIN_OVERLAP, TOP_K, mean_cosine, top_k_overlap
from imgsearch_core.models.text_towers.onnx_tower import TowerGraph

MIN_FP32_COSINE = 1 - 1e-4
CHECK_TEXTS = [
    "a red boat in the harbour at night",
    "ein rotes Boot im Hafen bei Nacht, Straßenbahn über die Brücke",
    "un bateau rouge dans le port la nuit, l'été à Marseille",
    "una barca roja en el puerto de noche",
    "夜晚港口里的一艘红色小船",
    "東京の夜の港",
    "красная лодка в гавани ночью",
    "قارب أحمر في الميناء ليلا",
    "a very long caption " + "with many words in it " * 60,  # past the truncation length
]
TIMING_ROUNDS = 15


def _sentence_transformers_tokens(st_model, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    features = st_model.preprocess(texts) if hasattr(st_model, "preprocess") else st_model.tokenize(texts)
    return features["input_ids"].numpy(), features["attention_mask"].numpy()


def check_against_sentence_transformers(st_model, graph: TowerGraph, texts: list[str] = CHECK_TEXTS) -> dict[str, Any]:
    """Tokens equal and fp32 vectors within cosine 1 - 1e-4 of sentence-transformers' own (figures for the manifest)."""
    st_ids, st_mask = _sentence_transformers_tokens(st_model, texts)
    ids, mask = graph.tokens(texts)
    tokens_equal = np.array_equal(st_ids, ids) and np.array_equal(st_mask, mask)
    reference = st_model.encode(texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    worst = float(np.min(np.sum(np.asarray(reference, dtype=np.float32) * graph.embed_texts(texts), axis=1)))
    return {"passed": bool(tokens_equal and worst > MIN_FP32_COSINE), "tokens_equal": bool(tokens_equal),
            "worst_cosine": round(worst, 7), "n_texts": len(texts)}


def generated_set(n_documents: int, n_queries: int) -> tuple[list[str], list[str]]:
    """Demo captions as documents; the calibration captions and the multilingual check texts as queries."""
    from imgsearch_core.models.backends.gate import calibration_set
    from imgsearch_core.scenes.captions import scene_caption
    from imgsearch_core.scenes.scenes import split_scenes

    documents = [scene_caption(scene) for scene in split_scenes("test", n_documents)]
    queries = CHECK_TEXTS + calibration_set(0, max(0, n_queries - len(CHECK_TEXTS)))[1]
    return documents, queries[:max(n_queries, 1)]


def query_milliseconds(graphs: list[TowerGraph], queries: list[str], rounds: int = TIMING_ROUNDS) -> list[float]:
    """Median wall time of one query per graph, the graphs interleaved so load changes hit them alike."""
    times: list[list[float]] = [[] for _ in graphs]
    for round_ in range(rounds):
        query = [queries[round_ % len(queries)]]
        for graph, spent in zip(graphs, times):
            started = time.perf_counter()
            graph.embed_texts(query)
            spent.append(time.perf_counter() - started)
    return [round(statistics.median(spent) * 1000, 2) for spent in times]


Timer = Callable[[list[TowerGraph], list[str]], list[float]]


def int8_verdict(fp32: TowerGraph, int8: TowerGraph, n_documents: int, n_queries: int, *,
                 min_cosine: float = MIN_COSINE, min_overlap: float = MIN_OVERLAP,
                 measure: Timer = query_milliseconds) -> dict[str, Any]:
    """Whether the int8 graph may embed queries: faster than fp32 and faithful to it (figures for the manifest).

    The floors and the timing are arguments so a test can force either verdict on one real export (the timing
    of a random-weight tower on a busy machine decides nothing a test could assert)."""
    started = time.perf_counter()
    documents, queries = generated_set(n_documents, n_queries)
    targets = fp32.embed_texts(documents)
    reference, candidate = fp32.embed_texts(queries), int8.embed_texts(queries)
    cosine, overlap = mean_cosine(reference, candidate), top_k_overlap(targets, candidate, targets, reference, TOP_K)
    fp32_ms, int8_ms = measure([fp32, int8], queries)
    faithful = cosine >= min_cosine and overlap >= min_overlap
    return {"approved": bool(faithful and int8_ms < fp32_ms), "faithful": bool(faithful), "mean_cosine": round(cosine, 6),
            "top_k_overlap": round(overlap, 6), "k": TOP_K, "n_documents": len(documents), "n_queries": len(queries),
            "fp32_ms": fp32_ms, "int8_ms": int8_ms, "seconds": round(time.perf_counter() - started, 2)}
