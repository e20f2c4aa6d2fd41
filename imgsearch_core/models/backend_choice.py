"""Which inference backend embeds a collection's images and queries: per collection, or for the whole process.

Why per collection: int8 is fast but only as good as its fidelity gate on a collection like this one, so an
archive's owner may pin `onnx-int8` (or `torch`) for one collection and leave the others on `auto`. The
process-wide IMGSEARCH_BACKEND, when set, wins: it is how an operator forces a backend on one machine
(e.g. `torch` where ONNX Runtime is missing). Vectors of one model from different backends stay
interchangeable (tests/integration/models/test_onnx_backend.py), so changing the choice never re-embeds.
"""
from __future__ import annotations

import os
from imgsearch_core.models.embed import BACKENDS, normalise_backend
from imgsearch_core.types import CollectionSettings

BACKEND_SETTING = "backend"  # Collection.set_setting key
ENV = "IMGSEARCH_BACKEND"


def saved_backend(collection: CollectionSettings) -> str:
    """The collection's own choice ('auto' when none is saved)."""
    return normalise_backend(collection.settings().get(f"setting_{BACKEND_SETTING}"))


def backend_for(collection: CollectionSettings) -> str:
    """The backend to embed this collection with: IMGSEARCH_BACKEND when set, else the collection's choice."""
    forced = os.environ.get(ENV, "").strip()
    return normalise_backend(forced) if forced else saved_backend(collection)


def save_backend(collection: CollectionSettings, backend: str) -> str:
    """Save the collection's backend (one of BACKENDS; unknown names raise ModelLoadError naming them)."""
    chosen = normalise_backend(backend)
    collection.set_setting(BACKEND_SETTING, chosen)
    return chosen


__all__ = ["BACKENDS", "BACKEND_SETTING", "backend_for", "save_backend", "saved_backend"]
