"""Pictures with words in them, and a small real text reader and captioner that read them back.

Why these collaborators: ingest and enrich are under test, not an OCR engine (the engines have tests of their
own). The words are written into the picture's pixels (row 0 holds their UTF-8 bytes, one byte a channel), with
a dark box drawn where each word "stands"; `PixelReader` reads row 0 of whatever picture it is handed, so it
finds the words only in the right picture, upright and at its stored size, and returns the drawn boxes.
`HueCaptioner` names the picture's dominant colour. Both are deterministic and take microseconds.
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from imgsearch_core.types import WordBox

SIZE = (160, 96)
CRASH = "!crash"  # a picture the reader fails on (an engine error on one file)
_MAGIC = (7, 13, 29)
_HUES = {"red": (230, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 230), "yellow": (230, 220, 40)}


def word_box(index: int) -> tuple[int, int, int, int]:
    return (4 + 38 * (index % 4), 20 + 24 * (index // 4), 36 + 38 * (index % 4), 36 + 24 * (index // 4))


def picture(words: list[str], colour: str = "red", size: tuple[int, int] = SIZE, fmt: str = "PNG",
            seed: int = 0) -> bytes:
    """A picture of `colour` holding `words` (none: a picture without text); `seed` makes it distinct."""
    image = Image.new("RGB", size, _HUES[colour])
    draw = ImageDraw.Draw(image)
    draw.point((size[0] - 1, size[1] - 1), fill=(seed % 256, seed // 256 % 256, 1))
    if words:
        data = " ".join(words).encode()
        row = [*_MAGIC, len(data) // 256, len(data) % 256, 0, *data]
        row += [0] * (-len(row) % 3)
        for x in range(len(row) // 3):
            image.putpixel((x, 0), tuple(row[3 * x:3 * x + 3]))
        for i in range(len(words)):
            draw.rectangle(word_box(i), outline=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def write_pictures(folder: Path, pictures: dict[str, bytes], sidecars: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in pictures.items():
        (folder / name).write_bytes(data)
    for name, caption in (sidecars or {}).items():
        (folder / name).with_suffix(".txt").write_text(caption)
    return folder


class PixelReader:
    """Reads the words written into row 0 (see the module docstring); `delay` seconds a picture."""

    def __init__(self, name: str = "pixel-reader 1", delay: float = 0.0) -> None:
        self.name, self.delay, self.calls = name, delay, 0

    def read(self, image) -> list[WordBox]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        row = np.asarray(image.convert("RGB"))[0].reshape(-1).tolist()
        if tuple(row[:3]) != _MAGIC:
            return []
        length = row[3] * 256 + row[4]
        text = bytes(row[6:6 + length]).decode()
        if text == CRASH:
            raise RuntimeError("the engine crashed on this picture")
        return [WordBox(w, 0.9, word_box(i)) for i, w in enumerate(text.split())]


class HueCaptioner:
    """'a red picture': the named colour nearest the picture's mean colour."""

    def __init__(self, name: str = "hue-captioner 1", fail_on: str | None = None) -> None:
        self.name, self.fail_on, self.calls = name, fail_on, 0

    def caption(self, images) -> list[str]:
        self.calls += 1
        out = []
        for image in images:
            mean = np.asarray(image.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0)
            colour = min(_HUES, key=lambda c: float(np.sum((np.array(_HUES[c]) - mean) ** 2)))
            if colour == self.fail_on:
                raise ValueError(f"cannot describe a {colour} picture")
            out.append(f"a {colour} picture")
        return out

