"""Where in a picture a query matches: a forward-only region heatmap (issue 23, item 1).

Why forward-only: the map is built from the embedder's image embedding alone (``embed_images``), so it works
with every CLIP the product accepts and on every backend (torch, ONNX fp32 and int8), where gradient relevance
(Chefer et al. 2021) needs torch and the model's attention internals. The picture is split into a grid of
cells; square windows of ``window`` x ``window`` cells slide over it one cell at a time and are embedded in one
batch. ``crop``: a window's score is the cosine of its crop (resized by the model's processor) with the query;
``occlude``: the drop in the whole picture's cosine when the window is painted over with the picture's mean
colour; ``combined``: both maps in standard units, summed (twice the cost). A cell's value is the mean score of
the windows that cover it; the peak is the best cell's centre in picture pixels. A text query and an image
query are the same to the map: a unit vector in the image space. CLIP's processors embed a picture's centre
square, so under ``occlude`` the strips beyond it score 0: they played no part in the match.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

METHODS = ("occlude", "crop", "combined")
# Chosen by the pointing game on held-out demo scenes (benchmarks/RESULTS.md, "Region heatmaps"): a window of a
# third of the short side, about an object's size; occlusion meets the target at the lowest cost.
DEFAULT_METHOD, DEFAULT_CELLS, DEFAULT_WINDOW = "occlude", 6, 2


class ImageEmbedder(Protocol):
    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...


@dataclass(frozen=True)
class Heatmap:
    """Cell values (rows x cols, higher = the region supports the query more) over a picture of width x height."""

    values: np.ndarray
    width: int
    height: int
    method: str
    window: int
    cosine: float  # the whole picture's cosine with the query

    @property
    def peak_cell(self) -> tuple[int, int]:
        row, col = np.unravel_index(int(np.argmax(self.values)), self.values.shape)
        return int(row), int(col)

    @property
    def peak(self) -> tuple[int, int]:
        """The best cell's centre as (x, y) picture pixels."""
        row, col = self.peak_cell
        rows, cols = self.values.shape
        return int((col + 0.5) * self.width / cols), int((row + 0.5) * self.height / rows)

    def to_dict(self) -> dict:
        rows, cols = self.values.shape
        x, y = self.peak
        return {"method": self.method, "rows": rows, "cols": cols, "window_cells": self.window,
                "width": self.width, "height": self.height, "cosine": round(self.cosine, 6),
                "peak": {"x": x, "y": y, "row": self.peak_cell[0], "col": self.peak_cell[1]},
                "grid": [[round(float(v), 6) for v in row] for row in self.values]}


def grid_shape(width: int, height: int, cells: int) -> tuple[int, int]:
    """``cells`` along the short side, as many square-ish cells along the long side."""
    short = min(width, height)
    rows = max(cells, round(cells * height / short))
    cols = max(cells, round(cells * width / short))
    return rows, cols


def _edges(length: int, n: int) -> np.ndarray:
    return np.round(np.linspace(0, length, n + 1)).astype(int)


def explain(embedder: ImageEmbedder, image: Image.Image, query: np.ndarray, *, method: str = DEFAULT_METHOD,
            cells: int = DEFAULT_CELLS, window: int = DEFAULT_WINDOW) -> Heatmap:
    """The heatmap of ``query`` (a unit vector in the image space: an embedded text or picture) over ``image``."""
    if method not in METHODS:
        raise ValueError(f"Unknown heatmap method {method!r}; choose one of {', '.join(METHODS)}.")
    if not 1 <= window <= cells:
        raise ValueError(f"The window ({window} cells) must be between 1 and the grid's {cells} cells.")
    image = image.convert("RGB")
    width, height = image.size
    rows, cols = grid_shape(width, height, cells)
    ys, xs = _edges(height, rows), _edges(width, cols)
    starts = [(r, c) for r in range(rows - window + 1) for c in range(cols - window + 1)]
    boxes = [(int(xs[c]), int(ys[r]), int(xs[c + window]), int(ys[r + window])) for r, c in starts]
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    crops = [image.crop(box) for box in boxes] if method != "occlude" else []
    occluded = _occluded(image, boxes) if method != "crop" else []
    scores = embedder.embed_images([image, *crops, *occluded]) @ query
    full = float(scores[0])
    maps = {"crop": scores[1:1 + len(crops)], "occlude": full - scores[1 + len(crops):]}
    if method in maps:
        values = _cell_means(maps[method], starts, rows, cols, window)
    else:  # both maps in standard units, summed: each method's misses are rarely the other's
        values = sum(_standard(_cell_means(m, starts, rows, cols, window)) for m in maps.values())
    return Heatmap(values, width, height, method, window, full)


def _occluded(image: Image.Image, boxes: list[tuple[int, int, int, int]]) -> list[Image.Image]:
    """The picture once per box, the box painted over with the picture's mean colour (no new edges or hues)."""
    fill = tuple(int(v) for v in np.asarray(image).reshape(-1, 3).mean(axis=0))
    variants = []
    for left, top, right, bottom in boxes:
        masked = image.copy()
        ImageDraw.Draw(masked).rectangle((left, top, right - 1, bottom - 1), fill=fill)
        variants.append(masked)
    return variants


def _cell_means(scores: np.ndarray, starts: list[tuple[int, int]], rows: int, cols: int, window: int) -> np.ndarray:
    """Each cell's mean score over the windows that cover it."""
    total, count = np.zeros((rows, cols), np.float64), np.zeros((rows, cols), np.float64)
    for (r, c), score in zip(starts, scores):
        total[r:r + window, c:c + window] += float(score)
        count[r:r + window, c:c + window] += 1
    return total / count


def _standard(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else values - values.mean()


# Low to high: dark blue, cyan, yellow, red (readable over photos and for most colour-blind viewers' luminance).
_RAMP = np.array([(30, 40, 140), (40, 180, 220), (250, 220, 40), (220, 30, 30)], np.float32)
LEGEND_HEIGHT = 28
MIN_OVERLAY_WIDTH = 256


def _colours(t: np.ndarray) -> np.ndarray:
    """Values in 0..1 to RGB along the ramp."""
    position = np.clip(t, 0, 1) * (len(_RAMP) - 1)
    low = np.minimum(position.astype(int), len(_RAMP) - 2)
    frac = (position - low)[..., None]
    return _RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac


def overlay(image: Image.Image, heatmap: Heatmap, *, alpha: float = 0.5) -> Image.Image:
    """The picture with the map blended over it, the peak marked, and a legend strip below (low .. high, with the
    cell values at both ends), so a saved file explains itself."""
    image = image.convert("RGB")
    if image.width < MIN_OVERLAY_WIDTH:  # a thumbnail-sized picture: enlarged so the legend stays legible
        scale = MIN_OVERLAY_WIDTH / image.width
        image = image.resize((MIN_OVERLAY_WIDTH, max(1, round(image.height * scale))), Image.Resampling.NEAREST)
    width, height = image.size
    values = heatmap.values
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    cells = Image.fromarray((scaled * 255).astype(np.uint8), "L").resize((width, height), Image.Resampling.BILINEAR)
    heat = _colours(np.asarray(cells, np.float32) / 255)
    blended = np.asarray(image, np.float32) * (1 - alpha) + heat * alpha
    canvas = Image.new("RGB", (width, height + LEGEND_HEIGHT), (255, 255, 255))
    canvas.paste(Image.fromarray(blended.astype(np.uint8), "RGB"))
    draw = ImageDraw.Draw(canvas)
    x, y = (round(v * s / d) for v, s, d in zip(heatmap.peak, (width, height), (heatmap.width, heatmap.height)))
    arm = max(4, min(width, height) // 20)
    for colour, thick in (((255, 255, 255), 3), ((0, 0, 0), 1)):
        draw.line((x - arm, y, x + arm, y), fill=colour, width=thick)
        draw.line((x, y - arm, x, y + arm), fill=colour, width=thick)
    bar_left, bar_right = 4, max(5, width - 4)
    ramp = _colours(np.linspace(0, 1, bar_right - bar_left))
    strip = np.broadcast_to(ramp[None], (8, bar_right - bar_left, 3)).astype(np.uint8)
    canvas.paste(Image.fromarray(np.ascontiguousarray(strip), "RGB"), (bar_left, height + 3))
    draw.text((bar_left, height + 13), f"low {low:.3f}", fill=(0, 0, 0))
    label = f"{high:.3f} high"
    draw.text((bar_right - draw.textlength(label), height + 13), label, fill=(0, 0, 0))
    return canvas
