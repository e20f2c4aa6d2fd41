"""Decode benchmark: what one file costs before it reaches the embedder, old ingest path against new.

Run:  PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/bench_decode.py [--runs 9] [--width 4000] [--height 3000]
          [--scan-side 7000]

For a photo-like 12 MP JPEG (and a 49 MP PNG scan):
  * plain Pillow: Image.open + convert("RGB") + resize to 224 px (short side, bicubic, as CLIP's processor);
  * decode_image(min_side=448): the embedding draft alone (what search queries use);
  * old ingest: that draft, then a second, full-resolution decode for the media copy, resized to a
    2048 px JPEG (the pipeline before decode_for_ingest);
  * new ingest: decode_for_ingest: one draft to a long side >= 960 px (DRAFT_SLACK), the <= 1024 px
    media JPEG and the model input from it;
  * new ingest, DRAFT_SLACK = 1: the smallest DCT scale with a long side >= 1024 exactly (for a
    4000 x 3000 photo: 1/2 plus a bicubic 2000 -> 1024 resize), the reason for the slack.
Wall-clock medians and the CPU time of the decoding thread (RUSAGE_THREAD: what the work costs when
other processes share the cores); runs are interleaved. Only figures are printed.
"""
from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgsearch_core.ingest import decode as ingest_decode  # noqa: E402
from imgsearch_core.media.images import decode_image  # noqa: E402
from imgsearch_core.ingest.decode import decode_for_ingest  # noqa: E402

TARGET = 224


def photo_like_jpeg(width: int, height: int, quality: int = 90, seed: int = 0) -> bytes:
    """Smooth colour blobs plus sensor-like noise, so the JPEG has a photograph's entropy."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (max(2, height // 100), max(2, width // 100), 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = np.clip(smooth + rng.normal(0, 8, (height, width, 1)).astype(np.int16), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(noisy).save(out, "JPEG", quality=quality)
    return out.getvalue()


def scan_png(side: int) -> bytes:
    """Gradients with a band of noise: a large scan that compresses to a few MB."""
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    rgb = np.stack([np.broadcast_to(ramp[None, :], (side, side)), np.broadcast_to(ramp[:, None], (side, side)),
                    np.full((side, side), 90, np.float32)], axis=-1).astype(np.uint8)
    rgb[side // 3 : side // 3 + side // 20] = np.random.default_rng(1).integers(0, 256, (side // 20, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()


def to_224(image: Image.Image) -> Image.Image:
    scale = TARGET / min(image.size)
    size = (max(TARGET, round(image.width * scale)), max(TARGET, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def plain(data: bytes) -> object:
    return to_224(Image.open(io.BytesIO(data)).convert("RGB"))


def old_ingest(data: bytes) -> object:
    """The pipeline before: embedding draft, then a full decode fitted to 2048 px for the media copy."""
    decoded = decode_image(data)
    full = decode_image(data, min_side=None).image if decoded.reduced else decoded.image
    if max(full.size) > 2048:
        scale = 2048 / max(full.size)
        full = full.resize((round(full.width * scale), round(full.height * scale)), Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    full.save(out, "JPEG", quality=90)
    return decoded.image, out.getvalue()


def new_ingest(data: bytes) -> object:
    return decode_for_ingest(data)


def new_ingest_no_slack(data: bytes) -> object:
    saved = ingest_decode.DRAFT_SLACK
    ingest_decode.DRAFT_SLACK = 1.0
    try:
        return decode_for_ingest(data)
    finally:
        ingest_decode.DRAFT_SLACK = saved


def thread_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, data: bytes, cases: dict, runs: int) -> None:
    for fn in cases.values():
        fn(data)  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(runs):
        order = list(cases) if run % 2 == 0 else list(reversed(cases))
        for name in order:
            start, start_cpu = time.perf_counter(), thread_cpu()
            cases[name](data)
            wall[name].append((time.perf_counter() - start) * 1000)
            cpu[name].append((thread_cpu() - start_cpu) * 1000)
    print(f"{label}, {len(data) / 2**20:.2f} MiB; {runs} interleaved runs; median ms")
    base = statistics.median(cpu[next(iter(cases))])
    for name in cases:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {name:52s} wall {w:7.1f}  CPU {c:7.1f}  (first/this CPU {base / c:4.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--scan-side", type=int, default=7000)
    args = parser.parse_args()

    photo = photo_like_jpeg(args.width, args.height)
    new = decode_for_ingest(photo)
    print(f"new ingest of the {args.width}x{args.height} JPEG: working picture {new.decoded.image.size}, media "
          f"{Image.open(io.BytesIO(new.media)).size} ({len(new.media) / 2**10:.0f} KiB), model input {new.model_input.size}")
    measure(f"{args.width}x{args.height} JPEG q90", photo, {
        "old ingest (draft 448 + full decode -> 2048 JPEG)": old_ingest,
        "plain Pillow (open, RGB, resize 224)": plain,
        "decode_image(min_side=448) (embedding draft only)": lambda d: decode_image(d),
        "new ingest: decode_for_ingest": new_ingest,
        "new ingest with DRAFT_SLACK = 1 (>= 1024 exactly)": new_ingest_no_slack,
    }, args.runs)
    scan = scan_png(args.scan_side)
    measure(f"{args.scan_side}x{args.scan_side} PNG scan", scan, {
        "old ingest (full decode, kept, -> 2048 JPEG)": old_ingest,
        "new ingest: decode_for_ingest (reduce after load)": new_ingest,
    }, max(3, args.runs // 3))


if __name__ == "__main__":
    main()
