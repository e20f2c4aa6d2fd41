"""Pictures with words in them, rendered with real fonts, and the word recall/precision of a reading.

Why rendered: each picture knows exactly which words it holds, so an OCR engine's reading can be scored
without hand labels. The words are drawn the way a photo shows them: Debian's DejaVu fonts at 14-60 px,
turned by 0, +-5 or +-15 degrees, at high, medium and low contrast, on a sign panel or straight on the
background, over smooth noise, a gradient or a generated scene, then softened and JPEG-compressed.
About a third of the words carry accents (de/fr/nl/es/it), the reason the engines are compared at all.

    fixture(seed) -> OcrFixture              one picture, a pure function of the seed
    fixture_set(count, seed=0) -> list       the bench's and the tests' sets
    big_picture(width, height) -> OcrFixture a 49-MP scan with three large words (memory and box mapping)
    render_sign(...) / scene_background(...) the building blocks, for the targeted test pictures
    score(truth, read, folded) -> Score      multiset word matching, case-insensitive
"""
from __future__ import annotations

import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from imgsearch_core.scenes.render import render
from imgsearch_core.scenes.scenes import scene_at

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian fonts-dejavu-core
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansCondensed-Bold.ttf")
WIDTH, HEIGHT = 800, 600
ANGLES = (0.0, 5.0, -5.0, 15.0, -15.0)
SIZES = (14, 20, 28, 40, 60)  # text height in px of an 800 x 600 picture: caption to headline
CONTRASTS = {"high": 170, "medium": 95, "low": 60}  # luminance gap between text and what is behind it
BACKGROUNDS = ("noise", "gradient", "scene")

PLAIN_WORDS = (
    "POLICE", "STOP", "Hotel", "Bakery", "EXIT", "Station", "Market", "Berlin", "Amsterdam", "Madrid",
    "Roma", "Paris", "Apotheek", "Farmacia", "Museum", "Taxi", "Press", "Strike", "Vote", "Peace",
    "Parking", "Bank", "Open", "Welcome", "Theater", "Pharmacie", "Bahnhof", "Ufficio", "Mercado", "Centrum",
    "2024", "17",
)
ACCENTED_WORDS = (
    "Zürich", "Straße", "café", "señal", "perché", "één", "Köln", "français", "mañana", "città",
    "Größe", "élève", "über", "coöperatie", "déjà", "niño", "Müller", "garçon", "più", "après",
)


@dataclass(frozen=True)
class OcrFixture:
    """One picture and the words drawn in it (in drawing order), with how they were drawn."""

    name: str
    image: Image.Image
    words: tuple[str, ...]
    boxes: tuple[tuple[int, int, int, int], ...]  # one per sign (axis-aligned, after turning)
    angle: float
    size: int
    contrast: str
    background: str


@dataclass(frozen=True)
class Score:
    """Matched words against the truth (recall) and against what was read (precision)."""

    matched: int
    truth: int
    read: int

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.read if self.read else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(self.matched + other.matched, self.truth + other.truth, self.read + other.read)


_EDGE = re.compile(r"^\W+|\W+$")


def normalise(word: str, folded: bool) -> str:
    """Lower-case (not casefold: that turns ß into ss) and trim punctuation; `folded` also drops accents."""
    text = _EDGE.sub("", unicodedata.normalize("NFC", word)).lower()
    if folded:
        text = text.replace("ß", "ss")
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


def score(truth: Iterable[str], read: Iterable[str], folded: bool = False) -> Score:
    """Multiset match of words: a word read twice counts once unless the picture holds it twice."""
    want = Counter(w for w in (normalise(t, folded) for t in truth) if w)
    got = Counter(w for w in (normalise(r, folded) for r in read) if w)
    return Score(sum((want & got).values()), sum(want.values()), sum(got.values()))


@lru_cache(maxsize=32)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _smooth_noise(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Blotchy low-frequency colour (a defocused street) plus fine sensor noise."""
    small = rng.uniform(40, 215, size=(6, 8, 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    return base + rng.normal(0, 8, size=base.shape)


def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    a, b = rng.uniform(30, 225, size=3), rng.uniform(30, 225, size=3)
    theta = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xx * math.cos(theta) + yy * math.sin(theta))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    return a + (b - a) * t[..., None] + rng.normal(0, 6, size=(height, width, 3))


def scene_background(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A generated scene (imgsearch_core.scenes) scaled to the picture: shapes and textures behind the words."""
    side = max(width, height)
    picture = render(scene_at("test", index), size=side)
    return np.asarray(picture.convert("RGB"), dtype=np.float32)[:height, :width]


def background(kind: str, rng: np.random.Generator, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    if kind == "noise":
        return _smooth_noise(rng, width, height)
    if kind == "gradient":
        return _gradient(rng, width, height)
    return scene_background(int(rng.integers(0, 1000)), width, height)


def _padding(size: int) -> int:
    return max(4, size // 3)


def sign_extent(text: str, font_name: str, size: int, angle: float) -> tuple[int, int]:
    """Width and height a sign takes once turned (what render_sign will draw, padding included)."""
    left, top, right, bottom = font(font_name, size).getbbox(text)
    w, h = right - left + 2 * _padding(size), bottom - top + 2 * _padding(size)
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    return math.ceil(w * c + h * s) + 1, math.ceil(w * s + h * c) + 1


def render_sign(
    canvas: np.ndarray, text: str, *, xy: tuple[int, int], size: int, angle: float, contrast: str,
    font_name: str, panel: bool, rng: np.random.Generator,
) -> tuple[int, int, int, int]:
    """Draw `text` onto `canvas` (float RGB, changed in place) with its top-left near `xy`; returns its box.

    The text colour is set against the mean luminance of what lies behind it, so the contrast is the one
    asked for whatever the background; a panel (a placard, a shop sign) gets its own colour first."""
    face = font(font_name, size)
    left, top, right, bottom = face.getbbox(text)
    pad = _padding(size)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((pad - left, pad - top), text, font=face, fill=255)
    panel_mask = Image.new("L", (w, h), 255 if panel else 0)
    if angle:
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        panel_mask = panel_mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    x, y = xy
    x = int(min(max(x, 0), canvas.shape[1] - mask.width))
    y = int(min(max(y, 0), canvas.shape[0] - mask.height))
    region = canvas[y:y + mask.height, x:x + mask.width]
    gap = CONTRASTS[contrast]
    if panel:
        shade = rng.uniform(20, 235)
        colour = np.clip(shade + rng.uniform(-25, 25, size=3), 0, 255)
        alpha = np.asarray(panel_mask, dtype=np.float32)[..., None] / 255
        region[:] = region * (1 - alpha) + colour * alpha
    behind = float(region.mean())
    ink = behind - gap if behind >= gap else min(behind + gap, 255.0)  # dark ink where it fits, else light
    tint = np.clip(ink + rng.uniform(-10, 10, size=3), 0, 255)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255
    region[:] = region * (1 - alpha) + tint * alpha
    box = np.argwhere(np.asarray(mask) > 96)
    (y0, x0), (y1, x1) = box.min(axis=0), box.max(axis=0)
    return x + int(x0), y + int(y0), x + int(x1) + 1, y + int(y1) + 1


def photo_finish(canvas: np.ndarray, quality: int = 82) -> Image.Image:
    """Lens softness and JPEG compression, as a photo arrives."""
    picture = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _pick_words(rng: np.random.Generator, n: int) -> list[str]:
    words = []
    for _ in range(n):
        pool = ACCENTED_WORDS if rng.random() < 0.4 else PLAIN_WORDS
        words.append(str(pool[int(rng.integers(len(pool)))]))
    return words


def fixture(seed: int, *, angle: float | None = None, size: int | None = None, contrast: str | None = None,
            kind: str | None = None) -> OcrFixture:
    """Three signs of one or two words in three bands of the picture; unset conditions cycle with the seed."""
    rng = np.random.default_rng([0x0C12, seed])
    angle = ANGLES[seed % len(ANGLES)] if angle is None else angle
    size = SIZES[(seed // len(ANGLES)) % len(SIZES)] if size is None else size
    contrast = list(CONTRASTS)[seed % 3] if contrast is None else contrast
    kind = BACKGROUNDS[(seed // 2) % len(BACKGROUNDS)] if kind is None else kind
    canvas = background(kind, rng)
    words: list[str] = []
    boxes = []
    top = int(rng.integers(5, 40))
    for _ in range(3):
        sign = _pick_words(rng, 1 + int(rng.random() < 0.5))
        font_name = FONTS[int(rng.integers(len(FONTS)))]
        text = " ".join(sign)
        fitted = size
        while font(font_name, fitted).getlength(text) > WIDTH * 0.8 and fitted > 10:
            fitted -= 2
        w, h = sign_extent(text, font_name, fitted, angle)
        if top + h > HEIGHT:  # no room left below the signs drawn: signs never overlap
            break
        x = int(rng.integers(5, max(6, WIDTH - w - 5)))
        boxes.append(render_sign(canvas, text, xy=(x, top), size=fitted, angle=angle, contrast=contrast,
                                 font_name=font_name, panel=bool(rng.random() < 0.5), rng=rng))
        words.extend(sign)
        top += h + int(rng.integers(15, 90))
    name = f"s{seed}-{kind}-{size}px-{angle:+.0f}deg-{contrast}"
    return OcrFixture(name, photo_finish(canvas), tuple(words), tuple(boxes), angle, size, contrast, kind)


def fixture_set(count: int, seed: int = 0) -> list[OcrFixture]:
    return [fixture(seed * 10_000 + i) for i in range(count)]


def words_in(fixtures: Sequence[OcrFixture]) -> int:
    return sum(len(f.words) for f in fixtures)


def big_picture(width: int = 7000, height: int = 7000, size: int | None = None) -> OcrFixture:
    """A 49-MP scan (a paper-coloured page) with three words large enough to survive the engine's downscale
    (or `size` px tall, for words that only survive a milder one).

    Drawn in Pillow with each sign rendered on a float cut-out only: one copy of the picture, about a second."""
    rng = np.random.default_rng(49)
    image = Image.new("RGB", (width, height), (214, 205, 188))
    words, boxes, size = ("Zürich", "Bahnhof", "2024"), [], size or height // 27
    for k, word in enumerate(words):
        x, y = width // 12 + k * width // 8, height // 6 + k * height // 4
        area = (x, y, x + width // 2, y + height // 8)
        cut = np.asarray(image.crop(area), dtype=np.float32).copy()
        x0, y0, x1, y1 = render_sign(cut, word, xy=(0, 0), size=size, angle=0.0, contrast="high",
                                     font_name="DejaVuSans-Bold.ttf", panel=True, rng=rng)
        image.paste(Image.fromarray(np.clip(cut, 0, 255).astype(np.uint8)), area[:2])
        boxes.append((x + x0, y + y0, x + x1, y + y1))
    return OcrFixture(f"scan-{width}x{height}", image, words, tuple(boxes), 0.0, size, "high", "plain")
