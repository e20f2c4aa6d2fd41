"""Embedder: any sentence-transformers CLIP, by hub name or local directory, as normalized float32.

Why a wrapper: collections are pinned to one model identity, the app and command line must get one
clear error (not a 78-second retry loop and a traceback) when a model cannot be loaded offline, and
every caller must get L2-normalized float32 so cosine == dot product everywhere.

Backends (`backend=` or IMGSEARCH_BACKEND): `torch` (sentence-transformers' encode), `onnx` (ONNX Runtime,
fp32), `onnx-int8` (dynamic int8), `auto` (the default: ONNX int8 where the model's int8 export passed both
fidelity gates, else ONNX fp32, else torch with a warning). The gates (backends/gate.py on 48 calibration
items at export, backends/collection_gate.py on a 2,000-scene collection when an ingest of that size first
wants int8: `settle_int8`) run once per model fingerprint and are cached in the export's manifest, so
`auto`'s choice costs nothing at start-up; until the second has run, `auto` is fp32. One exception,
AUTO_FP32_MODELS: the bundled demo model passes both gates (collection top-10 overlap 0.963) and int8 keeps
its judged precision on the 2,000 demo scenes (P@5 0.611 vs fp32 0.613 over 150 queries), but
tests/integration/demo/test_demo_collection.py's vector precision bar (0.8 on 6 queries x 5 hits) is exactly what
fp32 scores there, and int8 scores 0.767 (one hit of 30), so `auto` keeps the demo on fp32. The ONNX export is made
once per model fingerprint and cached; when a valid export exists the ONNX path loads it directly and never
imports torch or sentence-transformers, which are loaded lazily only to export, for the torch backend, or
for `clip_parts` (fine-tuning).
Device (`device=` or IMGSEARCH_DEVICE): see backends/device.py.
"""
from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imgsearch_core.config import DEMO_MODEL
from imgsearch_core.models.model_sources import hub_reachable, local_model, looks_like_path
from imgsearch_core.types import ModelIdentity

log = logging.getLogger(__name__)
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
AUTO_FP32_MODELS = frozenset({DEMO_MODEL})  # identity names `auto` keeps on fp32 (see the module docstring)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says what was tried and how to fix it."""


def resolve_model(name_or_path: str) -> tuple[str, str | None]:
    """Return (identity name, local directory or None for a hub name).

    Bundled models are known by their short name so a store stays valid when the project moves;
    other local directories are pinned by their absolute path.
    """
    text = str(name_or_path).strip()
    if not text:
        raise ModelLoadError("No model given: pass a model name such as 'clip-ViT-B-32' or a local model directory.")
    found = local_model(text)
    if found is not None:
        return found
    if Path(text).expanduser().exists():
        raise ModelLoadError(f"Model path {text!r} is a file; give the directory that holds config.json.")
    if looks_like_path(text):
        raise ModelLoadError(f"Model directory {text!r} does not exist.")
    return text, None


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
    if not hub_reachable():
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


def normalise_backend(value: str | None) -> str:
    text = (value or "auto").strip().lower()
    aliases = {"onnx-fp32": "onnx", "int8": "onnx-int8", "onnx_int8": "onnx-int8", "pytorch": "torch"}
    text = aliases.get(text, text)
    if text not in BACKENDS:
        raise ModelLoadError(f"Unknown backend {value!r}: use one of {', '.join(BACKENDS)} (IMGSEARCH_BACKEND).")
    return text


def _hub_snapshot(name: str) -> str | None:
    """The local Hugging Face cache folder of a hub model, without importing torch (None if not cached)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    for repo_id in ([name, f"sentence-transformers/{name}"] if "/" not in name else [name]):
        try:
            return snapshot_download(repo_id, local_files_only=True)
        except Exception:  # noqa: BLE001 - not cached under this id
            continue
    return None


class Embedder:
    """Encodes images and texts into one normalized space. Thread-safe for Streamlit's sessions.

    `backend` is the backend actually used ('torch', 'onnx' or 'onnx-int8'), `device` where it runs.
    """

    def __init__(self, name_or_path: str, *, batch_size: int | None = None, backend: str | None = None,
                 device: str | None = None) -> None:
        name, local_dir = resolve_model(name_or_path)
        self._name, self._local_dir = name, local_dir
        self.requested_backend = normalise_backend(backend if backend is not None else os.environ.get("IMGSEARCH_BACKEND"))
        self._device_request = device
        self._lock = threading.Lock()
        self._model = None  # the SentenceTransformer, loaded only when needed
        self._onnx = None
        self.export = None  # backends.layout.Export when an ONNX backend is used
        self.gate: dict | None = None  # the int8 fidelity gate's figures (ONNX backends)
        self.fingerprint: str | None = None  # fingerprint.model_fingerprint of the files (ONNX backends)
        if self.requested_backend == "torch":
            self._use_torch()
        else:
            try:
                self._use_onnx(self.requested_backend)
            except ModelLoadError:
                raise
            except Exception as exc:  # noqa: BLE001 - export/runtime failures: fall back or explain
                if self.requested_backend != "auto":
                    raise ModelLoadError(
                        f"The ONNX backend ({self.requested_backend}) is not available for model {name!r}: {exc}. "
                        "Use IMGSEARCH_BACKEND=torch (or auto, which falls back to torch)."
                    ) from exc
                log.warning("ONNX backend unavailable for %s (%s); falling back to torch.", name, exc)
                self._use_torch()
        self.batch_size = int(batch_size or self.device_choice.batch_size)
        # ONNX: the export's manifest gives the dimension, so no tower's session is made before it is used.
        dim = self._onnx.dim if self._onnx is not None else int(self.embed_texts(["a photo"]).shape[1])
        if self.fingerprint is None and local_dir is not None:
            from imgsearch_core.fingerprint import model_fingerprint

            self.fingerprint = model_fingerprint(local_dir)  # cached by file size and mtime: cheap after once
        self.identity = ModelIdentity(name=name, dim=dim, fingerprint=self.fingerprint or "")

    # ----- backend set-up -------------------------------------------------------------------------------
    def _device(self, use_torch: bool):
        from imgsearch_core.models.backends.device import DeviceError, detect_device

        try:
            return detect_device(self._device_request, use_torch=use_torch)
        except DeviceError as exc:
            raise ModelLoadError(str(exc)) from exc

    def _sentence_transformer(self):
        if self._model is None:
            self._model = _load_sentence_transformer(self._name, self._local_dir)
        return self._model

    def _use_torch(self) -> None:
        self.device_choice = self._device(use_torch=True)
        model = self._sentence_transformer()
        if self.device_choice.torch_device != "cpu":
            model.to(self.device_choice.torch_device)
            if self.device_choice.torch_fp16:
                model.half()
        self.backend, self.device, self._onnx = "torch", self.device_choice.torch_device, None

    def _model_files_dir(self) -> str | None:
        return self._local_dir if self._local_dir is not None else _hub_snapshot(self._name)

    def _use_onnx(self, requested: str) -> None:
        from imgsearch_core.models.backends import layout
        from imgsearch_core.fingerprint import FingerprintError, model_fingerprint

        self.device_choice = self._device(use_torch=False)
        owner = Path(self._local_dir) if self._local_dir is not None else None  # hub caches are not ours to write
        files_dir = self._model_files_dir()
        fingerprint = export = None
        if files_dir is not None:
            try:
                fingerprint = model_fingerprint(files_dir)
                export = layout.find_export(owner, fingerprint)
            except FingerprintError:
                fingerprint = None
        if export is None:
            st_model = self._sentence_transformer()  # a ModelLoadError here is the model's, not ONNX's
            files_dir = files_dir or self._model_files_dir()
            if files_dir is None:
                raise RuntimeError("the model's files were not found on disk, so it cannot be fingerprinted")
            fingerprint = fingerprint or model_fingerprint(files_dir)
            from imgsearch_core.models.backends.export import export_model

            export = export_model(st_model, owner, fingerprint)
            self._model = None  # free it; clip_parts() and the torch backend load it again when asked
        if requested == "onnx-int8" and not export.int8_approved:
            log.warning("Model %s: int8 has not passed both fidelity gates (%s; collection %s) but backend onnx-int8 "
                        "was asked for explicitly.", self._name, export.gate, export.manifest.get("collection_gate"))
        self.fingerprint = fingerprint
        self._load_variant(export, "int8" if requested == "onnx-int8" or self._auto_int8(export) else "fp32")

    def _auto_int8(self, export) -> bool:
        return self.requested_backend == "auto" and export.int8_approved and self._name not in AUTO_FP32_MODELS

    def _load_variant(self, export, variant: str) -> None:
        from imgsearch_core.models.backends.onnx_clip import OnnxClip

        self._onnx = OnnxClip(export, variant, providers=self.device_choice.ort_providers)
        self.export, self.gate = export, export.gate or {}
        self.backend = "onnx-int8" if variant == "int8" else "onnx"
        self.device = self.device_choice.ort_device

    @property
    def int8_pending(self) -> bool:
        """`auto` would take int8 if its collection-sized gate, not run yet, passes (see `settle_int8`)."""
        return (self.requested_backend == "auto" and self.export is not None and self._name not in AUTO_FP32_MODELS
                and self.export.collection_gate_pending)

    def settle_int8(self, n_items: int | None = None) -> bool:
        """Run the pending collection gate (minutes: only an ingest large enough to repay it asks) and switch
        to int8 if it passes. True when this embedder now uses int8."""
        from imgsearch_core.models.backends.collection_gate import COLLECTION_ITEMS, settle

        with self._lock:
            if self.int8_pending:
                export = settle(self.export, n_items or COLLECTION_ITEMS)
                self._load_variant(export, "int8" if self._auto_int8(export) else "fp32")
            return self.backend == "onnx-int8"

    # ----- public API -----------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.identity.dim

    @property
    def image_size(self) -> int:
        """The side in pixels of the model's square input (e.g. 224): decoding need not keep more than this."""
        if self._onnx is not None:
            return self._onnx.image_size
        processor = self._sentence_transformer()[0].processor.image_processor
        size = processor.crop_size if getattr(processor, "do_center_crop", True) else processor.size
        size = size if isinstance(size, dict) else vars(size)
        return int(size.get("height") or size.get("shortest_edge"))

    def _empty(self) -> np.ndarray:
        return np.zeros((0, getattr(self, "identity", ModelIdentity("", 0)).dim), dtype=np.float32)

    def _encode(self, inputs: Sequence[object]) -> np.ndarray:
        if len(inputs) == 0:
            return self._empty()
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

        Copies, so training never changes the model that live searches use. Loads sentence-transformers
        (and torch) if an ONNX backend is in use.
        """
        with self._lock:
            first = self._sentence_transformer()[0]
        model, processor = getattr(first, "model", None), getattr(first, "processor", None)
        if model is None or processor is None or not hasattr(model, "get_image_features"):
            raise ModelLoadError(f"Model {self._name!r} is not a CLIP model, so it cannot be fine-tuned here.")
        model, processor = copy.deepcopy(model), copy.deepcopy(processor)
        return model.float().to("cpu"), processor

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""
        if self._onnx is not None:
            return self._onnx.embed_images(images, self.batch_size) if len(images) else self._empty()
        return self._encode(images)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""
        if self._onnx is not None:
            return self._onnx.embed_texts(texts, self.batch_size) if len(texts) else self._empty()
        return self._encode(texts)
