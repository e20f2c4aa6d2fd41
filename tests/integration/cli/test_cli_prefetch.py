"""The search command's prefetched embedder (imgsearch_core.cli.prefetch) on a real embedded store."""
from dataclasses import replace

import pytest

from imgsearch_core.models.backend_choice import save_backend
from imgsearch_core.cli.prefetch import Guess, Prefetch, guess_collection
from imgsearch_core.ingest.pipeline import collect, ingest
from tests.helpers import write_images


@pytest.fixture
def collection(store, tiny_embedder, tmp_path, monkeypatch):
    monkeypatch.delenv("IMGSEARCH_BACKEND", raising=False)
    write_images(tmp_path / "photos", 4)
    ingest(store, "photos", tiny_embedder, collect(tmp_path / "photos")[0])
    return store.open("photos")


def test_the_catalogue_names_the_collection_a_search_would_open(collection, settings, tiny_embedder, tmp_path):
    model, store_dir = collection.model.name, settings.store_dir
    assert guess_collection(store_dir, None) == guess_collection(store_dir, "photos") == Guess(model, "")
    assert guess_collection(store_dir, "other") is None and guess_collection(tmp_path / "nowhere", None) is None
    save_backend(collection, "onnx")
    assert guess_collection(store_dir, "photos") == Guess(model, "onnx")
    ingest(collection._store, "second", tiny_embedder, collect(tmp_path / "photos")[0])
    assert guess_collection(store_dir, None) is None  # two collections and no 'default': the command asks
    assert guess_collection(store_dir, "second").model == model


def test_a_prefetch_gives_the_collection_s_embedder_with_its_text_session_made(collection, settings):
    embedder = Prefetch(settings, None, "red harbour", embed=True).embedder_for(collection)
    assert embedder is not None and "text" in embedder._onnx._sessions
    collection.check_model(embedder.identity)
    assert embedder.requested_backend == "auto"
    keyword_only = Prefetch(settings, "photos", "red", embed=False).embedder_for(collection)
    assert keyword_only is not None and "text" not in keyword_only._onnx._sessions


def test_a_wrong_guess_is_dropped(collection, settings, monkeypatch):
    stale = Prefetch(settings, "photos", "red", embed=False)
    save_backend(collection, "onnx")  # changed after the catalogue was read
    assert stale.embedder_for(collection) is None
    monkeypatch.setenv("IMGSEARCH_BACKEND", "onnx-int8")  # the process-wide choice wins over the saved one
    forced = Prefetch(settings, "photos", "red", embed=False).embedder_for(collection)
    assert forced.requested_backend == "onnx-int8"
    server = Prefetch(replace(settings, chroma_host="localhost"), "photos", "red", embed=False)
    assert server.guess is None and server.embedder_for(collection) is None
