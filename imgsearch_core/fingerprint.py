"""The fingerprint of a model directory: one SHA-256 over the files that decide what the model computes.

Why: an exported ONNX model (and, later, a collection) must be tied to the exact weights, configuration,
tokenizer and preprocessing it was made from, not to a name or path that can point at other weights
tomorrow. Hashing hundreds of MB at every start-up would be slow, so each file's digest is remembered in a
small JSON keyed by (relative path, size, mtime_ns) and a file is hashed again only when one of these changes.

Which files count: weights (*.safetensors, *.bin, *.pt, *.pth, *.ckpt, *.msgpack, *.h5, *.onnx), every
*config*.json, tokenizer files (tokenizer.json, vocab.json, vocab.txt, merges.txt, added_tokens.json,
special_tokens_map.json, *.model) and sentence-transformers' modules.json. Model cards, evaluation reports
and hidden folders (such as our own `.onnx/` export cache) do not.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from imgsearch_core.config import PROJECT_ROOT

FINGERPRINT_VERSION = 1
WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5", ".onnx"}
EXACT_NAMES = {
    "tokenizer.json", "vocab.json", "vocab.txt", "merges.txt", "added_tokens.json",
    "special_tokens_map.json", "modules.json",
}
_CHUNK = 1 << 20


class FingerprintError(RuntimeError):
    """The directory holds no model files, or cannot be read."""


def onnx_cache_root() -> Path:
    """Where exports (and fingerprint caches) go when the model directory is not writable or is a hub cache."""
    raw = os.environ.get("IMGSEARCH_ONNX_CACHE", "").strip()
    return Path(raw).expanduser() if raw else PROJECT_ROOT / "data" / "onnx-cache"


def is_model_file(relative: Path) -> bool:
    """Whether a file (path relative to the model directory) takes part in the fingerprint."""
    if any(part.startswith(".") for part in relative.parts):
        return False
    name = relative.name
    return (
        relative.suffix in WEIGHT_SUFFIXES
        or name in EXACT_NAMES
        or (name.endswith(".json") and "config" in name)
        or name.endswith(".model")
    )


def model_files(model_dir: Path) -> list[Path]:
    """The fingerprinted files, relative to `model_dir`, in a fixed order (symlinks followed, as HF caches use them)."""
    found = []
    for root, dirs, files in os.walk(model_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            relative = (Path(root) / name).relative_to(model_dir)
            if is_model_file(relative):
                found.append(relative)
    return sorted(found, key=lambda p: p.as_posix())


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_file(model_dir: Path) -> Path:
    """`<model_dir>/.onnx/fingerprint-cache.json` where that is writable, else one file per model path
    under the ONNX cache root."""
    local = model_dir / ".onnx"
    if _writable(model_dir, local):
        return local / "fingerprint-cache.json"
    key = hashlib.sha256(str(model_dir).encode()).hexdigest()[:16]
    return onnx_cache_root() / "fingerprints" / f"{key}.json"


def _writable(model_dir: Path, target: Path) -> bool:
    if target.is_dir():
        return os.access(target, os.W_OK)
    return os.access(model_dir, os.W_OK)


def _load_cache(cache_file: Path) -> dict:
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != FINGERPRINT_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _save_cache(cache_file: Path, model_dir: Path, files: dict, fingerprint: str) -> None:
    """Atomic write; a cache that cannot be written only costs a re-hash next time."""
    payload = {"version": FINGERPRINT_VERSION, "model_dir": str(model_dir), "fingerprint": fingerprint, "files": files}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".fp-", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=1, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, cache_file)
    except OSError:
        pass


def model_fingerprint(model_dir: str | Path, *, cache_file: str | Path | None = None, use_cache: bool = True) -> str:
    """SHA-256 (hex) over the names, sizes and contents of the model's weight/config/tokenizer files.

    The same files give the same digest wherever the directory lives (names are relative). Per-file digests
    are reused from `cache_file` (default: `default_cache_file(model_dir)`) while path, size and mtime_ns match.
    """
    root = Path(model_dir).expanduser().resolve()
    if not root.is_dir():
        raise FingerprintError(f"Model directory {str(root)!r} does not exist.")
    relatives = model_files(root)
    if not relatives:
        raise FingerprintError(f"{str(root)!r} holds no model files (weights, config.json, tokenizer).")
    cache_path = Path(cache_file) if cache_file is not None else default_cache_file(root)
    cached = _load_cache(cache_path) if use_cache else {}
    entries: dict[str, dict] = {}
    total = hashlib.sha256(f"imgsearch-fingerprint-v{FINGERPRINT_VERSION}\n".encode())
    for relative in relatives:
        key = relative.as_posix()
        try:
            stat = (root / relative).stat()
        except OSError as exc:
            raise FingerprintError(f"Cannot read {key!r} in {str(root)!r}: {exc}") from exc
        old = cached.get(key)
        if isinstance(old, dict) and old.get("size") == stat.st_size and old.get("mtime_ns") == stat.st_mtime_ns:
            sha = str(old.get("sha256"))
        else:
            sha = _sha256_file(root / relative)
        entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
        total.update(f"{key}\0{stat.st_size}\0{sha}\n".encode())
    fingerprint = total.hexdigest()
    if use_cache and entries != cached:
        _save_cache(cache_path, root, entries, fingerprint)
    return fingerprint
