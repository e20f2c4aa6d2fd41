"""Alpha sweep of every fusion method on the demo collection and on the shifted-vocabulary collection.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_fusion.py [--n 2000] [--queries 300] [--json FILE]

Both collections hold held-out (test split) generated scenes embedded with the bundled imgsearch-mini: the
demo one in the vocabulary the model was trained on, the shifted one in `vocabulary.SHIFTED_VOCAB` (colours, shapes
and words it has never seen), where the vector side is weak and BM25 carries the ranking, so the two stress
fusion from opposite ends. Queries: `--queries` one-object and as many two-object paraphrases per collection,
relevance from scene metadata (the evaluation's own demo source). Prints MRR@5 and R@5 for each method and
alpha, the pure text and vector rows, the best (method, alpha) by MRR@5 and its gain over the default method's
best alpha.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import build_scene_collection
from imgsearch_core.demo.eval_source import queries_from_scenes
from imgsearch_core.scenes.vocabulary import DEMO_VOCAB, SHIFTED_VOCAB
from imgsearch_core.models.embed import Embedder
from imgsearch_core.evaluation.evaluate import sweep
from imgsearch_core.search.fusion import DEFAULT_METHOD, METHODS
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store

REPORTED = ("mrr@5", "recall@5")


def measure(store: Store, embedder: Embedder, vocab, n: int, n_queries: int) -> pd.DataFrame:
    name = f"fusion-{vocab.name}"
    build_scene_collection(store, name, embedder, n, split="test", vocab=vocab)
    collection = store.open(name)
    query_set = queries_from_scenes(collection.all_items(), n_one=n_queries, n_two=n_queries)
    table = sweep(Searcher(collection, embedder), query_set, methods=METHODS)
    table.insert(0, "collection", vocab.name)
    print(f"{vocab.name}: {collection.count():,} items, {len(query_set.queries)} queries")
    return table


def summary(table: pd.DataFrame) -> dict:
    """Best alpha per method by MRR@5, and whether any method beats the default's best by >= 0.02."""
    hybrid = table[table["mode"] == "hybrid"]
    best = {m: hybrid[hybrid["method"] == m].sort_values(["mrr@5", "alpha"], ascending=[False, True]).iloc[0]
            for m in METHODS}
    default = float(best[DEFAULT_METHOD]["mrr@5"])
    return {
        "text": {k: float(table[table["mode"] == "text"].iloc[0][k]) for k in REPORTED},
        "vector": {k: float(table[table["mode"] == "vector"].iloc[0][k]) for k in REPORTED},
        "best": {m: {"alpha": float(r["alpha"]), **{k: float(r[k]) for k in REPORTED},
                     "gain_over_default": round(float(r["mrr@5"]) - default, 4)} for m, r in best.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    store = Store(Settings.from_env(store_dir=Path(tempfile.mkdtemp()) / "store"))
    embedder = Embedder(DEMO_MODEL, batch_size=128)
    tables = [measure(store, embedder, vocab, args.n, args.queries) for vocab in (DEMO_VOCAB, SHIFTED_VOCAB)]
    results = {}
    for table in tables:
        name = table["collection"].iloc[0]
        hybrid = table[table["mode"] == "hybrid"]
        print(f"\n## {name}: MRR@5 / R@5 per method and alpha")
        wide = hybrid.pivot_table(index="alpha", columns="method", values=list(REPORTED))
        print(wide.round(3).to_string())
        results[name] = summary(table)
        print(json.dumps(results[name], indent=1))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
