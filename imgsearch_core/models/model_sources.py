"""Where a model named by the user lives: a bundled short name, a local directory, or a hub name.

Why one module for the CLIP and the captioner loaders: both must name models alike (a bundled model by its short
name, so a store stays valid when the project moves; another directory by its absolute path) and both must fail
in seconds on an offline machine instead of retrying the hub for a minute.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from imgsearch_core.config import BUNDLED_MODELS_DIR


def local_model(text: str) -> tuple[str, str] | None:
    """(identity name, directory) of a bundled short name or an existing directory; None for anything else."""
    bundled = BUNDLED_MODELS_DIR / text
    if "/" not in text and bundled.is_dir():
        return text, str(bundled)
    path = Path(text).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        name = resolved.name if resolved.parent == BUNDLED_MODELS_DIR.resolve() else str(resolved)
        return name, str(resolved)
    return None


def looks_like_path(text: str) -> bool:
    """A name that can only mean a directory (it cannot be a hub name)."""
    return text.startswith(("/", ".", "~")) or text.count("/") > 1 or "\\" in text


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP check, so an offline machine fails in seconds instead of retrying for a minute."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False
