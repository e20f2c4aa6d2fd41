"""One process's BM25 index of a collection, kept equal to Chroma's documents through the write log.

Why a keeper per process (or replica) rather than one shared index file that writers update: with a
Chroma server, writers and app replicas run on different machines; each derives its own index from
Chroma, the single source of truth, and catches up by the write records it has not applied yet (see
imgsearch_core.store.write_log for why that converges). The saved file is only a start-up shortcut: it
holds the index together with the records it reflects, written atomically in one file.

The index is built in the collection's caption language (imgsearch_core.text.languages) and records it;
when the language changes, the next look rebuilds the index from Chroma's stored documents (nothing
is embedded again, no item is touched). A saved file of another format or analysis version (text/bm25.py:
tokens made by older rules, such as unfolded accents) does not load and is rebuilt the same way.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgsearch_core.media.item_metadata import searchable_text
from imgsearch_core.text.analysis import analyze
from imgsearch_core.text.bm25 import BM25Index, IndexCorrupt
from imgsearch_core.store.write_log import CLOCK_MARGIN_S, WriteLog

STATE_FORMAT = 2  # saved-state layout; a file of another layout is rebuilt from Chroma


@dataclass
class _State:
    index: BM25Index
    applied: dict[str, float]  # done record id -> when it finished; pruned to the clock margin
    token: str
    pending: frozenset[str]

    @property
    def since(self) -> float | None:
        return max(self.applied.values()) if self.applied else None

    def to_text(self) -> str:
        return json.dumps({"format": STATE_FORMAT, "applied": self.applied, "token": self.token})


class IndexKeeper:
    """Gives the BM25 index at Chroma's current documents; thread-safe."""

    def __init__(self, chroma: Callable[[], Any], log: WriteLog, directory: Path, page_size: int,
                 language: Callable[[], str]) -> None:
        """`chroma`: gives the collection's current Chroma handle (the store may reopen its client).
        `language`: gives the collection's caption language as recorded now (any process may change it)."""
        self._handle = chroma
        self._language = language
        self._log = log
        self._directory = directory
        self._page_size = page_size
        self._state: _State | None = None
        self._lock = threading.Lock()

    def current(self) -> BM25Index:
        with self._lock:
            language = self._language()
            state = self._state
            if state is not None and state.index.language != language:
                state = None  # the caption language changed: rebuild in the new one
            if state is not None and not state.pending and self._log.token() == state.token:
                return state.index  # nothing written since the last look: one small call
            if state is None:
                state = self._load(language) or self._rebuild(language)
            changed = self._catch_up(state)
            if changed:
                state.index.save(self._directory, state.to_text())
            self._state = state
            return state.index

    # ----- building ----------------------------------------------------------------------------
    def _load(self, language: str) -> _State | None:
        try:
            index, text = BM25Index.load(self._directory)
            saved = json.loads(text)
        except (IndexCorrupt, FileNotFoundError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("format") != STATE_FORMAT or index.language != language:
            return None
        return _State(index, {str(k): float(v) for k, v in saved["applied"].items()}, "", frozenset())

    def _rebuild(self, language: str) -> _State:
        """From every document; the log is read first, so whatever it misses is caught up later."""
        view = self._log.look(None)
        ids: list[str] = []
        tokens: list[list[str]] = []
        for page_ids, texts in self._pages():
            keep = [(i, t) for i, t in zip(page_ids, texts) if t.strip()]
            ids.extend(i for i, _ in keep)
            tokens.extend(analyze([t for _, t in keep], language))
        state = _State(BM25Index.build(ids, tokens, language), dict(view.done), view.token, view.pending)
        state.index.save(self._directory, state.to_text())
        return state

    def _pages(self) -> Iterator[tuple[list[str], list[str]]]:
        offset = 0
        while True:
            page = self._handle().get(offset=offset, limit=self._page_size, include=["documents", "metadatas"])
            if not page["ids"]:
                return
            yield page["ids"], [searchable_text(d or "", m or {}) for d, m in zip(page["documents"], page["metadatas"])]
            offset += len(page["ids"])

    # ----- catching up -------------------------------------------------------------------------
    def _catch_up(self, state: _State) -> bool:
        """Apply the records done since the state's cursor and re-read every pending record's ids."""
        view = self._log.look(state.since)
        fresh = {r: f for r, f in view.done.items() if r not in state.applied}
        touched = {i for r in (*fresh, *view.pending) for i in view.ids.get(r, [])}
        if touched:
            self._refresh(state.index, touched)
        state.applied.update(fresh)
        if state.applied:
            horizon = max(state.applied.values()) - 2 * CLOCK_MARGIN_S
            state.applied = {r: f for r, f in state.applied.items() if f >= horizon}
        state.token, state.pending = view.token, view.pending
        return bool(fresh) or bool(touched)

    def _refresh(self, index: BM25Index, ids: Iterable[str]) -> None:
        """Make these ids in the index what Chroma holds now (present with text, or absent)."""
        wanted = sorted(set(ids))
        texts: dict[str, str] = {}
        for start in range(0, len(wanted), self._page_size):
            found = self._handle().get(ids=wanted[start : start + self._page_size], include=["documents", "metadatas"])
            for item_id, document, meta in zip(found["ids"], found["documents"], found["metadatas"]):
                texts[item_id] = searchable_text(document or "", meta or {})
        keep = [(i, t) for i, t in texts.items() if t.strip()]
        index.remove([i for i in wanted if i not in dict(keep)])
        if keep:
            index.upsert([i for i, _ in keep], analyze([t for _, t in keep], index.language))
