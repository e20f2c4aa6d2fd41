"""torch fp32 vs ONNX Runtime fp32 vs ONNX int8 on the ViT-B/32 architecture, on the same inputs, in one run.

Run:
  PYTHONPATH=. .venv/bin/python benchmarks/bench_backends.py [--rounds 8] [--queries 40] [--variants]
      [--model DIR] [--json FILE]

Figures (printed, never asserted):
  - image embedding at batch 32 (PIL 640x480 photo-like images in, unit vectors out: preprocessing
    included), img/s from the median and the 95th-percentile batch time;
  - text-query latency, one query at a time (tokenise + encode), median and p95;
  - export and int8 quantisation time, disk size of each graph, the collection gate's run time;
  - fidelity: mean cosine int8 vs fp32 (images, texts) and top-10 overlap, on the gate's calibration set and
    on the collection gate's generated collection (--gate-items, default 2,000 scenes); what `auto` chooses.
Backends: the defaults (images one row per call from a pool of one-thread runs, batch-invariant) and, for
comparison, one two-thread call per batch (fp32: exact too; int8: not batch-invariant) and int8 rows run one
after another on a two-thread session (the previous default).
The backends are timed in interleaved rounds (torch, onnx, int8, torch, ...), so load from other processes
falls on all of them alike; `uptime` is printed before and after. `--variants` also measures the four
dynamic-quantisation settings (per_channel x reduce_range, MatMul weights only) for fidelity and speed, on
this architecture and on the trained imgsearch-mini (random weights crowd the scores; a trained model does not).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from imgsearch_core.models.backends import export as exporter  # noqa: E402
from imgsearch_core.models.backends import layout  # noqa: E402
from imgsearch_core.models.backends.collection_gate import settle  # noqa: E402
from imgsearch_core.models.backends.gate import calibration_set, fidelity_gate, gradient_image  # noqa: E402
from imgsearch_core.models.backends.onnx_clip import OnnxClip  # noqa: E402
from imgsearch_core.config import BUNDLED_MODELS_DIR  # noqa: E402
from imgsearch_core.models.embed import Embedder  # noqa: E402
from imgsearch_core.fingerprint import model_fingerprint  # noqa: E402

QUERIES = ["red harbour at dawn", "a portrait of a woman in a blue coat", "mountain road in the snow",
           "two boats", "city street at night with neon signs and wet asphalt", "green circle"]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def build_vitb32(directory: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel

    from imgsearch_core.models.clip_factory import clip_processor, save_clip, train_clip_tokenizer
    from tests.helpers import CAPTION_WORDS

    torch.manual_seed(1234)
    tokenizer = train_clip_tokenizer([" ".join(CAPTION_WORDS)] * 3, vocab_size=300, max_length=77)
    return save_clip(CLIPModel(CLIPConfig()).eval(), clip_processor(tokenizer, 224), directory)


def percentile_pair(seconds: list[float]) -> tuple[float, float]:
    return float(np.median(seconds)), float(np.percentile(seconds, 95))


def time_backends(encoders: dict, images, rounds: int, n_queries: int) -> dict:
    """Interleaved rounds: one batch of images per backend per round, then single-query latencies."""
    batch_times = {name: [] for name in encoders}
    for enc in encoders.values():  # warm-up (first ORT runs allocate; torch builds its kernels)
        enc.embed_images(images[:4])
        enc.embed_texts(["warm up"])
    for _ in range(rounds):
        for name, enc in encoders.items():
            started = time.perf_counter()
            enc.embed_images(images)
            batch_times[name].append(time.perf_counter() - started)
    query_times = {name: [] for name in encoders}
    for i in range(n_queries):
        query = QUERIES[i % len(QUERIES)]
        for name, enc in encoders.items():
            started = time.perf_counter()
            enc.embed_texts([query])
            query_times[name].append(time.perf_counter() - started)
    out = {}
    for name in encoders:
        med, p95 = percentile_pair(batch_times[name])
        qmed, qp95 = percentile_pair(query_times[name])
        out[name] = {"img_s_median": len(images) / med, "img_s_p95": len(images) / p95,
                     "query_ms_median": 1000 * qmed, "query_ms_p95": 1000 * qp95}
    return out


def crowding(encoder) -> dict:
    """How far apart a query's image scores are: per-query std of the cosines and the gap between the 10th
    and 11th best image, against the int8 noise (1 - cosine) that can reorder them."""
    images, texts = calibration_set()
    scores = encoder.embed_texts(texts) @ encoder.embed_images(images).T
    ordered = -np.sort(-scores, axis=1)
    return {"score_std": round(float(np.mean(np.std(scores, axis=1))), 5),
            "gap_10_11": round(float(np.mean(ordered[:, 9] - ordered[:, 10])), 5)}


def quantisation_variants(export: layout.Export, images, texts, speed_images, rounds: int) -> list[dict]:
    """Fidelity of each setting against fp32, then their speed in interleaved rounds (fair under load)."""
    rows, candidates, works = [], {}, []
    fp32 = OnnxClip(export, "fp32")
    try:
        for per_channel in (True, False):
            for reduce_range in (False, True):
                settings = {**exporter.QUANTIZATION, "per_channel": per_channel, "reduce_range": reduce_range}
                work = Path(tempfile.mkdtemp(prefix="quant-"))
                works.append(work)
                for name in ("tokenizer.json", "visual.onnx", "text.onnx"):
                    os.symlink(export.directory / name, work / name)
                started = time.perf_counter()
                for src, dst in zip(layout.VARIANTS["fp32"], layout.VARIANTS["int8"]):
                    exporter.quantize_int8(export.directory / src, work / dst, settings)
                seconds = time.perf_counter() - started
                candidate = OnnxClip(layout.Export(work, export.manifest), "int8")
                gate = fidelity_gate(fp32, candidate, images, texts)
                key = f"pc={per_channel} rr={reduce_range}"
                candidates[key] = candidate
                rows.append({"key": key, "per_channel": per_channel, "reduce_range": reduce_range,
                             "quantize_s": seconds, **gate.as_dict()})
        if speed_images:
            speed = time_backends(candidates, speed_images, rounds, 5)
            for row in rows:
                row.update(speed[row["key"]])
    finally:
        for work in works:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--model", help="a CLIP model directory (default: a seeded random ViT-B/32)")
    parser.add_argument("--gate-items", type=int, default=2000, help="size of the collection gate's collection")
    parser.add_argument("--json", help="write the figures here as JSON")
    args = parser.parse_args()

    report: dict = {"uptime_before": uptime(), "cpus": os.cpu_count()}
    print(report["uptime_before"], flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    try:
        model_dir = Path(args.model) if args.model else build_vitb32(tmp / "vit-b-32")
        torch_embedder = Embedder(str(model_dir), backend="torch", batch_size=args.batch)
        os.environ["IMGSEARCH_ONNX_CACHE"] = str(tmp / "onnx-cache")
        work_dir = shutil.copytree(model_dir, tmp / "export-copy", ignore=shutil.ignore_patterns(".onnx"))
        started = time.perf_counter()
        export = exporter.export_model(torch_embedder._model, work_dir, model_fingerprint(work_dir))
        report["export_total_s"] = time.perf_counter() - started
        export = settle(export, args.gate_items)  # `auto` runs it when an ingest first wants int8
        manifest = export.manifest
        report.update({k: manifest.get(k) for k in ("export_seconds", "quantize_seconds", "bytes", "gate",
                                                     "collection_gate")})
        print(f"export {manifest['export_seconds']} s, quantise {manifest['quantize_seconds']} s, "
              f"all with checks and the small gate {report['export_total_s']:.1f} s; sizes (MB): "
              + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in manifest["bytes"].items()), flush=True)
        print(f"gate (48 images, 40 texts): {manifest['gate']}", flush=True)
        print(f"collection gate ({args.gate_items} scenes): {manifest.get('collection_gate')}", flush=True)
        report["crowding"] = crowding(OnnxClip(export, "fp32"))
        print(f"score crowding (fp32): {report['crowding']}", flush=True)

        rng = np.random.default_rng(0)
        images = [gradient_image(rng, 640, 480) for _ in range(args.batch)]
        auto = Embedder(str(work_dir), backend="auto", batch_size=args.batch)
        report["auto"] = auto.backend
        print(f"auto chooses: {auto.backend}", flush=True)
        encoders = {
            "torch fp32": torch_embedder,
            "onnx fp32 (rows, pool of 1-thread runs)": Embedder(str(work_dir), backend="onnx", batch_size=args.batch),
            "onnx fp32, one 2-thread call per batch": OnnxClip(export, "fp32", row_wise=False),
            "onnx int8 (rows, pool of 1-thread runs)": Embedder(str(work_dir), backend="onnx-int8",
                                                                batch_size=args.batch),
            "onnx int8, rows one after another, 2 threads": OnnxClip(export, "int8", workers=1),
            "onnx int8, one call per batch (not batch-invariant)": OnnxClip(export, "int8", row_wise=False),
        }
        report["speed"] = time_backends(encoders, images, args.rounds, args.queries)
        base = report["speed"]["torch fp32"]["img_s_median"]
        print(f"\n| backend | img/s median (batch {args.batch}) | img/s at p95 batch time | x torch | "
              "query median ms | query p95 ms |\n|---|---|---|---|---|---|")
        for name, row in report["speed"].items():
            print(f"| {name} | {row['img_s_median']:.1f} | {row['img_s_p95']:.1f} | {row['img_s_median'] / base:.2f} "
                  f"| {row['query_ms_median']:.1f} | {row['query_ms_p95']:.1f} |", flush=True)

        if args.variants:
            cal_images, cal_texts = calibration_set()
            report["variants_vitb32"] = quantisation_variants(export, cal_images, cal_texts, images, max(3, args.rounds // 2))
            mini = shutil.copytree(BUNDLED_MODELS_DIR / "imgsearch-mini", tmp / "mini", ignore=shutil.ignore_patterns(".onnx"))
            mini_export = Embedder(str(mini), backend="onnx").export
            report["crowding_mini"] = crowding(OnnxClip(mini_export, "fp32"))
            print(f"score crowding imgsearch-mini (fp32): {report['crowding_mini']}", flush=True)
            report["variants_mini"] = quantisation_variants(mini_export, cal_images, cal_texts, None, 0)
            for key in ("variants_vitb32", "variants_mini"):
                print(f"\n{key}\n| per_channel | reduce_range | image cos | text cos | top-10 overlap | img/s | quantise s |"
                      "\n|---|---|---|---|---|---|---|")
                for row in report[key]:
                    print(f"| {row['per_channel']} | {row['reduce_range']} | {row['image_cosine']:.5f} | "
                          f"{row['text_cosine']:.5f} | {row['top_k_overlap']:.3f} | "
                          f"{row.get('img_s_median', float('nan')):.1f} | {row['quantize_s']:.1f} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["uptime_after"] = uptime()
    print("\n" + report["uptime_after"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
