"""Caption audit: which stored captions may not describe their picture, from the vectors already stored.

Why relative scores: a raw caption-picture cosine says little on its own (short captions, busy pictures and
hub pictures all shift it), so each item's own cosine is set against the collection itself: against the
caption's cosines to other pictures and the picture's cosines to other captions. The default is CSLS (the
cosine less the mean of both sides' 10 nearest: a caption or picture that is close to everything gains
nothing); mutual rank, z-scores and the raw cosine are the measured alternatives (benchmarks/bench_audit.py:
all tie on random swaps, CSLS is the steadiest on near misses). The comparisons use a seeded reference
sample of at most `REFERENCE` captioned items, so the cost per item is bounded at any size.

Why a calibrated 0..1: the same statistic is computed for deliberately wrong pairings (each caption with
another item's picture), which shows how wrong captions score in *this* collection with *this* model. The
stored `caption_suspicion` of an item is the estimated share of wrong captions among the items at least as
suspicious as it (a tail-area false-discovery estimate), so `caption_suspicion > 0.9` lists a set that is
about 90 % wrong captions, and a clean collection gets low scores rather than a fixed top decile. It counts
only captions that fit no better than another picture's would: a near miss (a caption of a similar scene,
e.g. of the next frame of a shoot) stays low there, so `caption_audit_rank` (the item's place in the
collection's order, 0..1) is stored too, and lists and `caption_audit_rank > 0.95` go by it.

Another signal of the same question (the machine caption's text vector against the caption's) would enter
as a second statistic averaged into `_page_statistic`'s result, calibrated the same way.

Cost: one text embedding per caption (the model's text tower, in pages of `PAGE`), two (page x reference)
matrix products, float32 throughout; memory is the reference sample plus one float per item. Measured
(benchmarks/RESULTS.md, 2 shared cores): 3.5 s per 1,000 items scored with imgsearch-mini (+3.6 s to write the
scores); with the ViT-B/32 architecture the caption embedding dominates, ~177 s per 1,000 captions at load 14.
"""
from __future__ import annotations

import heapq
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.stats import rankdata

from imgsearch_core.fields import CAPTION_AUDIT_FIELDS
from imgsearch_core.store.collection import Collection
from imgsearch_core.types import ModelIdentity

# 0..1; the item's place in the collection's order, 0..1 (ties of the score broken); which statistic and model
# computed the score; CRC-32 of the caption scored (a caption edited since shows no stale score). fields.py
# catalogues them.
AUDIT_FIELDS = CAPTION_AUDIT_FIELDS
SCORE_FIELD, ORDER_FIELD, BY_FIELD, CHECK_FIELD = AUDIT_FIELDS
REFERENCE = 4096
PAGE = 512
CSLS_K = 10
DEFAULT_STATISTIC = "csls"
SCORED = {SCORE_FIELD: {"$gte": 0.0}}  # a Chroma filter: the items that carry a score


class AuditError(ValueError):
    """The collection cannot be audited (bad input, not a failure)."""


class TextEmbedder(Protocol):
    """What the audit needs of the collection's model: its identity and its text tower."""

    identity: ModelIdentity

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


# ----- statistics: higher = more suspicious -----------------------------------------------------------
# Each takes the pairs' own cosines (n,), the captions' cosines to reference pictures (n, m) and the
# pictures' cosines to reference captions (n, m); an item's own entry in the reference is NaN.
def _better_share(own: np.ndarray, others: np.ndarray) -> np.ndarray:
    valid = np.maximum((~np.isnan(others)).sum(axis=1), 1)
    return (others > own[:, None]).sum(axis=1) / valid


def _mutual_rank(own: np.ndarray, by_caption: np.ndarray, by_picture: np.ndarray) -> np.ndarray:
    """Mean share of other pictures that fit the caption better and other captions that fit the picture better."""
    return (_better_share(own, by_caption) + _better_share(own, by_picture)) / 2


def _top_mean(others: np.ndarray, k: int) -> np.ndarray:
    k = min(k, others.shape[1])
    return -np.partition(-others, k - 1, axis=1)[:, :k].mean(axis=1)  # NaN sorts last: never among the top k


def _csls(own: np.ndarray, by_caption: np.ndarray, by_picture: np.ndarray) -> np.ndarray:
    """Cross-domain similarity local scaling (Conneau et al. 2018): the cosine minus both neighbourhoods' density."""
    return -(2 * own - _top_mean(by_caption, CSLS_K) - _top_mean(by_picture, CSLS_K))


def _z(own: np.ndarray, others: np.ndarray) -> np.ndarray:
    return (own - np.nanmean(others, axis=1)) / np.maximum(np.nanstd(others, axis=1), 1e-6)


def _zscore(own: np.ndarray, by_caption: np.ndarray, by_picture: np.ndarray) -> np.ndarray:
    return -(_z(own, by_caption) + _z(own, by_picture)) / 2


def _cosine(own: np.ndarray, by_caption: np.ndarray, by_picture: np.ndarray) -> np.ndarray:
    return -own


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "mutual-rank": _mutual_rank, "csls": _csls, "zscore": _zscore, "cosine": _cosine,
}


# ----- records -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suspect:
    """One item of the audit's list: what Admin and the command line show."""

    id: str
    file_name: str
    caption: str
    score: float
    media_path: str = ""
    order: float = 0.0  # the place in the collection's order (ties of the score broken)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "file_name": self.file_name, "caption": self.caption, "score": self.score,
                "rank": self.order}


@dataclass
class AuditRun:
    """The in-memory outcome of scoring (before anything is written): what the benchmark measures."""

    ids: list[str]
    statistic: np.ndarray  # per id, higher = more suspicious
    suspicion: np.ndarray  # per id, 0..1 (calibrated)
    order: np.ndarray  # per id, 0..1: the place in the collection's order
    checks: np.ndarray  # per id, CRC-32 of the caption scored: a caption edited meanwhile keeps no stale score
    wrong_share: float  # estimated share of wrong captions in the collection
    uncaptioned: int
    embed_seconds: float
    seconds: float


@dataclass(frozen=True)
class AuditReport:
    """What one audit did, for people and for the command line's JSON."""

    collection: str
    scored: int
    uncaptioned: int
    cleared: int  # stale scores removed (captions removed since the last audit)
    wrong_share: float
    statistic: str
    computed_by: str
    seconds: float
    top: list[Suspect] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "top"}, "top": [s.to_dict() for s in self.top]}

    def summary(self) -> str:
        return (f"{self.scored} captions audited ({self.uncaptioned} pictures without a caption get no score) in "
                f"{self.seconds:.1f} s; estimated share of wrong captions {self.wrong_share:.1%}")


# ----- scoring -----------------------------------------------------------------------------------------
def _captioned_pages(collection: Collection, page: int) -> Iterator[list[tuple[str, str]]]:
    """(id, caption) of the captioned items, page by page (Chroma's order; nothing is written meanwhile)."""
    offset = 0
    while items := collection.page(offset, page):
        offset += len(items)
        yield [(item.id, item.caption) for item in items if item.caption.strip()]


def _check(caption: str) -> int:
    return zlib.crc32(caption.encode("utf-8"))


def _vectors(collection: Collection, ids: Sequence[str]) -> np.ndarray:
    found = collection.embeddings(ids)
    return np.stack([found[i] for i in ids]).astype(np.float32)


@dataclass
class _Reference:
    ids: dict[str, int]
    texts: np.ndarray
    pictures: np.ndarray


def _reference(collection: Collection, embed: Callable[[list[str]], np.ndarray], size: int, seed: int,
               page: int) -> tuple[_Reference, int]:
    """A seeded uniform sample (reservoir) of the captioned items, with their caption and picture vectors;
    and the number of uncaptioned items met on the way."""
    rng = np.random.default_rng(seed)
    sample: list[tuple[str, str]] = []
    seen = 0
    for rows in _captioned_pages(collection, page):
        for row in rows:
            seen += 1
            if len(sample) < size:
                sample.append(row)
            elif (j := int(rng.integers(0, seen))) < size:
                sample[j] = row
    if len(sample) < 2:
        raise AuditError(f"Collection {collection.name!r} has {len(sample)} captioned items: an audit compares "
                         "captions with each other and needs at least 2.")
    ids = [i for i, _ in sample]
    texts = embed([c for _, c in sample])
    return _Reference({i: n for n, i in enumerate(ids)}, texts, _vectors(collection, ids)), collection.count() - seen


def _page_statistic(statistic: Callable, texts: np.ndarray, pictures: np.ndarray, ids: Sequence[str],
                    ref: _Reference, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The statistic of the page's own pairs, and of as many wrong pairings (caption i with picture p(i))."""
    by_caption = texts @ ref.pictures.T
    by_picture = pictures @ ref.texts.T
    for row, item_id in enumerate(ids):  # an item is never its own reference
        if (col := ref.ids.get(item_id)) is not None:
            by_caption[row, col] = by_picture[row, col] = np.nan
    own = np.einsum("ij,ij->i", texts, pictures)
    if len(ids) < 2:
        return statistic(own, by_caption, by_picture), np.empty(0, dtype=np.float32)
    perm = rng.permutation(len(ids))
    partner = np.empty(len(ids), dtype=int)
    partner[perm] = np.roll(perm, 1)  # a derangement in a random order: nobody keeps its own picture
    wrong = np.einsum("ij,ij->i", texts, pictures[partner])
    return statistic(own, by_caption, by_picture), statistic(wrong, by_caption, by_picture[partner])


def calibrate(observed: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, float]:
    """Each item's suspicion (0..1) and the estimated share of wrong captions, from the statistic of the
    collection's pairs (`observed`) and of wrong pairings (`wrong`, how a wrong caption scores here).

    The share: above the wrong pairings' median, matching captions are rare, so the observed tail there is
    about share x half. An item's suspicion: the largest estimated precision, share x P(wrong >= s) /
    P(observed >= s), of any threshold s that flags it (a q-value turned round: monotone in the statistic)."""
    if len(wrong) == 0:
        return np.zeros(len(observed), dtype=np.float32), 0.0
    cut = float(np.median(wrong))
    share = float(min(1.0, np.mean(observed >= cut) / max(float(np.mean(wrong >= cut)), 1e-9)))
    obs_sorted, wrong_sorted = np.sort(observed), np.sort(wrong)
    obs_tail = (len(observed) - np.searchsorted(obs_sorted, observed, side="left")) / len(observed)
    wrong_tail = (len(wrong) - np.searchsorted(wrong_sorted, observed, side="left")) / len(wrong)
    precision = np.clip(share * wrong_tail / obs_tail, 0.0, 1.0)
    ascending = np.argsort(observed, kind="stable")
    suspicion = np.empty(len(observed), dtype=np.float32)
    suspicion[ascending] = np.maximum.accumulate(precision[ascending])
    return suspicion, share


def score_collection(collection: Collection, embedder: TextEmbedder, *, statistic: str = DEFAULT_STATISTIC,
                     reference: int = REFERENCE, seed: int = 0, page: int = PAGE,
                     progress: Callable[[int, int], None] | None = None) -> AuditRun:
    """Score every captioned item (nothing is written). `progress(done, total)` after each page."""
    if statistic not in STATISTICS:
        raise AuditError(f"Unknown audit statistic {statistic!r}; choose one of {', '.join(STATISTICS)}.")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    embed_seconds = 0.0

    def embed(texts: list[str]) -> np.ndarray:
        nonlocal embed_seconds
        clock = time.perf_counter()
        vectors = embedder.embed_texts(texts).astype(np.float32)
        embed_seconds += time.perf_counter() - clock
        return vectors

    ref, uncaptioned = _reference(collection, embed, reference, seed, page)
    total = collection.count() - uncaptioned
    ids: list[str] = []
    checks: list[int] = []
    observed: list[np.ndarray] = []
    wrong: list[np.ndarray] = []
    for rows in _captioned_pages(collection, page):
        if not rows:
            continue
        page_ids = [i for i, _ in rows]
        known = [ref.ids.get(i) for i in page_ids]
        texts = np.empty((len(rows), ref.texts.shape[1]), dtype=np.float32)
        missing = [n for n, k in enumerate(known) if k is None]
        if missing:
            texts[missing] = embed([rows[n][1] for n in missing])
        for n, k in enumerate(known):
            if k is not None:
                texts[n] = ref.texts[k]
        mine, theirs = _page_statistic(STATISTICS[statistic], texts, _vectors(collection, page_ids), page_ids, ref, rng)
        ids.extend(page_ids)
        checks.extend(_check(c) for _, c in rows)
        observed.append(mine.astype(np.float32))
        wrong.append(theirs.astype(np.float32))
        if progress is not None:
            progress(len(ids), max(total, len(ids)))
    stat = np.concatenate(observed)
    suspicion, share = calibrate(stat, np.concatenate(wrong))
    order = np.empty(len(stat), dtype=np.float32)
    order[np.argsort(stat, kind="stable")] = np.arange(len(stat)) / max(len(stat) - 1, 1)
    return AuditRun(ids, stat, suspicion, order, np.asarray(checks, dtype=np.uint32), share, uncaptioned, embed_seconds, time.perf_counter() - started)


# ----- storing and reading the scores -----------------------------------------------------------------
def computed_by(statistic: str, identity: ModelIdentity) -> str:
    """The `caption_audit_by` value: a score is only comparable with scores of the same statistic and model."""
    return f"{statistic}; {identity.name} {identity.fingerprint[:12]}".strip()


def write_scores(collection: Collection, run: AuditRun, by: str, page: int = PAGE) -> tuple[int, int]:
    """Store the run's scores through `Collection.update_items` (vectors kept, the stored caption passed back),
    and remove the scores of items that lost their caption since. An item whose stored score is already the
    same is not written again (a re-run rewrites only what moved); one whose caption changed after it was
    scored is left for the next audit. Returns (items now carrying this run's score, scores removed)."""
    position = {item_id: n for n, item_id in enumerate(run.ids)}
    stale = sorted(collection.ids_matching(SCORED) - position.keys())
    scored = cleared = 0
    for start in range(0, len(run.ids), page):
        updates = []
        for item in collection.get(run.ids[start:start + page]):
            n = position[item.id]
            if not item.caption.strip() or _check(item.caption) != int(run.checks[n]):
                continue
            values = {SCORE_FIELD: round(float(run.suspicion[n]), 4), ORDER_FIELD: round(float(run.order[n]), 6),
                      BY_FIELD: by, CHECK_FIELD: int(run.checks[n])}
            if all(item.metadata.get(key) == value for key, value in values.items()):
                scored += 1
            else:
                updates.append((item.id, item.caption, values))
        scored += collection.update_items(updates) if updates else 0
    for start in range(0, len(stale), page):
        gone = dict.fromkeys(AUDIT_FIELDS)
        cleared += collection.update_items([(i.id, i.caption, gone) for i in collection.get(stale[start:start + page])])
    return scored, cleared


def _scored(collection: Collection, page: int) -> Iterator[Suspect]:
    offset = 0
    while items := collection.page(offset, page, where=SCORED):
        offset += len(items)
        for item in items:
            meta = item.metadata
            if meta.get(CHECK_FIELD) != _check(item.caption):  # edited since it was scored: the score is not its own
                continue
            yield Suspect(item.id, str(meta.get("file_name", "")), item.caption, float(meta[SCORE_FIELD]),
                          str(item.media_path), float(meta.get(ORDER_FIELD, 0.0)))


def suspects(collection: Collection, top: int = 20, page: int = PAGE) -> list[Suspect]:
    """The `top` most suspicious items as stored by the last audit (paged: memory is one page and the list);
    an item whose caption was edited after it was scored is left out until the next audit."""
    if top < 1:
        raise AuditError(f"--top must be at least 1, got {top}.")
    return heapq.nlargest(top, _scored(collection, page), key=lambda s: (s.score, s.order))


def audit_collection(collection: Collection, embedder: TextEmbedder, *, top: int = 20,
                     statistic: str = DEFAULT_STATISTIC, reference: int = REFERENCE, seed: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Score every captioned item, store the scores, and list the `top` most suspicious."""
    run = score_collection(collection, embedder, statistic=statistic, reference=reference, seed=seed, progress=progress)
    by = computed_by(statistic, embedder.identity)
    written, cleared = write_scores(collection, run, by)
    return AuditReport(collection.name, written, run.uncaptioned, cleared, run.wrong_share, statistic, by,
                       run.seconds, suspects(collection, top))


def auroc(scores: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half): how well `scores` put positives first."""
    scores, positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positives and negatives.")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
