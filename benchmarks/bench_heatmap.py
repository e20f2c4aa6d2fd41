"""The pointing game for region heatmaps (issue 23 item 1): held-out two- and three-object demo scenes, each
queried with one of its objects ("a red circle", or a picture of that object alone); a map scores when its peak
lies inside the box of an object of that colour and shape. Also the random baseline (the share of the picture
those boxes cover) and the wall time per map.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_heatmap.py --scenes 500 [--model vitb32] [--query image]
        [--method occlude|crop|combined] [--cells 6] [--window 2] [--threads 2] [--agreement]

Scenes come from the test split's stream with the object count forced (never the training split), so none
was trained on. ``--model vitb32`` builds a random-weights CLIP of the ViT-B/32 architecture here (the cost
of the real default model; its pointing figure means nothing).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imgsearch_core.scenes.render import Box, render, render_with_boxes  # noqa: E402
from imgsearch_core.scenes.scenes import Obj, Scene, scene_at  # noqa: E402
from imgsearch_core.search.heatmap import DEFAULT_CELLS, DEFAULT_METHOD, DEFAULT_WINDOW, explain  # noqa: E402


def pointing_cases(n: int, seed: int = 0):
    """(picture, boxes of the queried kind, queried object) for n held-out scenes, two and three objects alternately."""
    rng = np.random.default_rng([seed, 23])
    for i in range(n):
        scene = scene_at("test", 100_000 + i, seed, n_objects=2 + i % 2)
        image, boxes = render_with_boxes(scene)
        target = scene.objects[int(rng.integers(len(scene.objects)))]
        yield image, [b for o, b in zip(scene.objects, boxes) if o.key() == target.key()], target


def inside(point: tuple[int, int], boxes: list[Box]) -> bool:
    x, y = point
    return any(left <= x + 0.5 <= right and top <= y + 0.5 <= bottom for left, top, right, bottom in boxes)


def area_share(boxes: list[Box], size: int) -> float:
    mask = np.zeros((size, size), bool)
    for left, top, right, bottom in boxes:
        mask[int(top):int(np.ceil(bottom)), int(left):int(np.ceil(right))] = True
    return float(mask.mean())


def query_picture(obj: Obj):
    """The queried object alone, large and centred on a plain background (an image query)."""
    return render(Scene((Obj(obj.colour, obj.shape, "large", "centre"),), "plain", (7, sum(map(ord, obj.key())))))


def run(embedder, n: int, query_kind: str, method: str, cells: int, window: int) -> dict:
    hits, baseline, times = 0, [], []
    for image, boxes, obj in pointing_cases(n):
        start = time.perf_counter()
        if query_kind == "text":
            vector = embedder.embed_texts([f"a {obj.colour} {obj.shape}"])[0]
        else:
            vector = embedder.embed_images([query_picture(obj)])[0]
        heatmap = explain(embedder, image, vector, method=method, cells=cells, window=window)
        times.append((time.perf_counter() - start) * 1000)
        hits += inside(heatmap.peak, boxes)
        baseline.append(area_share(boxes, image.size[0]))
    return {"maps": n, "inside": hits / n, "baseline": float(np.mean(baseline)),
            "ms_per_map": float(np.median(times[1:] if n > 1 else times))}


def backend_agreement(model: str, n: int, method: str, cells: int, window: int) -> dict:
    """Pearson correlation of the same maps on torch and on ONNX fp32 (and int8), and how often their peaks agree."""
    embedders = {backend: build_embedder(model, backend) for backend in ("torch", "onnx", "onnx-int8")}
    rows: dict[str, list] = {backend: [] for backend in embedders if backend != "torch"}
    for image, _, obj in pointing_cases(n):
        maps = {backend: explain(e, image, e.embed_texts([f"a {obj.colour} {obj.shape}"])[0], method=method,
                                 cells=cells, window=window) for backend, e in embedders.items()}
        for backend in rows:
            r = float(np.corrcoef(maps["torch"].values.ravel(), maps[backend].values.ravel())[0, 1])
            rows[backend].append((r, maps["torch"].peak_cell == maps[backend].peak_cell))
    return {backend: {"median_r": float(np.median([r for r, _ in v])), "min_r": float(min(r for r, _ in v)),
                      "same_peak": float(np.mean([same for _, same in v]))} for backend, v in rows.items()}


def build_embedder(model: str, backend: str | None):
    from imgsearch_core.config import DEMO_MODEL
    from imgsearch_core.models.embed import Embedder

    if model == "vitb32":
        from tests.multilingual_fixtures import build_vitb32

        model = str(build_vitb32(Path(tempfile.mkdtemp(prefix="bench-vitb32-"))))
    return Embedder(DEMO_MODEL if model == "mini" else model, backend=backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=500)
    parser.add_argument("--model", default="mini", help="mini (bundled imgsearch-mini), vitb32 (random), or a path")
    parser.add_argument("--backend", help="torch, onnx or onnx-int8 (default: the embedder's auto)")
    parser.add_argument("--query", choices=("text", "image"), default="text")
    parser.add_argument("--method", default=DEFAULT_METHOD)
    parser.add_argument("--cells", type=int, default=DEFAULT_CELLS)
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--agreement", action="store_true", help="compare the maps of torch, ONNX fp32 and int8")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.agreement:
        for backend, row in backend_agreement(args.model, args.scenes, args.method, args.cells, args.window).items():
            print(f"| {args.model} | torch vs {backend} | {args.scenes} | {row['median_r']:.4f} | {row['min_r']:.4f} | "
                  f"{row['same_peak']:.3f} |", flush=True)
        return
    embedder = build_embedder(args.model, args.backend)
    row = run(embedder, args.scenes, args.query, args.method, args.cells, args.window)
    print(f"| {args.method} {args.cells}x{args.cells}, window {args.window} | {args.model} ({embedder.backend}) | "
          f"{args.query} | {row['maps']} | {row['inside']:.3f} | {row['baseline']:.3f} | {row['ms_per_map']:.0f} |",
          flush=True)


if __name__ == "__main__":
    main()
