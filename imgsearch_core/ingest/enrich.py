"""Enrich stored items: read the text in their pictures and write machine captions, without embedding again.

Why from the stored media file: the originals may be gone or elsewhere, and the media rendition (long side
<= 1024, upright) is what the detail view draws the word boxes on. Why resumable by the fields themselves: an
item is done once `ocr_engine` (or `machine_caption_model`) is stored, so a run killed at any point (kill -9
included: the write log and Chroma keep whole batches) is started again and does only the rest, and a second
run finds nothing to do. Each batch is one `Collection.update_items`, so every process's BM25 index picks the
new text up through the write log.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.media.images import ImageError, check_file_size, decode_image
from imgsearch_core.media.picture_text import machine_caption_fields, needs_caption, needs_ocr, reset_caption_changes
from imgsearch_core.ingest.engines import PictureText
from imgsearch_core.ingest.sources import Problem
from imgsearch_core.ingest.writes import Progress
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.lock import StoreLockedError
from imgsearch_core.store.records import StoredItem
from imgsearch_core.store.store import Store
from imgsearch_core.types import Captioner, TextReader

BATCH_SIZE = 16  # items per store write: what a kill costs at most, and how often progress comes
OCR_AT_INGEST = "ocr_at_ingest"  # collection setting: new pictures are read at ingest (off by default)


@dataclass
class EnrichReport:
    total: int = 0  # items that needed work when the run began
    read: int = 0  # pictures an engine read (with or without text)
    with_text: int = 0
    captioned: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False

    def summary(self) -> str:
        return (f"{self.read:,} pictures read ({self.with_text:,} with text), {self.captioned:,} machine captions "
                f"written, {len(self.problems):,} problems in {self.seconds:.1f} s"
                + (" (stopped)" if self.stopped else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "read": self.read, "with_text": self.with_text, "captioned": self.captioned,
                "problems": [{"name": p.name, "reason": p.reason} for p in self.problems],
                "seconds": round(self.seconds, 3), "stopped": self.stopped}


def ocr_at_ingest(collection: Collection) -> bool:
    """The collection's "read the text in new pictures at ingest" setting (off unless switched on)."""
    return bool(collection.settings().get(f"setting_{OCR_AT_INGEST}", False))


def set_ocr_at_ingest(collection: Collection, on: bool) -> None:
    collection.set_setting(OCR_AT_INGEST, bool(on))


def pending_ids(collection: Collection, *, ocr: bool, captions: bool) -> list[str]:
    """The items a run still has to do: not read yet (`ocr`), or without any caption yet (`captions`)."""
    todo: list[str] = []
    offset = 0
    while page := collection.page(offset, 500):
        offset += len(page)
        todo.extend(i.id for i in page if (ocr and needs_ocr(i.metadata)) or (captions and needs_caption(i.caption, i.metadata)))
    return todo


def enrich(
    store: Store,
    collection_name: str,
    *,
    reader: TextReader | None = None,
    captioner: Captioner | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = BATCH_SIZE,
) -> EnrichReport:
    """Read the text in, and/or caption, every stored item not done yet; returns what was done and the
    problems of each file. Raises ValueError when neither engine is given."""
    engines = PictureText(reader, captioner)
    if not engines:
        raise ValueError("Nothing to do: give a text reader (OCR), a captioner, or both.")
    started = time.perf_counter()
    collection = store.open(collection_name)
    todo = pending_ids(collection, ocr=reader is not None, captions=captioner is not None)
    report = EnrichReport(total=len(todo))
    for start in range(0, len(todo), batch_size):
        if should_stop is not None and should_stop():
            _stopped(report, start)
            break
        results = _work(collection, store, engines, todo[start:start + batch_size], report)
        if not _write_when_free(store, collection, results, should_stop):
            _stopped(report, start)
            break
        if progress is not None:
            done, elapsed = min(start + batch_size, len(todo)), time.perf_counter() - started
            rate = done / elapsed if elapsed > 0 else 0.0
            progress(Progress(done, len(todo), rate, (len(todo) - done) / rate if rate > 0 else None))
    report.seconds = time.perf_counter() - started
    return report


def _stopped(report: EnrichReport, done: int) -> None:
    report.stopped = True
    report.problems.append(Problem("(run)", f"stopped by the user after {done:,} of {report.total:,} items"))


def _write_when_free(store: Store, collection: Collection, results: dict[str, dict[str, Any]],
                     should_stop: Callable[[], bool] | None) -> bool:
    """Write one batch, waiting while another writer has the store: an ingest holds the write lock for its
    whole run, and a background enrich must outlast it, not fail. Each try waits the lock's own timeout. False
    when the user stops the run meanwhile (the batch is done again by the next run, like a killed one)."""
    while True:
        try:
            _write(store, collection, results)
            return True
        except StoreLockedError:
            if should_stop is not None and should_stop():
                return False


def _label(item: StoredItem) -> str:
    return f"{item.metadata.get('source_path') or item.metadata.get('file_name') or 'item'} (id {item.id[:12]})"


def _picture(item: StoredItem, store: Store) -> Any:
    """The item's stored media file, decoded within the store's limits (ImageError / OSError when it cannot be)."""
    settings = store.settings
    check_file_size(item.media_path.stat().st_size, name=_label(item), max_bytes=settings.max_file_bytes)
    data = item.media_path.read_bytes()
    return decode_image(data, name=_label(item), max_pixels=settings.max_pixels, max_bytes=settings.max_file_bytes,
                        min_side=None).image


def _work(collection: Collection, store: Store, engines: PictureText, ids: list[str],
          report: EnrichReport) -> dict[str, dict[str, Any]]:
    """Run the engines on one batch: {id: {"ocr": fields} and/or {"caption": (text, model)}}."""
    results: dict[str, dict[str, Any]] = {}
    to_caption: list[tuple[StoredItem, Any]] = []
    for item in collection.get(ids):
        try:
            picture = _picture(item, store)
        except (OSError, ImageError) as exc:
            reason = str(exc) if isinstance(exc, ImageError) else f"media file cannot be read ({exc.strerror or exc})"
            report.problems.append(Problem(_label(item), reason))
            continue
        if engines.reader is not None and needs_ocr(item.metadata):
            fields, problem = engines.read(picture)
            if problem is not None:
                report.problems.append(Problem(_label(item), problem))
            else:
                results.setdefault(item.id, {})["ocr"] = fields
                report.read += 1
                report.with_text += bool(fields and fields.get("ocr_text"))
        if engines.captioner is not None and needs_caption(item.caption, item.metadata):
            to_caption.append((item, engines.caption_input(picture)))
    for (item, _), (text, problem) in zip(to_caption, engines.describe([p for _, p in to_caption])):
        if problem is not None:
            report.problems.append(Problem(_label(item), problem))
            continue
        results.setdefault(item.id, {})["caption"] = (text, engines.captioner.name)  # type: ignore[union-attr]
        report.captioned += 1
    return results


def _write(store: Store, collection: Collection, results: dict[str, dict[str, Any]]) -> None:
    """One update of the batch, against the items as stored now (under the write lock): an editorial caption
    written meanwhile by a re-read is kept, and a machine caption is only marked as the item's caption origin
    where there is no editorial one."""
    if not results:
        return
    with store.writing():
        updates = []
        for item in collection.get(list(results)):  # an item deleted meanwhile is left out
            found = results[item.id]
            changes = dict(found.get("ocr") or {})
            if "caption" in found:
                text, model = found["caption"]
                changes.update(machine_caption_fields(text, model, item.caption))
            updates.append((item.id, item.caption, changes))
        collection.update_items(updates)


def reset_machine_captions(store: Store, collection_name: str, batch_size: int = 500) -> int:
    """Remove every machine caption of a collection (text, model and `caption_from = machine`); returns how many
    items had one. Editorial captions stay; the keyword index follows through the write log."""
    collection = store.open(collection_name)
    removed = 0
    with store.writing():
        updates = [(i.id, i.caption, changes) for i in collection.all_items()
                   if (changes := reset_caption_changes(i.metadata))]
        for start in range(0, len(updates), batch_size):
            removed += collection.update_items(updates[start:start + batch_size])
    return removed
