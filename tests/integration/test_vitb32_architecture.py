"""The real default model's path: a randomly initialised CLIP of the ViT-B/32 architecture.

It is built here (never downloaded), saved in hub layout and loaded through the same Embedder code as
`clip-ViT-B-32`: 512-d output, normalization, pinning, batching, ingest and search all exercised.
"""
import numpy as np
import pytest
from PIL import Image
from transformers import CLIPConfig, CLIPModel

from imgsearch_core.backends.collection_gate import settle
from imgsearch_core.backends.export import export_model
from imgsearch_core.backends.gate import calibration_set
from imgsearch_core.clip_factory import clip_processor, save_clip, train_clip_tokenizer
from imgsearch_core.embed import Embedder
from imgsearch_core.fingerprint import model_fingerprint
from imgsearch_core.ingest import collect, ingest
from imgsearch_core.search import Searcher
from imgsearch_core.store_errors import ModelMismatchError
from tests.helpers import CAPTION_WORDS, write_images


@pytest.fixture(scope="module")
def vitb32_dir(tmp_path_factory):
    config = CLIPConfig()  # the defaults are the ViT-B/32 architecture: 224 px, patch 32, 512-d projection
    assert (config.vision_config.patch_size, config.vision_config.image_size, config.projection_dim) == (32, 224, 512)
    model = CLIPModel(config)
    tokenizer = train_clip_tokenizer([" ".join(CAPTION_WORDS)] * 3, vocab_size=300)
    model_dir = save_clip(model, clip_processor(tokenizer, 224), tmp_path_factory.mktemp("vit-b-32"))
    # Export with small gates first (the default collection gate embeds 2,000 scenes twice: minutes here).
    torch_embedder = Embedder(str(model_dir), backend="torch")
    settle(export_model(torch_embedder._model, model_dir, model_fingerprint(model_dir),
                        gate_inputs=calibration_set(16, 12)), 60)
    return model_dir


def test_vitb32_embeds_pins_ingests_and_searches(vitb32_dir, store, tmp_path, tiny_embedder):
    embedder = Embedder(str(vitb32_dir), batch_size=4)
    assert embedder.dim == 512 and embedder.image_size == 224
    images = [Image.new("RGB", (640, 480), (i * 30, 90, 200 - i * 20)) for i in range(6)]
    batched = embedder.embed_images(images)
    single = np.stack([embedder.embed_images([im])[0] for im in images[:2]])
    assert batched.shape == (6, 512) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(single, batched[:2], atol=1e-4)

    write_images(tmp_path / "p", 10)
    items, _ = collect(tmp_path / "p")
    assert ingest(store, "vitb32", embedder, items).added == 10
    collection = store.open("vitb32")
    assert collection.model.dim == 512 and collection.model.name == str(vitb32_dir.resolve())
    result = Searcher(collection, embedder).search("red harbour", "hybrid", 0.5, 5)
    assert len(result.hits) == 5
    with pytest.raises(ModelMismatchError, match="pinned"):
        Searcher(collection, tiny_embedder)
    with pytest.raises(ModelMismatchError):
        ingest(store, "vitb32", tiny_embedder, items)
