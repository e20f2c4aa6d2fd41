"""A text tower on ONNX Runtime: its exported graph, its own tokenizer.json, unit-length float32 out.

Why: on torch a collection that selected the multilingual tower imports torch and sentence-transformers for
every text query. Here loading needs only onnxruntime, tokenizers and numpy; torch is imported once per tower
fingerprint, to export (text_towers/onnx_export.py, which also makes this class: `onnx_tower`), and never on a query. A tower whose export failed its
check against sentence-transformers, or that cannot be exported, runs on torch instead (with a warning).

fp32 embeds a batch in one call (padding is masked out of attention and of the mean, so a vector does not
depend on its batch-mates); int8 runs one text per call, because dynamic quantisation scales activations per
input tensor. CPU only: a query is one short text, and the export's check ran on the CPU provider.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imgsearch_core.models.backends.onnx_clip import CPU_EP, _session, normalise_rows
from imgsearch_core.models.backends.preprocess import TextTokenizer
from imgsearch_core.models.text_towers.onnx_layout import TOKENIZER, TowerExport
from imgsearch_core.models.text_towers.tower import TowerBase, TowerIdentity

INT8_BACKENDS = ("auto", "onnx-int8")  # the backends that take int8 where the export approved it


class TowerGraph:
    """One variant ('fp32' or 'int8') of a tower export as an ONNX Runtime session and its tokenizer."""

    def __init__(self, export: TowerExport, variant: str = "fp32") -> None:
        text = export.manifest["text"]
        self.variant, self.dim = variant, int(export.manifest["dim"])
        self._session = _session(export.graph(variant), (CPU_EP,), None)
        self._tokens = TextTokenizer(export.directory / TOKENIZER, max_length=int(text["max_length"]),
                                     pad_id=int(text["pad_id"]))
        self._lock = threading.Lock()  # the tokenizer's settings are not shared across threads

    def tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask) int64, padded to the longest text, as sentence-transformers makes them."""
        with self._lock:
            return self._tokens(texts)

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        ids, mask = self.tokens(texts)
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def embed_texts(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = 1 if self.variant == "int8" else batch_size
        return normalise_rows(np.concatenate([self._run(texts[i:i + size]) for i in range(0, len(texts), size)]))


class OnnxTower(TowerBase):
    """A text tower whose queries run on its ONNX export; the same identity and alignment as on torch."""

    def __init__(self, name: str, files_dir: Path, fingerprint: str, export: TowerExport, variant: str) -> None:
        self.files_dir, self.export = files_dir, export
        self.graph = TowerGraph(export, variant)
        self.backend = "onnx-int8" if variant == "int8" else "onnx"
        self.identity = TowerIdentity(name=name, dim=self.graph.dim, fingerprint=fingerprint)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows of unit length, comparable with the aligned image model's image vectors."""
        return self.graph.embed_texts(texts)
