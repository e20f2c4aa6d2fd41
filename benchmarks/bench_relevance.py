"""How well the relevance bands (imgsearch_core.search.relevance) tell relevant hits from irrelevant ones.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_relevance.py [--n 2000] [--k 10] [--store DIR] [--json FILE]
     [--caption-cost]

The demo collection (held-out generated scenes, bundled imgsearch-mini) with the evaluation's own judged
queries (demo.eval_source: 300 one-object and 300 two-object paraphrases, relevance from the scene metadata).
Each query's top `--k` hits in vector, hybrid (alpha 0.5) and text mode are labelled relevant or not from the
judgements (and "more like this" of 200 stored scenes: relevant when a hit shows the same objects); the table gives the AUROC of the band (none < weak < strong), of the calibrated score under it
and, for contrast, of the fused score and of the caption cosine (query text vs the hit's caption: evidence
measured and not used), plus the share of relevant hits in each band. Then the top hit's band
for queries that should find nothing (nonsense words, a gradient and a noise picture) and for a stored
caption asked verbatim. `--store` reuses (or builds once into) a store directory.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.stats import rankdata

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
from imgsearch_core.demo.eval_source import queries_from_scenes, scene_groups
from imgsearch_core.models.embed import Embedder
from imgsearch_core.search.engine import Searcher
from imgsearch_core.search.relevance import BANDS, calibrate, hit_verdict, verdict
from imgsearch_core.store.store import Store

NONSENSE = ("qwxz plorf", "zzzz")


def auroc(scores: list[float], labels: list[bool]) -> float:
    """Mann-Whitney AUROC (ties count half): the chance a relevant hit outscores an irrelevant one."""
    y = np.asarray(labels, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def text_verdict(searcher: Searcher, calibration, result, hit):
    return hit_verdict(calibration, hit, query="text", mode=result.mode, query_tokens=result.query_tokens,
                       index=searcher.collection.bm25())


def unit(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def judged_rows(searcher: Searcher, calibration, query_set, k: int) -> dict[str, list[tuple]]:
    """mode -> (band index, calibrated level, fused score, relevant, caption cosine) of every query's top-k hits.
    The caption cosine (query text vs the hit's caption, same text tower) is the evidence measured and not
    adopted: each caption is embedded once (a cache by id, as the app would keep one)."""
    rows: dict[str, list[tuple]] = defaultdict(list)
    captions: dict[str, np.ndarray] = {}
    for q in query_set.queries:
        candidates = searcher.text_candidates(q.text)
        query_vector = unit(searcher.embedder.embed_texts([q.text]))[0]
        for mode in ("vector", "hybrid", "text"):
            result = searcher.rank(candidates, mode, 0.5, k)
            new = [hit.id for hit in result.hits if hit.id not in captions]
            if new:
                texts = [item.caption for item in searcher.collection.get(new)]
                captions.update(zip(new, unit(searcher.embedder.embed_texts(texts))))
            for hit in result.hits:
                v = text_verdict(searcher, calibration, result, hit)
                rows[mode].append((BANDS.index(v.band), v.level, hit.score, hit.id in q.relevant,
                                   float(query_vector @ captions[hit.id])))
    return rows


def caption_cost(embedder, captions: list[str], page: int = 24) -> float:
    """Median ms to embed one page of hits' captions (fresh captions each round: nothing cached)."""
    times = []
    for start in range(0, len(captions) - page + 1, page):
        t = time.perf_counter()
        embedder.embed_texts(captions[start:start + page])
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def similar_rows(searcher: Searcher, calibration, items, k: int, n: int = 200) -> list[tuple]:
    """"More like this" of `n` stored scenes: a hit is relevant when it shows the same objects (the evaluation's
    image-to-image groups)."""
    groups = scene_groups(items)
    rows = []
    for item in items[:n]:
        for hit in searcher.similar(item_id=item.id, k=k).hits:
            v = verdict(calibration, query="image", mode="vector", cosine=hit.cosine, bm25=None)
            rows.append((BANDS.index(v.band), v.level, hit.score, groups[hit.id] == groups[item.id], None))
    return rows


def table(rows: dict[str, list[tuple]]) -> list[dict]:
    out = []
    for mode, data in rows.items():
        band, level, fused, relevant, caption = (list(column) for column in zip(*data))
        line = {"mode": mode, "hits": len(data), "relevant": round(float(np.mean(relevant)), 3),
                "auroc_band": round(auroc(band, relevant), 3), "auroc_calibrated": round(auroc(level, relevant), 3),
                "auroc_fused": round(auroc(fused, relevant), 3),
                "auroc_caption_cosine": None if None in caption else round(auroc(caption, relevant), 3)}
        for i, name in enumerate(BANDS):
            inside = [r for b, r in zip(band, relevant) if b == i]
            line[f"{name}: n"] = len(inside)
            line[f"{name}: relevant"] = round(float(np.mean(inside)), 3) if inside else None
        out.append(line)
    return out


def probes(searcher: Searcher, calibration, caption: str) -> list[dict]:
    """The top hit's band for queries that should match nothing, and for a stored caption asked verbatim."""
    out = []
    for text in (*NONSENSE, caption):
        for mode in ("vector", "hybrid", "text"):
            result = searcher.search(text, mode, 0.5, 1)
            v = text_verdict(searcher, calibration, result, result.hits[0]) if result.hits else None
            out.append({"query": text[:40], "mode": mode, "band": v.band if v else "(no hit)",
                        "evidence": v.evidence if v else ""})
    size = 224
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    pictures = {"gradient": Image.fromarray(np.stack([np.tile(ramp, (size, 1))] * 3, axis=-1)),
                "noise": Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))}
    for name, picture in pictures.items():
        hit = searcher.similar(picture, k=1).hits[0]
        v = verdict(calibration, query="image", mode="vector", cosine=hit.cosine, bm25=None)
        out.append({"query": f"[{name} picture]", "mode": "image", "band": v.band, "evidence": v.evidence})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--caption-cost", action="store_true",
                        help="only time embedding a page of 24 captions: the bundled model, a random ViT-B/32")
    args = parser.parse_args()
    started = time.perf_counter()
    store = Store(Settings.from_env(store_dir=args.store or Path(tempfile.mkdtemp()) / "store"))
    embedder = Embedder(DEMO_MODEL, batch_size=128)
    build_demo_collection(store, count=args.n, embedder=embedder)
    collection = store.open(DEMO_COLLECTION)
    if args.caption_cost:
        from tests.multilingual_fixtures import build_vitb32

        captions = [item.caption for item in collection.page(0, 24 * 11)]
        embedder.embed_texts(captions[:4])  # the first call loads the text tower
        print(f"{DEMO_MODEL}: {caption_cost(embedder, captions):.1f} ms per page of 24 captions")
        vitb32 = Embedder(str(build_vitb32(Path(tempfile.mkdtemp()) / "vit-b-32")))
        vitb32.embed_texts(captions[:4])
        print(f"ViT-B/32 (random): {caption_cost(vitb32, captions):.1f} ms per page of 24 captions")
        return
    searcher = Searcher(collection, embedder)
    t = time.perf_counter()
    calibration = calibrate(collection, embedder)
    print(f"calibration: {time.perf_counter() - t:.1f} s, {calibration.sampled} items "
          f"({calibration.captioned} captioned)\n text  {calibration.text}\n image {calibration.image}")
    items = collection.all_items()
    query_set = queries_from_scenes(items)
    print(f"{collection.count():,} items, {len(query_set.queries)} judged queries, top {args.k} hits each\n")
    results = {"calibration": {"text": vars(calibration.text), "image": vars(calibration.image)},
               "auroc": table({**judged_rows(searcher, calibration, query_set, args.k),
                               "more like this": similar_rows(searcher, calibration, items, args.k)}),
               "probes": probes(searcher, calibration, items[0].caption)}
    for section in ("auroc", "probes"):
        rows = results[section]
        print(" | ".join(rows[0]))
        for row in rows:
            print(" | ".join(str(v) for v in row.values()))
        print()
    print(f"{time.perf_counter() - started:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
