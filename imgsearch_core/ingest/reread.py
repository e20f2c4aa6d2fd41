"""Re-read the metadata of stored items from their original files, without embedding them again.

Why from the originals: the store keeps a browser-ready rendition, which for large or rotated photos
is a re-encoded JPEG without the agency's IPTC/XMP. The original files are found by content hash
(the item id), so a folder that was moved or renamed still matches, and a changed file (a new hash)
is simply not a stored item. A caption file given to a re-read can set no key the store keeps for itself
(fields.RESERVED_KEYS: each such column is a problem of the report), and embedded metadata is read with
ingest's format list only (images.OPEN_FORMATS).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.fields import CAPTION_AUDIT_FIELDS, EMBEDDED_FIELDS, MACHINE_CAPTION_ORIGIN, twin_keys
from imgsearch_core.media.images import ImageError
from imgsearch_core.ingest.pipeline import Problem, Progress, SourceItem, describe_item, metadata_problems
from imgsearch_core.store.records import StoredItem
from imgsearch_core.store.store import Store

EXPLICIT_CAPTION_ORIGINS = ("caption file", "sidecar")
# The reserved keys (fields.RESERVED_KEYS) that ingest measured or derived and a re-read cannot know again.
_KEPT_FROM_INGEST = ("width", "height", "added_at", "media", "phash")


@dataclass
class RereadReport:
    total: int = 0
    updated: int = 0
    unchanged: int = 0
    not_stored: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "not_stored": self.not_stored,
            "problems": [{"name": p.name, "reason": p.reason} for p in self.problems],
        }


def changes_for(stored: StoredItem, item: SourceItem, data: bytes) -> tuple[str, dict[str, Any], list[Problem]]:
    """(caption, metadata changes with None for removed keys, report lines) for one stored item.

    Every embedded field is read afresh (a field the file no longer carries is removed); a caption
    that came from a caption file or sidecar is kept unless this run gives one again. A new caption drops the
    audit's score of the old one (a `caption_suspicion` filter must not find it until the next audit).
    """
    described = describe_item(item, data)
    caption, metadata = described.caption, dict(described.metadata)
    if not item.caption and stored.metadata.get("caption_from") in EXPLICIT_CAPTION_ORIGINS:
        caption = stored.caption
        metadata["caption_from"] = stored.metadata["caption_from"]
        metadata["captioned"] = bool(caption)
    if not item.caption and not caption:
        metadata.pop("caption_from", None)
        if stored.metadata.get("machine_caption"):  # its only caption is still the machine's
            metadata["caption_from"] = MACHINE_CAPTION_ORIGIN
    target = {**{k: stored.metadata[k] for k in _KEPT_FROM_INGEST if k in stored.metadata}, **metadata}
    stale = {key for name in (*EMBEDDED_FIELDS, "caption_from") for key in twin_keys(name)} - set(target)
    changes = {k: v for k, v in target.items() if stored.metadata.get(k) != v}
    if caption != stored.caption:
        stale |= set(CAPTION_AUDIT_FIELDS)
    changes.update({k: None for k in stale if k in stored.metadata})
    refused = [Problem(item.name, reason) for reason in described.refused]
    return caption, changes, metadata_problems(item.name, described.problems) + refused


def reread_metadata(
    store: Store,
    collection_name: str,
    items: Sequence[SourceItem],
    *,
    problems: Sequence[Problem] = (),
    progress: Callable[[Progress], None] | None = None,
    batch_size: int = 256,
) -> RereadReport:
    """Update captions and metadata of the stored items among `items` (matched by content hash)."""
    report = RereadReport(total=len(items), problems=list(problems))
    collection = store.open(collection_name)
    with store.writing():
        for start in range(0, len(items), batch_size):
            _reread_batch(collection, items[start : start + batch_size], report)
            if progress is not None:
                done = min(start + batch_size, len(items))
                progress(Progress(done, len(items), 0.0, None))
    return report


def _reread_batch(collection: Any, batch: Sequence[SourceItem], report: RereadReport) -> None:
    loaded: dict[str, tuple[SourceItem, bytes]] = {}
    for item in batch:
        try:
            data = item.read()
        except (OSError, ImageError) as exc:
            report.problems.append(Problem(item.name, exc.reason if isinstance(exc, ImageError) else f"cannot be read ({exc.strerror})"))
            continue
        loaded.setdefault(hashlib.sha256(data).hexdigest(), (item, data))
    stored = {s.id: s for s in collection.get(list(loaded))}
    report.not_stored += len(loaded) - len(stored)
    updates = []
    for item_id, current in stored.items():
        item, data = loaded[item_id]
        caption, changes, problems = changes_for(current, item, data)
        report.problems.extend(problems)
        if caption == current.caption and not changes:
            report.unchanged += 1
        else:
            updates.append((item_id, caption, changes))
    report.updated += collection.update_items(updates) if updates else 0
