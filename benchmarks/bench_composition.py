"""Composed queries on the demo collection: do negative terms keep what they exclude out of the top hits?

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_composition.py [--n 2000] [--k 10 20] [--store DIR] [--json FILE]

The demo collection (held-out generated scenes, bundled imgsearch-mini). Whether a hit "holds a red circle" is
read from the scene's own metadata (the generator's objects), not from its caption: captions use synonyms
("scarlet disc") and may leave an object out, so the keyword exclusion alone cannot reach every such hit. Each
composition's measures are the share of the top `--k` hits satisfying them, in hybrid (alpha 0.5), vector and
text mode, for the plain query of its positive terms (no negative, weights dropped) and the composed query, and, as an
ablation, the vector subtraction alone (the composed direction searched without the caption exclusion). Then
the median wall time of a plain and a composed hybrid query.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
from imgsearch_core.models.embed import Embedder
from imgsearch_core.scenes.scenes import Scene
from imgsearch_core.search.composition import parse
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store

Objects = list[tuple[str, str]]
Measure = tuple[str, Callable[[Objects], bool], str]
MODES = ("hybrid", "vector", "text")


def has(colour: str | None, shape: str | None) -> Callable[[Objects], bool]:
    return lambda objects: any((colour in (None, c)) and (shape in (None, s)) for c, s in objects)


COMPOSITIONS: dict[str, list[Measure]] = {
    "circle - red": [("holds a red circle", has("red", "circle"), "<= 0.1"),
                     ("holds a circle", has(None, "circle"), ">= 0.8")],
    "square - blue": [("holds a blue square", has("blue", "square"), "low"),
                      ("holds a square", has(None, "square"), "high")],
    "triangle - green - yellow": [
        ("holds a green or yellow triangle", lambda o: has("green", "triangle")(o) or has("yellow", "triangle")(o), "low"),
        ("holds a triangle", has(None, "triangle"), "high")],
    "2:red circle + square - blue": [
        ("holds a red circle", has("red", "circle"), "high"),
        ("holds a square", has(None, "square"), "high"),
        ("holds a red circle and a square", lambda o: has("red", "circle")(o) and has(None, "square")(o), "high"),
        ("holds something blue", has("blue", None), "low")],
}


def objects_of(metadata: dict) -> Objects:
    return [(o.colour, o.shape) for o in Scene.from_metadata(metadata).objects]


def plain_of(query: str) -> str:
    return " ".join(term.text for term in parse(query).terms if not term.negative)


def subtraction_only(searcher: Searcher, query: str, k: int) -> list[str]:
    """The ids the composed direction finds by itself (no caption exclusion): the vector side's own effect."""
    terms = parse(query).terms
    vectors = searcher.embedder.embed_texts([t.text for t in terms]).astype(np.float64)
    summed = np.array([t.weight for t in terms]) @ vectors
    return [i for i, _ in searcher.collection.query_vector((summed / np.linalg.norm(summed)).astype(np.float32), k)]


def shares(ids: list[str], scenes: dict[str, Objects], measures: list[Measure]) -> list[float]:
    return [round(sum(test(scenes[i]) for i in ids) / max(len(ids), 1), 3) for _, test, _ in measures]


def measure(searcher: Searcher, scenes: dict[str, Objects], k: int) -> list[dict]:
    rows = []
    for query, measures in COMPOSITIONS.items():
        columns = {}
        for mode in MODES:
            columns[f"{mode} plain"] = [h.id for h in searcher.search(plain_of(query), mode, 0.5, k).hits]
            columns[mode] = [h.id for h in searcher.search(query, mode, 0.5, k).hits]
        columns["subtraction only"] = subtraction_only(searcher, query, k)
        found = {name: shares(ids, scenes, measures) for name, ids in columns.items()}
        for j, (label, _, target) in enumerate(measures):
            rows.append({"query": query, "measure": label, "target": target,
                         **{name: values[j] for name, values in found.items()}})
    return rows


def latency(searcher: Searcher, runs: int) -> dict[str, float]:
    out = {}
    for query in ("circle", "circle - red", "2:red circle + square - blue"):
        searcher.search(query)  # warm
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            searcher.search(query)
            times.append((time.perf_counter() - start) * 1000)
        out[query] = round(statistics.median(times), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--k", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    store = Store(Settings.from_env(store_dir=args.store or Path(tempfile.mkdtemp()) / "store"))
    embedder = Embedder(DEMO_MODEL, batch_size=128)
    build_demo_collection(store, count=args.n, embedder=embedder)
    collection = store.open(DEMO_COLLECTION)
    scenes = {item.id: objects_of(item.metadata) for item in collection.all_items()}
    searcher = Searcher(collection, embedder)
    rows = {k: measure(searcher, scenes, k) for k in args.k}
    columns = [name for mode in MODES for name in (f"{mode} plain", mode)] + ["subtraction only"]
    for k, table in rows.items():
        print(f"\n{len(scenes):,} scenes, top {k}\n")
        print("| query | share of top hits that ... | target | " + " | ".join(columns) + " |")
        print("|---|---|---|" + "---:|" * len(columns))
        for row in table:
            print(f"| `{row['query']}` | {row['measure']} | {row['target']} | "
                  + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    timings = latency(searcher, args.runs)
    print("\nmedian ms per hybrid query:", timings)
    if args.json:
        args.json.write_text(json.dumps({"n": len(scenes), "rows": rows, "ms": timings}, indent=2))


if __name__ == "__main__":
    main()
