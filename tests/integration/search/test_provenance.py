""""Is this already in our archive?" on a real store with the bundled imgsearch-mini model.

Pictures are drawn with PIL at 400 x 300 (smooth colour fields, grain, several shapes), ingested through
the real ingest path or written with collection.add, then queried with their exact bytes, with edited
copies (re-encode, 50 % resize, 10 % crop, small rotation, colour shift) and with unrelated pictures.
"""
from __future__ import annotations

import hashlib
import io
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from imgsearch_core.config import Settings
from imgsearch_core.models.embed import Embedder
from imgsearch_core.media.images import ImageError
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.media.perceptual import perceptual_hash
from imgsearch_core.search.provenance import (
    CollapsedHit,
    check_provenance,
    collapse_near_duplicates,
    is_near_duplicate,
    stored_phash,
)
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.records import Record
from imgsearch_core.store.store import Store

N_ARCHIVED = 6
CREDITS = ["Reuters", "AP", "Staff", "AFP", "dpa", "Getty"]


def picture(index: int, size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A distinct photo-like picture: a smooth random colour field, grain, 3-5 soft shapes."""
    rng = np.random.default_rng([2024, index])
    w, h = size
    coarse = rng.uniform(20, 235, size=(3, 4, 3)).astype(np.uint8)
    image = Image.fromarray(coarse, "RGB").resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 6))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy, r = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h, rng.uniform(0.08, 0.2) * w
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse([cx - r, cy - 0.7 * r, cx + r, cy + 0.7 * r], fill=colour)
        elif kind == 1:
            draw.rectangle([cx - r, cy - 0.6 * r, cx + 0.8 * r, cy + r], fill=colour)
        else:
            a = rng.uniform(0, math.pi)
            draw.polygon([(cx + r * math.cos(a + k * 2.1), cy + r * math.sin(a + k * 2.1)) for k in range(3)], fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.0))
    pixels = np.asarray(image, dtype=np.float32) + rng.standard_normal((h, w, 3)).astype(np.float32) * 6
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _hue(image: Image.Image, shift: int) -> Image.Image:
    h, s, v = image.convert("HSV").split()
    return Image.merge("HSV", (h.point(lambda x: (x + shift) % 256), s, v)).convert("RGB")


AUGMENTATIONS = {
    "jpeg_q65": lambda im: encode(im, "JPEG", quality=65),
    "resize_50": lambda im: encode(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS), "JPEG", quality=85),
    "crop_centre_10": lambda im: encode(im.crop((20, 15, im.width - 20, im.height - 15)), "JPEG", quality=85),
    "crop_corner_10": lambda im: encode(im.crop((0, 0, im.width - 40, im.height - 30)), "PNG"),
    "rotate_4": lambda im: encode(im.rotate(4, resample=Image.Resampling.BICUBIC, expand=False), "JPEG", quality=85),
    "colour_shift": lambda im: encode(
        ImageEnhance.Color(ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.15)).enhance(0.85)).enhance(1.18),
        "JPEG", quality=85),
    "hue_shift": lambda im: encode(_hue(im, 10), "JPEG", quality=85),
}


@pytest.fixture(scope="module")
def mini() -> Embedder:
    return Embedder("imgsearch-mini")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, mini):
    """A store with N_ARCHIVED ingested pictures (caption file with a credit column), plus two items written
    with collection.add: one carrying its pHash in metadata (`with_phash`), one without (`without_phash`)."""
    root = tmp_path_factory.mktemp("provenance")
    store = Store(Settings.from_env(store_dir=root / "store"))
    folder = root / "photos"
    folder.mkdir()
    rows = ["file_name,caption,credit"]
    originals: dict[str, Image.Image] = {}
    for i in range(N_ARCHIVED):
        image = picture(i)
        data = encode(image)
        (folder / f"photo_{i}.png").write_bytes(data)
        rows.append(f"photo_{i}.png,archive picture number {i},{CREDITS[i]}")
        originals[hashlib.sha256(data).hexdigest()] = image
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    items, problems = collect(folder)
    assert not problems
    report = ingest(store, "archive", mini, items)
    assert report.added == N_ARCHIVED
    collection = store.open("archive")

    extra = {}
    for label, index, keep_phash in (("with_phash", 50, True), ("without_phash", 51, False)):
        image = picture(index)
        data = encode(image)
        item_id = hashlib.sha256(data).hexdigest()
        metadata = {"file_name": f"{label}.png", "source": "manual", "added_at": 1_700_000_000, "captioned": True,
                    "credit": "Desk", "width": image.width, "height": image.height}
        if keep_phash:
            metadata["phash"] = perceptual_hash(image)
        record = Record(item_id, mini.embed_images([image])[0], f"{label} picture", metadata, data, ".png")
        assert collection.add([record]) == 1
        originals[item_id] = image
        extra[label] = item_id
    return store, collection, originals, extra


def test_stored_phash_uses_metadata_or_media(archive):
    _, collection, originals, extra = archive
    with_meta, without = collection.get([extra["with_phash"], extra["without_phash"]])
    assert with_meta.metadata["phash"] == perceptual_hash(originals[with_meta.id])
    assert "phash" not in without.metadata  # the older-store path: computed from the media file
    assert stored_phash(without) == perceptual_hash(originals[without.id])
    assert stored_phash(with_meta) == with_meta.metadata["phash"]


def test_same_bytes_is_the_exact_match(archive, mini):
    _, collection, originals, _ = archive
    for item_id, image in originals.items():
        report = check_provenance(collection, mini, collection.get([item_id])[0].media_path.read_bytes())
        assert report.query_hash == item_id
        assert report.exact is not None and report.exact.id == item_id and report.exact.kind == "exact"
        assert report.exact.hamming == 0 and report.exact.cosine == pytest.approx(1.0, abs=5e-3)
        assert item_id not in [m.id for m in report.near]
        assert report.found


# The calibrated rule favours precision: in bench_provenance.py it finds every re-encode, resize and colour
# shift, but 79 % of 10 % corner crops and 65 % of hue shifts (their pHash moves more than 6 bits). So those
# two must find all but one of the 8 archived pictures here, the others every one.
MISSES_ALLOWED = {"crop_corner_10": 1, "hue_shift": 1}


@pytest.mark.parametrize("augmentation", sorted(AUGMENTATIONS))
def test_each_edited_copy_is_found_as_near(archive, mini, augmentation):
    _, collection, originals, _ = archive
    missed = []
    for item_id, image in originals.items():
        report = check_provenance(collection, mini, AUGMENTATIONS[augmentation](image))
        assert report.exact is None
        near = [m.id for m in report.near]
        assert set(near) <= {item_id}, f"{augmentation}: another archived picture called a copy: {report.to_dict()['near']}"
        assert all(m.kind == "near" and m.hamming is not None and m.cosine is not None for m in report.near)
        if item_id not in near:
            missed.append(item_id[:8])
    assert len(missed) <= MISSES_ALLOWED.get(augmentation, 0), f"{augmentation} not found for {missed}"


def test_unrelated_pictures_have_no_match(archive, mini):
    _, collection, _, _ = archive
    for index in range(100, 108):
        report = check_provenance(collection, mini, encode(picture(index), "JPEG", quality=85))
        assert report.exact is None and report.near == [], report.to_dict()
        assert report.candidates_checked == collection.count()


def test_near_match_works_without_the_media_file_when_phash_is_stored(archive, mini):
    """The metadata pHash is what is compared (the media file cannot be read any more)."""
    store, collection, originals, extra = archive
    item_id = extra["with_phash"]
    item = collection.get([item_id])[0]
    saved = item.media_path.read_bytes()
    item.media_path.unlink()
    try:
        report = check_provenance(collection, mini, AUGMENTATIONS["resize_50"](originals[item_id]))
        assert [m.id for m in report.near][:1] == [item_id]
    finally:
        item.media_path.write_bytes(saved)


def test_matches_show_the_items_metadata(archive, mini):
    _, collection, originals, extra = archive
    ingested = next(i for i in originals if i not in extra.values())
    item = collection.get([ingested])[0]
    match = check_provenance(collection, mini, AUGMENTATIONS["jpeg_q65"](originals[ingested])).near[0]
    number = int(item.metadata["file_name"].split("_")[1].split(".")[0])
    assert match.id == ingested
    assert match.caption == f"archive picture number {number}"
    assert match.credit == CREDITS[number]
    assert match.file_name == f"photo_{number}.png"
    assert match.source and Path(match.source).name == "photos"
    added = datetime.fromisoformat(match.date_added)
    assert abs(added.timestamp() - item.metadata["added_at"]) < 1
    assert match.media_path == item.media_path and match.media_path.is_file()
    as_dict = match.to_dict()
    assert as_dict["credit"] == CREDITS[number] and as_dict["kind"] == "near" and isinstance(as_dict["media_path"], str)

    manual = check_provenance(collection, mini, AUGMENTATIONS["jpeg_q65"](originals[extra["without_phash"]])).near[0]
    assert (manual.file_name, manual.source, manual.credit, manual.date_added) == (
        "without_phash.png", "manual", "Desk", "2023-11-14T22:13:20+00:00")
    report = check_provenance(collection, mini, encode(originals[extra["without_phash"]])).to_dict()
    assert report["exact"]["id"] == extra["without_phash"] and report["near"] == []


def test_bad_bytes_raise_image_error(archive, mini):
    _, collection, _, _ = archive
    with pytest.raises(ImageError, match="query image"):
        check_provenance(collection, mini, b"this is not a picture")
    with pytest.raises(ImageError):
        check_provenance(collection, mini, b"")


def test_rule_needs_a_phash():
    assert is_near_duplicate(0, 0.1) and not is_near_duplicate(None, 1.0) and not is_near_duplicate(40, 1.0)


def test_collapse_keeps_best_ranked_copy_and_unrelated_hits(tmp_path, mini):
    store = Store(Settings.from_env(store_dir=tmp_path / "store"))
    folder = tmp_path / "grid"
    folder.mkdir()
    original = picture(7)
    (folder / "a_original.png").write_bytes(encode(original))
    (folder / "b_resized.jpg").write_bytes(AUGMENTATIONS["resize_50"](original))
    for i in range(8, 13):
        (folder / f"other_{i}.png").write_bytes(encode(picture(i)))
    items, _ = collect(folder)
    ingest(store, "grid", mini, items)
    collection = store.open("grid")
    ids = {i.metadata["file_name"]: i.id for i in collection.all_items()}

    hits = Searcher(collection, mini).similar(original, k=7).hits  # a PIL query: nothing is excluded
    assert len(hits) == 7
    collapsed = collapse_near_duplicates(hits, collection)
    assert all(isinstance(c, CollapsedHit) for c in collapsed)
    assert len(collapsed) == 6
    kept = {c.id: c for c in collapsed}
    first_of_pair = min((h for h in hits if h.id in (ids["a_original.png"], ids["b_resized.jpg"])), key=lambda h: h.rank)
    other = ids["b_resized.jpg"] if first_of_pair.id == ids["a_original.png"] else ids["a_original.png"]
    assert kept[first_of_pair.id].duplicates == (other,)
    assert other not in kept
    assert {c.id for c in collapsed if not c.duplicates} == {ids[f"other_{i}.png"] for i in range(8, 13)}
    assert [c.rank for c in collapsed] == sorted(c.rank for c in collapsed)  # order of the hits is kept
    assert collapsed[0].to_dict()["duplicates"] in ([], [other])
    assert collapse_near_duplicates([], collection) == []
