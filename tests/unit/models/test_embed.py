"""Embedder on a real (randomly initialised) CLIP loaded through sentence-transformers."""
import shutil

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.models.embed import Embedder, ModelLoadError, resolve_model


def test_vectors_are_normalised_float32(tiny_embedder):
    images = [Image.new("RGB", (40 + i, 30), (i * 40, 10, 200)) for i in range(5)]
    vectors = tiny_embedder.embed_images(images)
    assert vectors.shape == (5, tiny_embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    texts = tiny_embedder.embed_texts(["a red circle", "harbour at night", "x " * 300])
    assert texts.shape == (3, tiny_embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_vectors(tiny_model_dir):
    images = [Image.new("RGB", (32, 32), (i * 20, 255 - i * 20, 0)) for i in range(7)]
    one_by_one = np.stack([Embedder(str(tiny_model_dir), batch_size=1).embed_images([im])[0] for im in images])
    batched = Embedder(str(tiny_model_dir), batch_size=3).embed_images(images)
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)


def test_image_size_is_the_input_side_on_either_backend(tiny_embedder, tiny_model_dir):
    side = Embedder(str(tiny_model_dir), backend="torch")._model[0].processor.image_processor.crop_size["height"]
    assert tiny_embedder.image_size == Embedder(str(tiny_model_dir), backend="torch").image_size == side


def test_identity_pins_local_models_by_absolute_path(tiny_embedder, tiny_model_dir):
    assert tiny_embedder.identity.name == str(tiny_model_dir.resolve())
    assert tiny_embedder.identity.dim == 16
    assert tiny_embedder.embed_texts([]).shape == (0, 16)


def test_bundled_models_are_pinned_by_short_name_so_stores_survive_a_move(tmp_path, tiny_model_dir, monkeypatch):
    bundled = tmp_path / "models"
    shutil.copytree(tiny_model_dir, bundled / "imgsearch-mini")
    monkeypatch.setattr("imgsearch_core.models.model_sources.BUNDLED_MODELS_DIR", bundled)
    assert resolve_model("imgsearch-mini") == ("imgsearch-mini", str(bundled / "imgsearch-mini"))
    assert resolve_model(str(bundled / "imgsearch-mini"))[0] == "imgsearch-mini"
    assert Embedder("imgsearch-mini").identity.name == "imgsearch-mini"


def test_hub_name_offline_fails_fast_with_a_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        Embedder("clip-ViT-B-32")
    message = str(info.value)
    assert "clip-ViT-B-32" in message and "imgsearch-mini" in message and "offline" in message


@pytest.mark.parametrize("bad", ["./no/such/model", "/definitely/missing/dir", ""])
def test_missing_paths_are_clear_errors(bad):
    with pytest.raises(ModelLoadError):
        Embedder(bad)


def test_directory_without_a_model_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="Could not load the model"):
        Embedder(str(tmp_path))
