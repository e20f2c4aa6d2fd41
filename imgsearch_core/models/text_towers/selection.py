"""Which text tower embeds a collection's text queries: the image model's own, or a selected text tower.

Why a collection setting: the images of a collection pinned to clip-ViT-B-32 stay as they are; only the
query side changes, so a switch is one metadata write (`setting_text_tower`, the tower's identity as
JSON; "" means the image model's own text tower) and never re-embeds an image. The pinning rules:

1. the tower's alignment names the collection's image model: by hub name when the collection is pinned to
   a hub name (`clip-ViT-B-32` and `sentence-transformers/clip-ViT-B-32` are one model), by a declared
   fingerprint when it is pinned to a local directory (imgsearch_core.models.text_towers.tower);
2. the tower's vectors have the collection's dimension;
3. at search time the tower's files still have the fingerprint recorded at selection (other weights under
   the same name are refused, as Collection.check_model refuses an image model's; the way out is to select
   the tower again, since no stored vector depends on it).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from imgsearch_core.models.backend_choice import backend_for
from imgsearch_core.models.embed import ModelLoadError, normalise_backend, resolve_model
from imgsearch_core.types import CollectionSettings, ModelIdentity
from imgsearch_core.errors import ModelMismatchError
from imgsearch_core.models.text_towers.tower import (
    DECLARATION, Alignment, TextTower, TowerBase, TowerIdentity, current_fingerprint, hub_name, tower_files,
)

if TYPE_CHECKING:
    from imgsearch_core.models.embed import Embedder

SETTING = "text_tower"
_towers: dict[tuple[str, str, str, str], TowerBase] = {}
_towers_lock = threading.Lock()


class TextTowerError(ModelMismatchError):
    """A text tower that may not embed queries for this collection; the message says why."""


class TextEncoder(Protocol):
    """What a query needs: unit-length float32 text vectors in the collection's image space."""

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def _is_hub_model(name: str) -> bool:
    try:
        return resolve_model(name)[1] is None
    except ModelLoadError:  # a local directory that is gone
        return False


def check_alignment(tower: TowerIdentity, alignment: Alignment | None, image_model: ModelIdentity,
                    collection_name: str) -> None:
    """Refuse a tower whose vectors do not live in this image model's space, or have another size."""
    who = f"Text tower {tower.name!r}"
    if alignment is None:
        raise TextTowerError(
            f"{who} does not say which image model it was trained against, so its vectors cannot be trusted to "
            f"match collection {collection_name!r}. If it was trained into clip-ViT-B-32's image space, declare it "
            f'in {DECLARATION} in its directory: {{"aligned_to": "clip-ViT-B-32"}}.'
        )
    if _is_hub_model(image_model.name):
        aligned = hub_name(image_model.name) == alignment.image_model
    else:
        aligned = bool(image_model.fingerprint) and image_model.fingerprint in alignment.image_fingerprints
    if not aligned:
        could_be_copy = not _is_hub_model(image_model.name) and image_model.fingerprint and image_model.dim == tower.dim
        local = "" if not could_be_copy else (
            f" If {image_model.name!r} is a copy of {alignment.image_model}, add its fingerprint "
            f"{image_model.fingerprint} to \"image_model_fingerprints\" in the tower's {DECLARATION} (the text-tower "
            f"command's --declare {alignment.image_model} --image-copy DIR does this).")
        raise TextTowerError(
            f"{who} was trained into the image space of {alignment.image_model!r}; collection {collection_name!r} is "
            f"pinned to {image_model.name!r}, whose image vectors live in another space.{local}"
        )
    if tower.dim != image_model.dim:
        raise TextTowerError(
            f"{who} gives {tower.dim}-d vectors; collection {collection_name!r} holds {image_model.dim}-d "
            "image vectors, so they cannot be compared."
        )


def load_text_tower(name_or_path: str, backend: str = "torch") -> TowerBase:
    """The tower by name or path on `backend` (imgsearch_core.models.embed.BACKENDS: 'torch' is sentence-transformers,
    the others its ONNX export, text_towers/onnx_tower.py, or torch when that cannot be used), loaded once
    per process per (name, fingerprint, device setting, backend); a tower whose files changed is loaded again
    and the old weights are let go."""
    name, files_dir = tower_files(name_or_path)
    device = os.environ.get("IMGSEARCH_DEVICE", "")
    backend = normalise_backend(backend)
    fingerprint = current_fingerprint(files_dir)
    with _towers_lock:
        tower = _towers.get((name, fingerprint, device, backend))
        if tower is None:
            tower = _new_tower(name_or_path, backend)
            for old in [k for k in _towers if k[0] == name and k[1] != tower.identity.fingerprint]:
                del _towers[old]
            _towers[(name, tower.identity.fingerprint, device, backend)] = tower
        return tower


def _new_tower(name_or_path: str, backend: str) -> TowerBase:
    if backend != "torch":
        from imgsearch_core.models.text_towers.onnx_export import onnx_tower

        tower = onnx_tower(name_or_path, backend)
        if tower is not None:
            return tower
    return TextTower(name_or_path)


def selected_text_tower(collection: CollectionSettings) -> TowerIdentity | None:
    """The collection's tower selection, or None when queries use the image model's own text tower."""
    raw = collection.settings().get(f"setting_{SETTING}")
    try:
        return TowerIdentity.from_setting(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise TextTowerError(f"Collection {collection.name!r} has an unreadable text tower setting ({exc}); "
                             "select a tower again or switch back to the image model's own.") from exc


def select_text_tower(collection: CollectionSettings, name_or_path: str) -> TowerIdentity:
    """Embed this collection's text queries with the tower from now on (after the pinning rules pass)."""
    tower = load_text_tower(name_or_path, backend_for(collection))  # on ONNX: the export is made here, once
    check_alignment(tower.identity, tower.alignment, collection.model, collection.name)
    collection.set_setting(SETTING, tower.identity.to_setting())
    return tower.identity


def use_image_model_text_tower(collection: CollectionSettings) -> None:
    """Switch back: the image model's own text tower embeds the queries again."""
    collection.set_setting(SETTING, "")


def text_encoder_for(collection: CollectionSettings, embedder: "Embedder") -> TextEncoder:
    """What embeds this collection's text queries: the selected tower (checked against its pinned
    fingerprint and the collection's image model), else `embedder`, the collection's image model. The tower
    runs on the collection's backend (imgsearch_core.models.backend_choice: IMGSEARCH_BACKEND, else its setting), as
    the image model's own text tower does."""
    collection.check_model(embedder.identity)
    pinned = selected_text_tower(collection)
    if pinned is None:
        return embedder
    try:
        tower = load_text_tower(pinned.name, backend_for(collection))
    except ModelLoadError as exc:
        raise ModelLoadError(f"The text tower of collection {collection.name!r} cannot be loaded: {exc} Restore it, "
                             "or switch back to the image model's own text tower.") from exc
    if tower.identity.fingerprint != pinned.fingerprint:
        raise TextTowerError(
            f"The text tower of collection {collection.name!r}, {pinned.name!r}, now has other weights (fingerprint "
            f"{pinned.fingerprint[:12]} when selected, {tower.identity.fingerprint[:12]} now). Select it again to "
            "use the new weights (no image is embedded again), or switch back to the image model's own text tower."
        )
    check_alignment(tower.identity, tower.alignment, collection.model, collection.name)
    return tower


class QueryEmbedder:
    """The collection's image model with its text queries embedded by `text_encoder_for`: a drop-in for the
    Embedder a Searcher takes. Everything else (identity, images, backend, device) is the image model's."""

    def __init__(self, embedder: "Embedder", text_encoder: TextEncoder) -> None:
        self.image_embedder = embedder
        self.text_encoder = text_encoder

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.text_encoder.embed_texts(texts)

    def __getattr__(self, name: str) -> Any:
        if name in {"image_embedder", "text_encoder"}:  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.image_embedder, name)


def query_embedder_for(collection: CollectionSettings, embedder: "Embedder") -> QueryEmbedder:
    """`embedder` with the collection's text tower for queries (see `text_encoder_for`)."""
    return QueryEmbedder(embedder, text_encoder_for(collection, embedder))
