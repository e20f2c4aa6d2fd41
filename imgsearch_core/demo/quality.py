"""The quality table of a model directory on the held-out test split (and the model card).

    python -m imgsearch_core.demo.quality data/models/imgsearch-mini [--json] [--images N]

Text -> image: one-object and two-object paraphrased queries (``queries.py``); a hit is relevant when
its scene satisfies every attribute of the query, judged from the scene description (metadata).
Image -> image: an augmented copy (crop, rotation up to 15 degrees, colour jitter, JPEG) of a held-out
image queries the whole test split; the top hit must show the same colour+shape objects.

Rankers are pluggable (``TextRanker``): ``VectorRanker`` is brute-force cosine of L2-normalised
embeddings loaded through ``SentenceTransformer(path)`` exactly as the app loads a model. Text (BM25)
and hybrid rows plug in through ``SearchRanker``, an adapter over ``imgsearch_core.search.engine.Searcher``
for a collection that holds the same test split (built by the project's demo collection code).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from imgsearch_core.evaluation import metrics
from imgsearch_core.scenes import queries as Q
from imgsearch_core.scenes.render import render
from imgsearch_core.scenes.scenes import Scene, split_scenes

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULTS = dict(n_images=2000, n_one=600, n_two=600, n_i2i=400, seed=0)


class TextRanker(Protocol):
    mode: str
    alpha: float | None

    def rank(self, texts: Sequence[str], k: int) -> list[list[str]]:
        """Scene names, best first, for each query text."""


def load_model(model_dir: str | Path):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    return SentenceTransformer(str(model_dir), device="cpu")


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def encode(model, items: Sequence, batch_size: int = 64) -> np.ndarray:
    return _normalise(model.encode(list(items), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False))


def top_k(sims: np.ndarray, names: Sequence[str], k: int) -> list[list[str]]:
    """Rows of ``names`` by similarity descending; ties by name ascending (``metrics.rank_by_score``)."""
    order = np.argsort(np.asarray(names))  # names sorted ascending
    ranked = []
    for row in sims:
        idx = order[np.argsort(-row[order], kind="stable")[:k]]
        ranked.append([names[i] for i in idx])
    return ranked


@dataclass
class VectorRanker:
    model: object
    names: list[str]
    image_embeddings: np.ndarray
    mode: str = "vector"
    alpha: float | None = 1.0

    def rank(self, texts: Sequence[str], k: int) -> list[list[str]]:
        return top_k(encode(self.model, texts) @ self.image_embeddings.T, self.names, k)


@dataclass
class SearchRanker:
    """Rows through the project's search module (text, vector or hybrid at ``alpha``).

    ``searcher`` is an ``imgsearch_core.search.engine.Searcher`` over a collection of the test split whose
    metadata carries ``split`` and ``index`` (``Scene.to_metadata``); hits are mapped back to scene names.
    ``candidates`` is shared by the rankers of one searcher, so each query is embedded once, as the
    app's slider does.
    """

    searcher: object
    mode: str
    alpha: float | None = None
    candidates: dict = field(default_factory=dict)

    def rank(self, texts: Sequence[str], k: int) -> list[list[str]]:
        out = []
        for text in texts:
            if text not in self.candidates:
                self.candidates[text] = self.searcher.text_candidates(text)
            alpha = self.alpha if self.alpha is not None else 0.5
            result = self.searcher.rank(self.candidates[text], self.mode, alpha, k)
            out.append([f"{h.metadata['split']}-{int(h.metadata['index']):06d}" for h in result.hits])
        return out


def search_rankers(searcher) -> list[SearchRanker]:
    """Text (BM25) and hybrid at each alpha of ``ALPHAS``, through the search module.

    No separate vector row: hybrid at alpha 1 is the search module's vector order (Chroma's HNSW), next
    to the exact ``VectorRanker`` row, so a gap between the two would show index loss."""
    shared: dict = {}
    configs = [("text", 0.0), *(("hybrid", a) for a in ALPHAS)]
    return [SearchRanker(searcher, mode, alpha, shared) for mode, alpha in configs]


def search_rankers_for(model_dir: str | Path, n_images: int, store_dir: Path) -> Callable[[object], list[SearchRanker]]:
    """Text and hybrid rankers over a temporary demo collection of the same test scenes and model."""
    from imgsearch_core.config import Settings
    from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.store.store import Store

    embedder = Embedder(str(model_dir), batch_size=128)
    store = Store(Settings.from_env(store_dir=store_dir))
    build_demo_collection(store, count=n_images, embedder=embedder)
    searcher = Searcher(store.open(DEMO_COLLECTION), embedder)
    return lambda _model: search_rankers(searcher)


def text_rows(rankers: Sequence[TextRanker], query_sets: dict[str, list[Q.Query]], scenes: Sequence[Scene]) -> list[dict]:
    rows = []
    for ranker in rankers:
        for kind, qs in query_sets.items():
            ranked = ranker.rank([q.text for q in qs], 10)
            relevant = [q.relevant(scenes) for q in qs]
            row = {"mode": ranker.mode, "alpha": ranker.alpha, "queries": kind}
            row.update(metrics.summarize(ranked, relevant))
            row["mean_relevant"] = float(np.mean([len(r) for r in relevant]))
            rows.append(row)
    return rows


def image_to_image(model, scenes: Sequence[Scene], names: list[str], image_embeddings: np.ndarray, n: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 303])
    picks = rng.choice(len(scenes), size=min(n, len(scenes)), replace=False)
    queries = [Q.augment(render(scenes[i]), np.random.default_rng([seed, 304, int(i)])) for i in picks]
    ranked = top_k(encode(model, queries) @ image_embeddings.T, names, 5)
    by_name = {s.name: s for s in scenes}
    top1, mmp, own = [], [], []
    for i, row in zip(picks, ranked):
        scene = scenes[i]
        relevant = {s.name for s in scenes if Q.same_objects(scene, s)}
        top1.append(Q.same_objects(scene, by_name[row[0]]))
        own.append(row[0] == scene.name)
        mmp.append(metrics.mmp_at_5(row, relevant))
    return {"top1_same_objects": float(np.mean(top1)), "top1_is_original": float(np.mean(own)),
            "mmp@5": float(np.mean(mmp)), "queries": len(picks)}


def quality_report(
    model_dir: str | Path,
    *,
    n_images: int = DEFAULTS["n_images"],
    n_one: int = DEFAULTS["n_one"],
    n_two: int = DEFAULTS["n_two"],
    n_i2i: int = DEFAULTS["n_i2i"],
    seed: int = DEFAULTS["seed"],
    extra_rankers: Callable[[object], Sequence[TextRanker]] | None = None,
) -> dict:
    """The full table. ``extra_rankers(model)`` may add text/hybrid rankers (see ``search_rankers``)."""
    start = time.perf_counter()
    model = load_model(model_dir)
    scenes = split_scenes("test", n_images, seed)
    names = [s.name for s in scenes]
    t0 = time.perf_counter()
    image_embeddings = encode(model, [render(s) for s in scenes])
    embed_seconds = time.perf_counter() - t0
    query_sets = {"one": Q.one_object_queries(scenes, n_one, seed), "two": Q.two_object_queries(scenes, n_two, seed),
                  "position": Q.positional_queries(scenes, n_one, seed)}
    rankers: list[TextRanker] = [VectorRanker(model, names, image_embeddings)]
    if extra_rankers is not None:
        rankers += list(extra_rankers(model))
    rows = text_rows(rankers, query_sets, scenes)
    i2i = image_to_image(model, scenes, names, image_embeddings, n_i2i, seed)
    vector = {r["queries"]: r for r in rows if r["mode"] == "vector"}
    summary = {
        "one_object_recall@5": vector["one"]["recall@5"], "two_object_recall@5": vector["two"]["recall@5"],
        "positional_recall@5": vector["position"]["recall@5"],
        "i2i_top1_same_objects": i2i["top1_same_objects"], "i2i_mmp@5": i2i["mmp@5"],
    }
    return {
        "model": str(model_dir), "split": "test", "images": n_images, "seed": seed, "rows": rows,
        "image_to_image": i2i, "summary": summary,
        "render_and_embed_images_per_s": round(n_images / embed_seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def _f(x: float) -> str:
    return f"{x:.3f}"


QUERY_LABELS = {"one": "one-object", "two": "two-object", "position": "one object + position"}


def markdown_table(report: dict) -> str:
    lines = ["| mode | alpha | queries | R@1 | R@5 | R@10 | MRR@10 | P@5 | P@10 | relevant per query |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        alpha = "" if r["alpha"] is None else f"{r['alpha']:g}"
        lines.append(f"| {r['mode']} | {alpha} | {QUERY_LABELS[r['queries']]} ({r['n_queries']}) "
                     f"| {_f(r['recall@1'])} | {_f(r['recall@5'])} | {_f(r['recall@10'])} | {_f(r['mrr@10'])} "
                     f"| {_f(r['precision@5'])} | {_f(r['precision@10'])} | {r['mean_relevant']:.1f} |")
    i2i = report["image_to_image"]
    lines += ["", "| image to image (augmented held-out copy) | value |", "|---|---|",
              f"| top hit shows the same objects | {_f(i2i['top1_same_objects'])} |",
              f"| top hit is the original image | {_f(i2i['top1_is_original'])} |",
              f"| mMP@5 (same objects) | {_f(i2i['mmp@5'])} |", f"| queries | {i2i['queries']} |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="quality table of a model on the held-out demo split")
    parser.add_argument("model_dir")
    parser.add_argument("--images", type=int, default=DEFAULTS["n_images"])
    parser.add_argument("--queries", type=int, default=DEFAULTS["n_one"])
    parser.add_argument("--i2i", type=int, default=DEFAULTS["n_i2i"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--search", action="store_true", help="add text (BM25) and hybrid rows via a temporary store")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as store_dir:
        extra = search_rankers_for(args.model_dir, args.images, Path(store_dir)) if args.search else None
        report = quality_report(args.model_dir, n_images=args.images, n_one=args.queries, n_two=args.queries,
                                n_i2i=args.i2i, extra_rankers=extra)
    print(json.dumps(report, indent=1) if args.json else markdown_table(report))
    if not args.json:
        print(json.dumps(report["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
