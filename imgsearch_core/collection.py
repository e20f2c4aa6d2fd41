"""One Chroma collection pinned to one model, with its media files and its BM25 index.

Why this shape: Chroma is the source of truth (ids, vectors, captions, metadata); media copies and
each process's BM25 index are derived. Every write is framed by a record in the collection's write
log (imgsearch_core.write_log), so BM25 indexes in any number of processes or replicas catch up
with exactly what changed, and a write killed halfway is still indexed as Chroma holds it.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imgsearch_core.bm25_sync import IndexKeeper
from imgsearch_core.embed import ModelIdentity
from imgsearch_core.store_errors import ModelMismatchError
from imgsearch_core.languages import choice_from_settings
from imgsearch_core.text_index import BM25Index
from imgsearch_core.write_log import WriteLog

if TYPE_CHECKING:
    from imgsearch_core.store import Store


@dataclass(frozen=True)
class Record:
    """One item ready to store: its vector, caption, metadata and the media bytes to keep."""

    id: str
    embedding: np.ndarray
    caption: str
    metadata: dict[str, Any]
    media: bytes
    media_ext: str


@dataclass(frozen=True)
class StoredItem:
    id: str
    caption: str
    metadata: dict[str, Any]
    media_path: Path


def _clean_metadata(metadata: dict[str, Any], keep_none: bool = False) -> dict[str, Any]:
    """Chroma metadata values must be str, int, float, bool or a non-empty list of strings; drop
    empties, stringify the rest. `keep_none`: for updates, where None removes a key."""
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None and keep_none and str(key).strip():
            clean[str(key)] = None
            continue
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(key).strip() == "":
            continue
        if isinstance(value, (list, tuple)):
            words = [str(v) for v in value if v is not None and str(v) != ""]
            if words:
                clean[str(key)] = words
            elif keep_none:
                clean[str(key)] = None
        elif isinstance(value, (bool, int, float, str)):
            clean[str(key)] = value
        elif isinstance(value, np.generic):
            clean[str(key)] = value.item()
        else:
            clean[str(key)] = str(value)
    return clean


SCHEMA_VERSION = 2  # 2: collections record their model's fingerprint, and writes go through the write log
_TEMP_PREFIX = ".tmp-"
_ALLOWED_CACHE = 16  # filters remembered per collection (per revision)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Collection:
    """One named collection: vectors and captions in Chroma, media files, a BM25 index."""

    def __init__(self, store: "Store", name: str) -> None:
        self._store = store
        self.name = name
        self._log = WriteLog(store, name)
        # The language is read fresh at every catch-up (one small get): another process or replica may change it.
        self._keeper = IndexKeeper(lambda: self._chroma, self._log, store.index_root / name, store.max_batch,
                                   language=lambda: choice_from_settings(self.settings()).language)
        self._cache_lock = threading.Lock()
        self._allowed: dict[tuple[str, str], frozenset[str]] = {}
        self._stats: tuple[str, dict[str, Any]] | None = None

    @property
    def _chroma(self) -> Any:
        return self._store.handle(self.name)

    # ----- identity and settings -------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return dict(self._store.client.get_collection(self.name).metadata or {})

    @property
    def model(self) -> ModelIdentity:
        meta = self._metadata()
        return ModelIdentity(name=str(meta["model"]), dim=int(meta["dim"]), fingerprint=str(meta.get("model_fingerprint", "")))

    @property
    def schema_version(self) -> int:
        return int(self._metadata().get("schema_version", 1))

    def check_model(self, identity: ModelIdentity) -> None:
        """Refuse another model, or the same name with other weights: vectors of two models never mix."""
        pinned = self.model
        if pinned != identity:
            raise ModelMismatchError(
                f"Collection {self.name!r} is pinned to model {pinned.name!r} ({pinned.dim}-d); "
                f"it cannot be searched or filled with {identity.name!r} ({identity.dim}-d). "
                "Use the pinned model, or create a new collection for the other model."
            )
        reembed = (f"Re-embed it into a new collection: python -m imgsearch_core reembed --collection {self.name} "
                   "(or Admin > Collections).")
        if self.schema_version < SCHEMA_VERSION:
            raise ModelMismatchError(
                f"Collection {self.name!r} was made before models were fingerprinted (store schema "
                f"{self.schema_version}, now {SCHEMA_VERSION}), so its vectors cannot be checked against the "
                f"weights of {pinned.name!r}. {reembed}"
            )
        if pinned.fingerprint != identity.fingerprint:
            raise ModelMismatchError(
                f"Collection {self.name!r} was embedded with other weights of {pinned.name!r} (fingerprint "
                f"{pinned.fingerprint[:12] or 'none'}, the model's files now give {identity.fingerprint[:12] or 'none'}): "
                f"searching it would compare unrelated vectors. {reembed}"
            )

    def settings(self) -> dict[str, Any]:
        """User-visible collection settings kept in its metadata (e.g. the default hybrid alpha)."""
        return {k: v for k, v in self._metadata().items() if k.startswith("setting_")}

    def set_setting(self, key: str, value: str | int | float | bool) -> None:
        with self._store.writing():
            meta = self._metadata()
            meta[f"setting_{key}"] = value
            self._chroma.modify(metadata=meta)

    @property
    def revision(self) -> str:
        """Changes with every write (add, delete, metadata update) by any process: a cache key."""
        return self._log.token()

    # ----- reading ---------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._chroma.count())

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(ids), self._store.max_batch):
            found.update(self._chroma.get(ids=chunk, include=[])["ids"])
        return found

    def get(self, ids: Sequence[str]) -> list[StoredItem]:
        """Items in the order asked; unknown ids are left out."""
        if not ids:
            return []
        result = self._chroma.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            item_id: StoredItem(item_id, doc or "", dict(meta or {}), self._store.media_root / str((meta or {}).get("media", "")))
            for item_id, doc, meta in zip(result["ids"], result["documents"], result["metadatas"])
        }
        return [by_id[i] for i in ids if i in by_id]

    def all_items(self, where: dict | None = None) -> list[StoredItem]:
        """Every item (paged under Chroma's batch limit), for evaluation and re-embedding."""
        items: list[StoredItem] = []
        while page := self.page(len(items), self._store.max_batch, where):
            items.extend(page)
        return items

    def page(self, offset: int = 0, limit: int = 100, where: dict | None = None) -> list[StoredItem]:
        result = self._chroma.get(offset=offset, limit=limit, where=where, include=["documents", "metadatas"])
        return [
            StoredItem(i, d or "", dict(m or {}), self._store.media_root / str((m or {}).get("media", "")))
            for i, d, m in zip(result["ids"], result["documents"], result["metadatas"])
        ]

    def iter_metadatas(self) -> Iterator[dict[str, Any]]:
        """Every item's metadata, paged under Chroma's batch limit (facet counts, field names)."""
        offset = 0
        while True:
            page = self._chroma.get(offset=offset, limit=self._store.max_batch, include=["metadatas"])
            if not page["ids"]:
                return
            yield from (dict(m or {}) for m in page["metadatas"])
            offset += len(page["ids"])

    def allowed_ids(self, where: dict) -> frozenset[str]:
        """Ids a filter selects, kept per (filter, revision): a repeated or re-ranked filtered query
        does not fetch every matching id again (the BM25 side needs them; Chroma filters the vector side)."""
        key = (json.dumps(where, sort_keys=True, default=str), self.revision)
        with self._cache_lock:
            found = self._allowed.get(key)
        if found is None:
            found = frozenset(self.ids_matching(where))
            with self._cache_lock:
                self._allowed = {k: v for k, v in self._allowed.items() if k[1] == key[1]}  # older revisions go
                if len(self._allowed) >= _ALLOWED_CACHE:
                    self._allowed.pop(next(iter(self._allowed)))
                self._allowed[key] = found
        return found

    def ids_matching(self, where: dict) -> set[str]:
        return set(self._chroma.get(where=where, include=[])["ids"])

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        result = self._chroma.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(result["ids"], result["embeddings"])}

    def query_vector(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Top-n (id, cosine) by Chroma's HNSW index; cosine = 1 - cosine distance. Chroma returns fewer rows
        when fewer items exist, so no count() round trip precedes the query (it is on every search's path)."""
        if n <= 0:
            return []
        result = self._chroma.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=n,
            where=where,
            include=["distances"],
        )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def bm25(self) -> BM25Index:
        """The BM25 index at Chroma's current documents (caught up through the write log)."""
        return self._keeper.current()

    def media_bytes_total(self) -> int:
        root = self._store.media_root / self.name
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0

    def disk_size(self) -> int:
        index_dir = self._store.index_root / self.name
        index_bytes = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) if index_dir.exists() else 0
        vector_bytes = self.count() * self.model.dim * 4
        return self.media_bytes_total() + index_bytes + vector_bytes

    def stats(self) -> dict[str, Any]:
        """What the Admin page and `stats` show: size, model, captioned share, disk use.

        Kept per revision: walking every media file for the disk size on each Admin rerun is slow at
        archive size."""
        revision = self.revision
        cached = self._stats
        if cached is not None and cached[0] == revision:
            return dict(cached[1])
        stats = self._compute_stats()
        self._stats = (revision, stats)
        return dict(stats)

    def _compute_stats(self) -> dict[str, Any]:
        count = self.count()
        captioned = len(self.ids_matching({"captioned": True})) if count else 0
        model = self.model
        return {
            "name": self.name,
            "items": count,
            "model": model.name,
            "dim": model.dim,
            "captioned_share": round(captioned / count, 4) if count else 0.0,
            "disk_bytes": self.disk_size(),
        }

    # ----- writing (under the store's write lock in embedded mode) ---------------------------
    @property
    def _journal(self) -> Path:
        return self._store.root / "journal" / f"{self.name}.pending"

    def _begin(self, ids: Sequence[str]) -> None:
        """Record the ids whose media a write is about to create, after finishing any write a crash
        interrupted. Embedded mode only: with shared media and several writers, another writer may
        own those files (content-addressed, so an orphan is only wasted space)."""
        if self._store.shared:
            return
        self.recover()
        write_atomic(self._journal, "\n".join(ids).encode())

    def _end(self) -> None:
        if not self._store.shared:
            self._journal.unlink(missing_ok=True)

    def recover(self) -> None:
        """Remove media of journaled ids that Chroma does not hold (a write killed halfway).

        Half-written temporary files in the touched folders go too: the write lock is held, so no
        other writer can own them. Pending log records older than a day are settled.
        """
        self._log.settle_abandoned(older_than_s=86_400)
        if self._store.shared or not self._journal.exists():
            return
        ids = [line for line in self._journal.read_text().splitlines() if line]
        present = self.existing_ids(ids)
        media = self._store.media_root / self.name
        for item_id in set(ids) - present:
            for path in (media / item_id[:2]).glob(f"{item_id}.*"):
                path.unlink()
        for folder in {media / item_id[:2] for item_id in ids}:
            for path in folder.glob(f"{_TEMP_PREFIX}*"):
                path.unlink(missing_ok=True)
        self._journal.unlink()

    def add(self, records: Sequence[Record]) -> int:
        """Store records not already present; returns how many were new.

        Order: journal, pending log record, media files, Chroma upsert, log record done, journal
        cleared. A crash at any point leaves Chroma holding whole chunks or none, the pending record
        makes every index read those ids as Chroma holds them, and the next write (embedded mode)
        removes the media files of the items that did not make it.
        """
        with self._store.writing():
            present = self.existing_ids([r.id for r in records])
            unique: dict[str, Record] = {r.id: r for r in records if r.id not in present}
            new = list(unique.values())
            if not new:
                return 0
            self._begin([r.id for r in new])
            record = self._log.begin("add", [r.id for r in new])
            for item in new:
                relative = Path(self.name) / item.id[:2] / f"{item.id}{item.media_ext}"
                write_atomic(self._store.media_root / relative, item.media)
                item.metadata["media"] = relative.as_posix()
            for chunk in _chunks(new, self._store.max_batch):
                self._chroma.upsert(
                    ids=[r.id for r in chunk],
                    embeddings=np.stack([r.embedding for r in chunk]).astype(np.float32),
                    documents=[r.caption for r in chunk],
                    metadatas=[_clean_metadata(r.metadata) for r in chunk],
                )
            self._log.finish(record)
            self._end()
            return len(new)

    def update_items(self, updates: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
        """Replace the caption and metadata of stored items, keeping their vectors: no re-embedding.

        `updates`: (id, caption, metadata changes); a change to None removes that key. Chroma 1.5
        re-embeds documents given without vectors, so the stored vectors are written back as they are.
        Returns how many items existed and were updated.
        """
        with self._store.writing():
            vectors = self.embeddings([u[0] for u in updates])
            known = [u for u in updates if u[0] in vectors]
            if not known:
                return 0
            record = self._log.begin("update", [u[0] for u in known])
            for chunk in _chunks(known, self._store.max_batch):
                self._chroma.update(
                    ids=[i for i, _, _ in chunk],
                    embeddings=np.stack([vectors[i] for i, _, _ in chunk]),
                    documents=[c for _, c, _ in chunk],
                    metadatas=[_clean_metadata(m, keep_none=True) for _, _, m in chunk],
                )
            self._log.finish(record)
            return len(known)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete items (unknown ids are ignored); returns how many existed."""
        with self._store.writing():
            items = self.get(list(ids))
            if not items:
                return 0
            self._begin([i.id for i in items])
            record = self._log.begin("delete", [i.id for i in items])
            for chunk in _chunks([i.id for i in items], self._store.max_batch):
                self._chroma.delete(ids=chunk)
            for item in items:
                item.media_path.unlink(missing_ok=True)
            self._log.finish(record)
            self._end()
            return len(items)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
