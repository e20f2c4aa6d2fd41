"""A collection's inference backend: saved in the store, read by every process, overridden by IMGSEARCH_BACKEND,
and the one its embedder runs."""
from __future__ import annotations

import pytest

from imgsearch_core.models.backend_choice import backend_for, save_backend, saved_backend
from imgsearch_core.models.embed import Embedder, ModelLoadError
from imgsearch_core.store.store import Store


@pytest.fixture
def photos(store, tiny_embedder, monkeypatch):
    monkeypatch.delenv("IMGSEARCH_BACKEND", raising=False)
    return store.open_or_create("photos", tiny_embedder.identity)


def test_a_saved_backend_is_read_by_another_process_and_the_environment_wins(photos, settings, monkeypatch):
    assert backend_for(photos) == "auto"
    assert save_backend(photos, "int8") == "onnx-int8"  # aliases are saved under the backend's own name
    reopened = Store(settings).open("photos")  # what another process sees
    assert saved_backend(reopened) == "onnx-int8" and backend_for(reopened) == "onnx-int8"
    monkeypatch.setenv("IMGSEARCH_BACKEND", "torch")
    assert backend_for(reopened) == "torch" and saved_backend(reopened) == "onnx-int8"


def test_an_unknown_backend_is_refused_and_changes_nothing(photos):
    save_backend(photos, "torch")
    with pytest.raises(ModelLoadError, match="Unknown backend 'tensorrt'.*auto, torch, onnx, onnx-int8"):
        save_backend(photos, "tensorrt")
    assert saved_backend(photos) == "torch"


def test_the_collections_backend_is_the_one_that_embeds(photos, tiny_model_dir):
    save_backend(photos, "torch")
    assert Embedder(str(tiny_model_dir), backend=backend_for(photos)).backend == "torch"
    save_backend(photos, "onnx")
    assert Embedder(str(tiny_model_dir), backend=backend_for(photos)).backend == "onnx"
