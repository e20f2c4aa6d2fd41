"""Records and protocols shared across layers; this module imports nothing of the package.

Why here: the store pins a collection to a model without importing the models layer (a model's identity is
a plain record), and the models layer reads a collection's settings without importing the store (a protocol).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ModelIdentity:
    """What a collection is pinned to: the model's name (or resolved path), its embedding size and the
    fingerprint of its files (weights, config, preprocessing; "" for a hub model not on disk)."""

    name: str
    dim: int
    fingerprint: str = field(default="", compare=False)  # compared by Collection.check_model


class CollectionSettings(Protocol):
    """What the models layer reads and records of a collection (store.collection.Collection provides it):
    its name, the model it is pinned to (and the check against it) and its settings (`setting_` keys)."""

    name: str

    @property
    def model(self) -> ModelIdentity: ...

    def check_model(self, identity: ModelIdentity) -> None: ...

    def settings(self) -> dict[str, Any]: ...

    def set_setting(self, key: str, value: str | int | float | bool) -> None: ...


@dataclass(frozen=True)
class WordBox:
    """One word read inside a picture: its text, the engine's confidence (0-1) and its box (x0, y0, x1, y1) in
    pixels of the picture as stored (after EXIF orientation), so the detail view can draw it on that picture."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]


class TextReader(Protocol):
    """Reads the words inside a picture (an OCR engine in `models`). Ingest and enrich take one as a collaborator,
    so they never import an engine; `name` (engine and model version) is recorded with the words it read."""

    name: str

    def read(self, image: Any) -> list[WordBox]: ...


class Captioner(Protocol):
    """Describes pictures in words (an image-to-text model in `models`). `name` is recorded with each machine
    caption, which never replaces an editorial one."""

    name: str

    def caption(self, images: list[Any]) -> list[str]: ...
