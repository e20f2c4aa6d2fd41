"""The product's OCR engine (models.ocr, RapidOCR) on pictures rendered with real fonts: the words it must find,
the pictures it must find nothing in, a 49-MP scan read at a bounded size with boxes in the scan's own pixels, and
small words of a 12-MP photo found at ingest.

Thresholds sit a little below what benchmarks/bench_ocr.py measured on the same fixtures (RESULTS.md, "OCR")."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.media.images import fit
from imgsearch_core.models import ocr
from imgsearch_core.types import WordBox
from tests.ocr_fixtures import (
    Score, background, big_picture, fixture, normalise, photo_finish, render_sign, scene_background, score,
)

# 0/+-5/+-15 degrees, 14-60 px, the three contrasts, the three backgrounds (tests/ocr_fixtures.fixture's cycle)
FIXED_SEEDS = (0, 7, 14, 16, 23, 33)


@pytest.fixture(scope="module")
def reader():
    return ocr.load_text_reader()


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller


def _centre_inside(box: tuple[int, int, int, int], sign: tuple[int, int, int, int], margin: int = 3) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return sign[0] - margin <= cx <= sign[2] + margin and sign[1] - margin <= cy <= sign[3] + margin


def test_fixed_fixtures_word_recall_and_precision(reader):
    exact, folded = Score(0, 0, 0), Score(0, 0, 0)
    for seed in FIXED_SEEDS:
        picture = fixture(seed)
        words = reader.read(picture.image)
        assert all(isinstance(w, WordBox) and w.confidence >= ocr.CONFIDENCE_FLOOR for w in words)
        assert all(" " not in w.text and w.text for w in words), "words, not lines"
        for w in words:  # every word lies on one of the signs drawn, in the picture's pixels
            assert any(_centre_inside(w.box, sign) for sign in picture.boxes), (picture.name, w)
        texts = [w.text for w in words]
        exact, folded = exact + score(picture.words, texts), folded + score(picture.words, texts, folded=True)
    assert folded.recall >= 0.9 and folded.precision >= 0.9, folded  # measured 25/25 and 25/25
    assert exact.recall >= 0.55, exact  # measured 16/25: the model drops most accents, BM25 folds them (models/ocr.py)


def test_accented_words_are_found_and_eszett_is_restored(reader):
    rng = np.random.default_rng(5)
    canvas = background("gradient", rng)
    words = ("Zürich", "Straße", "café", "señal", "perché", "één")
    for k, word in enumerate(words):
        render_sign(canvas, word, xy=(60 + 360 * (k % 2), 40 + 180 * (k // 2)), size=40, angle=0.0,
                    contrast="high", font_name="DejaVuSans.ttf", panel=k % 2 == 0, rng=rng)
    read = [w.text for w in reader.read(photo_finish(canvas))]
    assert score(words, read, folded=True).recall >= 5 / 6, read
    assert "Straße" in read, read  # ß is not in the model's dictionary: "StraBe" is put right


def test_rotated_text_is_read_with_boxes_on_the_turned_sign(reader):
    rng = np.random.default_rng(15)
    canvas = scene_background(3)
    signs = []
    for k, (word, angle) in enumerate((("Amsterdam", 15.0), ("Station", -15.0))):
        signs.append((word, render_sign(canvas, word, xy=(80 + 300 * k, 120 + 250 * k), size=44, angle=angle,
                                        contrast="high", font_name="DejaVuSans-Bold.ttf", panel=True, rng=rng)))
    words = reader.read(photo_finish(canvas))
    for word, box in signs:
        found = [w for w in words if normalise(w.text, True) == normalise(word, True)]
        assert found and _overlap(found[0].box, box) > 0.7, (word, box, words)


@pytest.mark.parametrize("kind", ["noise", "scene"])
def test_a_picture_without_text_gives_no_words(reader, kind):
    rng = np.random.default_rng(11)
    assert reader.read(photo_finish(background(kind, rng))) == []


def test_a_49_mp_scan_is_read_downscaled_with_boxes_in_its_own_pixels(reader):
    scan = big_picture(12_000, 4_000)  # 48 MP; a wide one, so the engine's detection runs on 2000 x 667 only
    small, sx, sy = ocr.downscale(scan.image)
    assert small.size == (ocr.MAX_SIDE, 667) and sx == pytest.approx(6.0) and sy == pytest.approx(6.0, rel=1e-3)
    words = reader.read(scan.image)
    assert [normalise(w.text, True) for w in words] == ["zurich", "bahnhof", "2024"], words
    for word, drawn in zip(words, scan.boxes):
        assert _overlap(word.box, drawn) > 0.8, (word, drawn)  # a box in the 2000-px copy's pixels would miss
        assert word.box[2] <= 12_000 and word.box[3] <= 4_000


def test_ingest_reads_small_words_of_a_12_mp_photo_that_its_1024_px_rendition_loses(reader, store, tiny_embedder,
                                                                                     tmp_path):
    photo = big_picture(4000, 3000, size=20)  # a 20-px font: 10 px at the engine's 2000, 5 px at the rendition's 1024
    (tmp_path / "in").mkdir()
    photo.image.save(tmp_path / "in" / "street.jpg", quality=92)
    assert len(reader.read(fit(photo.image, 1024))) < len(photo.words)  # why ingest does not read the rendition
    report = ingest(store, "news", tiny_embedder, collect(tmp_path / "in")[0], reader=reader)
    [item] = store.open("news").all_items()
    assert report.added == 1 and max(Image.open(item.media_path).size) == 1024
    assert normalise(item.metadata["ocr_text"], True).split() == ["zurich", "bahnhof", "2024"]


def test_downscale_keeps_small_pictures_and_reads_any_mode():
    picture = Image.new("P", (640, 480))
    small, sx, sy = ocr.downscale(picture)
    assert small.size == (640, 480) and small.mode == "RGB" and (sx, sy) == (1.0, 1.0)
    wide, sx, sy = ocr.downscale(Image.new("L", (5000, 1000)), max_side=1000)
    assert wide.size == (1000, 250) and wide.mode == "L" and (sx, sy) == (5.0, 5.0)  # 1000 x 200, padded to 4:1


def test_a_long_strip_is_padded_not_blown_up(reader):
    # the detector scales the short side up to 736 px: unpadded, this strip became a 736 x 736,000 input (killed)
    strip = Image.new("RGB", (10, 9000), (120, 130, 140))
    small, sx, sy = ocr.downscale(strip)
    assert small.size == (500, 2000) and (sx, sy) == (5.0, 4.5)
    assert reader.read(strip) == []


@pytest.mark.parametrize("read, restored", [
    ("StraBe", "Straße"), ("GroBe", "Große"), ("groB", "groß"), ("heiBt", "heißt"), ("StraBen", "Straßen"),
    ("eBay", "eBay"), ("BASEL", "BASEL"), ("Bahnhof", "Bahnhof"), ("WEB", "WEB"), ("FuBball", "FuBball"),
])
def test_eszett_is_restored_only_where_a_lower_case_word_holds_b(read, restored):
    assert ocr._restore_eszett(read) == restored  # "Große" folds to "grosse", as "Größe" does


def test_a_missing_engine_is_one_clear_error_naming_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # as if it were not installed
    with pytest.raises(ocr.TextReaderUnavailableError, match="pip install -r requirements.txt"):
        ocr.load_text_reader()
