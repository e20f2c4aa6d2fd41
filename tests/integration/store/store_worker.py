"""A long-lived store process for the multi-process consistency test: one JSON command per stdin line.

    python -m tests.integration.store.store_worker     (store settings from the environment, as in production)

Commands: {"op": "add"|"delete"|"update", "collection": C, "items": [i...], "crash": POINT|null}
          {"op": "answers", "collection": C, "queries": [[token...]...]}
A writer given a crash POINT kills itself with SIGKILL there (kill -9 at a chosen moment of a real write):
"begin" after its log record is written, "media" after the media files, "data" after Chroma holds the
data, before the record is marked done. "answers" returns this process's BM25 answers (its own index,
caught up through the write log) next to a BM25 built afresh from Chroma's documents, and whether every
item's media file resolves.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sys

import numpy as np

from imgsearch_core.config import Settings
from imgsearch_core.types import ModelIdentity
from imgsearch_core.media.item_metadata import searchable_text
from imgsearch_core.store.records import Record
from imgsearch_core.store.store import Store
from imgsearch_core.text.analysis import analyze
from imgsearch_core.text.bm25 import BM25Index
from tests.helpers import caption_for, image_bytes

IDENTITY = ModelIdentity("consistency-test", 8)


def item_id(index: int) -> str:
    return hashlib.sha256(image_bytes(index)).hexdigest()


def record(index: int) -> Record:
    vector = np.random.default_rng(index).normal(size=IDENTITY.dim).astype(np.float32)
    caption = caption_for(index) if index % 4 else ""  # some items have no caption
    return Record(item_id(index), vector / np.linalg.norm(vector), caption, {"index": index}, image_bytes(index), ".png")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(collection, crash: str | None) -> None:
    """Make this process SIGKILL itself at `crash` during the next write (the write code runs unchanged)."""
    if crash is None:
        return
    log = collection._log
    if crash == "begin":
        begin = log.begin
        log.begin = lambda *a, **k: (begin(*a, **k), _die())[0]
    elif crash == "media":
        import imgsearch_core.store.collection as collection_module

        write, media = collection_module.write_atomic, collection._store.media_root

        def write_then_die(path, data):
            write(path, data)
            if media in path.parents:  # the first media file (not the journal)
                _die()

        collection_module.write_atomic = write_then_die
    elif crash == "data":
        log.finish = lambda *a, **k: _die()
    else:
        raise ValueError(f"unknown crash point {crash!r}")


def write(store: Store, command: dict) -> dict:
    collection = store.open_or_create(command["collection"], IDENTITY)
    _arm(collection, command.get("crash"))
    indices = command["items"]
    if command["op"] == "add":
        return {"added": collection.add([record(i) for i in indices])}
    if command["op"] == "delete":
        return {"deleted": collection.delete([item_id(i) for i in indices])}
    seed = command.get("seed", 0)
    updates = [(item_id(i), caption_for(i + seed + 1), {"index": i, "seed": seed}) for i in indices]
    return {"updated": collection.update_items(updates)}


def answers(store: Store, command: dict) -> dict:
    name = command["collection"]
    if name not in store.collection_names():
        return {"exists": False}
    collection = store.open(name)
    index = collection.bm25()
    items = collection.all_items()
    texts = [(i.id, searchable_text(i.caption, i.metadata)) for i in items]
    texts = [(i, t) for i, t in texts if t.strip()]
    fresh = BM25Index.build([i for i, _ in texts], analyze([t for _, t in texts]))
    queries = command["queries"]
    return {
        "exists": True,
        "ids": sorted(index.ids),
        "fresh_ids": sorted(fresh.ids),
        "top": [[[i, round(s, 9)] for i, s in index.top(q, 50)] for q in queries],
        "fresh_top": [[[i, round(s, 9)] for i, s in fresh.top(q, 50)] for q in queries],
        "stored": sorted(i.id for i in items),
        "missing_media": sorted(i.id for i in items if not i.media_path.is_file()),
    }


def main() -> None:
    store = Store(Settings.from_env())
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            reply = answers(store, command) if command["op"] == "answers" else write(store, command)
        except Exception as exc:  # noqa: BLE001 - the test reads the failure
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
