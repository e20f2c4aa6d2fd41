"""Text towers: query encoders trained into another model's image space (e.g. multilingual text for
clip-ViT-B-32), selectable per collection. `tower` is the model and its alignment, `selection` the pinning
rules and the per-collection switch, `onnx_layout` / `onnx_tower` / `onnx_checks` / `onnx_export` the tower on
ONNX Runtime (where an export lives, the runtime graph, the export's checks, the export and the factory), the
`text-tower` command is cli/text_tower.py.

The names below are resolved on first use (PEP 562), so the command line can register `text-tower`
without importing numpy, the embedder or torch at start-up.
"""
from __future__ import annotations

import importlib
from typing import Any

_SOURCES = {
    "selection": ("QueryEmbedder", "TextEncoder", "TextTowerError", "check_alignment", "load_text_tower",
                  "query_embedder_for", "select_text_tower", "selected_text_tower", "text_encoder_for",
                  "use_image_model_text_tower"),
    "tower": ("DECLARATION", "KNOWN_TOWERS", "Alignment", "TextTower", "TowerBase", "TowerIdentity",
              "declare_alignment", "read_declaration"),
    "onnx_tower": ("OnnxTower",),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
