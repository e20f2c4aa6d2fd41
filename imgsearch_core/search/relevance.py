"""Relevance bands (strong / weak / no match) whose meaning holds across queries, per collection and model.

Why: the fused score is relative to a query's own candidates (min-max puts every top hit at 1.000), so it
cannot say whether the best hit answers the query at all. A raw cosine can, once one knows what cosines
this model gives in this collection for a picture and its own caption and for unrelated pairs. The
calibration measures that on the collection itself:

- **text → image** (a text query's cosine): up to `SAMPLE` items, drawn seeded from the collection; the
  captioned ones' captions are embedded with the query text tower. A caption with its own picture is a
  *matched* pair, with the other sampled pictures a *random* pair. Below the `NO_MATCH_QUANTILE` of the
  random cosines a hit is "no match" (no closer than 99 in 100 unrelated pairs); from the `STRONG_QUANTILE`
  of the matched cosines (never below the no-match bound) it is "strong".
- **image → image** ("more like this", an upload): random pairs of the sampled pictures give "no match"
  as for text. There are no labelled matched pairs; a picture's nearest neighbours depend on how dense
  the collection is (in a 400-scene demo a plain gradient is closer to its best hit than the median scene
  to its own nearest neighbour), and embedding augmented copies would cost an image embedding per
  collection revision on the search path. So "strong" is the far tail of the random pairs, closer than
  `IMAGE_STRONG_QUANTILE` of them (1 in 10,000): in practice near-copies and the same scene re-framed.
- **keywords** (text mode, BM25 alone): a BM25 score has no absolute scale (it grows with the query's
  length and rare words), so its band is the share of the query's words (analysed tokens) the caption
  holds: all of them "strong", some "weak", none "no match".
- **word pairs** (text and hybrid): a caption that keeps the query's adjacent words together and in order
  ("police car", not "a car next to the police station") raises the level by up to `PHRASE_WEIGHT`.

Every band is a range of one calibrated level (below 1 no match, from 2 strong): a cosine's level is 1 at the
no-match bound and 2 at the strong one; a hybrid hit's moves by up to half a step with the share of query
words its caption holds (all of them: up, none: down). On the demo (benchmarks/RESULTS.md) the level tells a
query's relevant top-10 hits from the others with AUROC 0.82 (vector), 0.85 (hybrid) and 0.83 (text), the fused
score 0.55-0.59. A caption's own text embedding against the query's was measured and left out: on the demo it
ranks relevant hits below irrelevant ones (AUROC 0.40-0.57).
Without enough captions the text calibration is missing and text hits are banded by keywords alone;
`Calibration.note` says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from imgsearch_core.store.collection import Collection

SAMPLE = 256  # items drawn for the calibration: 256 x 255 random pairs, one batch of captions to embed
BLOCK = 8  # items read per seeded offset (Chroma pages by offset; small blocks keep the sample spread out)
MIN_PAIRS = 10  # fewer sampled (captioned) items than this: no calibration of that kind
NO_MATCH_QUANTILE = 0.99  # of random pairs: below it a cosine is what unrelated pairs give
STRONG_QUANTILE = 0.25  # of matched pairs: three in four captions meet their picture at least this closely
IMAGE_STRONG_QUANTILE = 0.9999  # of random picture pairs: "strong" for image queries
WORDS_WEIGHT = 1.0  # hybrid: band steps between a caption with none and one with all of the query's words
PHRASE_WEIGHT = 0.25  # text, hybrid: band steps a caption keeping all of the query's word pairs together gains
SEED = 0

Band = Literal["strong", "weak", "none"]
BANDS: tuple[Band, ...] = ("none", "weak", "strong")  # worst to best
BAND_LABELS = {"strong": "strong match", "weak": "weak match", "none": "no match"}
BAND_COLOURS = {"strong": "green", "weak": "orange", "none": "gray"}


@dataclass(frozen=True)
class Thresholds:
    """Cosine bounds of one kind of query: below `no_match_below` no match, from `strong_from` strong.
    `typical` is the random pairs' median, `matched` the matched pairs' median (None: no matched pairs)."""

    no_match_below: float
    strong_from: float
    typical: float
    matched: float | None
    pairs: int

    def level(self, cosine: float) -> float:
        """The cosine on the calibrated scale: 0 at the random median, 1 at the no-match bound, 2 at the strong
        bound, linear between them and beyond (monotonic, so it ranks as the cosine does)."""
        points = (self.typical, self.no_match_below, self.strong_from)
        if cosine < points[1]:
            low, high, base = points[0], points[1], 0.0
        else:
            low, high, base = points[1], points[2], 1.0
        return base + (cosine - low) / max(high - low, 1e-6)


@dataclass(frozen=True)
class Calibration:
    """A collection's bands for text queries (None: too few captions) and image queries (None: too few items)."""

    text: Thresholds | None
    image: Thresholds | None
    sampled: int
    captioned: int
    note: str = ""


UNCALIBRATED = Calibration(None, None, 0, 0)  # what keyword hits need: nothing measured


@dataclass(frozen=True)
class Verdict:
    """A hit's band and the evidence it rests on, in absolute terms (what the card shows)."""

    band: Band
    evidence: str
    level: float  # the calibrated score underneath: below 1 no match, from 2 strong (Thresholds.level)

    @property
    def label(self) -> str:
        return BAND_LABELS[self.band]

    def to_dict(self) -> dict[str, Any]:
        return {"band": self.band, "label": self.label, "evidence": self.evidence, "level": round(self.level, 4)}

    @property
    def colour(self) -> str:
        return BAND_COLOURS[self.band]


def _bounds(random: np.ndarray, strong: float, matched: float | None) -> Thresholds:
    no_match = float(np.quantile(random, NO_MATCH_QUANTILE))
    typical = min(float(np.median(random)), no_match - 1e-6)
    return Thresholds(no_match, max(strong, no_match + 1e-6), typical, matched, int(random.size))


def thresholds_from(matched: Sequence[float], random: Sequence[float]) -> Thresholds:
    """Bounds from matched and random cosines: "no match" below the `NO_MATCH_QUANTILE` of random, "strong"
    from the `STRONG_QUANTILE` of matched, but never below where "no match" ends, whatever the distributions."""
    rand, both = np.asarray(random, dtype=np.float64), np.asarray(matched, dtype=np.float64)
    if rand.size == 0 or both.size == 0:
        raise ValueError("A calibration needs matched and random pairs.")
    return _bounds(rand, float(np.quantile(both, STRONG_QUANTILE)), float(np.median(both)))


def tail_thresholds(random: Sequence[float]) -> Thresholds:
    """Bounds from random cosines alone (image pairs): "strong" from their `IMAGE_STRONG_QUANTILE`."""
    rand = np.asarray(random, dtype=np.float64)
    if rand.size == 0:
        raise ValueError("A calibration needs random pairs.")
    return _bounds(rand, float(np.quantile(rand, IMAGE_STRONG_QUANTILE)), None)


def _sample_items(collection: Collection, size: int, seed: int) -> list:
    """Up to `size` items in blocks at seeded offsets: deterministic for a collection's content, and no
    full read of a large collection."""
    total = collection.count()
    starts = np.random.default_rng(seed).permutation(np.arange(0, total, BLOCK))
    items: list = []
    for start in starts:
        if len(items) >= size:
            break
        items.extend(collection.page(int(start), BLOCK))
    return items[:size]


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _off_diagonal(square: np.ndarray) -> np.ndarray:
    return square[~np.eye(square.shape[0], dtype=bool)]


def calibrate(collection: Collection, embedder: Any, size: int = SAMPLE, seed: int = SEED) -> Calibration:
    """Measure the collection's bands with `embedder` (whose embed_texts embeds queries: the Searcher's)."""
    items = _sample_items(collection, size, seed)
    vectors = collection.embeddings([item.id for item in items])
    items = [item for item in items if item.id in vectors]
    image_vectors = _unit(np.stack([vectors[item.id] for item in items])) if items else np.zeros((0, 1))
    notes = []
    image = None
    if len(items) >= MIN_PAIRS:
        pairs = image_vectors @ image_vectors.T
        image = tail_thresholds(_off_diagonal(pairs))
    else:
        notes.append(f"only {len(items)} items: image queries show their cosine without a band")
    captioned = [i for i, item in enumerate(items) if item.caption.strip()]
    text = None
    if len(captioned) >= MIN_PAIRS:
        texts = _unit(embedder.embed_texts([items[i].caption.strip() for i in captioned]))
        cosines = texts @ image_vectors[captioned].T
        text = thresholds_from(np.diag(cosines), _off_diagonal(cosines))
    else:
        notes.append(f"only {len(captioned)} captioned items: text hits are banded by their keywords alone")
    return Calibration(text, image, len(items), len(captioned), "; ".join(notes))


def model_key(embedder: Any) -> tuple[str, ...]:
    """What the calibration depends on besides the collection: the image model's and the query tower's
    fingerprints (a cache key; a collection's revision covers its content)."""
    identity = getattr(embedder, "identity", None)
    tower = getattr(getattr(embedder, "text_encoder", None), "identity", None)
    return tuple(str(getattr(x, attr, "")) for x in (identity, tower) for attr in ("name", "fingerprint"))


def keyword_share(query_tokens: Sequence[str], caption_tokens: Sequence[str]) -> tuple[int, int]:
    """(query words the caption holds, distinct query words), on analysed tokens."""
    wanted = set(query_tokens)
    return len(wanted & set(caption_tokens)), len(wanted)


def phrase_share(query_tokens: Sequence[str], caption_tokens: Sequence[str]) -> tuple[int, int]:
    """(the query's adjacent word pairs the caption holds adjacent and in the same order, distinct pairs), on
    analysed tokens: "red circle" is in "red circle next to a blue square", not in "red square, blue circle"."""
    wanted = set(zip(query_tokens, query_tokens[1:]))
    return len(wanted & set(zip(caption_tokens, caption_tokens[1:]))), len(wanted)


def band_of(level: float) -> Band:
    """The band of a calibrated level: below 1 no match, from 2 strong."""
    return "strong" if level >= 2.0 else "weak" if level >= 1.0 else "none"


def _keyword_verdict(found: int, of: int, bm25: float | None) -> Verdict:
    """Text mode: all query words strong (level 2), some weak (1 + the share found), none no match (0)."""
    level = 2.0 if of and found == of else 1.0 + found / of if found else 0.0
    words = "word" if of == 1 else "words"
    raw = f" (BM25 {bm25:.2f})" if bm25 is not None else ""
    return Verdict(band_of(level), f"{found} of {of} query {words} in the caption{raw}", level)


def _cosine_verdict(bounds: Thresholds | None, cosine: float) -> Verdict:
    if bounds is None:  # too few items to measure: a positive cosine is all one can say
        level = 1.0 if cosine > 0 else 0.0
        return Verdict(band_of(level), f"cosine {cosine:.3f} (not calibrated)", level)
    level = bounds.level(cosine)
    return Verdict(band_of(level), f"cosine {cosine:.3f}", level)


def _with_phrases(base: Verdict, phrases: tuple[int, int] | None) -> Verdict:
    """The level raised by up to `PHRASE_WEIGHT` with the share of the query's word pairs the caption keeps
    together. Only raised: scattered words are what the share of words already weighs, and lowering them cost the
    keyword band on the demo (AUROC 0.76 -> 0.63: paraphrased captions rarely keep a query's pairs)."""
    if phrases is None or not phrases[1]:
        return base
    level = base.level + PHRASE_WEIGHT * phrases[0] / phrases[1]
    pairs = "word pair" if phrases[1] == 1 else "word pairs"
    return Verdict(band_of(level), f"{base.evidence} · {phrases[0]} of {phrases[1]} {pairs} in order", level)


def verdict(calibration: Calibration, *, query: Literal["text", "image"], mode: str, cosine: float | None,
            bm25: float | None, keywords: tuple[int, int] | None = None,
            phrases: tuple[int, int] | None = None) -> Verdict:
    """A hit's band from its raw evidence: the cosine (text or image query, on the calibrated scale) in vector
    mode, the share of query words in text mode. In hybrid mode the evidence adds up: a caption holding all
    the query's words lifts the cosine's level by half a band step, one holding none lowers it by as much
    (`WORDS_WEIGHT`; benchmarks/bench_relevance.py: on the demo's top 10 hybrid hits the band's AUROC is 0.77
    against 0.76 for the better of the two bands, and the level's 0.84 against 0.80). In text and hybrid mode
    the query's word pairs kept together in the caption add to it (`_with_phrases`)."""
    cos = _cosine_verdict(calibration.text if query == "text" else calibration.image, cosine) \
        if mode != "text" and cosine is not None else None
    words = keywords if mode != "vector" and keywords is not None and keywords[1] else None
    if cos is None and words is None:
        return Verdict("none", "no evidence from this search's sides", 0.0)
    if cos is None:
        return _with_phrases(_keyword_verdict(*words, bm25), phrases)
    if words is None:
        return cos
    level = cos.level + WORDS_WEIGHT * (words[0] / words[1] - 0.5)
    both = Verdict(band_of(level), f"{cos.evidence} · {_keyword_verdict(*words, bm25).evidence}", level)
    return _with_phrases(both, phrases)


def hit_verdict(calibration: Calibration, hit: Any, *, query: Literal["text", "image"], mode: str,
                query_tokens: Sequence[str], index: Any | None) -> Verdict:
    """`verdict` of a search Hit; `index` (the collection's BM25 index) gives the caption's words when the
    mode uses keywords and the query has some."""
    keywords = phrases = None
    if mode != "vector" and query_tokens and index is not None and hit.id in index:
        tokens = index.tokens(hit.id)
        keywords, phrases = keyword_share(query_tokens, tokens), phrase_share(query_tokens, tokens)
    return verdict(calibration, query=query, mode=mode, cosine=hit.cosine, bm25=hit.bm25, keywords=keywords,
                   phrases=phrases)


def result_verdicts(searcher: Any, result: Any, query: Literal["text", "image"] = "text") -> dict[str, Verdict]:
    """Every hit's verdict by id, calibrating the searcher's collection now (uncached: the command line's
    `search --bands`; the app caches the calibration per collection revision)."""
    calibration = UNCALIBRATED if result.mode == "text" else calibrate(searcher.collection, searcher.embedder)
    index = searcher.collection.bm25() if result.mode != "vector" and result.query_tokens else None
    return {hit.id: hit_verdict(calibration, hit, query=query, mode=result.mode, query_tokens=result.query_tokens,
                                index=index) for hit in result.hits}
