"""The store on a real Chroma directory: pinning, ids, media, batching, deletes, locking."""
import hashlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from imgsearch_core.config import Settings
from imgsearch_core.types import ModelIdentity
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.store.store import Store
from imgsearch_core.errors import CollectionNotFoundError, ModelMismatchError, StoreError
from imgsearch_core.store.lock import StoreLockedError
from tests.helpers import write_images


@pytest.fixture
def filled(store, tiny_embedder, tmp_path):
    paths = write_images(tmp_path / "photos", 12)
    items, problems = collect(tmp_path / "photos")
    report = ingest(store, "photos", tiny_embedder, items, problems=problems)
    assert report.added == 12 and not report.problems
    return store.open("photos"), paths


def test_ids_are_content_hashes_and_media_is_kept(filled):
    collection, paths = filled
    expected = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in paths}
    items = collection.get(list(expected))
    assert {i.id for i in items} == set(expected)
    for item in items:
        assert item.media_path.read_bytes() == expected[item.id].read_bytes()
        assert item.metadata["file_name"] == expected[item.id].name
        assert item.metadata["width"] == 64 and item.metadata["height"] == 48
        assert item.metadata["captioned"] is True


def test_collection_is_pinned_to_its_model(store, filled):
    with pytest.raises(ModelMismatchError, match="pinned"):
        store.open_or_create("photos", ModelIdentity("other-model", 16))
    assert store.open("photos").model.dim == 16


def test_moved_store_still_shows_its_images(filled, tmp_path, settings):
    collection, _ = filled
    moved = tmp_path / "moved-store"
    shutil.copytree(settings.store_dir, moved)
    shutil.rmtree(settings.store_dir)
    reopened = Store(Settings.from_env(store_dir=moved)).open("photos")
    items = reopened.page(limit=100)
    assert len(items) == 12 and all(item.media_path.is_file() for item in items)
    assert all(str(item.media_path).startswith(str(moved)) for item in items)


def test_writes_split_under_chroma_batch_limit(store, tiny_embedder, tmp_path):
    store.max_batch = 5  # as if Chroma allowed 5 per call
    write_images(tmp_path / "many", 23)
    items, _ = collect(tmp_path / "many")
    report = ingest(store, "many", tiny_embedder, items, batch_size=50)
    assert report.added == 23 and store.open("many").count() == 23
    assert len(store.open("many").bm25()) == 23


def test_delete_then_reingest_stays_queryable(filled, tiny_embedder, store, tmp_path):
    collection, paths = filled
    victims = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths[:4]]
    assert collection.delete(victims + ["no-such-id"]) == 4
    assert collection.count() == 8 and not collection.existing_ids(victims)
    items, _ = collect(tmp_path / "photos")
    report = ingest(store, "photos", tiny_embedder, items)
    assert report.added == 4 and report.already_stored == 8
    for victim in victims:  # every re-added record is reachable by query again
        vector = collection.embeddings([victim])[victim]
        assert collection.query_vector(vector, 1)[0][0] == victim


def test_bm25_index_rebuilds_when_stale_or_missing(filled, settings):
    collection, _ = filled
    before = collection.bm25().top(["harbour"], 20)
    shutil.rmtree(settings.store_dir / "bm25")
    fresh = Store(settings).open("photos")
    assert fresh.bm25().top(["harbour"], 20) == before
    (settings.store_dir / "bm25" / "photos").mkdir(parents=True, exist_ok=True)
    for f in (settings.store_dir / "bm25" / "photos").iterdir():
        f.write_bytes(b"garbage")
    assert Store(settings).open("photos").bm25().top(["harbour"], 20) == before


def test_unknown_and_invalid_collections(store):
    with pytest.raises(CollectionNotFoundError, match="No collection"):
        store.open("missing")
    with pytest.raises(StoreError, match="Invalid collection name"):
        store.open("a")
    with pytest.raises(StoreError, match="Invalid collection name"):
        store.open_or_create("../escape", ModelIdentity("m", 4))


def test_delete_collection_and_reset(filled, store, settings):
    store.delete_collection("photos")
    assert "photos" not in store.collection_names()
    assert not (settings.store_dir / "media" / "photos").exists()
    store.open_or_create("one", ModelIdentity("m", 4))
    store.reset()
    assert store.collection_names() == []


def test_second_process_cannot_write_and_is_told_who_holds_the_store(store, settings, tmp_path):
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from imgsearch_core.store.lock import write_lock_for
        with write_lock_for(Path({str(settings.store_dir)!r})).hold():
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True, cwd=str(tmp_path),
                            env={**__import__("os").environ, "PYTHONPATH": str(__import__("pathlib").Path.cwd())})
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError) as info:
            store.open_or_create("blocked", ModelIdentity("m", 4))
        assert f"process {proc.pid}" in str(info.value)
        assert "blocked" not in store.collection_names()
    finally:
        proc.kill()
        proc.wait()
    store.open_or_create("after", ModelIdentity("m", 4))  # the kernel released the dead holder's lock
    assert "after" in store.collection_names()


def test_vectors_round_trip_exactly(filled):
    collection, _ = filled
    some = [item.id for item in collection.page(limit=3)]
    vectors = collection.embeddings(some)
    for item_id in some:
        np.testing.assert_allclose(np.linalg.norm(vectors[item_id]), 1.0, atol=1e-5)
        top_id, cosine = collection.query_vector(vectors[item_id], 1)[0]
        assert top_id == item_id and cosine == pytest.approx(1.0, abs=1e-4)


def test_recover_removes_what_a_killed_write_left_behind(filled):
    """A write killed after its journal and media but before Chroma: orphans and temp files go."""
    collection, _ = filled
    kept = collection.page(limit=1)[0]
    orphan_id = "ab" + "0" * 62
    shard = kept.media_path.parent.parent / orphan_id[:2]
    shard.mkdir(exist_ok=True)
    (shard / f"{orphan_id}.png").write_bytes(b"half an item")
    (shard / ".tmp-killed").write_bytes(b"half a file")
    collection._journal.write_text(f"{orphan_id}\n{kept.id}\n")
    collection.recover()
    assert not (shard / f"{orphan_id}.png").exists() and not (shard / ".tmp-killed").exists()
    assert kept.media_path.is_file() and not collection._journal.exists()
