"""A German caption collection on a real store: its language is detected, German inflections meet
their lemmas, German stop words are not indexed, and a language change rebuilds the index from
Chroma's documents without touching any item."""
from __future__ import annotations

import numpy as np
import pytest

from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.text.languages import DETECTED, SET
from imgsearch_core.store.language_policy import caption_language, ensure_language, set_language
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store
from imgsearch_core.text.analysis import analyze_one, import_spacy
from imgsearch_core.text.bm25 import BM25Index
from tests.helpers import write_images
from tests.language_samples import CAPTIONS

BRIDGE = 2  # "Der Bürgermeister eröffnet die neue Brücke über den Fluss"


@pytest.fixture
def fotos(store, tiny_embedder, tmp_path):
    paths = write_images(tmp_path / "fotos", len(CAPTIONS["de"]), sidecars=False)
    for path, caption in zip(paths, CAPTIONS["de"]):
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    items, _ = collect(tmp_path / "fotos")
    ingest(store, "fotos", tiny_embedder, items)
    return store.open("fotos")


def bridge_id(collection) -> str:
    return next(i.id for i in collection.page(limit=100) if i.caption == CAPTIONS["de"][BRIDGE])


def test_language_is_detected_with_the_first_captions_and_queries_meet_lemmas(fotos, tiny_embedder):
    assert caption_language(fotos).source is None  # nothing recorded by the ingest itself
    searcher = Searcher(fotos, tiny_embedder)
    choice = caption_language(fotos)
    assert (choice.language, choice.source) == ("de", DETECTED)
    assert fotos.bm25().language == "de"
    # "Brücken" (plural) finds the caption's "Brücke" through the lemma, which English rules do not give
    # (terms are folded: "brucke")
    assert analyze_one("Brücken", "de") == analyze_one("Brücke", "de") == ["brucke"]
    assert analyze_one("Brücken", "en") != analyze_one("Brücke", "en")
    result = searcher.search("Brücken", "text", k=5)
    assert [h.id for h in result.hits] == [bridge_id(fotos)]
    assert result.query_tokens == ["brucke"]
    # the stored captions say "die", "den", "der", "über": none of the indexed terms is a German stop word
    stop_words = import_spacy().blank("de").Defaults.stop_words
    index = fotos.bm25()
    words = {w.lower() for c in CAPTIONS["de"] for w in c.split()}
    assert {"die", "den", "der", "über"} <= words & stop_words
    assert all(not set(index.tokens(i)) & stop_words for i in index.ids)
    assert len(index) == len(CAPTIONS["de"])


def test_language_change_rebuilds_the_index_and_keeps_every_item(fotos, tiny_embedder, settings):
    searcher = Searcher(fotos, tiny_embedder)
    before = {i.id: (i.caption, i.metadata) for i in fotos.page(limit=100)}
    vectors = fotos.embeddings(list(before))
    assert searcher.search("Brücken", "text", k=5).hits

    set_language(fotos, "en")
    assert (caption_language(fotos).language, caption_language(fotos).source) == ("en", SET)
    index = fotos.bm25()
    assert index.language == "en" and sorted(index.ids) == sorted(before)
    assert "die" in index.tokens(bridge_id(fotos))  # English rules keep the German article
    assert BM25Index.load(fotos._store.index_root / "fotos")[0].language == "en"  # the saved index says so too
    assert searcher.search("Brücken", "text", k=5).hits == []  # the English query analysis misses the lemma
    after = {i.id: (i.caption, i.metadata) for i in fotos.page(limit=100)}
    assert after == before and fotos.count() == len(before)
    for item_id, vector in fotos.embeddings(list(before)).items():
        np.testing.assert_array_equal(vector, vectors[item_id])

    assert ensure_language(fotos).language == "en"  # a set language is never re-detected
    set_language(fotos, "de")
    assert [h.id for h in searcher.search("Brücken", "text", k=5).hits] == [bridge_id(fotos)]

    other = Store(settings).open("fotos")  # another process: the language comes from the collection
    assert other.bm25().language == "de"
    assert other.bm25().top(analyze_one("Brücken", "de"), 5)[0][0] == bridge_id(fotos)
