"""Captions of scenes, and exactly what a caption or query asserts (``TextSpec``), judged by ``satisfies``.

Why one module: a caption is generated together with its ``TextSpec``, so what a text says and what it
asserts cannot drift apart; relevance is judged from the spec and the scene, never from words. Captions
draw from their own random stream per item (``CAPTION_STREAM``), varied in templates and synonyms.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imgsearch_core.scenes.scenes import Obj, Scene, item_rng
from imgsearch_core.scenes.vocabulary import (
    BACKGROUND_SYNONYMS,
    COUNT_WORDS,
    DEMO_VOCAB,
    POSITION_SYNONYMS,
    SIZE_SYNONYMS,
    Vocabulary,
)


@dataclass(frozen=True)
class Constraint:
    """One object a text asks for; ``None`` means the text does not say."""

    colour: str | None = None
    shape: str | None = None
    size: str | None = None
    position: str | None = None

    def matches(self, obj: Obj) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.colour, obj.colour), (self.shape, obj.shape), (self.size, obj.size), (self.position, obj.position)
            )
        )


@dataclass(frozen=True)
class TextSpec:
    """What a caption or query asks for: distinct objects matching ``constraints`` (and, when
    ``exact``, nothing else in the scene). Relevance is judged from this, never from words."""

    constraints: tuple[Constraint, ...]
    exact: bool = False
    background: str | None = None


def satisfies(scene: Scene, spec: TextSpec) -> bool:
    """Whether ``scene`` has distinct objects matching every constraint of ``spec``."""
    objs = scene.objects
    if spec.exact and len(objs) != len(spec.constraints):
        return False
    if spec.background is not None and spec.background != scene.background:
        return False
    if len(spec.constraints) > len(objs):
        return False

    def assign(k: int, used: int) -> bool:
        if k == len(spec.constraints):
            return True
        return any(
            not used >> i & 1 and spec.constraints[k].matches(o) and assign(k + 1, used | 1 << i)
            for i, o in enumerate(objs)
        )

    return assign(0, 0)


def _pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def phrase_group(
    rng: np.random.Generator,
    colour: str,
    shape: str,
    count: int,
    *,
    size: str | None = None,
    positions: Sequence[str] = (),
    colour_after: bool = False,
    vocab: Vocabulary = DEMO_VOCAB,
) -> str:
    """'two small crimson discs on the left and at the top', 'a disc in crimson', ..."""
    c = _pick(rng, vocab.colour_synonyms[colour])
    singular, plural = _pick(rng, vocab.shape_synonyms[shape])
    noun = singular if count == 1 else plural
    s = _pick(rng, SIZE_SYNONYMS[size]) + " " if size else ""
    if colour_after and count == 1:
        text = f"{_article(s or noun)} {s}{noun} " + _pick(rng, (f"in {c}", f"that is {c}", f"coloured {c}"))
    else:
        head = _pick(rng, COUNT_WORDS[count])
        body = f"{s}{c} {noun}"
        if head == "a":
            head = _article(body)
        text = f"{head} {body}"
    if positions:
        text += " " + " and ".join(_pick(rng, POSITION_SYNONYMS[p]) for p in positions)
    return text


def _join(parts: Sequence[str], rng: np.random.Generator) -> str:
    if len(parts) == 1:
        return parts[0]
    last = _pick(rng, (" and ", ", and ", " with ", " next to "))
    return ", ".join(parts[:-1]) + last + parts[-1]


CAPTION_TEMPLATES = (
    "{objs}",
    "{objs} on a {bg} background",
    "a picture with {objs}",
    "an image of {objs} against a {bg} backdrop",
    "{objs} over a {bg} background",
    "a drawing showing {objs}",
)


def caption(scene: Scene, rng: np.random.Generator, *, vocab: Vocabulary = DEMO_VOCAB) -> tuple[str, TextSpec]:
    """A full caption of ``scene`` from varied templates, and exactly what it asserts."""
    groups: dict[tuple[str, str], list[Obj]] = {}
    for obj in scene.objects:
        groups.setdefault((obj.colour, obj.shape), []).append(obj)
    say_size, say_pos = rng.random() < 0.6, rng.random() < 0.6
    parts, constraints = [], []
    order = list(groups.items())
    rng.shuffle(order)
    for (colour, shape), objs in order:
        sizes = {o.size for o in objs}
        size = objs[0].size if say_size and len(sizes) == 1 else None
        positions = [o.position for o in objs] if say_pos else []
        parts.append(
            phrase_group(rng, colour, shape, len(objs), size=size, positions=positions,
                         colour_after=rng.random() < 0.2, vocab=vocab)
        )
        for o in objs:
            constraints.append(Constraint(colour, shape, size, o.position if say_pos else None))
    template = _pick(rng, CAPTION_TEMPLATES)
    say_bg = "{bg}" in template
    text = template.format(objs=_join(parts, rng), bg=_pick(rng, BACKGROUND_SYNONYMS[scene.background]))
    return text, TextSpec(tuple(constraints), exact=True, background=scene.background if say_bg else None)


PARTIAL_TEMPLATES = ("{objs}", "a picture with {objs}", "an image of {objs}", "{objs} on a background")


def partial_caption(
    scene: Scene, rng: np.random.Generator, n_mention: int | None = None, *, vocab: Vocabulary = DEMO_VOCAB,
    position_p: float = 0.2,
) -> tuple[str, TextSpec]:
    """A caption naming only one or two of the scene's objects (the shape of a search query).

    Colour and shape are always named (what queries ask for); size sometimes, position with ``position_p``.
    """
    objs = scene.objects
    if n_mention is None:
        n_mention = 1 if len(objs) == 1 or rng.random() < 0.6 else 2
    n_mention = min(n_mention, len(objs))
    chosen = [objs[i] for i in rng.permutation(len(objs))[:n_mention]]
    parts, constraints = [], []
    for o in chosen:
        size = o.size if rng.random() < 0.25 else None
        pos = [o.position] if rng.random() < position_p else []
        parts.append(phrase_group(rng, o.colour, o.shape, 1, size=size, positions=pos,
                                  colour_after=rng.random() < 0.25, vocab=vocab))
        constraints.append(Constraint(o.colour, o.shape, size, pos[0] if pos else None))
    text = _pick(rng, PARTIAL_TEMPLATES).format(objs=_join(parts, rng))
    return text, TextSpec(tuple(constraints), exact=False)


CAPTION_STREAM = 7


def scene_caption(scene: Scene, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB) -> str:
    """The stored caption of a split item (its own deterministic stream)."""
    return caption(scene, item_rng(scene.split, scene.index, seed, CAPTION_STREAM, vocab=vocab), vocab=vocab)[0]
