"""A text tower: a sentence-transformers text encoder whose vectors live in another model's image space.

Why its own class: `clip-ViT-B-32-multilingual-v1` (multilingual DistilBERT, mean pooling, Dense 768 -> 512)
was trained so that its text vectors match clip-ViT-B-32's image vectors; a collection embedded with that
image model can then be searched in 50+ languages without embedding an image again. The tower is only
valid against the image model it was trained into, so it carries that *alignment*:

- a hub tower known here (`KNOWN_TOWERS`) is aligned to its image model by name;
- a local tower directory declares it in `imgsearch_text_tower.json` beside its `modules.json`:
  `{"aligned_to": "clip-ViT-B-32", "image_model_fingerprints": ["<sha256>", ...]}`. `aligned_to` is the hub
  name of the image model; the fingerprints (imgsearch_core.fingerprint) name local copies of that image
  model, so a collection pinned to a local directory is accepted only when its weights are a declared
  copy (a fine-tuned image model has other weights and is refused). `declare_alignment` writes the file.
  It is not part of the tower's fingerprint: declaring changes what the tower may be used with, not what
  it computes.

Loading is offline only (`local_files_only`): a hub name not in the local Hugging Face cache fails at once
with the way to get it, never with a 540 MB download in the middle of a search.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgsearch_core.models.embed import ModelLoadError, _hub_snapshot, resolve_model
from imgsearch_core.fingerprint import FingerprintError, model_fingerprint

DECLARATION = "imgsearch_text_tower.json"
HUB_ORG = "sentence-transformers/"
KNOWN_TOWERS = {"clip-ViT-B-32-multilingual-v1": "clip-ViT-B-32"}  # hub tower -> the image model it was trained into


def hub_name(name: str) -> str:
    """One spelling per sentence-transformers hub model: `sentence-transformers/x` and `x` are the same model."""
    text = str(name).strip()
    return text[len(HUB_ORG):] if text.startswith(HUB_ORG) else text


@dataclass(frozen=True)
class TowerIdentity:
    """What a collection's tower selection is pinned to: name (hub name or absolute path), output size and
    the fingerprint of the tower's files."""

    name: str
    dim: int
    fingerprint: str

    def to_setting(self) -> str:
        return json.dumps({"name": self.name, "dim": self.dim, "fingerprint": self.fingerprint}, sort_keys=True)

    @classmethod
    def from_setting(cls, raw: object) -> "TowerIdentity | None":
        """The identity kept in a collection setting; None for "the image model's own text tower"."""
        if not raw:
            return None
        data = json.loads(str(raw))
        return cls(name=str(data["name"]), dim=int(data["dim"]), fingerprint=str(data["fingerprint"]))


@dataclass(frozen=True)
class Alignment:
    """The image model a tower's vectors were trained into: its hub name and declared local copies."""

    image_model: str
    image_fingerprints: tuple[str, ...] = ()


def read_declaration(tower_dir: str | Path) -> Alignment | None:
    """The alignment a local tower directory declares, or None without a declaration file."""
    path = Path(tower_dir) / DECLARATION
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Alignment(hub_name(data["aligned_to"]), tuple(str(f) for f in data.get("image_model_fingerprints", [])))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{str(path)!r} is not a valid text tower declaration ({exc}); it must hold "
                             '{"aligned_to": "<image model hub name>", "image_model_fingerprints": [...]}.') from exc


def declare_alignment(tower_dir: str | Path, image_model: str, image_copies: Sequence[str | Path] = ()) -> Alignment:
    """Write (or extend) the declaration that the tower in `tower_dir` was trained into `image_model`'s image
    space, and that each directory in `image_copies` holds a copy of that image model (by its fingerprint)."""
    tower = Path(tower_dir).expanduser().resolve()
    if not (tower / "modules.json").is_file():
        raise ModelLoadError(f"{str(tower)!r} is not a sentence-transformers model directory (no modules.json).")
    if resolve_model(image_model)[1] is not None:
        raise ModelLoadError(f"Declare the image model by its hub name (such as 'clip-ViT-B-32'), not by a directory "
                             f"({image_model!r}); give local copies of it as image copies.")
    aligned_to = hub_name(image_model)
    try:
        fingerprints = [model_fingerprint(Path(copy).expanduser()) for copy in image_copies]
    except FingerprintError as exc:
        raise ModelLoadError(f"Cannot fingerprint the image model copy: {exc}") from exc
    old = read_declaration(tower)
    if old is not None and old.image_model == aligned_to:
        fingerprints = list(old.image_fingerprints) + fingerprints
    alignment = Alignment(aligned_to, tuple(dict.fromkeys(fingerprints)))
    payload = {"aligned_to": alignment.image_model, "image_model_fingerprints": list(alignment.image_fingerprints)}
    (tower / DECLARATION).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return alignment


def tower_files(name_or_path: str) -> tuple[str, Path]:
    """(identity name, directory holding the tower's files) without loading it; offline only."""
    name, local_dir = resolve_model(name_or_path)
    if local_dir is not None:
        return name, Path(local_dir)
    name = hub_name(name)
    snapshot = _hub_snapshot(name)
    if snapshot is None:
        repo = name if "/" in name else HUB_ORG + name
        raise ModelLoadError(
            f"Text tower {name!r} is not in the local Hugging Face cache, and text towers are never downloaded "
            f"at search time. Fix: on a machine with internet access run SentenceTransformer({repo!r})"
            ".save('DIR'), copy DIR here, declare it (imgsearch_text_tower.json, see imgsearch_core/text_towers) "
            "and select DIR."
        )
    return name, Path(snapshot)


def current_fingerprint(files_dir: Path) -> str:
    """The fingerprint of the tower's files now (per-file digests cached by size and mtime: cheap)."""
    try:
        return model_fingerprint(files_dir)
    except FingerprintError as exc:
        raise ModelLoadError(f"Cannot read the text tower in {str(files_dir)!r}: {exc}") from exc


class TowerBase:
    """What a tower is on any backend: its identity, the folder of its files and its alignment."""

    identity: TowerIdentity
    files_dir: Path
    backend: str  # 'torch', 'onnx' or 'onnx-int8': what embeds the queries

    @property
    def dim(self) -> int:
        return self.identity.dim

    @property
    def alignment(self) -> "Alignment | None":
        """Read at every check, not at load: a declaration written later takes effect without a reload."""
        return alignment_of(self.identity.name, self.files_dir)


class TextTower(TowerBase):
    """A text-only sentence-transformers model (torch, on the IMGSEARCH_DEVICE device), with its identity
    and alignment. Thread-safe: Streamlit sessions share one instance."""

    backend = "torch"

    def __init__(self, name_or_path: str, *, device: str | None = None, batch_size: int | None = None) -> None:
        from imgsearch_core.models.backends.device import DeviceError, detect_device

        name, files_dir = tower_files(name_or_path)
        fingerprint = current_fingerprint(files_dir)  # before loading: the weights loaded are at least this new
        try:
            choice = detect_device(device, use_torch=True)
        except DeviceError as exc:
            raise ModelLoadError(str(exc)) from exc
        self._lock = threading.Lock()
        self._model = load_sentence_transformer(name, files_dir, choice.torch_device)
        if choice.torch_fp16:
            self._model.half()
        self.device = choice.torch_device
        self.batch_size = int(batch_size or choice.batch_size)
        self.files_dir = files_dir
        try:
            dim = int(self.embed_texts(["a photo"]).shape[1])
        except Exception as exc:  # noqa: BLE001 - e.g. an image-only model
            raise ModelLoadError(f"{name!r} cannot embed text, so it is not a text tower: {exc}") from exc
        self.identity = TowerIdentity(name=name, dim=dim, fingerprint=fingerprint)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows of unit length, comparable with the aligned image model's image vectors."""
        if len(texts) == 0:
            return np.zeros((0, self.identity.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                         normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def alignment_of(name: str, files_dir: Path) -> Alignment | None:
    """The tower's declaration file, else the image model of a known hub tower, else None (undeclared)."""
    declared = read_declaration(files_dir)
    if declared is not None:
        return declared
    return Alignment(KNOWN_TOWERS[name]) if name in KNOWN_TOWERS else None


def load_sentence_transformer(name: str, files_dir: Path, device: str = "cpu"):
    """The tower as sentence-transformers loads it (offline); also what the ONNX export is made from."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(str(files_dir), device=device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure becomes one clear message
        raise ModelLoadError(f"Could not load text tower {name!r} from {str(files_dir)!r}: {exc}. It must be a "
                             "sentence-transformers text model (modules.json, weights, tokenizer).") from exc
    return model
