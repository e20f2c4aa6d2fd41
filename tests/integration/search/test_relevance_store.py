"""Relevance bands on real stores: the demo collection with the bundled model (nonsense finds no strong match,
a stored caption does), and the fallbacks of a tiny or an uncaptioned collection."""
from __future__ import annotations

import io
import numpy as np
import pytest
from PIL import Image

from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from imgsearch_core.search.relevance import MIN_PAIRS, PHRASE_WEIGHT, calibrate, hit_verdict, verdict
from tests.helpers import write_images

@pytest.fixture(scope="module")
def demo(demo_600):
    collection, embedder = demo_600
    return Searcher(collection, embedder), calibrate(collection, embedder)


def top_band(searcher: Searcher, calibration, query: str, mode: str) -> str:
    result = searcher.search(query, mode, 0.5, 1)
    return hit_verdict(calibration, result.hits[0], query="text", mode=mode, query_tokens=result.query_tokens,
                       index=searcher.collection.bm25()).band


def test_the_calibration_is_measured_on_the_collection_and_deterministic(demo):
    searcher, calibration = demo
    assert calibration.sampled == calibration.captioned == 256 and not calibration.note
    text = calibration.text
    assert text.typical < text.no_match_below < text.strong_from <= text.matched + 0.05
    assert calibrate(searcher.collection, searcher.embedder) == calibration


@pytest.mark.parametrize("query", ["qwxz plorf", "zzzz"])
@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_a_nonsense_query_finds_no_strong_match(demo, query, mode):
    searcher, calibration = demo
    assert top_band(searcher, calibration, query, mode) != "strong"


def test_a_stored_caption_asked_verbatim_finds_a_strong_match(demo):
    searcher, calibration = demo
    captions = [item.caption for item in searcher.collection.page(0, 10)]
    assert all(top_band(searcher, calibration, caption, "hybrid") == "strong" for caption in captions)
    assert all(top_band(searcher, calibration, caption, "text") == "strong" for caption in captions)
    vector = [top_band(searcher, calibration, caption, "vector") for caption in captions]
    assert vector.count("strong") >= 8, vector


def test_a_caption_keeping_the_query_words_together_outranks_one_with_them_apart(demo):
    searcher, calibration = demo
    index = searcher.collection.bm25()
    item = next(i for i in searcher.collection.page(0, 50)
                if len(set(index.tokens(i.id))) == len(index.tokens(i.id)) >= 3)
    words = index.tokens(item.id)  # distinct words: reversed, none of the caption's pairs is left
    bands = {}
    for name, query in (("together", " ".join(words)), ("apart", " ".join(reversed(words)))):
        result = searcher.search(query, "text", 0.5, 50)
        hit = next(h for h in result.hits if h.id == item.id)
        bands[name] = hit_verdict(calibration, hit, query="text", mode="text", query_tokens=result.query_tokens,
                                  index=index)
    assert bands["together"].band == bands["apart"].band == "strong", bands  # every word, either way
    assert bands["together"].level == pytest.approx(bands["apart"].level + PHRASE_WEIGHT)
    assert bands["apart"].evidence.endswith(f"0 of {len(words) - 1} word pairs in order")
    assert bands["together"].evidence.endswith(f"{len(words) - 1} of {len(words) - 1} word pairs in order")


@pytest.mark.parametrize("picture", ["gradient", "noise"])
def test_an_unrelated_picture_finds_no_strong_match(demo, picture):
    searcher, calibration = demo
    size = 224
    ramp = np.tile(np.linspace(0, 255, size, dtype=np.uint8), (size, 1))
    pixels = (np.stack([ramp] * 3, axis=-1) if picture == "gradient"
              else np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
    hit = searcher.similar(Image.fromarray(pixels), k=1).hits[0]
    assert verdict(calibration, query="image", mode="vector", cosine=hit.cosine, bm25=None).band != "strong"


def test_a_reencoded_copy_of_a_stored_scene_is_a_strong_match(demo):
    searcher, calibration = demo
    item = searcher.collection.page(5, 1)[0]
    buffer = io.BytesIO()
    with Image.open(item.media_path) as original:
        original.convert("RGB").resize((200, 200)).save(buffer, "JPEG", quality=80)
    hit = searcher.similar(Image.open(buffer), k=1).hits[0]
    assert hit.id == item.id
    assert verdict(calibration, query="image", mode="vector", cosine=hit.cosine, bm25=None).band == "strong"


def stored(store, tiny_embedder, folder, count: int, captions: bool):
    items, problems = collect(write_images(folder, count, sidecars=captions)[0].parent)
    ingest(store, "photos", tiny_embedder, items, problems=problems)
    return store.open("photos")


def test_a_tiny_collection_has_no_bands_and_says_so(store, tiny_embedder, tmp_path):
    collection = stored(store, tiny_embedder, tmp_path / "few", MIN_PAIRS - 1, captions=True)
    calibration = calibrate(collection, tiny_embedder)
    assert calibration.text is None and calibration.image is None and calibration.sampled == MIN_PAIRS - 1
    assert "only 9 items" in calibration.note and "only 9 captioned items" in calibration.note
    v = verdict(calibration, query="text", mode="vector", cosine=0.9, bm25=None)
    assert v.band == "weak" and "(not calibrated)" in v.evidence


def test_without_captions_only_image_queries_are_calibrated(store, tiny_embedder, tmp_path):
    collection = stored(store, tiny_embedder, tmp_path / "bare", 24, captions=False)
    calibration = calibrate(collection, tiny_embedder)
    assert calibration.text is None and calibration.captioned == 0 and calibration.sampled == 24
    assert calibration.image is not None and calibration.image.pairs == 24 * 23
    assert "text hits are banded by their keywords alone" in calibration.note
