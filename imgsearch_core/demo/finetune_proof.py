"""Proof that fine-tuning helps on data the model has never seen (shapes, colours and words).

    python -m imgsearch_core.demo.finetune_proof [--train 3000] [--test 1000] [--minutes 10] [--json]

Builds two collections of SHIFTED scenes (`vocabulary.SHIFTED_VOCAB`: teal hexagons, fuchsia hoops, ...):
one to fine-tune on (train split) and a held-out one (test split). The held-out collection is
evaluated with the bundled imgsearch-mini, the model is fine-tuned on the other collection through
exactly the code the `finetune` command uses, the held-out collection is embedded again with the new
model, and the same generated queries (exact relevance from scene metadata) are evaluated again.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import build_scene_collection
from imgsearch_core.scenes.vocabulary import SHIFTED_VOCAB
from imgsearch_core.models.embed import Embedder
from imgsearch_core.demo.eval_source import queries_from_scenes
from imgsearch_core.evaluation.evaluate import sweep
from imgsearch_core.evaluation.finetune import FinetuneSettings, finetune_collection, reembed
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store

TRAIN, HELD_OUT = "shifted-train", "shifted-test"
REPORTED = ("recall@1", "recall@5", "mrr@5", "mrr@10")


@dataclass
class ProofResult:
    before: dict[str, float]
    after: dict[str, float]
    finetune: dict[str, Any]
    queries: int
    seconds: float

    def gain(self, metric: str = "mrr@5") -> float:
        return self.after[metric] - self.before[metric]


def _vector_metrics(store: Store, name: str, embedder: Embedder, n_queries: int) -> tuple[dict[str, float], int]:
    collection = store.open(name)
    query_set = queries_from_scenes(collection.all_items(), n_one=n_queries, n_two=0)
    table = sweep(Searcher(collection, embedder), query_set, alphas=())
    row = table[table["mode"] == "vector"].iloc[0]
    return {m: float(row[m]) for m in REPORTED}, len(query_set.queries)


def run_proof(store_dir: Path, n_train: int, n_test: int, settings: FinetuneSettings, n_queries: int = 300) -> ProofResult:
    """Build both shifted collections, fine-tune on one, measure the other before and after."""
    started = time.perf_counter()
    store = Store(Settings.from_env(store_dir=store_dir / "store"))
    base = Embedder(DEMO_MODEL, batch_size=128)
    build_scene_collection(store, TRAIN, base, n_train, split="train", vocab=SHIFTED_VOCAB)
    build_scene_collection(store, HELD_OUT, base, n_test, split="test", vocab=SHIFTED_VOCAB)
    before, n = _vector_metrics(store, HELD_OUT, base, n_queries)
    report = finetune_collection(store, TRAIN, settings, models_dir=store_dir / "models", embedder=base)
    tuned = Embedder(str(report.model_dir), batch_size=128)
    reembed(store, store.open(HELD_OUT), f"{HELD_OUT}-ft", tuned)
    after, _ = _vector_metrics(store, f"{HELD_OUT}-ft", tuned, n_queries)
    summary = {k: v for k, v in report.to_dict().items() if k in ("steps", "stopped", "train_seconds", "train_pairs", "before", "after")}
    return ProofResult(before, after, summary, n, round(time.perf_counter() - started, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = FinetuneSettings(lr=args.lr, max_epochs=args.epochs, max_minutes=args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_proof(Path(tmp), args.train, args.test, settings)
    if args.json:
        print(json.dumps(result.__dict__, default=str))
    else:
        print(f"held-out shifted test split, {result.queries} one-object queries, vector mode")
        print("| metric | before | after |\n|---|---|---|")
        for metric in REPORTED:
            print(f"| {metric} | {result.before[metric]:.3f} | {result.after[metric]:.3f} |")
        print(f"fine-tuning: {result.finetune}; total {result.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
