"""Search latency at 100k captions: BM25, vector and hybrid (median, p95), and BM25 index open time.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_search.py [--n 100000] [--model DIR] [--store DIR]
Builds a store of N items with synthetic captions and clustered 512-d unit vectors (throwaway, or under
--store, where a later run with the same N reuses it; no images are embedded: this measures the search path). With `--model DIR` (e.g. a random-weight ViT-B/32) the model's
text encoding alone and the whole hybrid query with that encoding are timed in interleaved rounds, and their
ratio printed (the issue's target: whole-query p95 <= 1.3 x the encoding's).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from imgsearch_core.config import Settings
from imgsearch_core.types import ModelIdentity
from imgsearch_core.search.engine import Candidates, Searcher
from imgsearch_core.store.records import Record
from imgsearch_core.store.store import Store
from imgsearch_core.text.analysis import analyze_one
from imgsearch_core.text.bm25 import BM25Index

WORDS = (
    "red blue green yellow black white orange purple boat harbour mountain city street portrait dog cat "
    "market river bridge night morning crowd beach forest snow rain car train station church garden "
    "child woman man festival protest football stadium concert museum painting window door table chair"
).split()
QUERIES = ["red boat", "harbour at night", "children playing football in the snow", "museum",
           "a woman with a dog on the beach", "old church bridge river", "crowd protest city street"]


def caption(rng: np.random.Generator) -> str:
    return "a " + " ".join(rng.choice(WORDS, size=int(rng.integers(6, 14))))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


class _QueryVectors:
    """Stands in for the embedder's text side: fixed random unit vectors per query string."""

    def __init__(self, dim: int) -> None:
        self.identity = ModelIdentity("bench", dim)
        self._rng = np.random.default_rng(1)
        self._cache: dict[str, np.ndarray] = {}

    def embed_texts(self, texts):
        rows = []
        for text in texts:
            if text not in self._cache:
                v = self._rng.normal(size=self.identity.dim).astype(np.float32)
                self._cache[text] = v / np.linalg.norm(v)
            rows.append(self._cache[text])
        return np.stack(rows)


class _RealTextTower:
    """A real model's text tower (`--model DIR`, IMGSEARCH_BACKEND or auto) standing in for the bench collection's
    model: its vectors are compared with the synthetic ones, which only the latency needs."""

    def __init__(self, model: str) -> None:
        from imgsearch_core.models.embed import Embedder

        self._embedder = Embedder(model)
        self.backend = self._embedder.backend
        self.identity = ModelIdentity("bench", self._embedder.dim)

    def embed_texts(self, texts):
        return self._embedder.embed_texts(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--model", help="a 512-d CLIP (name or directory): also time its text encoding against the "
                                        "whole hybrid query, interleaved")
    parser.add_argument("--store", help="keep the built store here and reuse it when it already has --n items")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    store = Store(Settings.from_env(store_dir=Path(args.store) if args.store else Path(tempfile.mkdtemp()) / "store"))
    collection = store.open_or_create("bench", ModelIdentity("bench", 512))
    if collection.count() not in (0, args.n):
        raise SystemExit(f"{args.store} holds {collection.count()} items, not {args.n}: give another --store")
    centres = rng.normal(size=(200, 512)).astype(np.float32)
    start = time.perf_counter()
    for offset in range(collection.count(), args.n, 5000):
        n = min(5000, args.n - offset)
        vectors = centres[rng.integers(0, 200, n)] + rng.normal(size=(n, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records = [Record(f"{offset + i:064d}", vectors[i], caption(rng), {"file_name": f"{offset + i}.jpg"}, b"x", ".jpg")
                   for i in range(n)]
        collection.add(records)
    print(f"built {args.n} items in {time.perf_counter() - start:.1f} s")

    collection.bm25()  # built and saved once
    index_dir = store.index_root / "bench"
    load_ms = timed(lambda: BM25Index.load(index_dir), 5)
    print(f"BM25 index open: median {statistics.median(load_ms):.1f} ms")
    start = time.perf_counter()
    collection._keeper._rebuild("en")
    print(f"BM25 rebuild from Chroma documents: {time.perf_counter() - start:.2f} s")

    searcher = Searcher(collection, _QueryVectors(512))  # type: ignore[arg-type]
    bm25 = collection.bm25()
    for q in QUERIES:  # warm caches
        searcher.search(q, "hybrid", 0.5, 10)
    results = {"bm25 top-100": [], "vector top-100 (Chroma)": [], "hybrid search (no embedding)": [],
               "re-rank only (slider move)": []}
    for _ in range(args.repeats):
        for q in QUERIES:
            tokens = analyze_one(q)
            results["bm25 top-100"] += timed(lambda: bm25.top(tokens, 100), 1)
            vector = searcher.embedder.embed_texts([q])[0]
            results["vector top-100 (Chroma)"] += timed(lambda: collection.query_vector(vector, 100), 1)
            results["hybrid search (no embedding)"] += timed(lambda: searcher.search(q, "hybrid", 0.5, 10), 1)
            candidates: Candidates = searcher.text_candidates(q)
            results["re-rank only (slider move)"] += timed(lambda: searcher.rank(candidates, "hybrid", 0.3, 10), 1)
    if args.model:
        encoder = _RealTextTower(args.model)
        real = Searcher(collection, encoder)  # type: ignore[arg-type]
        for q in QUERIES:
            real.search(q, "hybrid", 0.5, 10)
        results["text encoding alone"], results["whole hybrid query (with encoding)"] = [], []
        for _ in range(args.repeats):  # interleaved: the encoding and the whole query see the same load
            for q in QUERIES:
                results["text encoding alone"] += timed(lambda: encoder.embed_texts([q]), 1)
                results["whole hybrid query (with encoding)"] += timed(lambda: real.search(q, "hybrid", 0.5, 10), 1)
    print(f"\nlatency at {args.n} captions, {len(QUERIES)} queries x {args.repeats}:")
    for name, values in results.items():
        print(f"  {name:34s} median {statistics.median(values):7.2f} ms   p95 {percentile(values, 95):7.2f} ms")
    if args.model:
        whole, alone = results["whole hybrid query (with encoding)"], results["text encoding alone"]
        print(f"  whole hybrid / text encoding: median {statistics.median(whole) / statistics.median(alone):.2f} x, "
              f"p95 {percentile(whole, 95) / percentile(alone, 95):.2f} x ({encoder.backend})")


if __name__ == "__main__":
    main()
