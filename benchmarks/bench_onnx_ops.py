"""Where one image's time goes inside the ONNX visual tower: time per operator type, and the int8 GEMM rate.

Run:
  PYTHONPATH=. .venv/bin/python benchmarks/bench_onnx_ops.py --model DIR [--runs 10] [--variants fp32,int8]

DIR is a CLIP model folder whose ONNX export exists (e.g. the random ViT-B/32 that bench_cli.py builds; the
export is found by the model's fingerprint). Each variant's visual graph runs one row at a time on a
one-thread session (how ingest runs it: one such session per core) under ONNX Runtime's profiler; the
kernel times are summed by operator type. The matrix-product work of one image is counted from the model's
config (patch embedding, and per layer and token the q/k/v/out projections and the two MLP products;
attention's own products are left out, as they are a few percent), so the printed GMAC/s and MAC/cycle
show how close the GEMM kernels run to the CPU's limit: on AVX2 without VNNI, ONNX Runtime's u8s8 kernel
multiplies with vpmaddubsw + vpmaddwd. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from imgsearch_core.models.backends import layout
from imgsearch_core.fingerprint import model_fingerprint

GEMM_OPS = {"MatMul", "FusedMatMul", "Gemm", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger",
            "QLinearMatMul", "Conv"}


def image_macs(config: dict) -> float:
    """Multiply-accumulates of the projections and MLPs of one image (attention products left out)."""
    vision = config.get("vision_config", config)
    width, mlp, layers = vision["hidden_size"], vision["intermediate_size"], vision["num_hidden_layers"]
    patch, side = vision["patch_size"], vision["image_size"]
    patches = (side // patch) ** 2
    tokens = patches + 1
    per_layer = tokens * (4 * width * width + 2 * width * mlp)
    return float(layers * per_layer + patches * 3 * patch * patch * width)


def cpu_mhz() -> float:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1])
    return float("nan")


def profile(graph: Path, side: int, runs: int) -> tuple[float, dict[str, float]]:
    """Median wall ms of one row, and kernel ms per operator type per row."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ops")
    session = ort.InferenceSession(str(graph), sess_options=options, providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).standard_normal((1, 3, side, side)).astype(np.float32)
    for _ in range(3):
        session.run(None, {"pixel_values": pixels})
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, {"pixel_values": pixels})
        walls.append((time.perf_counter() - started) * 1000)
    events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / 1000 / (runs + 3)
    return float(np.median(walls)), dict(per_op)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--variants", default="fp32,int8")
    args = parser.parse_args()
    model = Path(args.model)
    export = layout.find_export(model, model_fingerprint(model))
    if export is None:
        raise SystemExit(f"No valid ONNX export of {model}: run a search or ingest with it first")
    config = json.loads((model / "config.json").read_text())
    side = int(config.get("vision_config", config)["image_size"])
    macs, mhz = image_macs(config), cpu_mhz()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"matrix products of one image: {macs / 1e9:.2f} GMAC; CPU at {mhz:.0f} MHz; {os.cpu_count()} cores")
    for variant in args.variants.split(","):
        visual, _ = export.files(variant)
        wall, per_op = profile(visual, side, args.runs)
        total = sum(per_op.values())
        gemm = sum(v for k, v in per_op.items() if k in GEMM_OPS)
        rate = macs / (gemm / 1000)
        print(f"\n{variant}: one row {wall:.1f} ms wall (median of {args.runs}), kernels {total:.1f} ms, "
              f"matrix products {gemm:.1f} ms = {rate / 1e9:.1f} GMAC/s = {rate / (mhz * 1e6):.1f} MAC/cycle")
        print(f"  bound for 2 one-thread rows at once, matrix products only: {2000 / gemm:.1f} img/s; "
              f"all kernels: {2000 / total:.1f} img/s")
        for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {op:28s} {ms:7.2f} ms  {ms / total * 100:5.1f}%")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
