"""A search command's embedder, built while the main thread imports Chroma and opens the store.

Why: a command-line search spends ~1.5 s importing chromadb and opening the store before Chroma says which
model the collection is pinned to; a vector or hybrid search then creates the text tower's ONNX Runtime
session (~0.5 s with the saved graph, in C++ without holding the GIL), which can run beside the Chroma
import on a thread once the model is known early. (The query's spaCy analysis is Python holding the GIL:
a thread gains nothing, and a child process analysing it was measured slower on a loaded machine.)

The model is read from the embedded store's SQLite catalogue (read-only, no Chroma import: a few
milliseconds). That read is only a guess: the embedder is used only when the collection, as Chroma then
opens it, names the same model and backend. Anything else (a server store, a catalogue locked or laid out
otherwise, a model that fails to load) means no prefetch, and the search builds its embedder itself,
reporting any error.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgsearch_core.config import Settings

CATALOGUE = Path("chroma") / "chroma.sqlite3"  # the embedded Chroma's system database, inside the store
_KEYS = {"model": "model", "setting_backend": "backend"}
_ROWS = ("SELECT c.name, m.key, m.str_value FROM collections c JOIN collection_metadata m ON m.collection_id = c.id "
         f"WHERE m.key IN ({', '.join('?' * len(_KEYS))})")


@dataclass(frozen=True)
class Guess:
    """What the catalogue records of a collection: its model and saved backend ('' for none)."""

    model: str
    backend: str


def guess_collection(store_dir: Path, name: str | None) -> Guess | None:
    """The collection a search would open, as the catalogue records it; None when it cannot tell. Names
    resolve as cli_support.resolve_collection_name resolves them (a write log has no model: not counted)."""
    path = Path(store_dir) / CATALOGUE
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0)) as db:
            rows = db.execute(_ROWS, tuple(_KEYS)).fetchall()
    except sqlite3.Error:
        return None
    found: dict[str, dict[str, str]] = {}
    for collection, key, value in rows:
        found.setdefault(collection, {})[_KEYS[key]] = value or ""
    models = [collection for collection, values in found.items() if values.get("model")]
    if name is None:
        name = models[0] if len(models) == 1 else "default"
    if name not in models:
        return None
    values = found[name]
    return Guess(values["model"], values.get("backend", ""))


class Prefetch:
    """Builds the embedder of the collection a search will probably open on a thread of its own; with `embed`,
    also embeds the query once, which creates the text tower's session."""

    def __init__(self, settings: Settings, collection: str | None, query: str, *, embed: bool) -> None:
        self.guess = None if settings.chroma_host else guess_collection(settings.store_dir, collection)
        self._query = query
        self._embedder: Any = None
        # Not a daemon: a command that fails early still lets the session finish before the interpreter exits.
        self._thread = threading.Thread(target=self._build, args=(embed,), name="imgsearch-prefetch")
        if self.guess is not None:
            self._thread.start()

    def _build(self, embed: bool) -> None:
        from imgsearch_core.models.embed import Embedder

        try:
            forced = os.environ.get("IMGSEARCH_BACKEND", "").strip()
            embedder = Embedder(self.guess.model, backend=forced or self.guess.backend or None)
            if embed:
                embedder.embed_texts([self._query.strip()])
        except Exception:  # noqa: BLE001 - the command builds its own embedder and reports the error
            return
        self._embedder = embedder

    def embedder_for(self, collection) -> Any:
        """The prefetched embedder when it is the one `collection` needs (cli_support.embedder_for), else None."""
        if self.guess is None:
            return None
        self._thread.join()
        from imgsearch_core.models.backend_choice import backend_for

        embedder = self._embedder
        if embedder is None or self.guess.model != collection.model.name:
            return None
        return embedder if embedder.requested_backend == backend_for(collection) else None
