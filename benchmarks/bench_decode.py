"""Decode benchmark: a 12 MP photo-like JPEG decoded and resized to 224 px (short side, bicubic, as the
CLIP preprocessor does), plain Pillow vs decode_image's draft path, measured in one run.

Run:  PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/bench_decode.py [--runs 15] [--width 4000] [--height 3000]

"plain" is Image.open + convert("RGB") + resize; "decode_image" adds everything the project needs
(header checks, EXIF orientation, mode handling) and decodes through Image.draft. Runs are
interleaved so load from other processes hits both alike. Only figures are printed.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgsearch_core.images import decode_image, media_rendition  # noqa: E402

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


def to_224(image: Image.Image) -> Image.Image:
    scale = TARGET / min(image.size)
    size = (max(TARGET, round(image.width * scale)), max(TARGET, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def plain(data: bytes) -> Image.Image:
    return to_224(Image.open(io.BytesIO(data)).convert("RGB"))


def drafted(data: bytes, min_side: int | None) -> Image.Image:
    return to_224(decode_image(data, min_side=min_side).image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args()

    data = photo_like_jpeg(args.width, args.height)
    cases = {
        "plain Pillow (open, RGB, resize)": plain,
        "decode_image(min_side=224) + resize": lambda d: drafted(d, 224),
        "decode_image(min_side=448) + resize (default)": lambda d: drafted(d, 448),
        "decode_image(min_side=None) + resize": lambda d: drafted(d, None),
    }
    sizes = {name: fn(data).size for name, fn in cases.items()}  # warm-up, and a check they agree
    assert len(set(sizes.values())) == 1, sizes
    times: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(args.runs):
        order = list(cases) if run % 2 == 0 else list(reversed(cases))
        for name in order:
            start = time.perf_counter()
            cases[name](data)
            times[name].append((time.perf_counter() - start) * 1000)
    decoded = decode_image(data)
    rendition_ms = []
    for _ in range(max(3, args.runs // 3)):
        start = time.perf_counter()
        media, _ = media_rendition(data, decoded)
        rendition_ms.append((time.perf_counter() - start) * 1000)

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["plain Pillow (open, RGB, resize)"]
    print(f"image: {args.width}x{args.height} JPEG q90, {len(data) / 2**20:.2f} MiB; output {sizes[next(iter(sizes))]}; "
          f"{args.runs} interleaved runs; median ms")
    for name, median in medians.items():
        print(f"  {name:48s} {median:8.1f} ms   (min {min(times[name]):6.1f})   plain/this = {base / median:4.2f}x")
    print(f"  {'media_rendition (full decode, 2048 px JPEG q90)':48s} {statistics.median(rendition_ms):8.1f} ms   "
          f"({len(media) / 2**10:.0f} KiB)")


if __name__ == "__main__":
    main()
