"""Composed queries on the demo collection: do negative terms keep what they exclude out of the top hits?

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_composition.py [--n 2000] [--k 10 20] [--store DIR] [--json FILE]

The demo collection (held-out generated scenes, bundled imgsearch-mini). Whether a hit "holds a red circle" is
read from the scene's own metadata (the generator's objects), not from its caption: captions use synonyms
("scarlet disc") and may leave an object out, so the keyword exclusion alone cannot reach every such hit. Each
composition's measures are the share of the top `--k` hits satisfying them, in hybrid (alpha 0.5), vector and
text mode, for the plain query of its positive terms (no negative, weights dropped) and the composed query, and, as an
ablation, the vector subtraction alone (the composed direction searched without the caption exclusion). A target
("<= 0.1", ">= 0.8") defines success; "met" says whether the composed hybrid query (the app's default) meets it.
An image term names a stored scene chosen by its objects (`{lone blue square}`: the first scene by id holding just
a blue square), resolved to `item:<id>` at run time. Then the median and p95 wall time of plain and composed
hybrid queries.
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
from imgsearch_core.search.composition import TEXT, parse, picture_vectors
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
    "square - blue": [("holds a blue square", has("blue", "square"), "<= 0.1"),
                      ("holds a square", has(None, "square"), ">= 0.8")],
    "triangle - green - yellow": [
        ("holds a green or yellow triangle", lambda o: has("green", "triangle")(o) or has("yellow", "triangle")(o),
         "<= 0.1"),
        ("holds a triangle", has(None, "triangle"), ">= 0.8")],
    "2:red circle + square - blue": [
        ("holds a red circle", has("red", "circle"), ">= 0.6"),
        ("holds a square", has(None, "square"), "reported"),
        ("holds a red circle and a square", lambda o: has("red", "circle")(o) and has(None, "square")(o), "reported"),
        ("holds something blue", has("blue", None), "<= 0.1")],
    "{lone blue square} - blue": [("holds a square", has(None, "square"), ">= 0.8"),
                                  ("holds something blue", has("blue", None), "<= 0.1")],
    "{lone blue square} + square - blue": [("holds a square", has(None, "square"), ">= 0.8"),
                                           ("holds something blue", has("blue", None), "<= 0.1")],
    "triangle + 0.5:{lone blue square}": [("holds a triangle", has(None, "triangle"), ">= 0.8"),
                                          ("holds a square", has(None, "square"), "reported")],
}
PICKS = {"{lone blue square}": [("blue", "square")]}  # placeholder -> the scene's exact objects


def resolved(query: str, scenes: dict[str, Objects]) -> str:
    """The query with each placeholder replaced by item:<id> of the first scene (by id) holding just its objects."""
    for placeholder, objects in PICKS.items():
        if placeholder in query:
            found = min(i for i, o in scenes.items() if sorted(o) == sorted(objects))
            query = query.replace(placeholder, f"item:{found}")
    return query


def met(value: float | None, target: str) -> str:
    """Whether a share meets a target such as '<= 0.1' ('' for a share only reported)."""
    if value is None or target[:2] not in ("<=", ">="):
        return ""
    bound = float(target[2:])
    return "yes" if (value <= bound if target.startswith("<=") else value >= bound) else "**no**"


def objects_of(metadata: dict) -> Objects:
    return [(o.colour, o.shape) for o in Scene.from_metadata(metadata).objects]


def plain_of(query: str) -> str:
    """The positive terms alone: one phrase of their words, or (with an image term) their unweighted sum."""
    positive = [term for term in parse(query).terms if not term.negative]
    if all(term.kind == TEXT for term in positive):
        return " ".join(term.text for term in positive)
    return " + ".join(term.label for term in positive)


def subtraction_only(searcher: Searcher, query: str, k: int) -> list[str]:
    """The ids the composed direction finds by itself (no caption exclusion, the image terms' items not left
    out): the vector side's own effect."""
    composition = parse(query)
    pictures = picture_vectors(composition, searcher.collection, searcher.embedder)
    rows = [pictures.vectors[t.key] if t.kind != TEXT else searcher.embedder.embed_texts([t.text])[0].astype(np.float64)
            for t in composition.terms]
    summed = np.array([t.weight for t in composition.terms]) @ np.vstack(rows)
    return [i for i, _ in searcher.collection.query_vector((summed / np.linalg.norm(summed)).astype(np.float32), k)]


def shares(ids: list[str], scenes: dict[str, Objects], measures: list[Measure]) -> list[float | None]:
    """Each measure's share of the ids (None without ids: text mode finds nothing for an image term alone)."""
    return [round(sum(test(scenes[i]) for i in ids) / len(ids), 3) if ids else None for _, test, _ in measures]


def measure(searcher: Searcher, scenes: dict[str, Objects], k: int) -> list[dict]:
    rows = []
    for written, measures in COMPOSITIONS.items():
        query = resolved(written, scenes)
        columns = {}
        for mode in MODES:
            columns[f"{mode} plain"] = [h.id for h in searcher.search(plain_of(query), mode, 0.5, k).hits]
            columns[mode] = [h.id for h in searcher.search(query, mode, 0.5, k).hits]
        columns["subtraction only"] = subtraction_only(searcher, query, k)
        found = {name: shares(ids, scenes, measures) for name, ids in columns.items()}
        for j, (label, _, target) in enumerate(measures):
            rows.append({"query": written, "measure": label, "target": target, "met": met(found["hybrid"][j], target),
                         **{name: values[j] for name, values in found.items()}})
    return rows


def latency(searcher: Searcher, scenes: dict[str, Objects], runs: int) -> dict[str, dict[str, float]]:
    out = {}
    for written in ("circle", "circle - red", "2:red circle + square - blue", "{lone blue square} - blue"):
        query = resolved(written, scenes)
        searcher.search(query)  # warm
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            searcher.search(query)
            times.append((time.perf_counter() - start) * 1000)
        out[written] = {"median": round(statistics.median(times), 1),
                        "p95": round(float(np.percentile(times, 95)), 1)}
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
        print("| query | share of top hits that ... | target | met (hybrid) | " + " | ".join(columns) + " |")
        print("|---|---|---|---|" + "---:|" * len(columns))
        for row in table:
            print(f"| `{row['query']}` | {row['measure']} | {row['target']} | {row['met']} | "
                  + " | ".join("n/a" if row[c] is None else f"{row[c]:.2f}" for c in columns) + " |")
    print("\nimage terms:", {p: resolved(p, scenes) for p in PICKS})
    timings = latency(searcher, scenes, args.runs)
    print("ms per hybrid query (median, p95):", timings)
    if args.json:
        args.json.write_text(json.dumps({"n": len(scenes), "rows": rows, "ms": timings}, indent=2))


if __name__ == "__main__":
    main()
