"""What a browser session keeps so a rerun never embeds again: recent query candidates, and an uploaded
image's candidates combined with a text query's keyword side.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import replace
from typing import Any


class LRU:
    """A tiny least-recently-used map kept in a session (query candidates, query thumbnails)."""

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def with_text_side(image: Any, text: Any, exclude: Iterable[str] = ()) -> Any:
    """An uploaded image's candidates plus the keyword side of a text query (image + text search).

    Gives what Searcher.image_candidates(image, text=...) gives, from two cached halves, so typing a
    different text never embeds the uploaded image again. `exclude`: the upload's own id.
    """
    drop = set(exclude)
    return replace(
        image,
        bm25=[(i, s) for i, s in text.bm25 if i not in drop],
        query_tokens=list(text.query_tokens),
        has_text=True,
        notice=text.notice,
        timings_ms={**image.timings_ms, "bm25": text.timings_ms.get("bm25", 0.0)},
    )
