"""CLIP on ONNX Runtime: the two exported towers, torch-free preprocessing, unit-length float32 out.

Loading needs only onnxruntime, tokenizers, numpy and PIL; torch is never imported here.

Images run one row per call, `workers` rows at a time from a small thread pool, each run on a one-thread
session (ORT releases the GIL in run(), PIL in resize). Why: dynamic int8 quantises activations with one
scale per input tensor, so a batched call would make a vector depend on its batch-mates; one row per call
keeps every vector batch-invariant. Measured on 2 cores (benchmarks/RESULTS.md), two concurrent one-thread
rows also beat one two-thread run of the whole batch, for int8 and fp32 alike: the batch-1 graph is too
small to keep a 2-thread pool busy, and each worker preprocesses its own image. On a GPU the whole batch
goes in one call (fp32).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imgsearch_core.models.backends.layout import Export
from imgsearch_core.models.backends.preprocess import ImagePreprocessor, TextTokenizer
from imgsearch_core.models.backends.saved_graph import saved_graph

CPU_EP = "CPUExecutionProvider"


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _session(path: Path, providers: Sequence[str], threads: int | None):
    """A session of an exported graph; on CPU from its saved optimised copy (backends/saved_graph.py)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    source = saved_graph(path) if tuple(providers) == (CPU_EP,) else path
    return ort.InferenceSession(str(source), sess_options=options, providers=list(providers))


class OnnxClip:
    """Embeds with one variant ('fp32' or 'int8') of an export.

    `row_wise` (default: images on CPU, and int8 anywhere; texts for int8) runs one image or text per call so
    every vector is the same in any batch; `workers` is how many image rows run at once (default: the usable cores, on
    one-thread sessions). `threads` sets the text session's intra-op threads (default: ORT's, all cores), as
    a single query is latency-bound.
    """

    def __init__(self, export: Export, variant: str = "fp32", *, providers: Sequence[str] = (CPU_EP,),
                 threads: int | None = None, row_wise: bool | None = None, workers: int | None = None) -> None:
        visual, text = export.files(variant)
        if not (visual.is_file() and text.is_file()):
            raise FileNotFoundError(f"The {variant} export is missing in {export.directory}")
        manifest = export.manifest
        self.variant, self.export = variant, export
        on_cpu = tuple(providers)[:1] == (CPU_EP,)
        self.row_wise = (variant == "int8" or on_cpu) if row_wise is None else row_wise
        self._text_rows = (variant == "int8") if row_wise is None else row_wise  # fp32 texts batch exactly
        self.workers = max(1, workers or (usable_cores() if on_cpu and self.row_wise else 1))
        self.dim = int(manifest["dim"])
        # Each tower's session is made when first used: a text query never loads the visual graph and an
        # ingest never the text one (creating a ViT-B/32 session costs seconds of a command line's start).
        self._graphs = {"visual": (visual, 1 if self.workers > 1 else threads), "text": (text, threads)}
        self._providers = tuple(providers)
        self._sessions: dict[str, Any] = {}
        self._session_lock = threading.Lock()
        self._pixels = ImagePreprocessor(manifest["image"])
        token = manifest["text"]
        self._tokens = TextTokenizer(export.directory / "tokenizer.json", max_length=int(token["max_length"]),
                                     pad_id=int(token["pad_id"]))
        self._lock = threading.Lock()  # ORT sessions are thread-safe; the tokenizer's settings are not shared
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-row") if self.workers > 1 else None

    def _session_of(self, tower: str) -> Any:
        session = self._sessions.get(tower)
        if session is None:
            with self._session_lock:
                session = self._sessions.get(tower)
                if session is None:
                    path, threads = self._graphs[tower]
                    session = self._sessions[tower] = _session(path, self._providers, threads)
        return session

    @property
    def image_size(self) -> int:
        """The side of the square model input in pixels (e.g. 224)."""
        return self._pixels.input_side

    def _image_row(self, image: Image.Image) -> np.ndarray:
        return self._session_of("visual").run(None, {"pixel_values": self._pixels([image])})[0]

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.row_wise:
            rows = self._pool.map(self._image_row, images) if self._pool else map(self._image_row, images)
            return normalise_rows(np.concatenate(list(rows)))
        visual = self._session_of("visual")
        out = [visual.run(None, {"pixel_values": self._pixels(images[start:start + batch_size])})[0]
               for start in range(0, len(images), batch_size)]
        return normalise_rows(np.concatenate(out))

    def embed_texts(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            with self._lock:
                batches = [self._tokens([t]) for t in chunk] if self._text_rows else [self._tokens(chunk)]
            text = self._session_of("text")
            out.extend(text.run(None, {"input_ids": ids, "attention_mask": mask})[0] for ids, mask in batches)
        return normalise_rows(np.concatenate(out))
