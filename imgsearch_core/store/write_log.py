"""Per-batch write records of a collection, kept in Chroma beside it, so derived indexes stay in step.

Why: the BM25 index (one per process or replica) is derived from Chroma's documents. A revision
counter read, incremented and written back loses a batch when two writers bump it at once. Instead
every write (add, delete, metadata update) first adds a *pending* record naming the ids it touches,
then writes the data, then marks the record *done*. A reader that catches up:

1. reads the records done since it last looked (and every pending one),
2. then reads the current Chroma state of the ids they name and applies it to its index.

Applying "the current state of these ids" is idempotent and order-free, so any number of writers
and readers converge: a change in Chroma is always covered by a record that is pending (re-read on
every catch-up) or done (re-read once, after the data landed). A writer killed mid-batch leaves its
record pending, so its partial data is still indexed exactly as Chroma holds it.

A token in the log collection's metadata changes at every begin and finish: a reader that sees the
same token (and knew of no pending record) has nothing to catch up, at the cost of one small call.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LOG_SUFFIX = ".writes"
CLOCK_MARGIN_S = 300  # writers on several machines: records finished this long before `since` are re-read
PENDING, DONE = "pending", "done"


def log_name(collection_name: str) -> str:
    return f"{collection_name}{LOG_SUFFIX}"


def is_log_name(name: str) -> bool:
    return name.endswith(LOG_SUFFIX)


@dataclass(frozen=True)
class LogView:
    """What a reader learns from one look at the log."""

    token: str
    done: dict[str, float]  # record id -> finished (epoch seconds), for records finished since the cursor
    pending: frozenset[str]
    ids: dict[str, list[str]] = field(default_factory=dict)  # record id -> the item ids it touches


class WriteLog:
    """The write records of one collection (a companion Chroma collection of 1-d dummy vectors)."""

    def __init__(self, store: Any, collection_name: str) -> None:
        """`store`: gives `client` and `handle(name)` (Chroma collection handles of its current client)."""
        self._store = store
        self.name = log_name(collection_name)
        store.client.get_or_create_collection(
            self.name, configuration={"hnsw": {"space": "l2"}}, embedding_function=None,
            metadata={"token": uuid.uuid4().hex},
        )

    @property
    def _log(self) -> Any:
        return self._store.handle(self.name)

    def token(self) -> str:
        return str((self._store.client.get_collection(self.name).metadata or {}).get("token", ""))

    def _touch(self) -> None:
        self._log.modify(metadata={"token": uuid.uuid4().hex})

    def begin(self, operation: str, ids: Sequence[str]) -> str:
        """Record a write about to happen; returns its record id. Call before touching any data."""
        record_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        self._log.add(
            ids=[record_id], embeddings=[[0.0]], documents=[json.dumps(list(ids))],
            metadatas=[{"state": PENDING, "op": operation, "started": time.time(),
                        "writer": f"{socket.gethostname()}:{os.getpid()}"}],
        )
        self._touch()
        return record_id

    def finish(self, record_id: str) -> None:
        """Mark a write whose data is all in Chroma."""
        self._log.update(ids=[record_id], metadatas=[{"state": DONE, "finished": time.time()}])
        self._touch()

    def look(self, since: float | None) -> LogView:
        """Records finished at or after `since` (None: all) and every pending one, with their ids."""
        token = self.token()
        where: dict[str, Any] = {"state": PENDING}
        if since is None:
            where = {"state": {"$in": [PENDING, DONE]}}
        else:
            where = {"$or": [where, {"finished": {"$gte": since - CLOCK_MARGIN_S}}]}
        found = self._log.get(where=where, include=["metadatas", "documents"])
        done, pending, ids = {}, set(), {}
        for record_id, meta, document in zip(found["ids"], found["metadatas"], found["documents"]):
            ids[record_id] = json.loads(document or "[]")
            if (meta or {}).get("state") == DONE:
                done[record_id] = float(meta.get("finished", 0.0))
            else:
                pending.add(record_id)
        return LogView(token, done, frozenset(pending), ids)

    def settle_abandoned(self, older_than_s: float) -> int:
        """Mark pending records older than `older_than_s` done (their writer died): readers re-read
        their ids once more and stop re-reading them on every catch-up. Returns how many."""
        cutoff = time.time() - older_than_s
        stale = self._log.get(where={"$and": [{"state": PENDING}, {"started": {"$lt": cutoff}}]}, include=[])["ids"]
        for record_id in stale:
            self.finish(record_id)
        return len(stale)

    def drop(self) -> None:
        self._store.client.delete_collection(self.name)
