"""The words and colours of the scene worlds: each ``Vocabulary`` names its colours and shapes (with synonyms
and drawings); sizes, positions, backgrounds and count words are shared by all of them.

Why a module of its own: sampling, drawing, captions, queries and the training targets all read these tables,
and ``DEMO_VOCAB`` must stay exactly what the bundled model was trained on. ``SHIFTED_VOCAB`` shares no word
or shape with it, so fine-tuning on it can be measured on data the model has never seen.
"""
from __future__ import annotations

from dataclasses import dataclass

from imgsearch_core.scenes.shapes import RGB, Disc, Polygon, Ring, Shape, crescent, cross, heart, on_circle, star


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
        "square": on_circle([45, 135, 225, 315], 0.92),
        "triangle": on_circle([-90, 30, 150], dy=0.12),
        "star": star(),
        "diamond": Polygon(((0, -1.0), (0.62, 0), (0, 1.0), (-0.62, 0))),
        "cross": cross(),
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
        "hexagon": on_circle(range(0, 360, 60), 0.95),
        "arrow": Polygon(((-0.95, -0.24), (0.15, -0.24), (0.15, -0.64), (0.95, 0.0), (0.15, 0.64), (0.15, 0.24),
                          (-0.95, 0.24))),
        "heart": heart(),
        "crescent": crescent(),
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


VOCABULARIES: dict[str, Vocabulary] = {v.name: v for v in (DEMO_VOCAB, SHIFTED_VOCAB)}
VOCAB_KEY = "vocab"  # metadata key naming a non-demo vocabulary (demo items leave it out)


def vocabulary_of(metadata: dict) -> Vocabulary:
    """The vocabulary a stored scene was drawn with (items without the key are demo scenes)."""
    return VOCABULARIES[str(metadata.get(VOCAB_KEY, DEMO_VOCAB.name))]
