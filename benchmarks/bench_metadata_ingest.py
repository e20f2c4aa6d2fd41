"""What reading embedded IPTC/XMP/EXIF costs an ingest: the same JPEGs with and without it, in one run.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_metadata_ingest.py [--n 1000] [--runs 3] [--vit]
1,000 photo-like 640x480 JPEGs carry an IPTC caption, keywords, by-line and credit, an XMP description
and EXIF camera fields (written by exiftool in one call). Each run ingests them into a fresh store,
alternating with and without metadata reading so machine noise hits both alike; prints the median and
p95 ingest rate of each, the overhead, and the cost of reading metadata alone per file.
`--vit` adds one pair of runs with the ViT-B/32 architecture (randomly initialised, real compute).
"""
from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from imgsearch_core.config import BUNDLED_MODELS_DIR, DEMO_MODEL, Settings
from imgsearch_core.models.embed import Embedder
from imgsearch_core.media.embedded_metadata import read_embedded
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.store.store import Store


def photo(rng: np.random.Generator, index: int) -> bytes:
    """Smooth gradients, a few shapes and mild noise: JPEG sizes like real photos, unlike pure noise."""
    y, x = np.mgrid[0:480, 0:640]
    base = np.stack([(x * rng.uniform(0.1, 0.4) + index) % 256, (y * rng.uniform(0.1, 0.4)) % 256,
                     ((x + y) * rng.uniform(0.05, 0.2)) % 256], axis=-1)
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, 560)), int(rng.integers(0, 400))
        draw.ellipse([x0, y0, x0 + 80, y0 + 80], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def write_archive(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        (folder / f"{i:04d}.jpg").write_bytes(photo(rng, i))
    subprocess.run(
        ["exiftool", "-q", "-q", "-overwrite_original", "-codedcharacterset=utf8",
         "-IPTC:Caption-Abstract=Container ship leaving the harbour of Hamburg at dusk, cranes in the background",
         "-IPTC:Keywords=harbour", "-IPTC:Keywords=ship", "-IPTC:Keywords=Hamburg", "-IPTC:By-line=Jörg Müller",
         "-IPTC:Credit=Reuters", "-IPTC:DateCreated=2024:05:17", "-IPTC:City=Hamburg",
         "-XMP-dc:Description=Container ship leaving the harbour", "-XMP-photoshop:Credit=Reuters",
         "-EXIF:Make=Canon", "-EXIF:Model=EOS R5", "-EXIF:DateTimeOriginal=2024:05:17 19:02:11", str(folder)],
        check=True, timeout=600,
    )


def one_ingest(folder: Path, embedder: Embedder, read_metadata: bool, work: Path, run: int) -> float:
    store_dir = work / f"store-{embedder.identity.dim}-{run}-{int(read_metadata)}"
    store = Store(Settings.from_env(store_dir=store_dir))
    items, problems = collect(folder)
    report = ingest(store, "bench", embedder, items, problems=problems, read_metadata=read_metadata)
    assert report.added == len(items), report.to_dict()
    shutil.rmtree(store_dir, ignore_errors=True)
    return report.rate


def summary(rates: list[float]) -> str:
    ordered = sorted(rates)
    p95_low = ordered[0] if len(ordered) < 20 else ordered[int(0.05 * len(ordered))]
    return f"median {statistics.median(rates):6.1f} img/s, slowest {p95_low:6.1f} img/s over {len(rates)} runs"


def pairs(folder: Path, embedder: Embedder, runs: int, work: Path, label: str) -> None:
    with_meta, without = [], []
    for run in range(runs):
        order = (True, False) if run % 2 == 0 else (False, True)
        for read_metadata in order:
            rate = one_ingest(folder, embedder, read_metadata, work, run)
            (with_meta if read_metadata else without).append(rate)
    overhead = statistics.median(without) / statistics.median(with_meta) - 1
    print(f"{label}:")
    print(f"  without metadata reading  {summary(without)}")
    print(f"  with metadata reading     {summary(with_meta)}")
    print(f"  overhead (median time)    {overhead:+.1%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vit", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    folder = work / "archive"
    write_archive(folder, args.n)
    files = sorted(folder.glob("*.jpg"))
    datas = [p.read_bytes() for p in files]
    times = []
    for data in datas:
        start = time.perf_counter()
        found = read_embedded(data)
        times.append((time.perf_counter() - start) * 1000)
    assert found.caption and found.values["credit"] == "Reuters"
    times.sort()
    print(f"{args.n} JPEGs 640x480, {sum(map(len, datas)) / len(datas) / 1024:.0f} KB each, IPTC + XMP + EXIF")
    print(f"  read_embedded alone: median {statistics.median(times):.2f} ms, p95 {times[int(0.95 * len(times))]:.2f} ms per file")
    pairs(folder, Embedder(str(BUNDLED_MODELS_DIR / DEMO_MODEL), batch_size=32), args.runs, work, f"bundled {DEMO_MODEL}")
    if args.vit:
        from transformers import CLIPConfig, CLIPModel

        from imgsearch_core.models.clip_factory import clip_processor, save_clip, train_clip_tokenizer

        tokenizer = train_clip_tokenizer(["a photo of a harbour at night"] * 3, vocab_size=300)
        model_dir = save_clip(CLIPModel(CLIPConfig()), clip_processor(tokenizer, 224), work / "vit-b-32")
        pairs(folder, Embedder(str(model_dir), batch_size=32), 1, work, "ViT-B/32 architecture")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
