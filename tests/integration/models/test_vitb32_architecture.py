"""The real default model's path: a randomly initialised CLIP of the ViT-B/32 architecture.

It is built for the test run (tests/conftest.py, never downloaded), saved in hub layout and loaded through the same Embedder code as
`clip-ViT-B-32`: 512-d output, normalization, pinning, batching, ingest and search all exercised.
"""
import numpy as np
import pytest
from PIL import Image

from imgsearch_core.models.embed import Embedder
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from imgsearch_core.errors import ModelMismatchError
from tests.helpers import write_images


@pytest.fixture(scope="module", autouse=True)
def exported(vitb32):
    """The shared ViT-B/32's export is made first, with small gates (the default collection gate embeds 2,000
    scenes twice: minutes here)."""


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
