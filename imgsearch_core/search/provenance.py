""""Is this already in our archive?": the exact copy and the near-duplicates of a query picture.

Why two signals: the content-hash id finds only byte-identical files, and a re-encoded, resized, cropped,
rotated or recoloured copy changes every byte. CLIP's cosine finds those copies, but it also calls a
different picture of the same subject similar (the same objects in other places, another frame of the same
shoot). The 64-bit pHash (imgsearch_core.media.perceptual) is the opposite: it ignores encoding, size and mild
colour changes, keeps the layout, and is blind to meaning. So the CLIP neighbours are the candidates, and a
candidate is a near-duplicate when its pHash is very close, or when it is moderately close AND CLIP agrees.

Stored items carry their pHash in metadata key `phash` (written by ingest); for items stored before that,
the hash is computed from the stored media file (and cached per file), so older stores work too.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from imgsearch_core.models.embed import Embedder
from imgsearch_core.media.images import ImageError, QueryImage, decode_image, decode_query
from imgsearch_core.media.perceptual import hamming, perceptual_hash
from imgsearch_core.search.engine import Hit
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.records import StoredItem

# ----- the decision rule ------------------------------------------------------------------------------
# Calibrated by benchmarks/bench_provenance.py (figures in benchmarks/RESULTS.md, "Provenance (duplicate
# check) calibration"). A candidate is a near-duplicate when
#     hamming <= HAMMING_ALWAYS  or  (cosine >= COSINE_MIN and hamming <= HAMMING_WITH_COSINE)
# with `hamming` the distance to the closest query alignment (query_phashes). On 160 archived pictures
# (40 demo scenes, 40 photo-like, each with a same-objects-elsewhere sibling), 1,280 edited copies and 40
# unseen pictures, top-20 CLIP candidates: imgsearch-mini precision 0.959, recall 0.827 (F1 0.888; best F1
# in the grid 0.892 at precision 0.915); a randomly initialised ViT-B/32 (cosine meaningless, so the rule
# is pHash alone there) precision 0.798, recall 0.851. pHash alone can never decide beyond identical hashes
# because pictures with one small object on a plain background share a layout, and so most of their bits.
HAMMING_ALWAYS = 0
COSINE_MIN = 0.80
HAMMING_WITH_COSINE = 6

PHASH_KEY = "phash"
MatchKind = Literal["exact", "near"]


def is_near_duplicate(hamming_bits: int | None, cosine: float | None) -> bool:
    """The calibrated pairwise rule. Without a pHash there is no decision (CLIP alone cannot tell a copy
    from another picture of the same subject), so the answer is False."""
    if hamming_bits is None:
        return False
    if hamming_bits <= HAMMING_ALWAYS:
        return True
    return cosine is not None and cosine >= COSINE_MIN and hamming_bits <= HAMMING_WITH_COSINE


# ----- results ------------------------------------------------------------------------------------------
def _iso(epoch: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(epoch), tz=timezone.utc).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@dataclass(frozen=True)
class Match:
    """One archived item that is the query picture (exact) or a copy of it (near), with what an editor
    needs to decide: how close it is on both signals, and the item's caption, credit and origin."""

    id: str
    kind: MatchKind
    cosine: float | None
    hamming: int | None
    caption: str
    credit: str | None
    file_name: str | None
    source: str | None
    date_added: str | None  # ISO 8601, UTC, from the item's `added_at`
    media_path: Path

    @classmethod
    def from_item(cls, item: StoredItem, kind: MatchKind, cosine: float | None, hamming_bits: int | None) -> "Match":
        meta = item.metadata

        def text(key: str) -> str | None:
            value = meta.get(key)
            return None if value is None or str(value) == "" else str(value)

        return cls(
            id=item.id,
            kind=kind,
            cosine=None if cosine is None else round(float(cosine), 6),
            hamming=hamming_bits,
            caption=item.caption,
            credit=text("credit"),
            file_name=text("file_name"),
            source=text("source"),
            date_added=_iso(meta["added_at"]) if "added_at" in meta else None,
            media_path=item.media_path,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "cosine": self.cosine,
            "hamming": self.hamming,
            "caption": self.caption,
            "credit": self.credit,
            "file_name": self.file_name,
            "source": self.source,
            "date_added": self.date_added,
            "media_path": str(self.media_path),
        }


@dataclass(frozen=True)
class ProvenanceReport:
    """The answer for one query picture: its hashes, the exact copy (if archived) and near-duplicates,
    closest first (fewest differing pHash bits, then highest cosine)."""

    query_hash: str  # SHA-256 of the query bytes: the id an exact copy has
    query_phash: str
    exact: Match | None
    near: list[Match] = field(default_factory=list)
    candidates_checked: int = 0

    @property
    def found(self) -> bool:
        return self.exact is not None or bool(self.near)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_hash": self.query_hash,
            "query_phash": self.query_phash,
            "exact": self.exact.to_dict() if self.exact else None,
            "near": [m.to_dict() for m in self.near],
            "candidates_checked": self.candidates_checked,
            "rule": {
                "hamming_always": HAMMING_ALWAYS,
                "cosine_min": COSINE_MIN,
                "hamming_with_cosine": HAMMING_WITH_COSINE,
            },
        }


# ----- stored hashes ------------------------------------------------------------------------------------
_CACHE_SIZE = 4096
_cache: OrderedDict[tuple[str, int, int], str] = OrderedDict()
_cache_lock = threading.Lock()


def image_phash(image: Image.Image) -> str:
    """pHash of a decoded picture (the same function ingest stores, so hashes compare)."""
    return perceptual_hash(image)


# Query-side alignments: a plain pHash moves 20 of 64 bits (median) for a 10 % corner crop and 14 for a
# 5 degree rotation, as far as a different picture of the same layout. Undoing the edit on the query
# before hashing brings those to 2 and 8 (bench_provenance.py), and costs a few milliseconds per query,
# while the stored side stays one plain pHash per item.
_UNCROP = (  # (left, top, right, bottom) edge padding in units of a 10 % crop: corners, then centre
    (1, 1, 0, 0), (0, 1, 1, 0), (1, 0, 0, 1), (0, 0, 1, 1), (0.5, 0.5, 0.5, 0.5),
)
_ROTATIONS = (3.0, -3.0, 5.0, -5.0)
_ALIGN_SIDE = 256  # pHash looks at 32 x 32 pixels; aligning at 256 px keeps it cheap


def _edge_pad(image: Image.Image, left: int, top: int, right: int, bottom: int) -> Image.Image:
    pixels = np.asarray(image)
    return Image.fromarray(np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge"))


def query_phashes(image: Image.Image) -> list[str]:
    """The plain pHash of the query first, then the pHashes of the query with a 10 % crop (four corners,
    centre) padded back out by repeating its edges, and of the query turned back by 3 or 5 degrees with the
    black corners that a rotation leaves cut away and padded likewise. A stored item is compared with
    the closest of them."""
    small = image.convert("RGB")
    small.thumbnail((_ALIGN_SIDE, _ALIGN_SIDE), Image.Resampling.BILINEAR)
    hashes = [image_phash(image)]
    w, h = small.size
    px, py = round(w / 9), round(h / 9)  # a 90 % window padded back to 100 %
    for left, top, right, bottom in _UNCROP:
        hashes.append(image_phash(_edge_pad(small, round(px * left), round(py * top), round(px * right), round(py * bottom))))
    for angle in _ROTATIONS:
        turned = small.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=False)
        frac = 2 * np.sin(np.radians(abs(angle))) + 0.04  # the share of each side the black wedges reach
        dx, dy = round(w * frac / 2), round(h * frac / 2)
        inner = turned.crop((dx, dy, w - dx, h - dy))
        hashes.append(image_phash(_edge_pad(inner, dx, dy, dx, dy)))
    return list(dict.fromkeys(hashes))


def aligned_hamming(query_hashes: Sequence[str], stored: str) -> int:
    """Bits between a stored pHash and the closest alignment of the query."""
    return min(hamming(q, stored) for q in query_hashes)


def media_phash(path: Path) -> str | None:
    """pHash of a stored media file, cached by (path, size, mtime) so result grids that rerun on every
    slider move do not decode the same files again; None when the file is missing or unreadable."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        value = image_phash(decode_image(path.read_bytes(), name=path.name).image)
    except (OSError, ImageError):
        return None
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def stored_phash(item: StoredItem) -> str | None:
    """The item's pHash: from metadata when ingest stored it, else computed from its media file."""
    value = item.metadata.get(PHASH_KEY)
    if isinstance(value, str) and len(value) == 16:
        try:
            int(value, 16)
            return value
        except ValueError:
            pass
    return media_phash(item.media_path)


# ----- the check ----------------------------------------------------------------------------------------
def check_provenance(
    collection: Collection, embedder: Embedder, image_bytes: bytes | QueryImage, *, max_candidates: int = 20
) -> ProvenanceReport:
    """Find the exact copy (same SHA-256 id) and the near-duplicates of a query file (its bytes, or the query
    the search decoded already: images.decode_query) in `collection`.

    The candidates are the `max_candidates` CLIP neighbours of the query; each is judged with
    `is_near_duplicate` on its pHash distance and cosine. Raises ImageError for bytes that are not a
    usable image and ModelMismatchError when `embedder` is not the model the collection is pinned to.
    """
    if not isinstance(image_bytes, (bytes, bytearray, QueryImage)):
        raise TypeError(f"image_bytes must be bytes or a QueryImage, got {type(image_bytes).__name__}")
    if max_candidates < 1:
        raise ValueError(f"max_candidates must be at least 1, got {max_candidates}")
    collection.check_model(embedder.identity)
    query = image_bytes if isinstance(image_bytes, QueryImage) else decode_query(bytes(image_bytes))
    query_hash, image = query.digest, query.image
    query_hashes = query_phashes(image)
    query_phash = query_hashes[0]
    vector = embedder.embed_images([image])[0]

    neighbours = dict(collection.query_vector(vector, max_candidates))
    ids = list(dict.fromkeys([query_hash, *neighbours]))
    items = {item.id: item for item in collection.get(ids)}

    exact = None
    if query_hash in items:
        cosine = neighbours.get(query_hash)
        if cosine is None:  # beyond the neighbour list (HNSW is approximate): read the stored vector
            stored = collection.embeddings([query_hash]).get(query_hash)
            cosine = float(stored @ vector) if stored is not None else None
        item = items[query_hash]
        phash = stored_phash(item)
        exact = Match.from_item(item, "exact", cosine, hamming(query_phash, phash) if phash else None)

    near: list[Match] = []
    for item_id, cosine in neighbours.items():
        if item_id == query_hash or item_id not in items:
            continue
        phash = stored_phash(items[item_id])
        bits = aligned_hamming(query_hashes, phash) if phash else None
        if is_near_duplicate(bits, cosine):
            near.append(Match.from_item(items[item_id], "near", cosine, bits))
    near.sort(key=lambda m: (m.hamming, -(m.cosine or 0.0), m.id))
    return ProvenanceReport(query_hash, query_phash, exact, near, candidates_checked=len(neighbours))


# ----- collapsing result grids --------------------------------------------------------------------------
@dataclass(frozen=True)
class CollapsedHit:
    """A search hit standing for its near-duplicate cluster: `duplicates` are the ids of the lower-ranked
    copies folded into it (best rank first). Attribute access falls through to the hit (rank, id, ...)."""

    hit: Hit
    duplicates: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        # only called for names the dataclass does not have: id, rank, caption, score, ...
        return getattr(object.__getattribute__(self, "hit"), name)

    def to_dict(self) -> dict[str, Any]:
        return {**self.hit.to_dict(), "duplicates": list(self.duplicates)}


def collapse_near_duplicates(hits: Sequence[Hit], collection: Collection) -> list[CollapsedHit]:
    """Keep the best-ranked member of each near-duplicate cluster, in the hits' order.

    A hit joins the first kept cluster holding any member it is a near-duplicate of (pairwise rule on the
    stored pHashes and the cosine of the stored vectors); otherwise it starts a cluster. Quadratic in the
    number of hits, which is fine for a result page (<= 100). Hits without a readable pHash stay alone.
    """
    hits = list(hits)
    if not hits:
        return []
    ids = [h.id for h in hits]
    by_id = {item.id: item for item in collection.get(ids)}
    phashes = {h.id: stored_phash(by_id[h.id]) if h.id in by_id else None for h in hits}
    vectors = collection.embeddings(ids)

    def cosine(a: str, b: str) -> float | None:
        va, vb = vectors.get(a), vectors.get(b)
        return float(np.dot(va, vb)) if va is not None and vb is not None else None

    clusters: list[list[Hit]] = []
    for hit in hits:
        ph = phashes[hit.id]
        home = None
        if ph is not None:
            for cluster in clusters:
                if any(
                    phashes[m.id] is not None and m.id != hit.id
                    and is_near_duplicate(hamming(ph, phashes[m.id]), cosine(hit.id, m.id))
                    for m in cluster
                ):
                    home = cluster
                    break
        if home is None:
            clusters.append([hit])
        elif all(m.id != hit.id for m in home):
            home.append(hit)
    return [CollapsedHit(c[0], tuple(m.id for m in c[1:])) for c in clusters]
