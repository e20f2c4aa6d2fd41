"""Exact contrastive positives of a training batch, computed from the scene descriptions, not from words.

Why a module of its own: a text is a positive of every image in the batch whose scene satisfies all it
says (``captions.satisfies``, vectorised here), and an image of its near-duplicates; these matrices are the
training targets of imgsearch-mini, tested against the scalar definitions they stand for.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

from imgsearch_core.scenes.captions import TextSpec
from imgsearch_core.scenes.scenes import Scene
from imgsearch_core.scenes.vocabulary import BACKGROUNDS, DEMO_VOCAB, POSITIONS, SIZES, Vocabulary


def _index(names: Iterable[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


_SIZES = _index(SIZES)
_POSITIONS = _index(POSITIONS)
_BACKGROUNDS = _index(BACKGROUNDS)


def positives_matrix(
    specs: list[TextSpec], scenes: list[Scene], *, vocab: Vocabulary = DEMO_VOCAB
) -> np.ndarray:
    """``out[t, i]`` = scenes[i] satisfies specs[t] (vectorised ``captions.satisfies``)."""
    n, slots = len(scenes), 3
    tables = (_index(vocab.colours), _index(vocab.shapes), _SIZES, _POSITIONS)
    attrs = np.full((4, n, slots), -1, dtype=np.int16)
    for i, scene in enumerate(scenes):
        for j, o in enumerate(scene.objects):
            attrs[:, i, j] = [table[value] for table, value in zip(tables, (o.colour, o.shape, o.size, o.position))]
    valid = attrs[0] >= 0
    n_obj = valid.sum(1)
    background = np.array([_BACKGROUNDS[s.background] for s in scenes])
    out = np.zeros((len(specs), n), dtype=bool)
    for t, spec in enumerate(specs):
        matches = []
        for c in spec.constraints:
            m = valid.copy()
            for a, (value, table) in enumerate(zip((c.colour, c.shape, c.size, c.position), tables)):
                if value is not None:
                    m &= attrs[a] == table[value]
            matches.append(m)
        k = len(matches)
        ok = np.zeros(n, dtype=bool)
        for perm in itertools.permutations(range(slots), k):
            acc = np.ones(n, dtype=bool)
            for m, j in zip(matches, perm):
                acc &= m[:, j]
            ok |= acc
        if spec.exact:
            ok &= n_obj == k
        if spec.background is not None:
            ok &= background == _BACKGROUNDS[spec.background]
        out[t] = ok
    return out


def _equal_keys(keys: list[tuple]) -> np.ndarray:
    index = _index(dict.fromkeys(keys))
    ids = np.array([index[k] for k in keys])
    out = ids[:, None] == ids[None, :]
    np.fill_diagonal(out, False)
    return out


def same_objects_matrix(scenes: list[Scene]) -> np.ndarray:
    """``out[i, j]`` = scenes i and j show the same colour+shape objects (``queries.same_objects``), i != j."""
    return _equal_keys([tuple(sorted(o.key() for o in scene.objects)) for scene in scenes])


def same_picture_matrix(scenes: list[Scene]) -> np.ndarray:
    """``out[i, j]`` = scenes i and j are near-duplicates: the same objects at the same sizes and positions.

    The image-image term's default positives: same objects alone could pull "red circle on the left" and
    "red circle on the right" together, which positional queries need apart.
    """
    return _equal_keys([tuple(sorted((o.key(), o.size, o.position) for o in scene.objects)) for scene in scenes])


IMAGE_POSITIVES = {"picture": same_picture_matrix, "objects": same_objects_matrix}
POSITIVES_IN_WORDS = {
    "picture": "the batch's near-duplicates, the same objects at the same sizes and positions, so a view and its original",
    "objects": "the batch's images showing the same colour+shape objects anywhere, so a view and its original too",
}

