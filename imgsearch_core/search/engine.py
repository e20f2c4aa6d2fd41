"""Text, vector, hybrid, image-to-image and image+text search with explainable scores.

Why two steps: `*_candidates` does the expensive work (embedding the query, BM25 and HNSW look-ups at
depth >= 100) and `rank` only fuses, so the app can re-rank on every slider move without embedding
the query again. The fusion maths (min-max, relative and reciprocal-rank fusion, the adaptive cutoff)
are in imgsearch_core.search.fusion; the default, min-max, is the one the README describes under
"How search scores".

Queries are analysed in the language the collection's BM25 index was built in (its caption language,
imgsearch_core.text.languages), so an inflected query word meets the lemma its captions were indexed by.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from imgsearch_core.models.embed import Embedder
from imgsearch_core.search.composition import Composition, TermPart, compose, parse, picture_vectors
from imgsearch_core.search.fusion import DEFAULT_METHOD, SearchError, autocut, check_alpha, check_method, fuse  # noqa: F401
from imgsearch_core.media.images import ImageError, QueryImage, decode_query
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.language_policy import ensure_language
from imgsearch_core.text.analysis import analyze_one
from imgsearch_core.text.bm25 import BM25Index

_KEYWORD_SIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="imgsearch-keywords")


def _timed(work: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """work(*args) and the milliseconds it took."""
    start = time.perf_counter()
    result = work(*args)
    return result, (time.perf_counter() - start) * 1000


Mode = Literal["text", "vector", "hybrid"]
MODES: tuple[str, ...] = ("text", "vector", "hybrid")
MAX_K = 100
MIN_DEPTH = 100
STOP_WORDS_NOTICE = (
    "The query has only common words (stop words), so keyword (BM25) search finds nothing; "
    "vector search still answers."
)


@dataclass(frozen=True)
class Hit:
    """One result with every part of its score, so a ranking can be explained."""

    rank: int
    id: str
    caption: str
    media_path: Path
    metadata: dict[str, Any]
    score: float
    bm25: float | None
    bm25_norm: float
    cosine: float | None
    cosine_norm: float
    method: str = DEFAULT_METHOD  # the fusion that made `score` (imgsearch_core.search.fusion.METHODS)
    bm25_rank: int | None = None  # 1-based place in the keyword candidates; None: not found there
    vector_rank: int | None = None
    terms: tuple[TermPart, ...] = ()  # a composed query's per-term parts (search.composition); () for a plain one

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "caption": self.caption,
            "media_path": str(self.media_path),
            "score": self.score,
            "bm25": self.bm25,
            "bm25_norm": self.bm25_norm,
            "cosine": self.cosine,
            "cosine_norm": self.cosine_norm,
            "method": self.method,
            "bm25_rank": self.bm25_rank,
            "vector_rank": self.vector_rank,
            "terms": [part.to_dict() for part in self.terms],
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class Candidates:
    """Both sides' candidate lists for one query: what `rank` fuses, cheap to keep and re-rank."""

    bm25: list[tuple[str, float]]
    cosine: list[tuple[str, float]]
    query_tokens: list[str]
    has_text: bool
    has_vector: bool
    notice: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    term_parts: dict[str, tuple[TermPart, ...]] = field(default_factory=dict)  # by id, for a composed query


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    mode: str
    alpha: float
    query_tokens: list[str]
    notice: str | None
    timings_ms: dict[str, float]
    method: str = DEFAULT_METHOD
    clear: int | None = None  # with the cutoff on: how many leading hits are clearly relevant

    @property
    def clear_hits(self) -> list[Hit]:
        """The hits above the cutoff's gap (all hits when the cutoff is off)."""
        return self.hits if self.clear is None else self.hits[: self.clear]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "alpha": self.alpha,
            "fusion": self.method,
            "clearly_relevant": self.clear,
            "query_tokens": self.query_tokens,
            "notice": self.notice,
            "timings_ms": self.timings_ms,
            "hits": [h.to_dict() for h in self.hits],
        }


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise SearchError(f"Unknown search mode {mode!r}: use one of {', '.join(MODES)}.")
    return mode


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise SearchError(f"The number of results must be between 1 and {MAX_K}, got {k!r}.")
    return k


class Searcher:
    """Searches one collection with the model it is pinned to."""

    def __init__(self, collection: Collection, embedder: Embedder, depth: int = MIN_DEPTH) -> None:
        collection.check_model(embedder.identity)
        ensure_language(collection)  # a collection that got its first captions gets its language now
        self.collection = collection
        self.embedder = embedder
        self.depth = max(depth, MIN_DEPTH)

    # ----- candidate retrieval (expensive) ---------------------------------------------------
    def _bm25_side(self, query: str, where: dict | None) -> tuple[list[str], list[tuple[str, float]]]:
        """The query's tokens (in the index's language) and its BM25 candidates."""
        if not query.strip():
            return [], []
        index: BM25Index = self.collection.bm25()
        tokens = analyze_one(query, index.language)
        if not tokens:
            return tokens, []
        allowed = self.collection.allowed_ids(where) if where else None
        return tokens, index.top(tokens, self.depth, allowed_ids=allowed)

    def _vector_side(self, vector: np.ndarray, where: dict | None, exclude: set[str]) -> list[tuple[str, float]]:
        hits = self.collection.query_vector(vector, self.depth + len(exclude), where=where)
        return [(i, c) for i, c in hits if i not in exclude][: self.depth]

    def text_candidates(self, query: str, where: dict | None = None, mode: str = "hybrid",
                        pictures: Mapping[str, QueryImage] | None = None) -> Candidates:
        """Both sides' candidates (the app re-ranks them in any mode), or with `mode` 'text' or 'vector' only the
        side that mode ranks: a keyword search never embeds the query (no text tower session is made) and a
        vector search never analyses it (no spaCy; its query_tokens are empty). A composed query
        ("2:red circle + square - blue", search.composition) is parsed first, its image terms resolved (an
        item:<id>, or a quoted path found in `pictures`, the files the CLI read): bad input runs nothing."""
        if not isinstance(query, str) or not query.strip():
            raise SearchError("Enter a search query.")
        check_mode(mode)
        composition = parse(query)  # "2:red circle + square - blue"; one positive term is a plain query
        if composition.composed:
            return self._composed_candidates(composition, where, mode, pictures)
        query = composition.terms[0].text
        timings: dict[str, float] = {}
        # The keyword side needs no vector: it runs while the text tower encodes (ONNX Runtime and torch
        # release the GIL), so a hybrid query costs about the encoding plus the vector lookup.
        keyword_side = _KEYWORD_SIDE.submit(_timed, self._bm25_side, query, where) if mode != "vector" else None
        cosine: list[tuple[str, float]] = []
        if mode != "text":
            vector, timings["embed"] = _timed(lambda: self.embedder.embed_texts([query.strip()])[0])
            cosine, timings["vector"] = _timed(self._vector_side, vector, where, set())
        tokens: list[str] = []
        bm25: list[tuple[str, float]] = []
        if keyword_side is not None:
            (tokens, bm25), timings["bm25"] = keyword_side.result()
        notice = STOP_WORDS_NOTICE if keyword_side is not None and not tokens else None
        return Candidates(bm25, cosine, tokens, has_text=keyword_side is not None, has_vector=mode != "text",
                          notice=notice, timings_ms=timings)

    def _composed_candidates(self, composition: Composition, where: dict | None, mode: str,
                             pictures: Mapping[str, QueryImage] | None) -> Candidates:
        resolved = picture_vectors(composition, self.collection, self.embedder, pictures)
        sides = compose(composition, self.collection, self.embedder, self.depth, where, mode, resolved)
        notice = STOP_WORDS_NOTICE if mode != "vector" and not sides.tokens else None
        return Candidates(sides.bm25, sides.cosine, sides.tokens, has_text=mode != "vector", has_vector=mode != "text",
                          notice=notice, timings_ms=sides.timings_ms, term_parts=sides.parts)

    def image_candidates(
        self,
        image: Image.Image | QueryImage | bytes | None = None,
        *,
        item_id: str | None = None,
        text: str | None = None,
        where: dict | None = None,
        keywords: bool = True,
    ) -> Candidates:
        """Image query from a PIL image, a decoded query (images.decode_query), raw file bytes (decoded here)
        or a stored id; optional text for BM25.

        Without `text`, a stored item's own caption feeds the BM25 side. The query item itself is
        excluded when it is in the collection (by id, or by the SHA-256 of the given file). Without
        `keywords` there is no BM25 side (an image-only ranking does not use it, nor needs spaCy).
        """
        if (image is None) == (item_id is None):
            raise SearchError("Give exactly one query image: an uploaded image or a stored item id.")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        exclude: set[str] = set()
        source_caption = ""
        if item_id is not None:
            stored = self.collection.get([item_id])
            if not stored:
                raise SearchError(f"No item with id {item_id!r} in collection {self.collection.name!r}.")
            vector = self.collection.embeddings([item_id])[item_id]
            source_caption = stored[0].caption
            exclude.add(item_id)
        else:
            if isinstance(image, (bytes, bytearray)):
                try:
                    image = decode_query(bytes(image))
                except ImageError as exc:
                    raise SearchError(str(exc)) from exc
            if isinstance(image, QueryImage):
                exclude.add(image.digest)
                image = image.image
            vector = self.embedder.embed_images([image])[0]
        timings["embed"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        cosine = self._vector_side(vector, where, exclude)
        timings["vector"] = (time.perf_counter() - start) * 1000
        query_text = (text if text and text.strip() else source_caption) if keywords else ""
        tokens, bm25 = [], []
        if keywords:
            (tokens, bm25), timings["bm25"] = _timed(self._bm25_side, query_text, where)
            bm25 = [(i, s) for i, s in bm25 if i not in exclude]
        has_text = bool(query_text.strip())
        notice = STOP_WORDS_NOTICE if has_text and not tokens else None
        return Candidates(bm25, cosine, tokens, has_text=has_text, has_vector=True, notice=notice, timings_ms=timings)

    # ----- ranking (cheap) -------------------------------------------------------------------
    @staticmethod
    def fused_rows(candidates: Candidates, mode: str, alpha: float, k: int,
                   method: str = DEFAULT_METHOD) -> tuple[float, list[tuple]]:
        """The effective alpha and the top-k `fuse` rows of `mode`: ranking without any store I/O,
        shared by `rank` and by evaluation, which only needs the ids."""
        check_mode(mode)
        check_k(k)
        alpha = {"text": 0.0, "vector": 1.0}.get(mode, check_alpha(alpha))
        bm25 = candidates.bm25 if mode != "vector" else []
        cosine = candidates.cosine if mode != "text" else []
        return alpha, fuse(bm25, cosine, alpha, method)[:k]

    def rank(self, candidates: Candidates, mode: str = "hybrid", alpha: float = 0.5, k: int = 10,
             method: str = DEFAULT_METHOD, cutoff: bool = False) -> SearchResult:
        """The top-k hits; with `cutoff`, `clear` says how many lead the list before its first large
        score gap (fusion.autocut); the hits are not dropped, so the page can offer "show all"."""
        start = time.perf_counter()
        check_method(method)
        alpha, rows = self.fused_rows(candidates, mode, alpha, k, method)
        items = {item.id: item for item in self.collection.get([r.id for r in rows])}
        hits = [
            Hit(rank, r.id, items[r.id].caption, items[r.id].media_path, items[r.id].metadata, r.score, r.bm25,
                r.bm25_norm, r.cosine, r.cosine_norm, method, r.bm25_rank, r.vector_rank,
                candidates.term_parts.get(r.id, ()))
            for rank, r in enumerate(rows, start=1)
            if r.id in items
        ]
        clear = autocut([h.score for h in hits]) if cutoff else None
        timings = dict(candidates.timings_ms, rank=(time.perf_counter() - start) * 1000)
        notice = candidates.notice if mode != "vector" else None
        return SearchResult(hits, mode, alpha, candidates.query_tokens, notice, timings, method, clear)

    # ----- one-call conveniences ---------------------------------------------------------------
    def search(self, query: str, mode: str = "hybrid", alpha: float = 0.5, k: int = 10, where: dict | None = None,
               method: str = DEFAULT_METHOD, cutoff: bool = False,
               pictures: Mapping[str, QueryImage] | None = None) -> SearchResult:
        check_mode(mode)
        check_alpha(alpha)
        check_k(k)
        check_method(method)
        return self.rank(self.text_candidates(query, where, mode, pictures), mode, alpha, k, method, cutoff)

    def similar(
        self,
        image: Image.Image | QueryImage | bytes | None = None,
        *,
        item_id: str | None = None,
        text: str | None = None,
        alpha: float = 1.0,
        k: int = 10,
        where: dict | None = None,
    ) -> SearchResult:
        """Image to image (alpha=1) or image+text (alpha<1: BM25 of `text` or the item's caption)."""
        check_alpha(alpha)
        check_k(k)
        candidates = self.image_candidates(image, item_id=item_id, text=text, where=where, keywords=alpha < 1.0)
        mode = "hybrid" if candidates.has_text and alpha < 1.0 else "vector"
        return self.rank(candidates, mode, alpha, k)
