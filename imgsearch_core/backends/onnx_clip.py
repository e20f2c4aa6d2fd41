"""CLIP on ONNX Runtime: the two exported towers, torch-free preprocessing, unit-length float32 out.

Loading needs only onnxruntime, tokenizers, numpy and PIL; torch is never imported here.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from PIL import Image

from imgsearch_core.backends.layout import Export
from imgsearch_core.backends.preprocess import ImagePreprocessor, TextTokenizer


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _session(path, providers: Sequence[str], threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=options, providers=list(providers))


class OnnxClip:
    """Embeds with one variant ('fp32' or 'int8') of an export.

    Dynamic int8 quantises activations with one scale per input tensor, i.e. per batch, so a row's vector
    would depend (at the 1e-3 level) on the other images or the padding in its batch. `row_wise` (default:
    on for int8) runs one row per call so every image and text gets the same vector in any batch, as with
    torch and fp32; it costs throughput (see benchmarks/RESULTS.md).
    """

    def __init__(self, export: Export, variant: str = "fp32", *, providers: Sequence[str] = ("CPUExecutionProvider",),
                 threads: int | None = None, row_wise: bool | None = None) -> None:
        visual, text = export.files(variant)
        if not (visual.is_file() and text.is_file()):
            raise FileNotFoundError(f"The {variant} export is missing in {export.directory}")
        manifest = export.manifest
        self.variant, self.export = variant, export
        self.row_wise = (variant == "int8") if row_wise is None else row_wise
        self.dim = int(manifest["dim"])
        self._visual = _session(visual, providers, threads)
        self._text = _session(text, providers, threads)
        self.providers = tuple(self._visual.get_providers())
        self._pixels = ImagePreprocessor(manifest["image"])
        token = manifest["text"]
        self._tokens = TextTokenizer(export.directory / "tokenizer.json", max_length=int(token["max_length"]),
                                     pad_id=int(token["pad_id"]))
        self._lock = threading.Lock()  # ORT sessions are thread-safe; the tokenizer's settings are not shared

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(images), batch_size):
            pixels = self._pixels(images[start:start + batch_size])
            if self.row_wise:
                out.extend(self._visual.run(None, {"pixel_values": pixels[i:i + 1]})[0] for i in range(len(pixels)))
            else:
                out.append(self._visual.run(None, {"pixel_values": pixels})[0])
        return normalise_rows(np.concatenate(out))

    def embed_texts(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            with self._lock:
                batches = [self._tokens([t]) for t in chunk] if self.row_wise else [self._tokens(chunk)]
            out.extend(self._text.run(None, {"input_ids": ids, "attention_mask": mask})[0] for ids, mask in batches)
        return normalise_rows(np.concatenate(out))
