"""Fine-tune a collection's CLIP on its own captioned images, as a new model version and collection.

Why a new version and a new collection: a collection is pinned to one model, so the fine-tuned model
gets its own directory (with a model card: data, parameters, before/after metrics) and the items are
embedded again into a new collection pinned to it. The old collection and model stay untouched, so
the team can compare both and keep the better one.

Pairs are split by image into train and validation (a seeded split of the ids), so the validation
MRR@5 that drives early stopping and the before/after table is measured on images never trained on.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imgsearch_core.models import train
from imgsearch_core.media.caption_files import ALT_CAPTIONS_KEY, ALT_CAPTIONS_SEPARATOR
from imgsearch_core.models.clip_factory import save_clip
from imgsearch_core.config import BUNDLED_MODELS_DIR
from imgsearch_core.models.embed import Embedder
from imgsearch_core.media.images import ImageError, thumbnail
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.records import Record, StoredItem
from imgsearch_core.store.store import Store

MIN_CAPTIONED = 10
REEMBED_BATCH = 64


class FinetuneError(ValueError):
    """The collection cannot be fine-tuned on (too few captions, not a CLIP model, ...)."""


@dataclass(frozen=True)
class FinetuneSettings:
    lr: float = 5e-5
    batch_size: int = 64
    max_epochs: int = 10
    patience: int = 2
    val_share: float = 0.1
    seed: int = 0
    max_minutes: float | None = None


@dataclass
class FinetuneReport:
    base_model: str
    model_dir: Path
    collection: str
    new_collection: str
    train_pairs: int
    val_images: int
    before: dict[str, float]
    after: dict[str, float]
    steps: int
    stopped: str
    train_seconds: float
    seconds: float
    settings: FinetuneSettings
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model_dir"] = str(self.model_dir)
        return data


def _captions(item: StoredItem) -> list[str]:
    alternatives = str(item.metadata.get(ALT_CAPTIONS_KEY, "")).split(ALT_CAPTIONS_SEPARATOR)
    return [c for c in [item.caption.strip(), *(a.strip() for a in alternatives)] if c]


def split_by_image(items: Sequence[StoredItem], val_share: float, seed: int) -> tuple[list[StoredItem], list[StoredItem]]:
    """A seeded split of the captioned items by id: no image is in both parts."""
    captioned = sorted((i for i in items if i.caption.strip()), key=lambda i: i.id)
    if len(captioned) < MIN_CAPTIONED:
        raise FinetuneError(f"Fine-tuning needs at least {MIN_CAPTIONED} captioned images; this collection has {len(captioned)}.")
    order = np.random.default_rng(seed).permutation(len(captioned))
    n_val = max(2, math.ceil(val_share * len(captioned)))
    val = [captioned[i] for i in order[:n_val]]
    return [captioned[i] for i in order[n_val:]], val


def _image(item: StoredItem, side: int) -> Image.Image:
    """The stored image, shrunk to what the processor will crop from (keeps memory small)."""
    try:
        picture = thumbnail(item.media_path, size=4 * side)
    except (OSError, ImageError) as exc:
        raise FinetuneError(f"Stored image of {item.id[:12]} cannot be read ({exc}).") from exc
    scale = side / min(picture.size)
    if scale < 1:
        picture = picture.resize((max(side, round(picture.width * scale)), max(side, round(picture.height * scale))), Image.BICUBIC)
    return picture


def load_pairs(items: Sequence[StoredItem], side: int, every_caption: bool) -> list[tuple[Image.Image, str]]:
    """(image, caption) pairs; training uses every caption of an image, validation only the first."""
    pairs = []
    for item in items:
        picture = _image(item, side)
        captions = _captions(item) if every_caption else _captions(item)[:1]
        pairs.extend((picture, caption) for caption in captions)
    return pairs


def reembed(store: Store, source: Collection, new_name: str, embedder: Embedder,
            progress: Callable[[int, int], None] | None = None) -> Collection:
    """Copy every item of `source` into a new collection pinned to `embedder`'s model."""
    items = source.all_items()
    with store.writing():
        target = store.open_or_create(new_name, embedder.identity)
        for start in range(0, len(items), REEMBED_BATCH):
            chunk = items[start:start + REEMBED_BATCH]
            pictures = [thumbnail(i.media_path, size=512) for i in chunk]
            vectors = embedder.embed_images(pictures)
            records = [Record(i.id, v, i.caption, _without_store_fields(i.metadata), i.media_path.read_bytes(),
                              i.media_path.suffix) for i, v in zip(chunk, vectors)]
            target.add(records)
            if progress is not None:
                progress(min(start + REEMBED_BATCH, len(items)), len(items))
    return target


def _without_store_fields(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k != "media"}


def _version_name(base: str, collection: str) -> str:
    short = Path(base).name if "/" in base else base
    return f"{short}-ft-{collection}-{time.strftime('%Y%m%d-%H%M%S')}"


def finetune_collection(
    store: Store,
    collection_name: str,
    settings: FinetuneSettings = FinetuneSettings(),
    *,
    models_dir: Path = BUNDLED_MODELS_DIR,
    embedder: Embedder | None = None,
    on_progress: Callable[[train.Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> FinetuneReport:
    """Fine-tune the collection's model on its pairs; save a new model version and a new collection."""
    started = time.perf_counter()
    collection = store.open(collection_name)
    base = collection.model.name
    embedder = embedder or Embedder(base)
    collection.check_model(embedder.identity)
    model, processor = embedder.clip_parts()
    side = int(processor.image_processor.crop_size["height"])
    train_items, val_items = split_by_image(collection.all_items(), settings.val_share, settings.seed)
    train_pairs = load_pairs(train_items, side, every_caption=True)
    val_pairs = load_pairs(val_items, side, every_caption=False)
    before = train.caption_retrieval_metrics(model, processor, val_pairs)
    result = train.finetune(
        model, processor, train_pairs, lr=settings.lr, batch_size=settings.batch_size, epochs=settings.max_epochs,
        val_pairs=val_pairs, patience=settings.patience, seed=settings.seed,
        max_seconds=settings.max_minutes * 60 if settings.max_minutes else None, on_progress=on_progress, stop=stop,
    )
    after = train.caption_retrieval_metrics(model, processor, val_pairs)
    version = _version_name(base, collection_name)
    model_dir = save_clip(model, processor, Path(models_dir) / version)
    new_collection = reembed(store, collection, version, Embedder(str(model_dir)))
    report = FinetuneReport(
        base, model_dir, collection_name, new_collection.name, len(train_pairs), len(val_items), before, after,
        result.steps_done, result.stopped, round(result.seconds, 1), round(time.perf_counter() - started, 1), settings,
        [h for h in result.history if "val" in h],
    )
    write_model_card(report)
    return report


def write_model_card(report: FinetuneReport) -> Path:
    """README.md (what it is, data, parameters, before/after) and finetune.json beside the weights."""
    rows = "\n".join(
        f"| {metric} | {report.before[metric]:.3f} | {report.after[metric]:.3f} |" for metric in report.before
    )
    s = report.settings
    text = f"""# {report.model_dir.name}

`{report.base_model}` fine-tuned on the captioned images of collection `{report.collection}` by
`python -m imgsearch_core finetune --collection {report.collection}`; its items were embedded again into
collection `{report.new_collection}`, pinned to this model. The original collection and model are unchanged.

## Data
{report.train_pairs} (image, caption) training pairs; {report.val_images} validation images held out by id
(share {s.val_share:g}, seed {s.seed}), never trained on.

## Parameters
Adam, learning rate {s.lr:g}, batch {s.batch_size}, at most {s.max_epochs} epochs, cosine schedule with 5% warm-up,
early stopping on validation MRR@5 (patience {s.patience}); {report.steps} steps, stopped: {report.stopped};
training {report.train_seconds / 60:.1f} min.

## Before and after (validation images: each caption retrieving its own image)
| metric | before | after |
|---|---|---|
{rows}
"""
    path = report.model_dir / "README.md"
    path.write_text(text)
    (report.model_dir / "finetune.json").write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return path
