"""Collections are pinned to their model's fingerprint: other weights under the same name are refused,
never searched, and can be embedded again into a new collection; a stale demo is rebuilt."""
from __future__ import annotations

import json
import shutil

import pytest

from imgsearch_core.models.embed import Embedder
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.collection import SCHEMA_VERSION
from imgsearch_core.errors import ModelMismatchError
from tests.helpers import build_tiny_clip, write_images
from tests.integration.cli.test_cli import cli


def test_replaced_weights_are_refused_and_reembed_makes_a_searchable_collection(store, tmp_path):
    model_dir = build_tiny_clip(tmp_path / "model")
    write_images(tmp_path / "photos", 8)
    first = Embedder(str(model_dir), backend="torch")
    items, problems = collect(tmp_path / "photos")
    ingest(store, "photos", first, items, problems=problems)
    collection = store.open("photos")
    assert collection.model.fingerprint == first.identity.fingerprint and len(first.identity.fingerprint) == 64
    assert collection.schema_version == SCHEMA_VERSION

    shutil.rmtree(model_dir)
    build_tiny_clip(model_dir, seed=2)  # same name, same shapes, other (random) weights
    second = Embedder(str(model_dir), backend="torch")
    assert second.identity == first.identity and second.identity.fingerprint != first.identity.fingerprint
    with pytest.raises(ModelMismatchError, match="other weights.*reembed --collection photos"):
        Searcher(collection, second)

    done = cli("reembed", "--collection", "photos", "--into", "photos-v2", "--json", store=store.root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["collection"] == "photos-v2" and report["items"] == 8
    assert report["fingerprint"] == second.identity.fingerprint
    renewed = Searcher(store.open("photos-v2"), second)
    assert len(renewed.search("red harbour", "hybrid", 0.5, 5).hits) == 5
    assert {i.caption for i in store.open("photos-v2").all_items()} == {i.caption for i in collection.all_items()}
    with pytest.raises(ModelMismatchError):  # the old collection stays as it was, still refused
        Searcher(collection, second)


def test_a_collection_from_before_fingerprints_is_refused_with_the_way_out(store, tiny_embedder):
    store.client.create_collection("legacy", metadata={"model": tiny_embedder.identity.name, "dim": tiny_embedder.dim},
                                   configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    legacy = store.open("legacy")
    assert legacy.schema_version == 1
    with pytest.raises(ModelMismatchError, match="before models were fingerprinted.*reembed"):
        legacy.check_model(tiny_embedder.identity)


def test_a_demo_built_with_an_earlier_bundled_model_is_built_again(store):
    from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection

    first = build_demo_collection(store, count=12)
    assert first.added == 12
    demo = store.open(DEMO_COLLECTION)
    meta = dict(demo._metadata())
    demo._chroma.modify(metadata={**meta, "model_fingerprint": "0" * 64})  # as if the model was retrained since
    again = build_demo_collection(store, count=12)
    assert again.added == 12 and store.open(DEMO_COLLECTION).count() == 12
    assert store.open(DEMO_COLLECTION).model.fingerprint != "0" * 64
    assert build_demo_collection(store, count=12).added == 0  # and the fresh one is kept
