"""Embedder: any sentence-transformers CLIP, by hub name or local directory, as normalized float32.

Why a wrapper: collections are pinned to one model identity, the app and command line must get one
clear error (not a 78-second retry loop and a traceback) when a model cannot be loaded offline, and
every caller must get L2-normalized float32 so cosine == dot product everywhere.
"""
from __future__ import annotations

import copy
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from imgsearch_core.config import BUNDLED_MODELS_DIR


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says what was tried and how to fix it."""


@dataclass(frozen=True)
class ModelIdentity:
    """What a collection is pinned to: the model's name (or resolved path) and its embedding size."""

    name: str
    dim: int


def resolve_model(name_or_path: str) -> tuple[str, str | None]:
    """Return (identity name, local directory or None for a hub name).

    Bundled models are known by their short name so a store stays valid when the project moves;
    other local directories are pinned by their absolute path.
    """
    text = str(name_or_path).strip()
    if not text:
        raise ModelLoadError("No model given: pass a model name such as 'clip-ViT-B-32' or a local model directory.")
    bundled = BUNDLED_MODELS_DIR / text
    if "/" not in text and bundled.is_dir():
        return text, str(bundled)
    path = Path(text).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        if resolved.parent == BUNDLED_MODELS_DIR.resolve():
            return resolved.name, str(resolved)
        return str(resolved), str(resolved)
    if path.exists():
        raise ModelLoadError(f"Model path {text!r} is a file; give the directory that holds config.json.")
    looks_like_path = text.startswith(("/", ".", "~")) or text.count("/") > 1 or "\\" in text
    if looks_like_path:
        raise ModelLoadError(f"Model directory {text!r} does not exist.")
    return text, None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP check, so an offline machine fails in seconds instead of retrying for a minute."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _load_sentence_transformer(name: str, local_dir: str | None):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # e.g. the harmless torchvision fallback notice
    transformers_logging.disable_progress_bar()

    if local_dir is not None:
        try:
            return SentenceTransformer(local_dir, device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure becomes one clear message
            raise ModelLoadError(
                f"Could not load the model in {local_dir!r}: {exc}. The directory must hold a "
                "sentence-transformers or transformers CLIP model (config.json, weights, processor files)."
            ) from exc
    try:
        return SentenceTransformer(name, device="cpu", local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached locally; try the hub below
        pass
    if not _hub_reachable():
        raise ModelLoadError(
            f"Model {name!r} is not in the local Hugging Face cache and the model hub cannot be reached "
            "(offline or HF_HUB_OFFLINE=1). Fix: use the bundled offline model 'imgsearch-mini', give a local "
            f"model directory, or download {name!r} once on a machine with internet access "
            f"(SentenceTransformer({name!r}).save('some/dir')) and pass that directory."
        )
    try:
        return SentenceTransformer(name, device="cpu")
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"Could not download or load model {name!r}: {exc}") from exc


class Embedder:
    """Encodes images and texts into one normalized space. Thread-safe for Streamlit's sessions."""

    def __init__(self, name_or_path: str, *, batch_size: int = 32) -> None:
        name, local_dir = resolve_model(name_or_path)
        self._model = _load_sentence_transformer(name, local_dir)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        probe = self.embed_texts(["a photo"])
        self.identity = ModelIdentity(name=name, dim=int(probe.shape[1]))

    @property
    def dim(self) -> int:
        return self.identity.dim

    def _encode(self, inputs: Sequence[object]) -> np.ndarray:
        if len(inputs) == 0:
            return np.zeros((0, getattr(self, "identity", ModelIdentity("", 0)).dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(inputs),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def clip_parts(self) -> tuple[Any, Any]:
        """Copies of the underlying transformers CLIPModel and its processor, for fine-tuning.

        Copies, so training never changes the model that live searches use.
        """
        first = self._model[0]
        model, processor = getattr(first, "model", None), getattr(first, "processor", None)
        if model is None or processor is None or not hasattr(model, "get_image_features"):
            raise ModelLoadError(f"Model {self.identity.name!r} is not a CLIP model, so it cannot be fine-tuned here.")
        return copy.deepcopy(model), copy.deepcopy(processor)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""
        return self._encode(images)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""
        return self._encode(texts)
