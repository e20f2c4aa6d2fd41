"""Chroma collections pinned to one model, with their media and BM25 index kept beside them.

Why this shape: Chroma is the source of truth (ids, vectors, captions, metadata); the media copies and
the BM25 index are derived files in the same store directory, so a store can be moved and still shows
its images. Every write bumps a revision in the collection's metadata *before* touching anything, so a
write killed halfway leaves a revision the BM25 index does not match, and the index is rebuilt from
Chroma's documents the next time it is opened.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imgsearch_core.config import Settings
from imgsearch_core.embed import ModelIdentity
from imgsearch_core.store_lock import write_lock_for
from imgsearch_core.item_metadata import searchable_text
from imgsearch_core.text_index import BM25Index, IndexCorrupt, analyze

# HNSW settings chosen for recall@10 >= 0.98 against exact search (tests/integration/test_store_recall.py).
HNSW_CONFIG = {"space": "cosine", "max_neighbors": 32, "ef_construction": 256, "ef_search": 256}
_NAME_RULE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
RESERVED_METADATA = ("file_name", "source", "width", "height", "added_at", "media", "captioned")


class StoreError(ValueError):
    """A user-facing problem with a store or collection request."""


class ModelMismatchError(StoreError):
    """The collection is pinned to another model."""


class CollectionNotFoundError(StoreError):
    """No collection of that name."""


def validate_collection_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RULE.match(name) or ".." in name:
        raise StoreError(
            f"Invalid collection name {name!r}: use 3-512 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit."
        )
    return name


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


@dataclass
class _IndexCache:
    revision: int = -1
    index: BM25Index | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


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


_TEMP_PREFIX = ".tmp-"


def _write_atomic(path: Path, data: bytes) -> None:
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

    def __init__(self, store: "Store", chroma_collection: Any) -> None:
        self._store = store
        self._chroma = chroma_collection
        self.name: str = chroma_collection.name
        self._index_cache = _IndexCache()

    # ----- identity and settings -------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return dict(self._store.client.get_collection(self.name).metadata or {})

    @property
    def model(self) -> ModelIdentity:
        meta = self._metadata()
        return ModelIdentity(name=str(meta["model"]), dim=int(meta["dim"]))

    def check_model(self, identity: ModelIdentity) -> None:
        pinned = self.model
        if pinned != identity:
            raise ModelMismatchError(
                f"Collection {self.name!r} is pinned to model {pinned.name!r} ({pinned.dim}-d); "
                f"it cannot be searched or filled with {identity.name!r} ({identity.dim}-d). "
                "Use the pinned model, or create a new collection for the other model."
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
    def revision(self) -> int:
        """Bumped by every write (add, delete, metadata update): a cache key for derived views."""
        return int(self._metadata().get("revision", 0))

    def _bump_revision(self) -> int:
        meta = self._metadata()
        meta["revision"] = int(meta.get("revision", 0)) + 1
        self._chroma.modify(metadata=meta)
        return int(meta["revision"])

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

    def ids_matching(self, where: dict) -> set[str]:
        return set(self._chroma.get(where=where, include=[])["ids"])

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        result = self._chroma.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(result["ids"], result["embeddings"])}

    def query_vector(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Top-n (id, cosine) by Chroma's HNSW index; cosine = 1 - cosine distance."""
        total = self.count()
        if total == 0 or n <= 0:
            return []
        result = self._chroma.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=min(n, total),
            where=where,
            include=["distances"],
        )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def _iter_documents(self) -> Iterator[tuple[list[str], list[str]]]:
        """Pages of (ids, the text BM25 indexes: caption plus headline, keywords and place)."""
        offset = 0
        while True:
            page = self._chroma.get(offset=offset, limit=self._store.max_batch, include=["documents", "metadatas"])
            if not page["ids"]:
                return
            texts = [searchable_text(d or "", m or {}) for d, m in zip(page["documents"], page["metadatas"])]
            yield page["ids"], texts
            offset += len(page["ids"])

    def _rebuild_index(self) -> BM25Index:
        ids: list[str] = []
        tokens: list[list[str]] = []
        for page_ids, docs in self._iter_documents():
            keep = [(i, d) for i, d in zip(page_ids, docs) if d.strip()]
            ids.extend(i for i, _ in keep)
            tokens.extend(analyze([d for _, d in keep]))
        return BM25Index.build(ids, tokens)

    def _index_at(self, revision: int) -> BM25Index | None:
        """The cached or saved index if it is exactly at `revision`, else None."""
        cache = self._index_cache
        if cache.index is not None and cache.revision == revision:
            return cache.index
        try:
            index, saved = BM25Index.load(self._store.index_root / self.name)
        except (IndexCorrupt, FileNotFoundError):
            return None
        return index if saved == str(revision) else None

    def bm25(self) -> BM25Index:
        """The BM25 index at the collection's current revision: cached, loaded, or rebuilt from Chroma."""
        revision = int(self._metadata().get("revision", 0))
        cache = self._index_cache
        with cache.lock:
            index = self._index_at(revision)
            if index is None:
                index = self._rebuild_index()
                with self._store.writing_if_free() as free:
                    if free:
                        index.save(self._store.index_root / self.name, str(revision))
            cache.index, cache.revision = index, revision
            return index

    def media_bytes_total(self) -> int:
        root = self._store.media_root / self.name
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0

    def disk_size(self) -> int:
        index_dir = self._store.index_root / self.name
        index_bytes = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) if index_dir.exists() else 0
        vector_bytes = self.count() * self.model.dim * 4
        return self.media_bytes_total() + index_bytes + vector_bytes

    def stats(self) -> dict[str, Any]:
        """What the Admin page and `stats` show: size, model, captioned share, disk use."""
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

    # ----- writing (always under the store's write lock) -----------------------------------
    @property
    def _journal(self) -> Path:
        return self._store.root / "journal" / f"{self.name}.pending"

    def _begin(self, ids: Sequence[str]) -> None:
        """Record the ids a write is about to touch, after finishing any write a crash interrupted."""
        self.recover()
        _write_atomic(self._journal, "\n".join(ids).encode())

    def recover(self) -> None:
        """Remove media of journaled ids that Chroma does not hold (a write killed halfway).

        Half-written temporary files in the touched folders go too: the write lock is held, so no
        other writer can own them.
        """
        if not self._journal.exists():
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

        Order: journal, revision bump, media files, Chroma upsert, BM25 update, journal cleared. A crash
        at any point leaves Chroma holding whole items or none, and the next write removes the media
        files of the items that did not make it.
        """
        with self._store.writing():
            present = self.existing_ids([r.id for r in records])
            unique: dict[str, Record] = {r.id: r for r in records if r.id not in present}
            new = list(unique.values())
            if not new:
                return 0
            self._begin([r.id for r in new])
            revision = self._bump_revision()
            for record in new:
                relative = Path(self.name) / record.id[:2] / f"{record.id}{record.media_ext}"
                _write_atomic(self._store.media_root / relative, record.media)
                record.metadata["media"] = relative.as_posix()
            for chunk in _chunks(new, self._store.max_batch):
                self._chroma.upsert(
                    ids=[r.id for r in chunk],
                    embeddings=np.stack([r.embedding for r in chunk]).astype(np.float32),
                    documents=[r.caption for r in chunk],
                    metadatas=[_clean_metadata(r.metadata) for r in chunk],
                )
            texts = [(r.id, searchable_text(r.caption, r.metadata)) for r in new]
            self._update_index(revision, upsert=[(i, t) for i, t in texts if t.strip()])
            self._journal.unlink()
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
            revision = self._bump_revision()
            for chunk in _chunks(known, self._store.max_batch):
                self._chroma.update(
                    ids=[i for i, _, _ in chunk],
                    embeddings=np.stack([vectors[i] for i, _, _ in chunk]),
                    documents=[c for _, c, _ in chunk],
                    metadatas=[_clean_metadata(m, keep_none=True) for _, _, m in chunk],
                )
            merged = {item.id: searchable_text(item.caption, item.metadata) for item in self.get([u[0] for u in known])}
            self._update_index(
                revision,
                upsert=[(i, t) for i, t in merged.items() if t.strip()],
                remove=[i for i, t in merged.items() if not t.strip()],
            )
            return len(known)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete items (unknown ids are ignored); returns how many existed."""
        with self._store.writing():
            items = self.get(list(ids))
            if not items:
                return 0
            self._begin([i.id for i in items])
            revision = self._bump_revision()
            for chunk in _chunks([i.id for i in items], self._store.max_batch):
                self._chroma.delete(ids=chunk)
            for item in items:
                if item.media_path.is_file():
                    item.media_path.unlink()
            self._update_index(revision, remove=[i.id for i in items])
            self._journal.unlink()
            return len(items)

    def _update_index(self, revision: int, upsert: Sequence[tuple[str, str]] = (), remove: Sequence[str] = ()) -> None:
        """Apply a write to the index of the previous revision, or rebuild when that one is missing."""
        cache = self._index_cache
        with cache.lock:
            index = self._index_at(revision - 1)
            if index is None:
                index = self._rebuild_index()
            else:
                if remove:
                    index.remove(list(remove))
                if upsert:
                    index.upsert([i for i, _ in upsert], analyze([c for _, c in upsert]))
            index.save(self._store.index_root / self.name, str(revision))
            cache.index, cache.revision = index, revision


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Store:
    """A store directory: Chroma (embedded, or a server when configured), media and BM25 indexes."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.root = Path(self.settings.store_dir)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the store directory {self.root}: {exc.strerror}") from exc
        self.media_root = self.root / "media"
        self.index_root = self.root / "bm25"
        self._lock = write_lock_for(self.root)
        self.client = self._connect()
        self.max_batch = int(self.client.get_max_batch_size())
        self._collections: dict[str, Collection] = {}

    def _connect(self) -> Any:
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=True)
        if self.settings.chroma_host:
            try:
                return chromadb.HttpClient(
                    host=self.settings.chroma_host, port=self.settings.chroma_port, settings=chroma_settings
                )
            except Exception as exc:  # noqa: BLE001 - connection problems become one clear message
                raise StoreError(
                    f"Cannot reach the Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port}: {exc}"
                ) from exc
        return chromadb.PersistentClient(path=str(self.root / "chroma"), settings=chroma_settings)

    # ----- locking -----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock (re-entrant); raises StoreLockedError naming the holder."""
        with self._lock.hold():
            yield

    @contextmanager
    def writing_if_free(self) -> Iterator[bool]:
        """Hold the write lock if nobody else does; yields whether it is held."""
        with self._lock.hold_if_free() as free:
            yield free

    # ----- collections -------------------------------------------------------------------------
    def collection_names(self) -> list[str]:
        return sorted(c.name if hasattr(c, "name") else str(c) for c in self.client.list_collections())

    def open(self, name: str) -> Collection:
        validate_collection_name(name)
        if name not in self._collections:
            try:
                chroma_collection = self.client.get_collection(name, embedding_function=None)
            except Exception:  # noqa: BLE001 - chroma raises several types for "not found"
                raise CollectionNotFoundError(
                    f"No collection named {name!r}. Existing: {', '.join(self.collection_names()) or 'none'}."
                ) from None
            self._collections[name] = Collection(self, chroma_collection)
        return self._collections[name]

    def open_or_create(self, name: str, model: ModelIdentity) -> Collection:
        """Open `name` checking it is pinned to `model`, or create it pinned to `model`."""
        validate_collection_name(name)
        if name in self.collection_names():
            collection = self.open(name)
            collection.check_model(model)
            return collection
        with self.writing():
            chroma_collection = self.client.create_collection(
                name,
                metadata={
                    "model": model.name,
                    "dim": model.dim,
                    "revision": 0,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
                configuration={"hnsw": dict(HNSW_CONFIG)},
                embedding_function=None,
            )
        self._collections[name] = Collection(self, chroma_collection)
        return self._collections[name]

    def delete_collection(self, name: str) -> None:
        collection = self.open(name)
        with self.writing():
            self.client.delete_collection(collection.name)
            shutil.rmtree(self.media_root / name, ignore_errors=True)
            shutil.rmtree(self.index_root / name, ignore_errors=True)
            self._collections.pop(name, None)

    def reset(self) -> None:
        """Delete every collection with its media and indexes."""
        with self.writing():
            for name in self.collection_names():
                self.client.delete_collection(name)
            shutil.rmtree(self.media_root, ignore_errors=True)
            shutil.rmtree(self.index_root, ignore_errors=True)
            self._collections.clear()
