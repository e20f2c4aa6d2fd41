"""A store: one Chroma (embedded, or a server), its collections, their media and BM25 directories.

Embedded mode takes a store-wide write lock (Chroma's local store is not process-safe); server mode
needs none: several writers and app replicas share the Chroma server and a media directory.
"""
from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imgsearch_core.store.chroma_gate import token_problem
from imgsearch_core.store.collection import SCHEMA_VERSION, Collection
from imgsearch_core.store.media_files import write_atomic
from imgsearch_core.config import Settings
from imgsearch_core.types import ModelIdentity
from imgsearch_core.errors import CollectionNotFoundError, StoreError
from imgsearch_core.store.lock import write_lock_for
from imgsearch_core.store.write_log import LOG_SUFFIX, is_log_name

# HNSW settings chosen for recall@10 >= 0.98 against exact search (tests/integration/store/test_store_recall.py).
HNSW_CONFIG = {"space": "cosine", "max_neighbors": 32, "ef_construction": 256, "ef_search": 256}
_NAME_RULE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


def validate_collection_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RULE.match(name) or ".." in name or is_log_name(name):
        raise StoreError(
            f"Invalid collection name {name!r}: use 3-512 letters, digits, '.', '_' or '-', "
            f"starting and ending with a letter or digit, not ending in {LOG_SUFFIX!r}."
        )
    return name


def _open_persistent(chromadb: Any, path: Path, settings: Any) -> Any:
    """An embedded Chroma client, opened under a file lock beside the store. Processes that open a new
    store at the same moment race to create its SQLite schema, and the loser fails with "table collections
    already exists" (seen with three store workers started together on a fresh directory); opening one at
    a time takes ~0.15 s and makes every later opener find the schema in place."""
    from filelock import FileLock

    path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / ".chroma-open.lock")):
        return chromadb.PersistentClient(path=str(path), settings=settings)


def _open_http(chromadb: Any, settings: Settings) -> Any:
    """A client of a Chroma server, sending IMGSEARCH_CHROMA_TOKEN when set (the gate in front of
    `chroma run` refuses any request without it: imgsearch_core.store.chroma_gate). The client asks the
    server for its tenant on creation, so a refused or missing token fails here, with one clear line."""
    from chromadb.errors import AuthorizationError, ChromaAuthError

    where = f"{settings.chroma_host}:{settings.chroma_port}"
    auth: dict[str, str] = {}
    if settings.chroma_token:
        problem = token_problem(settings.chroma_token)
        if problem:
            raise StoreError(problem)
        auth = {"chroma_client_auth_provider": "chromadb.auth.token_authn.TokenAuthClientProvider",
                "chroma_client_auth_credentials": settings.chroma_token}
    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=True, **auth)
    try:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    except (AuthorizationError, ChromaAuthError):
        if settings.chroma_token:
            raise StoreError(f"The Chroma server at {where} refused the token (IMGSEARCH_CHROMA_TOKEN).") from None
        raise StoreError(f"The Chroma server at {where} requires a token: set IMGSEARCH_CHROMA_TOKEN.") from None
    except Exception as exc:  # noqa: BLE001 - connection problems become one clear message
        raise StoreError(f"Cannot reach the Chroma server at {where}: {exc}") from exc


class Store:
    """A store directory: Chroma (embedded, or a server when configured), media and BM25 indexes."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.root = Path(self.settings.store_dir)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the store directory {self.root}: {exc.strerror}") from exc
        self.shared = bool(self.settings.chroma_host)  # server mode: several writers, shared media
        self.media_root = Path(self.settings.media_dir) if self.settings.media_dir else self.root / "media"
        self.index_root = self.root / "bm25"  # per process or replica, derived from Chroma
        self._lock = write_lock_for(self.root)
        self._generation_file = self.root / ".write.generation"
        self._seen_generation = self._read_generation()
        self._depth = 0
        self.client = self._connect()
        self.max_batch = int(self.client.get_max_batch_size())
        self._collections: dict[str, Collection] = {}
        self._handles: dict[str, Any] = {}

    def handle(self, name: str) -> Any:
        """The Chroma handle of a collection on the current client (reopened after foreign writes)."""
        handle = self._handles.get(name)
        if handle is None:
            handle = self._handles[name] = self.client.get_collection(name, embedding_function=None)
        return handle

    def _connect(self) -> Any:
        import chromadb

        if self.settings.chroma_host:
            return _open_http(chromadb, self.settings)
        chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=True)
        return _open_persistent(chromadb, self.root / "chroma", chroma_settings)

    # ----- locking -----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock (re-entrant); raises StoreLockedError naming the holder.

        Server mode takes no lock: the Chroma server serialises writes, and the write log keeps every
        process's BM25 index in step.
        """
        if self.shared:
            yield
            return
        with self._lock.hold():
            self._depth += 1
            try:
                if self._depth == 1 and self._read_generation() != self._seen_generation:
                    self._reopen()
                if self._depth == 1:  # before the write too: a writer killed halfway still makes the others reopen
                    self._new_generation()
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._new_generation()

    def _new_generation(self) -> None:
        self._seen_generation = uuid.uuid4().hex
        write_atomic(self._generation_file, self._seen_generation.encode())

    def _read_generation(self) -> str:
        try:
            return self._generation_file.read_text()
        except OSError:
            return ""

    def _reopen(self) -> None:
        """Another process wrote this embedded store since this one last did: drop the client's cached
        segment state before writing (a stale one corrupts the store: "Error finding id")."""
        self.client.close()
        self.client = self._connect()
        self._handles.clear()

    # ----- collections -------------------------------------------------------------------------
    def collection_names(self) -> list[str]:
        """User collections (write logs, the companions of each, are not listed)."""
        names = (c.name if hasattr(c, "name") else str(c) for c in self.client.list_collections())
        return sorted(n for n in names if not is_log_name(n))

    def open(self, name: str) -> Collection:
        validate_collection_name(name)
        if name not in self._collections:
            try:
                self.handle(name)
            except Exception:  # noqa: BLE001 - chroma raises several types for "not found"
                raise CollectionNotFoundError(
                    f"No collection named {name!r}. Existing: {', '.join(self.collection_names()) or 'none'}."
                ) from None
            self._collections[name] = Collection(self, name)
        return self._collections[name]

    def open_or_create(self, name: str, model: ModelIdentity) -> Collection:
        """Open `name` checking it is pinned to `model`, or create it pinned to `model`.

        Two writers creating one collection at once (server mode) both end up with the same one.
        """
        validate_collection_name(name)
        if name not in self.collection_names():
            with self.writing():
                try:
                    self.client.create_collection(
                        name,
                        metadata={"model": model.name, "dim": model.dim, "model_fingerprint": model.fingerprint,
                                  "schema_version": SCHEMA_VERSION, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S")},
                        configuration={"hnsw": dict(HNSW_CONFIG)},
                        embedding_function=None,
                    )
                except Exception:  # noqa: BLE001 - created meanwhile by another writer: checked below
                    if name not in self.collection_names():
                        raise
        collection = self.open(name)
        collection.check_model(model)
        return collection

    def delete_collection(self, name: str) -> None:
        collection = self.open(name)
        with self.writing():
            self.client.delete_collection(collection.name)
            collection._log.drop()
            self._handles.pop(name, None)
            self._handles.pop(collection._log.name, None)
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
            self._handles.clear()
