"""HNSW ef_search against latency and recall@100 at 100k clustered 512-d vectors (Chroma stays the store).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_hnsw.py [--n 100000] [--queries 100] [--rounds 3]
For each ef_search (changed on the live collection with `modify`, in interleaved rounds), top-100 query latency
(wall median and p95, and the process's CPU time, which a shared machine disturbs less; after a warm-up) and
recall@100 against exact search with numpy on the same vectors.
Queries are held-out points of the same clusters (what text and image queries look like to the index).
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
from imgsearch_core.store.records import Record
from imgsearch_core.store.store import Store


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    vectors = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, centres.shape[1])).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ef", default="64,100,128,160,200,256")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 512)).astype(np.float32) * 0.6
    data = clustered(rng, centres, args.n)
    queries = clustered(rng, centres, args.queries)
    store = Store(Settings.from_env(store_dir=Path(tempfile.mkdtemp()) / "store"))
    collection = store.open_or_create("bench", ModelIdentity("bench", 512))
    start = time.perf_counter()
    for offset in range(0, args.n, 5000):
        records = [Record(f"{i:064d}", data[i], "", {}, b"x", ".jpg") for i in range(offset, min(offset + 5000, args.n))]
        collection.add(records)
    print(f"built {args.n} vectors in {time.perf_counter() - start:.1f} s")
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :100]
    efs = [int(x) for x in args.ef.split(",")]
    wall: dict[int, list[float]] = {ef: [] for ef in efs}
    cpu: dict[int, list[float]] = {ef: [] for ef in efs}
    recalls: dict[int, list[float]] = {ef: [] for ef in efs}
    for _ in range(args.rounds):  # interleaved, so a load change on this shared machine hits every ef alike
        for ef in efs:
            collection._chroma.modify(configuration={"hnsw": {"ef_search": ef}})
            for q in queries[:10]:
                collection.query_vector(q, 100)
            for q, truth in zip(queries, exact):
                c0, t0 = time.process_time(), time.perf_counter()
                hits = collection.query_vector(q, 100)
                wall[ef].append((time.perf_counter() - t0) * 1000)
                cpu[ef].append((time.process_time() - c0) * 1000)
                recalls[ef].append(len({int(i) for i, _ in hits} & set(truth.tolist())) / 100)
    for ef in efs:
        print(f"ef_search {ef:4d}: wall median {statistics.median(wall[ef]):6.2f} ms  p95 {np.percentile(wall[ef], 95):6.2f} ms"
              f"  CPU median {statistics.median(cpu[ef]):6.2f} ms  recall@100 {np.mean(recalls[ef]):.4f}"
              f" (min {min(recalls[ef]):.2f})")

if __name__ == "__main__":
    main()
