"""Deterministic synthetic scenes: 1 to 3 coloured shapes with exact structured descriptions (``Scene``).

Why synthetic: no data set can be downloaded here, and a generated scene keeps its structured
description, so whether an image is relevant to a query is decided exactly (``captions.satisfies``), not
guessed.

Every scene is a pure function of (vocabulary, split, index, seed), and the splits never share a random
stream. Objects sit at five anchor positions (drawn with a little jitter and never overlapping by
``render``); the scene also carries the seed of its render stream, so no two images are pixel twins.
Drawing is in ``render``, the captions in ``captions``, the words and colours in ``vocabulary``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from imgsearch_core.scenes.vocabulary import BACKGROUNDS, DEMO_VOCAB, POSITIONS, SIZES, Vocabulary

SPLITS: dict[str, int] = {"train": 1, "val": 2, "test": 3}
DEFAULT_SPLIT_SIZES: dict[str, int] = {"train": 20000, "val": 1000, "test": 2000}
N_OBJECT_WEIGHTS = (0.34, 0.33, 0.33)


@dataclass(frozen=True)
class Obj:
    colour: str
    shape: str
    size: str
    position: str

    def key(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...]
    background: str
    seed: tuple[int, ...]  # the render stream: jitter, rotation, tints, texture and noise
    split: str = "train"
    index: int = 0

    @property
    def name(self) -> str:
        return f"{self.split}-{self.index:06d}"

    def describe(self) -> dict:
        return {"objects": [asdict(o) for o in self.objects], "background": self.background}

    def to_metadata(self) -> dict[str, str | int]:
        """Chroma-compatible scalar metadata; ``scene`` holds the full structured description."""
        return {
            "scene": json.dumps(self.describe(), separators=(",", ":"), sort_keys=True),
            "n_objects": len(self.objects),
            "objects": "|".join(o.key() for o in self.objects),
            "colours": "|".join(sorted({o.colour for o in self.objects})),
            "shapes": "|".join(sorted({o.shape for o in self.objects})),
            "background": self.background,
            "split": self.split,
            "index": self.index,
        }

    @staticmethod
    def from_metadata(meta: dict) -> Scene:
        data = json.loads(meta["scene"])
        objects = tuple(Obj(**o) for o in data["objects"])
        return Scene(objects, data["background"], (), str(meta.get("split", "")), int(meta.get("index", 0)))


# ----- sampling ---------------------------------------------------------------------------------------
def item_rng(split: str, index: int, seed: int = 0, *tag: int, vocab: Vocabulary = DEMO_VOCAB) -> np.random.Generator:
    """The random stream of one item; ``tag`` names a further stream of the same item (its caption)."""
    return np.random.default_rng([*vocab.stream, SPLITS[split], index, seed, *tag])


def sample_scene(
    rng: np.random.Generator,
    n_objects: int | None = None,
    *,
    split: str = "train",
    index: int = 0,
    duplicate_p: float = 0.15,
    vocab: Vocabulary = DEMO_VOCAB,
) -> Scene:
    """1-3 objects at distinct anchor positions; colours and shapes uniform (balanced combinations).

    With probability ``duplicate_p`` a multi-object scene repeats one colour+shape, so counts
    ("two crimson discs") occur.
    """
    if n_objects is None:
        n_objects = int(rng.choice(3, p=N_OBJECT_WEIGHTS)) + 1
    positions = [list(POSITIONS)[i] for i in rng.permutation(len(POSITIONS))[:n_objects]]
    objects: list[Obj] = []
    for k in range(n_objects):
        if k > 0 and rng.random() < duplicate_p:
            colour, shape = objects[0].colour, objects[0].shape
        else:
            colour = list(vocab.colours)[int(rng.integers(len(vocab.colours)))]
            shape = list(vocab.shapes)[int(rng.integers(len(vocab.shapes)))]
        size = list(SIZES)[int(rng.integers(len(SIZES)))]
        objects.append(Obj(colour, shape, size, positions[k]))
    background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    render_seed = tuple(int(x) for x in rng.integers(0, 2**31, size=2))
    return Scene(tuple(objects), background, render_seed, split, index)


def scene_at(
    split: str, index: int, seed: int = 0, n_objects: int | None = None, *, vocab: Vocabulary = DEMO_VOCAB
) -> Scene:
    """The scene of item ``index`` in ``split`` (pure function of its arguments)."""
    return sample_scene(item_rng(split, index, seed, vocab=vocab), n_objects, split=split, index=index, vocab=vocab)


def split_scenes(split: str, count: int | None = None, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB) -> list[Scene]:
    """The first ``count`` scenes of ``split``, all of them (its default size) when ``count`` is None."""
    count = DEFAULT_SPLIT_SIZES[split] if count is None else count
    return [scene_at(split, i, seed, vocab=vocab) for i in range(count)]
