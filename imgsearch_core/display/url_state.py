"""What a search link holds (?q=...&mode=...&alpha=...): parsing shared links with clear errors for bad values,
and writing them back short. The pages' choices (modes, k, slider steps) are defined here because links carry them.
The filters, sort and collapse both search pages share are url_listing.ListingParams.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from imgsearch_core.display.url_listing import KEYS as LISTING_KEYS, ListingParams, first as _first, flag, quoted
from imgsearch_core.search.composition import MAX_WEIGHT, with_fields
from imgsearch_core.search.fusion import METHODS


MODES: tuple[str, ...] = ("text", "vector", "hybrid")

MODE_LABELS = {"text": "Text", "vector": "Vector", "hybrid": "Hybrid"}

K_CHOICES: tuple[int, ...] = (12, 24, 48, 100)

ALPHA_STEPS: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))  # 0.00, 0.05 ... 1.00

MAX_QUERY_CHARS = 500


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


def _parse_weight(raw: str | None, field_name: str, errors: list[str]) -> float:
    """A "More of" / "Less of" weight: a number from 0 (leaves the field's terms out) to MAX_WEIGHT, else 1."""
    if raw is None or raw == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not 0.0 <= value <= MAX_WEIGHT:
        errors.append(f"The link's {field_name} weight {quoted(raw)} is not a number from 0 to {MAX_WEIGHT:g}; "
                      "using 1.")
        return 1.0
    return value


def _parse_page(raw: str | None) -> int:
    try:
        return max(1, int(raw)) if raw else 1
    except ValueError:
        return 1


@dataclass(frozen=True)
class TextSearchParams:
    """What a text search link holds: ?q=red+circle&mode=hybrid&alpha=0.3&fusion=rrf&cut=1&k=24&where=...&page=2,
    plus the filters, sort and collapse (ListingParams), and the composed query's "More of" / "Less of" fields
    (&more=sky,+item:3fa2c9e1&mw=2&less=red&lw=0.5; `q` itself may be composed, search.composition). The
    collection's saved alpha and fusion method are the defaults, and a link leaves them out."""

    q: str = ""
    mode: str = "hybrid"
    alpha: float = 0.5
    k: int = 24
    where: str = ""
    page: int = 1
    collection: str = ""
    default_alpha: float = 0.5  # the collection's saved slider value: a link leaves it out
    fusion: str = METHODS[0]
    cutoff: bool = False
    listing: ListingParams = field(default_factory=ListingParams)
    default_fusion: str = METHODS[0]  # the collection's saved fusion method: a link leaves it out
    more: str = ""  # "More of": comma-separated terms added with `more_weight`
    more_weight: float = 1.0
    less: str = ""  # "Less of": comma-separated terms subtracted with `less_weight`
    less_weight: float = 1.0

    KEYS: ClassVar[tuple[str, ...]] = ("q", "more", "mw", "less", "lw", "mode", "alpha", "fusion", "cut", "k", "where",
                                       *LISTING_KEYS, "page")  # the page's parameters

    @property
    def query(self) -> str:
        """What is searched: the box's query with the More of / Less of terms (SearchError for a malformed field)."""
        return with_fields(self.q, self.more, self.more_weight, self.less, self.less_weight)

    @classmethod
    def from_query(cls, params: Mapping[str, Any], default_alpha: float = 0.5,
                   default_fusion: str = METHODS[0]) -> tuple["TextSearchParams", list[str]]:
        """Parse URL parameters; bad values fall back to defaults and are reported in `errors`."""
        errors: list[str] = []
        default = cls(alpha=default_alpha, default_alpha=default_alpha)
        mode = (_first(params.get("mode")) or default.mode).lower()
        if mode not in MODES:
            errors.append(f"The link's search mode {quoted(mode)} is not one of {', '.join(MODES)}; using {default.mode}.")
            mode = default.mode
        fusion = _first(params.get("fusion")) or default_fusion
        if fusion not in METHODS:
            errors.append(f"The link's fusion method {quoted(fusion)} is not one of {', '.join(METHODS)}; "
                          f"using {default_fusion}.")
            fusion = default_fusion
        listing, listing_errors = ListingParams.from_query(params)
        parsed = cls(
            q=(_first(params.get("q")) or "")[:MAX_QUERY_CHARS],
            mode=mode,
            alpha=_parse_alpha(_first(params.get("alpha")), default.alpha, errors),
            k=_parse_k(_first(params.get("k")), default.k, errors),
            where=_first(params.get("where")) or "",
            page=_parse_page(_first(params.get("page"))),
            collection=_first(params.get("c")) or "",
            default_alpha=default_alpha,
            fusion=fusion,
            cutoff=flag(params.get("cut")),
            listing=listing,
            default_fusion=default_fusion,
            more=(_first(params.get("more")) or "")[:MAX_QUERY_CHARS],
            more_weight=_parse_weight(_first(params.get("mw")), "More of", errors),
            less=(_first(params.get("less")) or "")[:MAX_QUERY_CHARS],
            less_weight=_parse_weight(_first(params.get("lw")), "Less of", errors),
        )
        return parsed, errors + listing_errors

    def to_query(self) -> dict[str, str | list[str]]:
        """URL parameters, leaving out defaults so shared links stay short (a field's weight only with its terms).
        Without a query only the collection and the filters count (mode, alpha, fusion, cutoff and page rank
        nothing)."""
        out: dict[str, str | list[str]] = {}
        if self.collection:
            out["c"] = self.collection
        if self.q:
            out["q"] = self.q
        for key, text, weight_key, weight in (("more", self.more, "mw", self.more_weight),
                                              ("less", self.less, "lw", self.less_weight)):
            if text:
                out[key] = text
                if weight != 1:
                    out[weight_key] = f"{weight:g}"
        if self.mode != "hybrid":
            out["mode"] = self.mode
        if self.mode == "hybrid" and self.alpha != self.default_alpha:
            out["alpha"] = f"{self.alpha:g}"
        if (self.q or self.more or self.less) and self.mode == "hybrid" and self.fusion != self.default_fusion:
            out["fusion"] = self.fusion
        if (self.q or self.more or self.less) and self.cutoff:
            out["cut"] = "1"
        if self.k != 24:
            out["k"] = str(self.k)
        if self.where:
            out["where"] = self.where
        out.update(self.listing.to_query())
        if self.page > 1:
            out["page"] = str(self.page)
        return out


IMAGE_ONLY_ALPHA = 1.0
IMAGE_TEXT_ALPHA = 0.5


def image_default_alpha(text: str) -> float:
    """Image search's slider default: 1 (image only) without text; with text 0.5, an equal weight of the
    picture's likeness and the text's keyword matches, so typed text changes the ranking. (The collection's
    saved alpha is not used: it was tuned for text queries, balancing keywords against the text's meaning.)"""
    return IMAGE_TEXT_ALPHA if text.strip() else IMAGE_ONLY_ALPHA


@dataclass(frozen=True)
class ImageSearchParams:
    """What an image search link holds: ?item=<id>&text=...&alpha=0.7&k=24&page=2 plus the filters, sort and
    collapse (ListingParams). Uploads cannot be linked. The alpha is left out at image_default_alpha(text)."""

    item: str = ""
    text: str = ""
    alpha: float = IMAGE_ONLY_ALPHA
    k: int = 24
    page: int = 1
    collection: str = ""
    listing: ListingParams = field(default_factory=ListingParams)

    KEYS: ClassVar[tuple[str, ...]] = ("item", "text", "alpha", "k", *LISTING_KEYS, "page")  # the page's parameters

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple["ImageSearchParams", list[str]]:
        errors: list[str] = []
        item = _first(params.get("item")) or ""
        if item and not re.fullmatch(r"[0-9a-fA-F]{8,128}", item):
            errors.append(f"The link's item id {quoted(item)} is not a valid id.")
            item = ""
        text = (_first(params.get("text")) or "")[:MAX_QUERY_CHARS]
        listing, listing_errors = ListingParams.from_query(params)
        parsed = cls(
            item=item,
            text=text,
            alpha=_parse_alpha(_first(params.get("alpha")), image_default_alpha(text), errors),
            k=_parse_k(_first(params.get("k")), cls.k, errors),
            page=_parse_page(_first(params.get("page"))),
            collection=_first(params.get("c")) or "",
            listing=listing,
        )
        return parsed, errors + listing_errors

    def to_query(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = {}
        if self.collection:
            out["c"] = self.collection
        if self.item:
            out["item"] = self.item
        if self.text:
            out["text"] = self.text
        if self.alpha != image_default_alpha(self.text):
            out["alpha"] = f"{self.alpha:g}"
        if self.k != 24:
            out["k"] = str(self.k)
        out.update(self.listing.to_query())
        if self.page > 1:
            out["page"] = str(self.page)
        return out


def with_page(params: TextSearchParams | ImageSearchParams, page: int):
    return replace(params, page=page)


def normalized(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """A URL's parameters as {key: [values]}: the one form in which a page's written and read links compare."""
    return {key: [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
            for key, value in params.items()}
