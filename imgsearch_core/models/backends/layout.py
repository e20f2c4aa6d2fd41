"""Where a model's ONNX export lives and whether it is still valid.

An export is a folder named after the model's fingerprint (first 16 hex digits):
`<model_dir>/.onnx/<fp16>/` for a writable local model, else `$IMGSEARCH_ONNX_CACHE/<fp16>/` (default
data/onnx-cache/). It holds visual.onnx, text.onnx, their int8 twins, tokenizer.json and manifest.json
(full fingerprint, preprocessing, token settings, sizes, export time, the fidelity gates' results), and
optimised/ the graphs ONNX Runtime optimised and saved on first use (backends/saved_graph.py).
An export is used only when the manifest's fingerprint equals the model's current one, so new weights
(or tokenizer, or preprocessing config) never meet an old graph.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgsearch_core.fingerprint import onnx_cache_root

MANIFEST = "manifest.json"
FORMAT = 4  # the export recipe (graphs, opset, quantisation settings, gates): bump it when that changes
SAVED_GRAPHS = "optimised"  # sub-folder of an export: its graphs as ONNX Runtime optimised them
VARIANTS = {"fp32": ("visual.onnx", "text.onnx"), "int8": ("visual-int8.onnx", "text-int8.onnx")}


@dataclass(frozen=True)
class Export:
    """A valid export on disk."""

    directory: Path
    manifest: dict[str, Any]

    def files(self, variant: str) -> tuple[Path, Path]:
        visual, text = VARIANTS[variant]
        return self.directory / visual, self.directory / text

    @property
    def gate(self) -> dict[str, Any] | None:
        return self.manifest.get("gate")

    @property
    def int8_approved(self) -> bool:
        """Both fidelity gates passed (calibration set and collection-sized set), as cached in the manifest."""
        collection = self.manifest.get("collection_gate") or {}
        return bool((self.gate or {}).get("passed") and collection.get("passed"))

    @property
    def collection_gate_pending(self) -> bool:
        """The small gate passed and the collection-sized one has not run yet (backends/collection_gate.py)."""
        return bool((self.gate or {}).get("passed")) and "collection_gate" not in self.manifest


def ignore_marker(directory: Path) -> None:
    """Cache folders carry their own .gitignore so a model inside the repository never shows them to git."""
    marker = directory / ".gitignore"
    if not marker.exists():
        try:
            marker.write_text("*\n")
        except OSError:
            pass


def candidate_dirs(model_dir: Path | None, fingerprint: str) -> list[Path]:
    """Where to look for an export, first match wins: beside the model, then the shared cache."""
    key = fingerprint[:16]
    found = [model_dir / ".onnx" / key] if model_dir is not None else []
    return found + [onnx_cache_root() / key]


def writable_dir(model_dir: Path | None, fingerprint: str) -> Path:
    """Where a new export goes: beside a local model when writable, else the shared cache."""
    key = fingerprint[:16]
    if model_dir is not None:
        local = model_dir / ".onnx"
        try:
            local.mkdir(exist_ok=True)
            probe = local / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            ignore_marker(local)
            return local / key
        except OSError:
            pass
    root = onnx_cache_root()
    root.mkdir(parents=True, exist_ok=True)
    ignore_marker(root)
    return root / key


def read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_export(model_dir: Path | None, fingerprint: str) -> Export | None:
    """The valid export for this fingerprint, or None (missing, half-written, from other weights)."""
    for directory in candidate_dirs(model_dir, fingerprint):
        manifest = read_manifest(directory)
        if not manifest or manifest.get("format") != FORMAT or manifest.get("fingerprint") != fingerprint:
            continue
        export = Export(directory, manifest)
        if all(p.is_file() for p in export.files("fp32")) and (directory / "tokenizer.json").is_file():
            return export
    return None


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    tmp = directory / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, directory / MANIFEST)


def temporary_dir(final: Path) -> Path:
    """A fresh folder beside `final` to build an export in (named by this process, emptied first)."""
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def publish(tmp: Path, final: Path, owner: Path | None, is_stale: Callable[[Path], bool]) -> None:
    """Move a finished export into place; beside a local model (`owner`), remove the other exports that
    `is_stale` recognises, i.e. those of its earlier weights (dead weight of hundreds of MB each)."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    if owner is not None and final.parent == owner / ".onnx":
        for other in final.parent.iterdir():
            if other != final and other.is_dir() and is_stale(other):
                shutil.rmtree(other, ignore_errors=True)
