"""How each shape of a vocabulary is drawn: outlines in units of the circumscribed radius, so one drawing
serves every size, place and rotation.

Why apart from the vocabularies: a vocabulary only names its shapes; what a shape looks like (and the
geometry that builds the star, the crescent or the heart) is drawing code shared by all of them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import ImageDraw

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


def on_circle(degrees: Sequence[float], radius: float = 1.0, dy: float = 0.0) -> Polygon:
    """Corners at ``degrees`` on a circle of ``radius`` around 0, moved down by ``dy`` (squares, hexagons)."""
    return Polygon(tuple((math.cos(a) * radius, math.sin(a) * radius + dy) for a in np.deg2rad(degrees)))


def star() -> Polygon:
    """Five tips: outer and inner corners alternate, the first pointing up."""
    corners = [(1.0 if k % 2 == 0 else 0.42, math.radians(-90 + 36 * k)) for k in range(10)]
    return Polygon(tuple((rad * math.cos(a), rad * math.sin(a)) for rad, a in corners))


def cross(a: float = 0.92, w: float = 0.3) -> Polygon:
    """A plus sign whose arms reach ``a`` from the centre and are ``2 * w`` wide."""
    return Polygon(((-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w),
                    (-a, -w), (-w, -w)))


def _arc(x0: float, radius: float, start: float, stop: float, n: int) -> list[Point]:
    return [(x0 + radius * math.cos(a), radius * math.sin(a)) for a in np.deg2rad(np.linspace(start, stop, n))]


def crescent(offset: float = 0.5, inner: float = 0.8, n: int = 16) -> Polygon:
    """The unit disc minus a disc of radius ``inner`` shifted right by ``offset``: a moon opening to the right."""
    x = (1 + offset**2 - inner**2) / (2 * offset)  # where the two circles cross
    y = math.sqrt(1 - x * x)
    outer, cut = math.degrees(math.atan2(y, x)), math.degrees(math.atan2(y, x - offset))
    return Polygon(tuple(_arc(0.0, 1.0, outer, 360 - outer, n) + _arc(offset, inner, 360 - cut, cut, n)))


def heart(n: int = 32) -> Polygon:
    """The classic parametric heart, centred and scaled into the unit circle."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    y -= (y.max() + y.min()) / 2
    scale = np.hypot(x, y).max()
    return Polygon(tuple((float(a), float(b)) for a, b in zip(x / scale, y / scale)))

