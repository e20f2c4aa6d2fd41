"""The demo collection: held-out generated scenes in a collection pinned to the bundled model.

Why through `ingest`: the demo goes through exactly the path users' photos take (decoding, hashing,
journal, media copies, BM25), so "running it again changes nothing" is the same guarantee as for any
re-ingest, and the scene descriptions land in metadata where evaluation and tests can judge relevance.
"""
from __future__ import annotations

from collections.abc import Callable

from imgsearch_core.config import DEMO_MODEL
from imgsearch_core.demo.scenes import demo_items
from imgsearch_core.embed import Embedder
from imgsearch_core.ingest import IngestReport, Progress, SourceItem, ingest
from imgsearch_core.store import Store

DEMO_COLLECTION = "demo"
DEMO_SIZE = 2000
DEMO_SOURCE = "imgsearch demo scenes (test split)"


def demo_source_items(count: int = DEMO_SIZE) -> list[SourceItem]:
    """The first `count` held-out test scenes as ingestible items (PNG bytes, caption, scene metadata)."""
    return [
        SourceItem(f"{item.name}.png", DEMO_SOURCE, (lambda data=item.png: data), item.caption, dict(item.metadata))
        for item in demo_items("test", count)
    ]


def build_demo_collection(
    store: Store,
    count: int = DEMO_SIZE,
    progress: Callable[[Progress], None] | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Create or complete the `demo` collection; idempotent (stored scenes are skipped by content hash)."""
    if not 1 <= count <= 20000:
        raise ValueError(f"The demo collection holds 1 to 20,000 scenes, got {count}.")
    embedder = embedder or Embedder(DEMO_MODEL, batch_size=128)
    return ingest(store, DEMO_COLLECTION, embedder, demo_source_items(count), progress=progress, batch_size=128)
