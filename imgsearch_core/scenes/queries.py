"""Evaluation queries over held-out scenes, with exact relevance, and the image augmentations.

Queries are phrased with templates that no caption uses (bare "crimson disc", "disc, crimson",
"plum coloured box", reordered two-object phrases) and with random synonyms, so a query rarely repeats a
stored caption's words. A stored item is relevant when its scene satisfies every attribute the query
names (``captions.satisfies``): judged from metadata, never from text.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

from imgsearch_core.scenes.captions import Constraint, TextSpec, satisfies
from imgsearch_core.scenes.scenes import Scene
from imgsearch_core.scenes.vocabulary import DEMO_VOCAB, POSITION_SYNONYMS, Vocabulary

ONE_OBJECT_TEMPLATES = (
    "{c} {s}",
    "{s}, {c}",
    "{c} coloured {s}",
    "{s} in {c}",
    "picture of a {c} {s}",
    "image with {c} {s}",
)
POSITIONAL_TEMPLATES = (
    "{c} {s} {p}",
    "a {c} {s} {p}",
    "{p}, a {c} {s}",
    "picture with a {s} in {c} {p}",
)
TWO_OBJECT_TEMPLATES = (
    "{c1} {s1} and {c2} {s2}",
    "{s1} in {c1} with {c2} {s2}",
    "{c1} {s1} next to {c2} {s2}",
    "picture of a {c1} {s1} and a {c2} {s2}",
    "{s1}, {c1}, and {s2}, {c2}",
)


@dataclass(frozen=True)
class Query:
    text: str
    spec: TextSpec
    kind: str  # "one" or "two" (objects named), or "position" (one object and its place)
    source: str  # the held-out scene it was generated from

    def relevant(self, scenes: Sequence[Scene]) -> set[str]:
        return {s.name for s in scenes if satisfies(s, self.spec)}


def _word(rng: np.random.Generator, options: Sequence) -> str:
    return options[int(rng.integers(len(options)))]


def _shape_word(rng: np.random.Generator, shape: str, vocab: Vocabulary) -> str:
    return _word(rng, vocab.shape_synonyms[shape])[0]


def _object_queries(scenes: Sequence[Scene], n: int, rng: np.random.Generator, vocab: Vocabulary,
                    with_position: bool) -> list[Query]:
    templates = POSITIONAL_TEMPLATES if with_position else ONE_OBJECT_TEMPLATES
    queries = []
    for _ in range(n):
        scene = scenes[int(rng.integers(len(scenes)))]
        obj = scene.objects[int(rng.integers(len(scene.objects)))]
        template = _word(rng, templates)
        words = {"c": _word(rng, vocab.colour_synonyms[obj.colour]), "s": _shape_word(rng, obj.shape, vocab)}
        if with_position:
            words["p"] = _word(rng, POSITION_SYNONYMS[obj.position])
        spec = TextSpec((Constraint(obj.colour, obj.shape, position=obj.position if with_position else None),))
        queries.append(Query(template.format(**words), spec, "position" if with_position else "one", scene.name))
    return queries


def one_object_queries(
    scenes: Sequence[Scene], n: int, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB
) -> list[Query]:
    """``n`` queries naming one colour and shape, each taken from a random held-out scene's object."""
    return _object_queries(scenes, n, np.random.default_rng([seed, 101]), vocab, with_position=False)


def positional_queries(
    scenes: Sequence[Scene], n: int, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB
) -> list[Query]:
    """``n`` queries naming one colour, shape AND position ("crimson disc on the left"), from held-out objects.

    Why: binding an object to its place is what the issue's own example asks for; nothing else measures it.
    """
    return _object_queries(scenes, n, np.random.default_rng([seed, 404]), vocab, with_position=True)


def two_object_queries(
    scenes: Sequence[Scene], n: int, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB
) -> list[Query]:
    """``n`` queries naming two different colour+shape objects that appear together in a held-out scene."""
    rng = np.random.default_rng([seed, 202])
    pool = [s for s in scenes if len({o.key() for o in s.objects}) >= 2]
    queries = []
    while len(queries) < n and pool:
        scene = pool[int(rng.integers(len(pool)))]
        i, j = rng.permutation(len(scene.objects))[:2]
        a, b = scene.objects[i], scene.objects[j]
        if a.key() == b.key():
            continue
        text = _word(rng, TWO_OBJECT_TEMPLATES).format(
            c1=_word(rng, vocab.colour_synonyms[a.colour]), s1=_shape_word(rng, a.shape, vocab),
            c2=_word(rng, vocab.colour_synonyms[b.colour]), s2=_shape_word(rng, b.shape, vocab),
        )
        spec = TextSpec((Constraint(a.colour, a.shape), Constraint(b.colour, b.shape)))
        queries.append(Query(text, spec, "two", scene.name))
    return queries


def same_objects(a: Scene, b: Scene) -> bool:
    """Same multiset of colour+shape objects (sizes and positions may differ)."""
    return sorted(o.key() for o in a.objects) == sorted(o.key() for o in b.objects)


# ----- augmentation ---------------------------------------------------------------------------------
def augment(image: Image.Image, rng: np.random.Generator, strength: float = 1.0) -> Image.Image:
    """A near-duplicate: random crop (>= 90% of each side), rotation up to 15 degrees, mild colour
    jitter (brightness, contrast, saturation within 10%, so colours stay nameable), JPEG re-encode."""
    image = image.convert("RGB")
    w, h = image.size
    # rotation first, filling the corners with the border's mean colour
    border = np.concatenate([np.asarray(image)[[0, -1]].reshape(-1, 3), np.asarray(image)[:, [0, -1]].reshape(-1, 3)])
    fill = tuple(int(v) for v in border.mean(0))
    angle = rng.uniform(-15, 15) * strength
    image = image.rotate(angle, resample=Image.BILINEAR, fillcolor=fill)
    keep = 1 - rng.uniform(0, 0.10) * strength
    cw, ch = int(round(w * keep)), int(round(h * keep))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    image = image.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(1 + rng.uniform(-0.1, 0.1) * strength)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(55, 91)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
