"""One Chroma collection pinned to one model, with its media files and its BM25 index.

Why this shape: Chroma is the source of truth (ids, vectors, captions, metadata); media copies and
each process's BM25 index are derived. Every write is framed by a record in the collection's write
log (imgsearch_core.store.write_log), so BM25 indexes in any number of processes or replicas catch up
with exactly what changed, and a write killed halfway is still indexed as Chroma holds it.

Media paths are the store's own (store/media_files.py): derived from the item id and its format, never
taken from the stored `media` string, and checked to resolve inside the collection's media folder before
anything is read or deleted.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from imgsearch_core.store.bm25_sync import IndexKeeper
from imgsearch_core.types import ModelIdentity
from imgsearch_core.errors import ModelMismatchError
from imgsearch_core.store.lock import StoreLockedError
from imgsearch_core.text.languages import choice_from_settings
from imgsearch_core.text.bm25 import BM25Index
from imgsearch_core.store.media_files import (STALE_TEMP_SECONDS, MediaFiles, ResolvedFolder, move_aside, settle_moved,
                                              write_atomic)
from imgsearch_core.store.records import Record, StoredItem, clean_metadata
from imgsearch_core.store.write_log import WriteLog


class StoreAccess(Protocol):
    """What a Collection uses of its store (store.Store provides it). Why a protocol: the store opens
    collections, so naming the Store class here would make the two modules import each other."""

    client: Any
    root: Path
    media_root: Path
    index_root: Path
    max_batch: int
    shared: bool

    def handle(self, name: str) -> Any: ...

    def writing(self) -> AbstractContextManager[None]: ...


SCHEMA_VERSION = 2  # 2: collections record their model's fingerprint, and writes go through the write log
_ALLOWED_CACHE = 16  # filters remembered per collection (per revision)
# Collection metadata key: the stored media paths were checked (see Collection.check_media_paths).
MEDIA_CHECKED_KEY = "media_paths_checked"
_logger = logging.getLogger(__name__)


class Collection:
    """One named collection: vectors and captions in Chroma, media files, a BM25 index."""

    def __init__(self, store: StoreAccess, name: str) -> None:
        self._store = store
        self.name = name
        self._log = WriteLog(store, name)
        # The language is read fresh at every catch-up (one small get): another process or replica may change it.
        self._keeper = IndexKeeper(lambda: self._chroma, self._log, store.index_root / name, store.max_batch,
                                   language=lambda: choice_from_settings(self.settings()).language)
        self._cache_lock = threading.Lock()
        self._allowed: dict[tuple[str, str], frozenset[str]] = {}
        self._stats: tuple[str, dict[str, Any]] | None = None
        self._media = MediaFiles(store.media_root, name)
        self.media_report = self.check_media_paths()

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
        by_id = {item.id: item for item in self._stored(self._chroma.get(ids=list(ids), include=["documents", "metadatas"]))}
        return [by_id[i] for i in ids if i in by_id]

    def all_items(self, where: dict | None = None) -> list[StoredItem]:
        """Every item (paged under Chroma's batch limit), for evaluation and re-embedding."""
        items: list[StoredItem] = []
        while page := self.page(len(items), self._store.max_batch, where):
            items.extend(page)
        return items

    def page(self, offset: int = 0, limit: int = 100, where: dict | None = None) -> list[StoredItem]:
        return self._stored(self._chroma.get(offset=offset, limit=limit, where=where, include=["documents", "metadatas"]))

    def _stored(self, result: dict[str, Any]) -> list[StoredItem]:
        resolved = self._media.resolver()
        return [StoredItem(i, d or "", dict(m or {}), self.media_path(i, (m or {}).get("media"), resolved))
                for i, d, m in zip(result["ids"], result["documents"], result["metadatas"])]

    def iter_metadatas(self) -> Iterator[dict[str, Any]]:
        """Every item's metadata, paged under Chroma's batch limit (facet counts, field names)."""
        for page in self._pages(["metadatas"]):
            yield from (dict(m or {}) for m in page["metadatas"])

    def _pages(self, include: list[str]) -> Iterator[dict[str, Any]]:
        offset = 0
        while (page := self._chroma.get(offset=offset, limit=self._store.max_batch, include=include))["ids"]:
            yield page
            offset += len(page["ids"])

    # ----- media paths -----------------------------------------------------------------------
    @property
    def media_dir(self) -> Path:
        """The collection's media folder: every media path resolves inside it."""
        return self._media.folder

    def media_relative(self, item_id: str, ext: str) -> str:
        """The `media` value the store writes for an item (media_files.MediaFiles.relative)."""
        return self._media.relative(item_id, ext)

    def media_path(self, item_id: str, stored: Any = None, resolved: ResolvedFolder | None = None) -> Path:
        """The item's media file, derived from its id and checked inside the folder (MediaFiles.path)."""
        return self._media.path(item_id, stored, resolved)

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
        root = self.media_dir
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

    def check_media_paths(self) -> list[str]:
        """Repair, once per collection, stored `media` values that are not the derived path; returns
        the report lines (also logged as warnings).

        Stores written before media paths were derived, or metadata planted through Chroma, may hold a
        foreign path. Reads never use it (`media_path`), but it would stay in the metadata. So each such
        value is replaced by the derived path when that file exists, and removed when none does: that
        item is reported, as it has no picture (delete it and ingest its original again). The collection's
        metadata then records the check (MEDIA_CHECKED_KEY): later writes go through `add`, which writes
        the derived path, and a value planted later is still never used. When another process holds the
        store's write lock, the check waits for the next open.
        """
        if self._metadata().get(MEDIA_CHECKED_KEY):
            return []
        try:
            with self._store.writing():
                lines = self._repair_media_paths()
                meta = self._metadata()
                meta[MEDIA_CHECKED_KEY] = True
                self._chroma.modify(metadata=meta)
        except StoreLockedError as exc:
            lines = [f"Collection {self.name!r}: media paths not checked yet, the store is being written ({exc})."]
        for line in lines:
            _logger.warning(line)
        return lines

    def _repair_media_paths(self) -> list[str]:
        fixes: dict[str, str | None] = {}
        lines: list[str] = []
        resolved = self._media.resolver()
        for page in self._pages(["metadatas"]):
            for item_id, meta in zip(page["ids"], page["metadatas"]):
                stored = (meta or {}).get("media")
                if self._media.stored_ext(item_id, stored) is not None:
                    continue
                path = self.media_path(item_id, stored, resolved)
                found = path.is_file()
                fixes[item_id] = self.media_relative(item_id, path.suffix) if found else None
                outcome = (f"repaired to {fixes[item_id]!r}" if found else
                           "removed: the store has no media file for it (delete the item and ingest its original again)")
                lines.append(f"Collection {self.name!r}: item {item_id} had the media path {stored!r}, "
                             f"not the store's own; {outcome}.")
        if fixes:
            record = self._log.begin("update", list(fixes))
            for chunk in _chunks(list(fixes.items()), self._store.max_batch):
                self._chroma.update(ids=[i for i, _ in chunk], metadatas=[{"media": m} for _, m in chunk])
            self._log.finish(record)
        return lines

    # ----- writing (under the store's write lock in embedded mode) ---------------------------
    @property
    def _journal(self) -> Path:
        return self._store.root / "journal" / f"{self.name}.pending"

    def _begin(self, ids: Sequence[str]) -> None:
        """Record the ids whose media a write is about to create, after finishing any write a crash
        interrupted. Embedded mode only: with shared media and several writers, another writer may
        own those files (content-addressed, so an orphan is only wasted space); there only the
        temporary files of a killed writer go, from the folders this write touches."""
        if self._store.shared:
            self._media.remove_stale_temps(ids, older_than_s=STALE_TEMP_SECONDS)
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
        self._media.remove_all_of(set(ids) - present)
        self._media.remove_stale_temps(ids, older_than_s=0)
        self._journal.unlink()

    def add(self, records: Sequence[Record]) -> int:
        """Store records not already present; returns how many were new.

        Order: journal, pending log record, media files, Chroma upsert, media files checked, log record
        done, journal cleared. A crash at any point leaves Chroma holding whole chunks or none, the pending
        record makes every index read those ids as Chroma holds them, and the next write (embedded mode)
        removes the media files of the items that did not make it. The check after the upsert writes again
        a file that a delete of the same content removed meanwhile (server mode has no write lock).
        """
        with self._store.writing():
            present = self.existing_ids([r.id for r in records])
            unique: dict[str, Record] = {r.id: r for r in records if r.id not in present}
            new = list(unique.values())
            if not new:
                return 0
            for item in new:  # an id or format that names no media path is refused before anything is written
                self.media_relative(item.id, item.media_ext)
            self._begin([r.id for r in new])
            record = self._log.begin("add", [r.id for r in new])
            self._write_media(new)
            self._upsert(new)
            self._write_media(new, only_missing=True)
            self._log.finish(record)
            self._end()
            return len(new)

    def _write_media(self, records: Sequence[Record], only_missing: bool = False) -> None:
        """Write each record's media file at its derived path (and set its `media` value to it)."""
        for item in records:
            relative = self.media_relative(item.id, item.media_ext)
            item.metadata["media"] = relative
            path = self._store.media_root / relative
            if not (only_missing and path.is_file()):
                write_atomic(path, item.media)

    def _upsert(self, records: Sequence[Record]) -> None:
        for chunk in _chunks(list(records), self._store.max_batch):
            self._chroma.upsert(
                ids=[r.id for r in chunk],
                embeddings=np.stack([r.embedding for r in chunk]).astype(np.float32),
                documents=[r.caption for r in chunk],
                metadatas=[clean_metadata(r.metadata) for r in chunk],
            )

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
                    metadatas=[clean_metadata(m, keep_none=True) for _, _, m in chunk],
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
            self._settle_removed(self._move_media_aside(items))
            self._log.finish(record)
            self._end()
            return len(items)

    def _move_media_aside(self, items: Sequence[StoredItem]) -> dict[str, tuple[Path, Path]]:
        """Deleted items' media files renamed aside (media_files.move_aside: a racing add may want them back)."""
        return move_aside((item.id, item.media_path) for item in items)

    def _settle_removed(self, moved: dict[str, tuple[Path, Path]]) -> None:
        """Unlink the moved files, but put back those whose id Chroma holds again (added meanwhile)."""
        settle_moved(moved, self.existing_ids(list(moved)))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
