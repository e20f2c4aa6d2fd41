"""Ingest rate with the ViT-B/32 architecture (randomly initialised: same compute as the pretrained one).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_ingest.py [--n 96]
Prints images/s for the whole ingest (decode, media copy, embedding, Chroma, BM25) next to the
embedding alone, measured in the same run on the same 640x480 JPEGs.
"""
from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from transformers import CLIPConfig, CLIPModel

from imgsearch_core.clip_factory import clip_processor, save_clip, train_clip_tokenizer
from imgsearch_core.config import Settings
from imgsearch_core.embed import Embedder
from imgsearch_core.ingest import collect, ingest
from imgsearch_core.store import Store


def photo(rng: np.random.Generator) -> bytes:
    pixels = (rng.random((480, 640, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=96)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    tokenizer = train_clip_tokenizer(["a photo of a harbour at night"] * 3, vocab_size=300)
    model_dir = save_clip(CLIPModel(CLIPConfig()), clip_processor(tokenizer, 224), work / "vit-b-32")
    rng = np.random.default_rng(0)
    folder = work / "photos"
    folder.mkdir()
    for i in range(args.n):
        (folder / f"{i:04d}.jpg").write_bytes(photo(rng))
        (folder / f"{i:04d}.txt").write_text(f"photo number {i} of the harbour")
    embedder = Embedder(str(model_dir), batch_size=32)
    images = [Image.open(p).convert("RGB") for p in sorted(folder.glob("*.jpg"))]
    start = time.perf_counter()
    embedder.embed_images(images)
    embed_rate = len(images) / (time.perf_counter() - start)
    store = Store(Settings.from_env(store_dir=work / "store"))
    items, problems = collect(folder)
    report = ingest(store, "bench", embedder, items, problems=problems)
    print(f"ViT-B/32 architecture, {args.n} JPEGs 640x480, batch 32:")
    print(f"  embedding only   {embed_rate:6.1f} img/s")
    print(f"  full ingest      {report.rate:6.1f} img/s  ({report.added} added in {report.seconds:.1f} s)")
    print(f"  ingest / embed   {report.rate / embed_rate:6.2f}")


if __name__ == "__main__":
    main()
