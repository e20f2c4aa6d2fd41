"""Deterministic synthetic scenes: 1 to 3 coloured shapes drawn with Pillow, captions, exact metadata.

Why synthetic: no data set can be downloaded here, and a generated scene keeps its structured
description, so whether an image is relevant to a query is decided exactly (``satisfies``), not guessed.

Everything is a pure function of (vocabulary, split, index, seed): the same item is drawn byte for byte on
any machine, and the splits never share a random stream. Objects are placed at five anchor positions with a
little jitter and never overlap, so every shape stays visible; colours, sizes, rotation, backgrounds
and pixel noise vary so that no two images are pixel twins.

The colours and shapes (names, synonyms, drawings) form a ``Vocabulary``. ``DEMO_VOCAB``, the default
everywhere, is what the bundled model was trained on; ``SHIFTED_VOCAB`` shares no word or shape with it, so
fine-tuning on it can be measured on data the model has never seen.
"""
from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

# ----- shapes: how each one is drawn ----------------------------------------------------------------------
Point = tuple[float, float]
RGB = tuple[int, int, int]


class Shape(Protocol):
    def draw(self, draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float, fill: RGB) -> None:
        """Draw inside the circle of radius ``r`` around (cx, cy), turned by ``angle`` radians."""


@dataclass(frozen=True)
class Polygon:
    """Corners in units of the circumscribed radius around 0, so one outline serves every size and place."""

    points: tuple[Point, ...]

    def draw(self, draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float, fill: RGB) -> None:
        ca, sa = math.cos(angle), math.sin(angle)
        draw.polygon([(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in self.points], fill=fill)


def _box(cx: float, cy: float, radius: float) -> list[float]:
    return [cx - radius, cy - radius, cx + radius, cy + radius]


@dataclass(frozen=True)
class Disc:
    """A filled circle; rotating it would change nothing, so ``angle`` is ignored."""

    radius: float  # of r

    def draw(self, draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float, fill: RGB) -> None:
        draw.ellipse(_box(cx, cy, r * self.radius), fill=fill)


@dataclass(frozen=True)
class Ring:
    """An outlined circle: its hole shows the real background (gradient or texture), not a painted patch."""

    radius: float  # of r
    thickness: float  # of r

    def draw(self, draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float, fill: RGB) -> None:
        draw.ellipse(_box(cx, cy, r * self.radius), outline=fill, width=max(1, round(r * self.thickness)))


def _on_circle(degrees: Sequence[float], radius: float = 1.0, dy: float = 0.0) -> Polygon:
    return Polygon(tuple((math.cos(a) * radius, math.sin(a) * radius + dy) for a in np.deg2rad(degrees)))


def _star() -> Polygon:
    """Five tips: outer and inner corners alternate, the first pointing up."""
    corners = [(1.0 if k % 2 == 0 else 0.42, math.radians(-90 + 36 * k)) for k in range(10)]
    return Polygon(tuple((rad * math.cos(a), rad * math.sin(a)) for rad, a in corners))


def _cross(a: float = 0.92, w: float = 0.3) -> Polygon:
    """A plus sign whose arms reach ``a`` from the centre and are ``2 * w`` wide."""
    return Polygon(((-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w),
                    (-a, -w), (-w, -w)))


def _arc(x0: float, radius: float, start: float, stop: float, n: int) -> list[Point]:
    return [(x0 + radius * math.cos(a), radius * math.sin(a)) for a in np.deg2rad(np.linspace(start, stop, n))]


def _crescent(offset: float = 0.5, inner: float = 0.8, n: int = 16) -> Polygon:
    """The unit disc minus a disc of radius ``inner`` shifted right by ``offset``: a moon opening to the right."""
    x = (1 + offset**2 - inner**2) / (2 * offset)  # where the two circles cross
    y = math.sqrt(1 - x * x)
    outer, cut = math.degrees(math.atan2(y, x)), math.degrees(math.atan2(y, x - offset))
    return Polygon(tuple(_arc(0.0, 1.0, outer, 360 - outer, n) + _arc(offset, inner, 360 - cut, cut, n)))


def _heart(n: int = 32) -> Polygon:
    """The classic parametric heart, centred and scaled into the unit circle."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    y -= (y.max() + y.min()) / 2
    scale = np.hypot(x, y).max()
    return Polygon(tuple((float(a), float(b)) for a, b in zip(x / scale, y / scale)))


# ----- vocabularies ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vocabulary:
    """The colours and shapes of one world of scenes: their names, synonyms and drawings.

    Sizes, positions, backgrounds and count words are shared by all vocabularies; swapping the vocabulary
    yields objects a model has never seen or read about, so fine-tuning can be measured on them.
    """

    name: str
    colours: dict[str, RGB]
    colour_synonyms: dict[str, tuple[str, ...]]
    shapes: dict[str, Shape]  # sampled in this order
    shape_synonyms: dict[str, tuple[tuple[str, str], ...]]  # (singular, plural) pairs
    # Prepended to every item's random stream. Demo streams start with a split id (1-3), so any other first
    # number keeps a vocabulary's splits apart from the demo's; empty for the demo, whose data stays as published.
    stream: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if set(self.colour_synonyms) != set(self.colours) or set(self.shape_synonyms) != set(self.shapes):
            raise ValueError(f"vocabulary {self.name!r}: every colour and shape needs its synonyms")


DEMO_VOCAB = Vocabulary(
    name="demo",
    colours={
        "red": (215, 30, 35),
        "orange": (245, 135, 20),
        "yellow": (240, 215, 35),
        "green": (35, 155, 60),
        "blue": (35, 80, 215),
        "purple": (125, 45, 175),
        "pink": (245, 125, 190),
        "brown": (120, 72, 30),
    },
    colour_synonyms={
        "red": ("red", "crimson", "scarlet"),
        "orange": ("orange", "amber", "tangerine"),
        "yellow": ("yellow", "golden", "lemon"),
        "green": ("green", "emerald", "jade"),
        "blue": ("blue", "azure", "cobalt"),
        "purple": ("purple", "violet", "plum"),
        "pink": ("pink", "rose", "blush"),
        "brown": ("brown", "chocolate", "chestnut"),
    },
    shapes={
        "circle": Disc(0.9),
        "square": _on_circle([45, 135, 225, 315], 0.92),
        "triangle": _on_circle([-90, 30, 150], dy=0.12),
        "star": _star(),
        "diamond": Polygon(((0, -1.0), (0.62, 0), (0, 1.0), (-0.62, 0))),
        "cross": _cross(),
    },
    shape_synonyms={
        "circle": (("circle", "circles"), ("disc", "discs"), ("dot", "dots")),
        "square": (("square", "squares"), ("box", "boxes"), ("block", "blocks")),
        "triangle": (("triangle", "triangles"), ("wedge", "wedges")),
        "star": (("star", "stars"), ("star shape", "star shapes")),
        "diamond": (("diamond", "diamonds"), ("rhombus", "rhombuses"), ("lozenge", "lozenges")),
        "cross": (("cross", "crosses"), ("plus sign", "plus signs")),
    },
)
# Objects the bundled model has never seen: new shapes, new colours (saturated or very dark, so far from the
# demo's colours and from the muted grey backgrounds) and only new words.
SHIFTED_VOCAB = Vocabulary(
    name="shifted",
    colours={
        "teal": (0, 128, 128),
        "navy": (25, 35, 130),
        "lime": (150, 230, 30),
        "magenta": (230, 20, 210),
        "cyan": (20, 210, 230),
        "maroon": (105, 0, 60),
        "olive": (128, 140, 0),
        "black": (20, 20, 20),
    },
    colour_synonyms={
        "teal": ("teal", "turquoise", "petrol"),
        "navy": ("navy", "indigo", "midnight"),
        "lime": ("lime", "chartreuse"),
        "magenta": ("magenta", "fuchsia", "cerise"),
        "cyan": ("cyan", "aqua", "cerulean"),
        "maroon": ("maroon", "burgundy", "wine"),
        "olive": ("olive", "moss", "avocado"),
        "black": ("black", "ebony", "inky"),
    },
    shapes={
        "hexagon": _on_circle(range(0, 360, 60), 0.95),
        "arrow": Polygon(((-0.95, -0.24), (0.15, -0.24), (0.15, -0.64), (0.95, 0.0), (0.15, 0.64), (0.15, 0.24),
                          (-0.95, 0.24))),
        "heart": _heart(),
        "crescent": _crescent(),
        "ring": Ring(0.9, 0.4),
        "trapezoid": Polygon(((-0.45, -0.5), (0.45, -0.5), (0.88, 0.45), (-0.88, 0.45))),
    },
    shape_synonyms={
        "hexagon": (("hexagon", "hexagons"), ("hex", "hexes")),
        "arrow": (("arrow", "arrows"), ("pointer", "pointers")),
        "heart": (("heart", "hearts"), ("love heart", "love hearts")),
        "crescent": (("crescent", "crescents"), ("moon", "moons"), ("sickle", "sickles")),
        "ring": (("ring", "rings"), ("hoop", "hoops"), ("loop", "loops")),
        "trapezoid": (("trapezoid", "trapezoids"), ("trapezium", "trapeziums")),
    },
    stream=(100,),
)
# the demo vocabulary under its historic names (model card, tests)
COLOURS = DEMO_VOCAB.colours
COLOUR_SYNONYMS = DEMO_VOCAB.colour_synonyms
SHAPES: tuple[str, ...] = tuple(DEMO_VOCAB.shapes)
SHAPE_SYNONYMS = DEMO_VOCAB.shape_synonyms

# ----- shared by all vocabularies ---------------------------------------------------------------------------
SIZES: dict[str, float] = {"small": 0.22, "large": 0.30}  # diameter of the circumscribed circle / canvas
SIZE_SYNONYMS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big", "huge")}
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (0.18, 0.5),
    "right": (0.82, 0.5),
    "top": (0.5, 0.18),
    "bottom": (0.5, 0.82),
    "centre": (0.5, 0.5),
}
POSITION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "left": ("on the left", "at the left", "to the left"),
    "right": ("on the right", "at the right", "to the right"),
    "top": ("at the top", "near the top", "in the upper part"),
    "bottom": ("at the bottom", "near the bottom", "in the lower part"),
    "centre": ("in the centre", "in the middle", "at the center"),
}
BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "textured")
BACKGROUND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "flat", "solid"),
    "gradient": ("gradient", "fading", "shaded"),
    "textured": ("textured", "patterned", "grainy"),
}
COUNT_WORDS = {1: ("a", "one"), 2: ("two", "a pair of"), 3: ("three",)}
SPLITS: dict[str, int] = {"train": 1, "val": 2, "test": 3}
DEFAULT_SPLIT_SIZES: dict[str, int] = {"train": 20000, "val": 1000, "test": 2000}
DISPLAY_SIZE = 128  # pixels; what the demo collection stores and the app shows
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


# ----- rendering --------------------------------------------------------------------------------------
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


def render(scene: Scene, size: int = DISPLAY_SIZE, *, vocab: Vocabulary = DEMO_VOCAB) -> Image.Image:
    """Draw ``scene`` as an RGB image of ``size`` x ``size`` pixels (deterministic)."""
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
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


# ----- captions and text specs ---------------------------------------------------------------------
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


# ----- demo items of a split -------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoItem:
    name: str
    png: bytes
    caption: str
    metadata: dict = field(hash=False)
    scene: Scene = field(hash=False)


def split_scenes(split: str, count: int | None = None, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB) -> list[Scene]:
    count = DEFAULT_SPLIT_SIZES[split] if count is None else count
    return [scene_at(split, i, seed, vocab=vocab) for i in range(count)]


CAPTION_STREAM = 7


def scene_caption(scene: Scene, seed: int = 0, *, vocab: Vocabulary = DEMO_VOCAB) -> str:
    """The stored caption of a split item (its own deterministic stream)."""
    return caption(scene, item_rng(scene.split, scene.index, seed, CAPTION_STREAM, vocab=vocab), vocab=vocab)[0]


def demo_items(
    split: str = "test",
    count: int | None = None,
    seed: int = 0,
    size: int = DISPLAY_SIZE,
    *,
    vocab: Vocabulary = DEMO_VOCAB,
) -> Iterator[DemoItem]:
    """The items of a split, in order: name, PNG bytes, caption and metadata (deterministic)."""
    for scene in split_scenes(split, count, seed, vocab=vocab):
        meta = scene.to_metadata()
        text = scene_caption(scene, seed, vocab=vocab)
        yield DemoItem(scene.name, png_bytes(render(scene, size, vocab=vocab)), text, meta, scene)


VOCABULARIES: dict[str, Vocabulary] = {v.name: v for v in (DEMO_VOCAB, SHIFTED_VOCAB)}
VOCAB_KEY = "vocab"  # metadata key naming a non-demo vocabulary (demo items leave it out)


def vocabulary_of(metadata: dict) -> Vocabulary:
    """The vocabulary a stored scene was drawn with (items without the key are demo scenes)."""
    return VOCABULARIES[str(metadata.get(VOCAB_KEY, DEMO_VOCAB.name))]
