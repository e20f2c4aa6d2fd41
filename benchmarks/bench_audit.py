"""How well the caption audit (imgsearch_core.evaluation.caption_audit) finds captions that do not describe their
picture, and what it costs.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_audit.py [--n 2000] [--share 0.05] [--seed 0] [--store DIR]
     [--hard] [--vitb32] [--json FILE]

The demo's held-out generated scenes (bundled imgsearch-mini) in a collection `audit-bench`; the captions of
`--share` of the items (seeded) are rotated among themselves, so each of them carries another scene's caption.
For every statistic: AUROC of the raw statistic and of the calibrated score (swapped = positive), precision in
the top 100, the estimated share of wrong captions, how many items score > 0.9 and how many of those are
swapped, and the time per 1,000 items (total and the caption embedding alone). Then one full audit with the
default statistic, scores written, timed. The captions are put back afterwards, so `--store` can be reused.
`--hard`: the captions are exchanged within pairs of scenes of the same colours (other shapes or positions).
`--vitb32`: the cost of the caption embedding and the comparisons with a randomly initialised ViT-B/32 (the
default model's architecture; its figures say nothing about quality).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import build_scene_collection
from imgsearch_core.evaluation.caption_audit import (DEFAULT_STATISTIC, PAGE, REFERENCE, STATISTICS, _page_statistic,
                                                     _Reference, audit_collection, auroc, score_collection)
from imgsearch_core.models.embed import Embedder
from imgsearch_core.store.store import Store

NAME = "audit-bench"
TOP = 100


def hard_pairs(items: list, count: int, rng: np.random.Generator) -> list:
    """`count` items in pairs of the same colours but other objects (a swap keeps every colour word right)."""
    by_colours: dict[str, list] = {}
    for n in rng.permutation(len(items)):
        by_colours.setdefault(items[n].metadata["colours"], []).append(items[n])
    chosen: list = []
    for group in by_colours.values():
        while len(group) >= 2 and len(chosen) < count:
            first = group.pop()
            partner = next((g for g in group if g.metadata["objects"] != first.metadata["objects"]), None)
            if partner is None:
                break
            group.remove(partner)
            chosen += [first, partner]
    return chosen


def swap(collection, share: float, seed: int, hard: bool) -> tuple[set[str], list[tuple[str, str, dict]]]:
    """Rotate the captions of a seeded `share` of the items (`hard`: exchange them within pairs of the same
    colours); returns the swapped ids and the updates undoing it."""
    items = collection.all_items()
    count = max(2, round(share * len(items)))
    rng = np.random.default_rng(seed)
    if hard:
        chosen = hard_pairs(items, count - count % 2, rng)
        partner = [chosen[n + 1 if n % 2 == 0 else n - 1] for n in range(len(chosen))]
    else:
        chosen = [items[i] for i in rng.choice(len(items), count, replace=False)]
        partner = [chosen[(n + 1) % count] for n in range(count)]
    collection.update_items([(item.id, other.caption, {"caption_from": "swapped (bench)"})
                             for item, other in zip(chosen, partner)])
    undo = [(item.id, item.caption, {"caption_from": item.metadata.get("caption_from")}) for item in chosen]
    return {item.id for item in chosen}, undo


def measure(collection, embedder, swapped: set[str], statistic: str, seed: int) -> dict:
    run = score_collection(collection, embedder, statistic=statistic, seed=seed)
    positive = np.array([i in swapped for i in run.ids])
    top = np.argsort(-run.order, kind="stable")[:TOP]
    flagged = run.suspicion > 0.9
    per_k = 1000 / len(run.ids)
    return {"statistic": statistic, "items": len(run.ids), "auroc_statistic": auroc(run.statistic, positive),
            "auroc_score": auroc(run.suspicion, positive), f"precision@{TOP}": float(positive[top].mean()),
            "estimated_share": run.wrong_share, "flagged_over_0.9": int(flagged.sum()),
            "swapped_among_flagged": int((flagged & positive).sum()),
            "seconds_per_1k": run.seconds * per_k, "embed_seconds_per_1k": run.embed_seconds * per_k}


def vitb32_cost(captions: list[str]) -> dict:
    """Caption embedding and comparison cost of one page with the ViT-B/32 architecture (random weights)."""
    from tests.multilingual_fixtures import build_vitb32

    embedder = Embedder(str(build_vitb32(Path(tempfile.mkdtemp()) / "vit-b-32")))
    embedder.embed_texts(captions[:8])  # warm up (session creation)
    page = captions[:PAGE]
    start = time.perf_counter()
    texts = embedder.embed_texts(page)
    embed = time.perf_counter() - start
    rng = np.random.default_rng(0)
    unit = lambda a: (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    ref = _Reference({}, unit(rng.normal(size=(REFERENCE, texts.shape[1]))), unit(rng.normal(size=(REFERENCE, texts.shape[1]))))
    start = time.perf_counter()
    _page_statistic(STATISTICS[DEFAULT_STATISTIC], texts, unit(rng.normal(size=texts.shape)), [str(i) for i in range(len(page))],
                    ref, rng)
    compare = time.perf_counter() - start
    per_k = 1000 / len(page)
    return {"model": "random ViT-B/32", "backend": embedder.backend, "dim": int(texts.shape[1]), "page": len(page),
            "embed_seconds_per_1k": embed * per_k, "compare_seconds_per_1k": compare * per_k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store")
    parser.add_argument("--hard", action="store_true", help="swap within pairs of scenes of the same colours")
    parser.add_argument("--vitb32", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    store = Store(Settings.from_env(store_dir=Path(args.store or tempfile.mkdtemp()) / "store"))
    embedder = Embedder(DEMO_MODEL)
    start = time.perf_counter()
    build_scene_collection(store, NAME, embedder, args.n)
    print(f"collection of {args.n} scenes ready in {time.perf_counter() - start:.1f} s")
    collection = store.open(NAME)
    swapped, undo = swap(collection, args.share, args.seed, args.hard)
    try:
        rows = [measure(collection, embedder, swapped, name, args.seed) for name in STATISTICS]
        start = time.perf_counter()
        report = audit_collection(collection, embedder, top=TOP, seed=args.seed)
        full = {"seconds_per_1k": (time.perf_counter() - start) * 1000 / report.scored,
                f"swapped_in_top{TOP}": sum(s.id in swapped for s in report.top)}
        captions = [i.caption for i in collection.all_items()]
    finally:
        collection.update_items(undo)
    print(f"{len(swapped)} of {collection.count()} captions swapped (seed {args.seed}{', same colours' if args.hard else ''})")
    print(f"| statistic | AUROC statistic | AUROC score | precision@{TOP} | est. share | > 0.9 (swapped) | s / 1k | embed s / 1k |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['statistic']} | {r['auroc_statistic']:.4f} | {r['auroc_score']:.4f} | {r[f'precision@{TOP}']:.2f} | "
              f"{r['estimated_share']:.3f} | {r['flagged_over_0.9']} ({r['swapped_among_flagged']}) | "
              f"{r['seconds_per_1k']:.2f} | {r['embed_seconds_per_1k']:.2f} |")
    print(f"full audit ({DEFAULT_STATISTIC}, scores written): {full['seconds_per_1k']:.2f} s per 1k items, "
          f"{full[f'swapped_in_top{TOP}']} swapped in its top {TOP}")
    document = {"n": args.n, "swapped": len(swapped), "seed": args.seed, "hard": args.hard, "rows": rows,
                "full_audit": full}
    if args.vitb32:
        document["vitb32"] = cost = vitb32_cost(captions)
        print(f"random ViT-B/32 ({cost['backend']}): caption embedding {cost['embed_seconds_per_1k']:.1f} s per 1k, "
              f"comparisons against {REFERENCE} references {cost['compare_seconds_per_1k']:.2f} s per 1k")
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
