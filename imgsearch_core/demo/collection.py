"""The demo collection: held-out generated scenes in a collection pinned to the bundled model.

Why through `ingest`: the demo goes through exactly the path users' photos take (decoding, hashing,
journal, media copies, BM25), so "running it again changes nothing" is the same guarantee as for any
re-ingest, and the scene descriptions land in metadata where evaluation and tests can judge relevance.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from imgsearch_core.config import DEMO_MODEL
from imgsearch_core.scenes.captions import scene_caption
from imgsearch_core.scenes.render import DISPLAY_SIZE, png_bytes, render
from imgsearch_core.scenes.scenes import Scene, split_scenes
from imgsearch_core.scenes.vocabulary import DEMO_VOCAB, VOCAB_KEY, Vocabulary
from imgsearch_core.models.embed import Embedder
from imgsearch_core.ingest.pipeline import IngestReport, Progress, SourceItem, ingest
from imgsearch_core.store.store import Store
from imgsearch_core.errors import ModelMismatchError

DEMO_COLLECTION = "demo"
DEMO_SIZE = 2000
MAX_SCENES = 20000
BATCH = 128


@dataclass(frozen=True)
class DemoItem:
    """One generated scene as the demo collection stores it: PNG bytes, caption and scene metadata."""

    name: str
    png: bytes
    caption: str
    metadata: dict = field(hash=False)
    scene: Scene = field(hash=False)


def demo_items(
    split: str = "test",
    count: int | None = None,
    seed: int = 0,
    size: int = DISPLAY_SIZE,
    *,
    vocab: Vocabulary = DEMO_VOCAB,
) -> Iterator[DemoItem]:
    """The items of a split, in order: name, PNG bytes, caption and metadata (deterministic)."""
    for scene in split_scenes(split, count, seed, vocab=vocab):
        meta = scene.to_metadata()
        text = scene_caption(scene, seed, vocab=vocab)
        yield DemoItem(scene.name, png_bytes(render(scene, size, vocab=vocab)), text, meta, scene)


def scene_source_items(count: int, split: str = "test", vocab: Vocabulary = DEMO_VOCAB) -> list[SourceItem]:
    """The first `count` scenes of a split as ingestible items (PNG bytes, caption, scene metadata)."""
    extra = {} if vocab is DEMO_VOCAB else {VOCAB_KEY: vocab.name}
    return [
        SourceItem(f"{item.name}.png", f"generated scenes ({vocab.name}, {split} split)", (lambda data=item.png: data),
                   item.caption, {**item.metadata, **extra})
        for item in demo_items(split, count, vocab=vocab)
    ]


def build_scene_collection(
    store: Store,
    name: str,
    embedder: Embedder,
    count: int,
    *,
    split: str = "test",
    vocab: Vocabulary = DEMO_VOCAB,
    progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Create or complete a collection of generated scenes; idempotent (stored scenes are skipped)."""
    if not 1 <= count <= MAX_SCENES:
        raise ValueError(f"A scene collection holds 1 to {MAX_SCENES:,} scenes, got {count}.")
    return ingest(store, name, embedder, scene_source_items(count, split, vocab), progress=progress, batch_size=BATCH)


def build_demo_collection(
    store: Store,
    count: int = DEMO_SIZE,
    progress: Callable[[Progress], None] | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """The `demo` collection: held-out test scenes embedded with the bundled imgsearch-mini.

    A demo collection embedded with an earlier version of the bundled model (another fingerprint, or
    made before fingerprints) is generated data: it is deleted and built again.
    """
    embedder = embedder or Embedder(DEMO_MODEL, batch_size=BATCH)
    if DEMO_COLLECTION in store.collection_names():
        try:
            store.open(DEMO_COLLECTION).check_model(embedder.identity)
        except ModelMismatchError:
            store.delete_collection(DEMO_COLLECTION)
    return build_scene_collection(store, DEMO_COLLECTION, embedder, count, progress=progress)
