"""A search command's query work, started while the main thread imports Chroma and opens the store.

Why: a command-line search spends ~1.5 s importing chromadb and opening the store before Chroma says which
model and caption language the collection has. Then a vector or hybrid search creates the text tower's
ONNX Runtime session (~0.6 s, in C++ without holding the GIL) and a keyword or hybrid search imports spaCy
to analyse the query (~0.8 s of Python, which holds the GIL). Both can run beside the Chroma import on a
second core once the collection is known early: the session on a thread, the analysis in a child process.

The collection is read from the embedded store's SQLite catalogue (read-only, no Chroma import: a few
milliseconds). That read is only a guess: the embedder is used only when the collection, as Chroma then
opens it, names the same model and backend, and the tokens only for the query in the language its BM25
index is in. Anything else (a server store, a catalogue locked or laid out otherwise, a model that fails
to load, a failed child) means no prefetch, and the search does that work itself, reporting any error.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgsearch_core.config import Settings
from imgsearch_core.languages import DEFAULT_LANGUAGE, LANGUAGE_SETTING

CATALOGUE = Path("chroma") / "chroma.sqlite3"  # the embedded Chroma's system database, inside the store
_KEYS = {"model": "model", "setting_backend": "backend", f"setting_{LANGUAGE_SETTING}": "language"}
_ROWS = ("SELECT c.name, m.key, m.str_value FROM collections c JOIN collection_metadata m ON m.collection_id = c.id "
         f"WHERE m.key IN ({', '.join('?' * len(_KEYS))})")
_ANALYSE = ("import json, sys; from imgsearch_core.text_analysis import analyze_one; "
            "print(json.dumps(analyze_one(sys.argv[2], sys.argv[1])))")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Guess:
    """What the catalogue records of a collection: its model, saved backend ('' for none) and caption language."""

    model: str
    backend: str
    language: str


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
    return Guess(values["model"], values.get("backend", ""), values.get("language") or DEFAULT_LANGUAGE)


class Prefetch:
    """Builds the embedder of the collection a search will probably open on a thread of its own (with
    `embed`, also embeds the query once, which creates the text tower's session), and with `analyse` has a
    child process analyse the query for BM25."""

    def __init__(self, settings: Settings, collection: str | None, query: str, *, embed: bool, analyse: bool) -> None:
        self.guess = None if settings.chroma_host else guess_collection(settings.store_dir, collection)
        self._query = query
        self._embedder: Any = None
        self._child: subprocess.Popen | None = None
        # Not a daemon: a command that fails early still lets the session finish before the interpreter exits.
        self._thread = threading.Thread(target=self._build, args=(embed,), name="imgsearch-prefetch")
        if self.guess is None:
            return
        if analyse:
            self._child = _analysis_child(query, self.guess.language)
        self._thread.start()

    def _build(self, embed: bool) -> None:
        from imgsearch_core.embed import Embedder

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
        from imgsearch_core.backend_choice import backend_for

        embedder = self._embedder
        if embedder is None or self.guess.model != collection.model.name:
            return None
        return embedder if embedder.requested_backend == backend_for(collection) else None

    def analyze(self, query: str, language: str) -> list[str]:
        """text_analysis.analyze_one(query, language), from the child when it analysed just that."""
        child = self._child
        if child is not None and query == self._query and language == self.guess.language:
            try:
                out, _ = child.communicate(timeout=120)
                if child.returncode == 0:
                    self._child = None
                    return json.loads(out)
            except (subprocess.TimeoutExpired, ValueError):
                pass
        self.close()
        from imgsearch_core.text_analysis import analyze_one

        return analyze_one(query, language)

    def close(self) -> None:
        """Stop the child if its answer is not wanted (another query or language, or the command failed)."""
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.stdout.close()
            child.wait()


def _analysis_child(query: str, language: str) -> subprocess.Popen | None:
    """A child process that prints the query's tokens in `language` as JSON (None if it cannot start)."""
    path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    try:
        return subprocess.Popen([sys.executable, "-c", _ANALYSE, language, query], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8",
                                env={**os.environ, "PYTHONPATH": path})
    except (OSError, ValueError):  # ValueError: a query with a NUL character
        return None
