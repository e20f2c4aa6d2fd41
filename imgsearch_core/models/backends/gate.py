"""The fidelity gate: may a model's int8 export stand in for its fp32 one?

Passes when the mean cosine between int8 and fp32 embeddings is >= 0.99 for images AND for texts, and the
top-10 image neighbours of each text query (int8 images + int8 queries against fp32 + fp32) overlap by
>= 0.95 on average. The calibration set is generated, so the gate runs offline and gives the same answer
on every machine: demo scenes (shapes, backgrounds, noise) at several sizes, photo-like gradients with
texture, and captions of varied length and vocabulary.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageFilter

MIN_COSINE, MIN_OVERLAP, TOP_K = 0.99, 0.95, 10


class Encoder(Protocol):
    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class GateResult:
    image_cosine: float   # mean cosine, candidate vs reference, over the images
    text_cosine: float    # the same over the texts
    top_k_overlap: float  # mean |top-k(candidate) ∩ top-k(reference)| / k over the text queries
    k: int
    n_images: int
    n_texts: int
    passed: bool

    def as_dict(self) -> dict:
        return asdict(self)


def gradient_image(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A photo-like picture: a two-colour gradient at a random angle, a soft blob, fine noise and blur."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    pixels = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.1, 0.4) * min(width, height)
    blob = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))[..., None]
    pixels = pixels * (1 - 0.6 * blob) + rng.uniform(0, 255, 3)[None, None, :] * 0.6 * blob
    pixels += rng.normal(0, rng.uniform(2, 18), pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0, 1.5))))


_EXTRA_TEXTS = [
    "a photo", "sunset over the harbour with fishing boats", "portrait of an old man in a hat",
    "city street at night, wet asphalt and neon signs", "snow covered mountain under a clear blue sky",
    "two children playing football in a park", "a plate of pasta with tomato sauce", "empty",
    "aerial view of a river delta", "x-ray of a broken arm", "the quick brown fox jumps over the lazy dog",
    "press conference, minister speaking at a podium", "a very long caption " + "with many words " * 12,
]


def calibration_set(n_images: int = 48, n_texts: int = 40, seed: int = 12) -> tuple[list[Image.Image], list[str]]:
    """Varied, deterministic images and captions (about half demo scenes, half gradients)."""
    from imgsearch_core.scenes.captions import scene_caption
    from imgsearch_core.scenes.render import render
    from imgsearch_core.scenes.scenes import split_scenes

    rng = np.random.default_rng(seed)
    n_scenes = n_images // 2
    scenes = split_scenes("val", max(n_scenes, n_texts), seed=seed)
    sizes = [(128, 128), (320, 240), (200, 300), (96, 160)]
    images = []
    for i, scene in enumerate(scenes[:n_scenes]):
        image = render(scene)
        images.append(image.resize(sizes[i % len(sizes)], Image.Resampling.BICUBIC) if i % 3 else image)
    while len(images) < n_images:
        width, height = sizes[len(images) % len(sizes)]
        images.append(gradient_image(rng, width, height))
    n_extra = min(len(_EXTRA_TEXTS), n_texts // 3)
    texts = _EXTRA_TEXTS[:n_extra] + [scene_caption(s, seed) for s in scenes[: n_texts - n_extra]]
    return images, texts


def top_k_overlap(images_a: np.ndarray, queries_a: np.ndarray, images_b: np.ndarray, queries_b: np.ndarray,
                  k: int = TOP_K) -> float:
    """Mean share of the top-k images per query that ranking A (images_a, queries_a) and B have in common."""
    k = min(k, images_a.shape[0])
    top_a = np.argsort(-(queries_a @ images_a.T), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-(queries_b @ images_b.T), axis=1, kind="stable")[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_a, top_b)]))


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Rows are unit length, so the cosine is the row-wise dot product."""
    return float(np.mean(np.sum(a * b, axis=1)))


def fidelity_gate(reference: Encoder, candidate: Encoder, images: Sequence[Image.Image], queries: Sequence[str],
                  *, k: int = TOP_K, min_cosine: float = MIN_COSINE, min_overlap: float = MIN_OVERLAP) -> GateResult:
    """Compare `candidate` (e.g. int8) to `reference` (fp32) on the same images and text queries."""
    ref_images, cand_images = reference.embed_images(images), candidate.embed_images(images)
    ref_texts, cand_texts = reference.embed_texts(queries), candidate.embed_texts(queries)
    image_cos, text_cos = mean_cosine(ref_images, cand_images), mean_cosine(ref_texts, cand_texts)
    overlap = top_k_overlap(cand_images, cand_texts, ref_images, ref_texts, k)
    passed = image_cos >= min_cosine and text_cos >= min_cosine and overlap >= min_overlap
    return GateResult(round(image_cos, 6), round(text_cos, 6), round(overlap, 6), min(k, len(images)),
                      len(images), len(queries), bool(passed))
