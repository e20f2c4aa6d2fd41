"""What a search link holds (?q=...&mode=...&alpha=...): parsing shared links with clear errors for bad values,
and writing them back short. The pages' choices (modes, k, slider steps) are defined here because links carry them.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from imgsearch_core.display.captions import escape_markdown


MODES: tuple[str, ...] = ("text", "vector", "hybrid")

MODE_LABELS = {"text": "Text", "vector": "Vector", "hybrid": "Hybrid"}

K_CHOICES: tuple[int, ...] = (12, 24, 48, 100)

ALPHA_STEPS: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))  # 0.00, 0.05 ... 1.00

MAX_QUERY_CHARS = 500


def quoted(raw: str) -> str:
    """A link's value as an error box shows it: quoted, at most 80 characters, never read as markdown."""
    return escape_markdown(repr(raw[:80]))


def _first(value: Any) -> str | None:
    """st.query_params gives str; AppTest and hand-made dicts may give lists."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def snap_alpha(value: float) -> float:
    """The nearest slider step (0.05 apart), so any alpha from a link can be shown on the slider."""
    return min(ALPHA_STEPS, key=lambda step: abs(step - value))


def alpha_label(alpha: float) -> str:
    """Slider tick text: the ends are named, the middle shows the weight."""
    if alpha <= 0:
        return "0 · keyword"
    if alpha >= 1:
        return "1 · semantic"
    return f"{alpha:.2f}"


def _parse_alpha(raw: str | None, default: float, errors: list[str]) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        errors.append(f"The link's alpha {quoted(raw)} is not a number from 0 (keyword) to 1 (semantic); using {default}.")
        return default
    return snap_alpha(value)


def _parse_k(raw: str | None, default: int, errors: list[str]) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value not in K_CHOICES:
        errors.append(f"The link's number of results {quoted(raw)} is not one of {', '.join(map(str, K_CHOICES))}; using {default}.")
        return default
    return value


def _parse_page(raw: str | None) -> int:
    try:
        return max(1, int(raw)) if raw else 1
    except ValueError:
        return 1


@dataclass(frozen=True)
class TextSearchParams:
    """What a text search link holds: ?q=red+circle&mode=hybrid&alpha=0.3&k=24&where=...&page=2."""

    q: str = ""
    mode: str = "hybrid"
    alpha: float = 0.5
    k: int = 24
    where: str = ""
    page: int = 1
    collection: str = ""
    default_alpha: float = 0.5  # the collection's saved slider value: a link leaves it out

    @classmethod
    def from_query(cls, params: Mapping[str, Any], default_alpha: float = 0.5) -> tuple["TextSearchParams", list[str]]:
        """Parse URL parameters; bad values fall back to defaults and are reported in `errors`."""
        errors: list[str] = []
        default = cls(alpha=default_alpha, default_alpha=default_alpha)
        mode = (_first(params.get("mode")) or default.mode).lower()
        if mode not in MODES:
            errors.append(f"The link's search mode {quoted(mode)} is not one of {', '.join(MODES)}; using {default.mode}.")
            mode = default.mode
        parsed = cls(
            q=(_first(params.get("q")) or "")[:MAX_QUERY_CHARS],
            mode=mode,
            alpha=_parse_alpha(_first(params.get("alpha")), default.alpha, errors),
            k=_parse_k(_first(params.get("k")), default.k, errors),
            where=_first(params.get("where")) or "",
            page=_parse_page(_first(params.get("page"))),
            collection=_first(params.get("c")) or "",
            default_alpha=default_alpha,
        )
        return parsed, errors

    def to_query(self) -> dict[str, str]:
        """URL parameters, leaving out defaults so shared links stay short."""
        out: dict[str, str] = {}
        if self.collection:
            out["c"] = self.collection
        if self.q:
            out["q"] = self.q
        if self.mode != "hybrid":
            out["mode"] = self.mode
        if self.mode == "hybrid" and self.alpha != self.default_alpha:
            out["alpha"] = f"{self.alpha:g}"
        if self.k != 24:
            out["k"] = str(self.k)
        if self.where:
            out["where"] = self.where
        if self.page > 1:
            out["page"] = str(self.page)
        return out


@dataclass(frozen=True)
class ImageSearchParams:
    """What an image search link holds: ?item=<id>&text=...&alpha=0.7&k=24 (uploads cannot be linked)."""

    item: str = ""
    text: str = ""
    alpha: float = 1.0
    k: int = 24
    page: int = 1
    collection: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple["ImageSearchParams", list[str]]:
        errors: list[str] = []
        default = cls()
        item = _first(params.get("item")) or ""
        if item and not re.fullmatch(r"[0-9a-fA-F]{8,128}", item):
            errors.append(f"The link's item id {quoted(item)} is not a valid id.")
            item = ""
        parsed = cls(
            item=item,
            text=(_first(params.get("text")) or "")[:MAX_QUERY_CHARS],
            alpha=_parse_alpha(_first(params.get("alpha")), default.alpha, errors),
            k=_parse_k(_first(params.get("k")), default.k, errors),
            page=_parse_page(_first(params.get("page"))),
            collection=_first(params.get("c")) or "",
        )
        return parsed, errors

    def to_query(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.collection:
            out["c"] = self.collection
        if self.item:
            out["item"] = self.item
        if self.text:
            out["text"] = self.text
        if self.alpha != 1.0:
            out["alpha"] = f"{self.alpha:g}"
        if self.k != 24:
            out["k"] = str(self.k)
        if self.page > 1:
            out["page"] = str(self.page)
        return out


def with_page(params: TextSearchParams | ImageSearchParams, page: int):
    return replace(params, page=page)
