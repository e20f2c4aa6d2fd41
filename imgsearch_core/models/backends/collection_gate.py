"""The collection-sized fidelity gate: does int8 keep a whole collection's top-10 rankings?

Why a second gate: on the 48-item calibration set almost any int8 export keeps the top 10 (there are few
candidates to confuse), while a collection of thousands packs neighbours closely enough for int8 noise to
reorder them. So before `auto` may take int8, the export embeds a collection the size of the demo (by default
the first 2,000 held-out test scenes, i.e. the demo collection itself) with fp32 and with int8 and asks for a
mean top-10 overlap >= 0.95 over generated paraphrase queries (plus the cosine floors of the small gate).

When it runs: once per model fingerprint, its figures cached in the export's manifest, but not at export.
It embeds 2,000 pictures twice (about 7.5 minutes for a ViT-B/32 on 2 cores), which the first search or a
small upload should not wait for: until it has run, `auto` embeds with fp32, and an ingest large enough for
int8's speed to repay the gate (COLLECTION_ITEMS files or more) settles it first (Embedder.settle_int8).
"""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from PIL import Image

from imgsearch_core.models.backends import layout
from imgsearch_core.models.backends.gate import MIN_COSINE, MIN_OVERLAP, Encoder, fidelity_gate

COLLECTION_ITEMS, COLLECTION_QUERIES = 2000, 150


@lru_cache(maxsize=2)
def collection_set(n_items: int = COLLECTION_ITEMS, n_queries: int = COLLECTION_QUERIES,
                   seed: int = 0) -> tuple[tuple[Image.Image, ...], tuple[str, ...]]:
    """The demo collection's first `n_items` scenes (as the demo stores them) and paraphrase queries over them
    (one object, one object with its place, two objects, in equal shares). Cached: tests export many models."""
    from imgsearch_core.scenes.queries import one_object_queries, positional_queries, two_object_queries
    from imgsearch_core.scenes.render import render
    from imgsearch_core.scenes.scenes import split_scenes

    scenes = split_scenes("test", n_items, seed)
    third = max(1, n_queries // 3)
    queries = (one_object_queries(scenes, n_queries - 2 * third, seed) + positional_queries(scenes, third, seed)
               + two_object_queries(scenes, third, seed))
    return tuple(render(scene) for scene in scenes), tuple(q.text for q in queries)


def collection_gate(reference: Encoder, candidate: Encoder, n_items: int = COLLECTION_ITEMS,
                    n_queries: int = COLLECTION_QUERIES, *, min_cosine: float = MIN_COSINE,
                    min_overlap: float = MIN_OVERLAP) -> dict[str, Any]:
    """The gate's figures on a generated collection of `n_items`, with its run time (for the manifest).
    The floors are the gate's own; tests give others to force either verdict on a real export."""
    started = time.perf_counter()
    images, queries = collection_set(n_items, n_queries)
    result = fidelity_gate(reference, candidate, list(images), list(queries), min_cosine=min_cosine,
                           min_overlap=min_overlap)
    return {**result.as_dict(), "seconds": round(time.perf_counter() - started, 2)}


def settle(export: layout.Export, n_items: int = COLLECTION_ITEMS, n_queries: int = COLLECTION_QUERIES, *,
           min_cosine: float = MIN_COSINE, min_overlap: float = MIN_OVERLAP) -> layout.Export:
    """The export with its collection gate run (once: under the export's lock, so concurrent processes wait for
    the first one's figures instead of repeating them); unchanged if it ran already or the small gate failed.
    The floors are passed to `collection_gate`."""
    from filelock import FileLock

    from imgsearch_core.models.backends.onnx_clip import OnnxClip

    if not export.collection_gate_pending:
        return export
    with FileLock(str(export.directory) + ".lock", timeout=3600):
        manifest = layout.read_manifest(export.directory) or export.manifest
        current = layout.Export(export.directory, manifest)
        if not current.collection_gate_pending:
            return current
        manifest = {**manifest, "collection_gate": collection_gate(
            OnnxClip(current, "fp32"), OnnxClip(current, "int8"), n_items, n_queries, min_cosine=min_cosine,
            min_overlap=min_overlap)}
        layout.write_manifest(export.directory, manifest)
    return layout.Export(export.directory, manifest)
