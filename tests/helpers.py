"""Test helpers that build real files and real (randomly initialised) models."""
from __future__ import annotations

import colorsys
import io
from pathlib import Path

from PIL import Image, ImageDraw

CAPTION_WORDS = ["red", "green", "blue", "circle", "square", "harbour", "mountain", "city", "portrait", "street"]


def build_tiny_clip(directory: Path, seed: int = 20261202) -> Path:
    """Seeded, so every run (a CI machine's included) ranks with the same random weights as the last."""
    import torch

    from imgsearch_core.models.clip_factory import build_clip, save_clip, train_clip_tokenizer

    tokenizer = train_clip_tokenizer([" ".join(CAPTION_WORDS)] * 4 + ["a photo of the sea"], vocab_size=400)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model, processor = build_clip(tokenizer, image_size=32, patch_size=8, vision_width=32, vision_layers=1,
                                      text_width=32, text_layers=1, heads=2, projection_dim=16)
    return save_clip(model, processor, directory)


def image_bytes(index: int, size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    """A distinct, deterministic picture: hue and a shape position depend on `index`."""
    hue = (index * 0.137) % 1.0
    rgb = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.8, 0.9))
    image = Image.new("RGB", size, rgb)
    draw = ImageDraw.Draw(image)
    x = (index * 7) % (size[0] - 10)
    draw.rectangle([x, 5, x + 9, 20], fill=(255 - rgb[0], 255 - rgb[1], 255 - rgb[2]))
    draw.point((index % size[0], size[1] - 1), fill=(index % 256, (index // 256) % 256, 7))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def caption_for(index: int) -> str:
    words = [CAPTION_WORDS[(index * k + k) % len(CAPTION_WORDS)] for k in (1, 3, 7)]
    return f"a {words[0]} {words[1]} near the {words[2]}"


def write_images(folder: Path, count: int, start: int = 0, sidecars: bool = True) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        path = folder / f"img_{index:04d}.png"
        path.write_bytes(image_bytes(index))
        if sidecars:
            path.with_suffix(".txt").write_text(caption_for(index))
        paths.append(path)
    return paths


ALT_CAPTION_PIERS = ("north", "south", "east", "west", "old", "new", "long", "short")


def write_images_with_alternative_captions(folder: Path, count: int = 24) -> Path:
    """Images and a caption file where 8 images get a second caption (held out as an evaluation query,
    sharing no word with any indexed caption) and one a third that equals another item's caption
    (dropped by the no-leak rule). Items carry a `group` column (g0..g3) for mMP@5. Returns the file."""
    paths = write_images(folder, count, sidecars=False)
    rows = ["file_name,caption,group"]
    for i, path in enumerate(paths):
        rows.append(f"{path.name},picture number {i} of the harbour,g{i % 4}")
        if i < len(ALT_CAPTION_PIERS):
            rows.append(f"{path.name},boats and gulls seen from the {ALT_CAPTION_PIERS[i]} pier")
    rows.append(f"{paths[0].name},picture number 1 of the harbour")
    captions = folder.parent / f"{folder.name}-captions.csv"
    captions.write_text("\n".join(rows) + "\n")
    return captions
