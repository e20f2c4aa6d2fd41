"""Calibrate the near-duplicate rule of imgsearch_core/search/provenance.py (pHash Hamming and CLIP cosine).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_provenance.py [--per-kind 40] [--vitb32] [--k 20]

The archive: originals of two kinds, drawn at 384 px -- demo scenes (imgsearch_core/scenes/scenes.py) and
photo-like pictures (smooth random colour fields, grain, soft shapes) -- and for each original a "sibling":
the same objects on the same background at other positions, a different picture that CLIP alone calls
similar. Queries: augmented copies of every archived picture (JPEG re-encode, 50 % resize, 10 % centre and
corner crops, 3 and 5 degree rotations, brightness/contrast/saturation shift, hue shift), plus unseen
pictures (not archived; their answer is "nothing"). Each query is paired with its k CLIP neighbours in the
archive (exact cosine, as Chroma's HNSW returns at recall ~1); a pair is positive when the candidate is the
picture the query was made from. Precision and recall are over those pairs; a source picture that is not
among the k neighbours counts as a miss for every rule (reported as "candidate recall").
"""
from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from imgsearch_core.scenes.render import render
from imgsearch_core.scenes.scenes import Scene, scene_at
from imgsearch_core.scenes.vocabulary import POSITIONS
from imgsearch_core.models.embed import Embedder
from imgsearch_core.media.perceptual import hamming, perceptual_hash
from imgsearch_core.search.provenance import aligned_hamming, query_phashes

SIZE = 384
AUGMENTATIONS = ("jpeg70", "resize50", "crop10_centre", "crop10_corner", "rotate3", "rotate5", "colour", "hue")


# ----- originals --------------------------------------------------------------------------------------------
def scene_pair(index: int) -> tuple[Image.Image, Image.Image]:
    """A demo scene and its sibling: the same objects, background and render stream, other positions."""
    scene = scene_at("test", index, n_objects=1 + index % 3)
    used = [o.position for o in scene.objects]
    rng = np.random.default_rng([77, index])
    free = [p for p in POSITIONS if p not in used]
    moved = list(rng.permutation(used + free))[: len(used)]
    if moved == used:  # make sure something moves
        moved = [free[0]] + used[1:]
    sibling = Scene(tuple(replace(o, position=str(p)) for o, p in zip(scene.objects, moved)), scene.background, scene.seed)
    return render(scene, SIZE), render(sibling, SIZE)


def _smooth_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """Low-frequency colour noise (a coarse random grid, upsampled bicubically): sky, walls, foliage."""
    cells = int(rng.integers(2, 6))
    coarse = rng.uniform(20, 235, size=(cells, cells, 3)).astype(np.uint8)
    field = Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float32)


@dataclass(frozen=True)
class _Blob:
    kind: str
    colour: tuple[int, int, int]
    radius: float
    angle: float


def photo_pair(index: int) -> tuple[Image.Image, Image.Image]:
    """A photo-like picture and its sibling (same field, grain and shapes; shapes at other places)."""
    rng = np.random.default_rng([91, index])
    base = _smooth_field(rng, SIZE)
    grain = rng.standard_normal(base.shape).astype(np.float32) * rng.uniform(4, 12)
    blobs = [
        _Blob(str(rng.choice(["ellipse", "rect", "poly", "line"])), tuple(int(c) for c in rng.integers(0, 256, 3)),
              float(rng.uniform(0.08, 0.22) * SIZE), float(rng.uniform(0, math.pi)))
        for _ in range(int(rng.integers(2, 6)))
    ]
    places = rng.uniform(0.2, 0.8, size=(len(blobs), 2)) * SIZE
    moved = rng.uniform(0.2, 0.8, size=(len(blobs), 2)) * SIZE
    return _draw_photo(base, grain, blobs, places), _draw_photo(base, grain, blobs, moved)


def _draw_photo(base: np.ndarray, grain: np.ndarray, blobs: list[_Blob], places: np.ndarray) -> Image.Image:
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for blob, (cx, cy) in zip(blobs, places):
        r = blob.radius
        if blob.kind == "ellipse":
            draw.ellipse([cx - r, cy - 0.6 * r, cx + r, cy + 0.6 * r], fill=blob.colour)
        elif blob.kind == "rect":
            draw.rectangle([cx - r, cy - 0.7 * r, cx + 0.8 * r, cy + r], fill=blob.colour)
        elif blob.kind == "poly":
            pts = [(cx + r * math.cos(blob.angle + k * 2.1), cy + r * math.sin(blob.angle + k * 2.1)) for k in range(3)]
            draw.polygon(pts, fill=blob.colour)
        else:
            draw.line([cx - r * math.cos(blob.angle), cy - r * math.sin(blob.angle),
                       cx + r * math.cos(blob.angle), cy + r * math.sin(blob.angle)], fill=blob.colour, width=int(r / 4))
    image = image.filter(ImageFilter.GaussianBlur(1.2))  # lens softness
    pixels = np.asarray(image, dtype=np.float32) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


# ----- augmentations ----------------------------------------------------------------------------------------
def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _hue_shift(image: Image.Image, shift: int) -> Image.Image:
    h, s, v = image.convert("HSV").split()
    h = h.point(lambda x: (x + shift) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def augment(image: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """One edited copy as an archive would receive it (then JPEG re-encoded like most copies, except
    `jpeg70` itself, whose quality is drawn from 60..75)."""
    w, h = image.size
    sign = 1 if rng.random() < 0.5 else -1
    if kind == "jpeg70":
        return _jpeg(image, int(rng.integers(60, 76)))
    if kind == "resize50":
        out = image.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    elif kind == "crop10_centre":
        dx, dy = round(w * 0.05), round(h * 0.05)
        out = image.crop((dx, dy, w - dx, h - dy))
    elif kind == "crop10_corner":
        dx, dy = round(w * 0.10), round(h * 0.10)
        corner = int(rng.integers(4))
        box = [(dx, dy, w, h), (0, dy, w - dx, h), (dx, 0, w, h - dy), (0, 0, w - dx, h - dy)][corner]
        out = image.crop(box)
    elif kind in ("rotate3", "rotate5"):
        out = image.rotate(sign * (3 if kind == "rotate3" else 5), resample=Image.Resampling.BICUBIC, expand=False)
    elif kind == "colour":
        out = ImageEnhance.Brightness(image).enhance(1 + sign * rng.uniform(0.15, 0.2))
        out = ImageEnhance.Contrast(out).enhance(1 - sign * rng.uniform(0.15, 0.2))
        out = ImageEnhance.Color(out).enhance(1 + sign * rng.uniform(0.15, 0.2))
    elif kind == "hue":
        out = _hue_shift(image, int(sign * rng.integers(10, 18)))  # 14-25 degrees
    else:
        raise ValueError(kind)
    return _jpeg(out, 85)


# ----- the calibration set ----------------------------------------------------------------------------------
@dataclass
class CalibrationSet:
    archive: list[Image.Image]
    archive_kind: list[str]
    queries: list[Image.Image]
    query_source: list[int]  # archive index the query was made from, -1 for unseen pictures
    query_aug: list[str]


def build_set(per_kind: int) -> CalibrationSet:
    archive: list[Image.Image] = []
    kinds: list[str] = []
    for i in range(per_kind):
        for kind, pair in (("scene", scene_pair(i)), ("photo", photo_pair(i))):
            archive.extend(pair)
            kinds.extend([kind, kind + "-sibling"])
    queries, sources, augs = [], [], []
    rng = np.random.default_rng(5)
    for index, image in enumerate(archive):
        for aug in AUGMENTATIONS:
            queries.append(augment(image, aug, rng))
            sources.append(index)
            augs.append(aug)
    for i in range(per_kind // 2):  # unseen: not archived, their siblings neither
        for image in (scene_pair(10_000 + i)[0], photo_pair(10_000 + i)[0]):
            queries.append(_jpeg(image, 80))
            sources.append(-1)
            augs.append("unseen")
    return CalibrationSet(archive, kinds, queries, sources, augs)


@dataclass
class Pairs:
    hamming: np.ndarray
    cosine: np.ndarray
    positive: np.ndarray
    aug: np.ndarray  # the query's augmentation per pair
    hard: np.ndarray  # the candidate is the query source's sibling
    n_positive_total: int  # positives that exist, found among the k neighbours or not
    plain: np.ndarray  # Hamming distance of the plain query pHash (no alignment), for comparison
    kind: np.ndarray  # the candidate's kind: scene, scene-sibling, photo, photo-sibling


def make_pairs(cal: CalibrationSet, embedder: Embedder, k: int) -> tuple[Pairs, float]:
    started = time.perf_counter()
    a_vec = embedder.embed_images(cal.archive)
    q_vec = embedder.embed_images(cal.queries)
    embed_s = time.perf_counter() - started
    a_hash = [perceptual_hash(im) for im in cal.archive]
    q_hash = [query_phashes(im) for im in cal.queries]  # plain pHash first, then the alignments
    sims = q_vec @ a_vec.T
    rows: list[tuple[int, float, bool, str, bool, int, str]] = []
    for qi, src in enumerate(cal.query_source):
        top = np.argsort(-sims[qi], kind="stable")[:k]
        sibling = src ^ 1 if src >= 0 else -2  # archive stores (original, sibling) pairs side by side
        for ai in top:
            rows.append((aligned_hamming(q_hash[qi], a_hash[ai]), float(sims[qi, ai]), int(ai) == src, cal.query_aug[qi],
                         int(ai) == sibling, hamming(q_hash[qi][0], a_hash[ai]), cal.archive_kind[ai]))
    pairs = Pairs(
        np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]), np.array([r[4] for r in rows]),
        sum(1 for s in cal.query_source if s >= 0), np.array([r[5] for r in rows]), np.array([r[6] for r in rows]),
    )
    return pairs, embed_s


# ----- rules ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    rule: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def f05(self) -> float:  # F-beta with beta = 0.5: precision weighs twice as much as recall
        p, r = self.precision, self.recall
        return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0


def score(name: str, decided: np.ndarray, pairs: Pairs) -> Score:
    tp = int((decided & pairs.positive).sum())
    fp = int((decided & ~pairs.positive).sum())
    return Score(name, tp, fp, pairs.n_positive_total - tp)


def grid(pairs: Pairs) -> list[tuple[Score, tuple]]:
    out: list[tuple[Score, tuple]] = []
    h, c = pairs.hamming, pairs.cosine
    for t in range(4, 21):
        out.append((score(f"plain hamming <= {t}", pairs.plain <= t, pairs), ("plain", t)))
    for t in range(4, 21):
        out.append((score(f"hamming <= {t}", h <= t, pairs), ("hamming", t)))
    for cmin in np.arange(0.50, 1.0, 0.01):
        out.append((score(f"cosine >= {cmin:.2f}", c >= cmin, pairs), ("cosine", round(float(cmin), 2))))
    for t1 in range(0, 15):
        for t2 in range(t1 + 2, 29, 2):
            for cmin in np.arange(0.50, 1.0, 0.01):
                rule = (h <= t1) | ((c >= cmin) & (h <= t2))
                out.append((score(f"hamming <= {t1} or (cosine >= {cmin:.2f} and hamming <= {t2})", rule, pairs),
                            ("combined", t1, round(float(cmin), 2), t2)))
    return out


def decide(params: tuple, pairs: Pairs) -> np.ndarray:
    if params[0] == "plain":
        return pairs.plain <= params[1]
    if params[0] == "hamming":
        return pairs.hamming <= params[1]
    if params[0] == "cosine":
        return pairs.cosine >= params[1]
    _, t1, cmin, t2 = params
    return (pairs.hamming <= t1) | ((pairs.cosine >= cmin) & (pairs.hamming <= t2))


def by_augmentation(params: tuple, pairs: Pairs) -> list[tuple[str, float, int]]:
    """Recall per augmentation: found / made."""
    decided = decide(params, pairs) & pairs.positive
    rows = []
    for aug in AUGMENTATIONS:
        made = pairs.n_positive_total // len(AUGMENTATIONS)
        found = int(np.sum(decided & (pairs.aug == aug)))
        rows.append((aug, found, made))
    return rows


def pick(results: list[tuple[Score, tuple]], slack: float = 0.005) -> tuple:
    """Favour precision: the most precise rule whose F1 is within `slack` of the best F1."""
    best = max(s.f1 for s, _ in results)
    return max((r for r in results if r[0].f1 >= best - slack), key=lambda r: (r[0].precision, r[0].f1))[1]


def report(title: str, pairs: Pairs, embed_s: float, n_queries: int) -> list[tuple[Score, tuple]]:
    results = grid(pairs)
    print(f"\n## {title}")
    print(f"pairs {len(pairs.positive)} ({int(pairs.positive.sum())} positive among the neighbours of "
          f"{pairs.n_positive_total} augmented copies: candidate recall "
          f"{pairs.positive.sum() / pairs.n_positive_total:.3f}; {int(pairs.hard.sum())} sibling pairs); "
          f"embedding {n_queries} queries + archive took {embed_s:.1f} s")
    pos, neg, hard = pairs.positive, ~pairs.positive, pairs.hard
    for label, mask in (("positives", pos), ("siblings (hard negatives)", hard), ("other negatives", neg & ~hard)):
        if mask.any():
            print(f"{label:28s} hamming p5/median/p95 {np.percentile(pairs.hamming[mask], [5, 50, 95]).round(1)}  "
                  f"cosine p5/median/p95 {np.percentile(pairs.cosine[mask], [5, 50, 95]).round(3)}")
    print("\n| rule | precision | recall | F1 | TP | FP |\n|---|---|---|---|---|---|")
    for s, _ in results:
        if " or " not in s.rule:
            print(f"| {s.rule} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.tp} | {s.fp} |")
    best = sorted(results, key=lambda r: (-r[0].f1, -r[0].precision))[:8]
    print("\nbest F1 overall (ties: higher precision):")
    for s, _ in best:
        print(f"| {s.rule} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.tp} | {s.fp} |")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=40, help="originals per kind (scenes, photo-like)")
    parser.add_argument("--k", type=int, default=20, help="CLIP neighbours per query (max_candidates)")
    parser.add_argument("--vitb32", action="store_true", help="also a randomly initialised ViT-B/32")
    parser.add_argument("--choose", nargs="*", help="print a given rule on every set: t1 cmin t2")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    cal = build_set(args.per_kind)
    print(f"archive {len(cal.archive)} pictures ({args.per_kind} scenes + {args.per_kind} photo-like, each with a "
          f"sibling), {len(cal.queries)} queries ({len(AUGMENTATIONS)} augmentations of each archived picture + "
          f"{sum(1 for s in cal.query_source if s < 0)} unseen), built in {time.perf_counter() - started:.1f} s")

    sets: dict[str, tuple[Pairs, list]] = {}
    mini = Embedder("imgsearch-mini")
    pairs, embed_s = make_pairs(cal, mini, args.k)
    sets["imgsearch-mini"] = (pairs, report("imgsearch-mini", pairs, embed_s, len(cal.queries)))
    if args.vitb32:
        from transformers import CLIPConfig, CLIPModel

        from imgsearch_core.models.clip_factory import clip_processor, save_clip, train_clip_tokenizer

        with tempfile.TemporaryDirectory() as tmp:
            import torch

            torch.manual_seed(0)
            tokenizer = train_clip_tokenizer(["a photo of a red circle on the left"] * 3, vocab_size=300)
            directory = save_clip(CLIPModel(CLIPConfig()), clip_processor(tokenizer, 224), Path(tmp))
            vit = Embedder(str(directory), batch_size=16)
            pairs, embed_s = make_pairs(cal, vit, args.k)
        sets["ViT-B/32 (random weights)"] = (pairs, report("ViT-B/32, random weights", pairs, embed_s, len(cal.queries)))

    # One rule for every model: the best F1 (ties: precision) of the summed counts over the sets.
    keys = [params for _, params in next(iter(sets.values()))[1]]
    combined: list[tuple[Score, tuple]] = []
    for i, params in enumerate(keys):
        parts = [results[i][0] for _, results in sets.values()]
        combined.append((Score(parts[0].rule, sum(p.tp for p in parts), sum(p.fp for p in parts), sum(p.fn for p in parts)), params))
    chosen = pick(combined)
    if args.choose:
        t1, cmin, t2 = int(args.choose[0]), float(args.choose[1]), int(args.choose[2])
        chosen = ("combined", t1, cmin, t2)
    print(f"\n## chosen: {chosen}")
    print("| set | rule | precision | recall | F1 | TP | FP | FN |\n|---|---|---|---|---|---|---|---|")
    for name, (pairs, _) in sets.items():
        s = score(str(chosen), decide(chosen, pairs), pairs)
        print(f"| {name} | {chosen} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.tp} | {s.fp} | {s.fn} |")
        print("  recall by augmentation: " + ", ".join(f"{a} {f}/{m}" for a, f, m in by_augmentation(chosen, pairs)))
        fp = decide(chosen, pairs) & ~pairs.positive
        kinds = ", ".join(f"{k} {int((fp & (pairs.kind == k)).sum())}" for k in sorted(set(pairs.kind)))
        print(f"  false positives: {int(fp.sum())} (of them siblings of the query's source {int((fp & pairs.hard).sum())};"
              f" by candidate kind: {kinds})")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
