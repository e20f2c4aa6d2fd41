"""What goes into a collection and what comes out of it, and the metadata Chroma accepts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Record:
    """One item ready to store: its vector, caption, metadata and the media bytes to keep."""

    id: str
    embedding: np.ndarray
    caption: str
    metadata: dict[str, Any]
    media: bytes
    media_ext: str


@dataclass(frozen=True)
class StoredItem:
    id: str
    caption: str
    metadata: dict[str, Any]
    media_path: Path


def clean_metadata(metadata: dict[str, Any], keep_none: bool = False) -> dict[str, Any]:
    """Chroma metadata values must be str, int, float, bool or a non-empty list of strings; drop
    empties, stringify the rest. `keep_none`: for updates, where None removes a key."""
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None and keep_none and str(key).strip():
            clean[str(key)] = None
            continue
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(key).strip() == "":
            continue
        if isinstance(value, (list, tuple)):
            words = [str(v) for v in value if v is not None and str(v) != ""]
            if words:
                clean[str(key)] = words
            elif keep_none:
                clean[str(key)] = None
        elif isinstance(value, (bool, int, float, str)):
            clean[str(key)] = value
        elif isinstance(value, np.generic):
            clean[str(key)] = value.item()
        else:
            clean[str(key)] = str(value)
    return clean
