"""Scenes drawn as pixels: muted backgrounds, the vocabulary's shapes placed without overlap, pixel noise.

Why apart from the scene descriptions: a ``Scene`` is what relevance is judged on; its pixels are drawn
from its own render stream (``Scene.seed`` and the size), byte for byte the same on any machine, so the
bundled model's training images and the demo collection never change.
"""
from __future__ import annotations

import functools
import io
import math

import numpy as np
from PIL import Image, ImageDraw

from imgsearch_core.scenes.scenes import Scene
from imgsearch_core.scenes.vocabulary import DEMO_VOCAB, POSITIONS, SIZES, Vocabulary

DISPLAY_SIZE = 128  # pixels; what the demo collection stores and the app shows


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> np.ndarray:
    return np.mgrid[0:size, 0:size].astype(np.float32)


def _background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Muted (low-saturation) backgrounds so that no object colour is ever the background's."""

    def tone() -> np.ndarray:
        level = rng.uniform(150, 235)
        return np.clip(level + rng.uniform(-12, 12, size=3), 0, 255)

    if kind == "plain":
        return np.broadcast_to(tone().astype(np.float32), (size, size, 3))
    if kind == "gradient":
        a, b = tone(), tone()
        if np.abs(a - b).mean() < 25:
            b = np.clip(a + np.sign(rng.uniform(-1, 1)) * 40, 0, 255)
        theta = rng.uniform(0, 2 * math.pi)
        ys, xs = _grid(size)
        ys, xs = ys / (size - 1) - 0.5, xs / (size - 1) - 0.5
        t = np.clip(xs * math.cos(theta) + ys * math.sin(theta) + 0.5, 0, 1)[..., None]
        return (a * (1 - t) + b * t).astype(np.float32)
    base = tone()
    ys, xs = _grid(size)
    style = int(rng.integers(3))
    amp = rng.uniform(10, 22)
    if style == 0:  # stripes at a random angle
        theta, period = rng.uniform(0, math.pi), rng.uniform(6, 14) * size / 128
        pattern = np.sign(np.sin((xs * math.cos(theta) + ys * math.sin(theta)) * 2 * math.pi / period))
    elif style == 1:  # checkerboard
        cell = rng.uniform(8, 18) * size / 128
        pattern = ((np.floor(xs / cell) + np.floor(ys / cell)) % 2) * 2 - 1
    else:  # blotchy grain
        coarse = rng.normal(0, 1, size=(size // 8 + 1, size // 8 + 1))
        pattern = np.kron(coarse, np.ones((8, 8)))[:size, :size]
        pattern = np.clip(pattern, -1.5, 1.5)
    return np.clip(base.astype(np.float32) + np.float32(amp) * pattern[..., None].astype(np.float32), 0, 255)


Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


def render(scene: Scene, size: int = DISPLAY_SIZE, *, vocab: Vocabulary = DEMO_VOCAB) -> Image.Image:
    """Draw ``scene`` as an RGB image of ``size`` x ``size`` pixels (deterministic)."""
    return render_with_boxes(scene, size, vocab=vocab)[0]


def render_with_boxes(scene: Scene, size: int = DISPLAY_SIZE, *,
                      vocab: Vocabulary = DEMO_VOCAB) -> tuple[Image.Image, list[Box]]:
    """The picture of ``render`` and, per object in scene order, the box of its circumscribed circle (clipped to
    the canvas). Why here: the placement (jitter, no overlap) is drawn from the render stream, so only the
    drawing knows where each object landed; heatmaps are scored against these boxes."""
    rng = np.random.default_rng(list(scene.seed) + [size])
    canvas = _background(scene.background, size, rng)
    image = Image.fromarray(canvas.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    placed: list[tuple[float, float, float]] = []
    for obj in scene.objects:
        r = SIZES[obj.size] * size / 2 * rng.uniform(0.95, 1.05)
        ax, ay = POSITIONS[obj.position]
        low, high = r + 0.01 * size, size - r - 0.01 * size  # stay on the canvas
        for attempt in range(8):
            jitter = 0.03 if attempt < 7 else 0.0
            cx = min(max((ax + rng.uniform(-jitter, jitter)) * size, low), high)
            cy = min(max((ay + rng.uniform(-jitter, jitter)) * size, low), high)
            if all(math.hypot(cx - px, cy - py) >= r + pr + 0.01 * size for px, py, pr in placed):
                break
        placed.append((cx, cy, r))
        colour = np.clip(np.array(vocab.colours[obj.colour]) + rng.uniform(-12, 12, size=3), 0, 255).astype(int)
        fill = tuple(int(c) for c in colour)
        angle = math.radians(rng.uniform(-15, 15))
        vocab.shapes[obj.shape].draw(draw, cx, cy, r, angle, fill)
    pixels = np.asarray(image, dtype=np.float32) + 0.5
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(rng.uniform(2, 7))
    boxes = [(max(0.0, cx - r), max(0.0, cy - r), min(float(size), cx + r), min(float(size), cy + r))
             for cx, cy, r in placed]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB"), boxes


def png_bytes(image: Image.Image) -> bytes:
    """Unoptimised PNG: the same pixels always give the same bytes (and content hash)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
