"""Where a text tower's ONNX export lives and what its manifest says: read by the tower at query time
(onnx_tower.py) and written by the export (onnx_export.py), so both sides share one definition without
importing each other. Folders and locking follow the CLIP exports (backends/layout.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgsearch_core.models.backends import layout

KIND, FORMAT = "text-tower", 1  # bump FORMAT when the recipe (graph, checks, quantisation) changes
GRAPHS = {"fp32": "tower.onnx", "int8": "tower-int8.onnx"}
TOKENIZER = "tokenizer.json"


@dataclass(frozen=True)
class TowerExport:
    """A tower's export folder and its manifest."""

    directory: Path
    manifest: dict[str, Any]

    def graph(self, variant: str) -> Path:
        return self.directory / GRAPHS[variant]

    @property
    def usable(self) -> bool:
        """The fp32 graph and tokens matched sentence-transformers at export."""
        return bool((self.manifest.get("check") or {}).get("passed"))

    @property
    def int8_approved(self) -> bool:
        """int8 was measured faster than fp32 and passed its fidelity check (the graph is kept only then)."""
        return bool((self.manifest.get("int8") or {}).get("approved")) and self.graph("int8").is_file()


def find_tower_export(owner: Path | None, fingerprint: str) -> TowerExport | None:
    """The export made for this fingerprint (usable or refused), or None (missing, half-written, other weights)."""
    for directory in layout.candidate_dirs(owner, fingerprint):
        manifest = layout.read_manifest(directory)
        if not manifest or (manifest.get("kind"), manifest.get("format"), manifest.get("fingerprint")) != (
                KIND, FORMAT, fingerprint):
            continue
        export = TowerExport(directory, manifest)
        if not export.usable or (export.graph("fp32").is_file() and (directory / TOKENIZER).is_file()):
            return export
    return None
