"""Ingest writes whole batches, several in one store write when they come fast, with the same outcome
as one write per batch: the same records, counts and problems, and held batches stored on a stop or an
error. The writes are counted in the collection's real write log (one record per store write)."""
import numpy as np
import pytest

from imgsearch_core.ingest import writes as ingest_writes
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.store.write_log import log_name
from tests.helpers import write_images


def writes(store, name="col1") -> int:
    return store.client.get_collection(log_name(name)).count()


def stored(store, name="col1"):
    collection = store.open(name)
    items = collection.page(limit=100)
    vectors = collection.embeddings([i.id for i in items])
    return {i.id: (i.caption, {k: v for k, v in i.metadata.items() if k != "added_at"}, vectors[i.id].tolist())
            for i in items}


@pytest.mark.parametrize("held, age, expected_writes", [
    (4, 60.0, 2),  # fast batches: four in one write, then the rest
    (1, 60.0, 5),  # one batch a write
    (4, 0.0, 5),  # a slow source: every batch has waited long enough
])
def test_batches_written_together_store_what_one_write_per_batch_stores(
        store, tiny_embedder, tmp_path, monkeypatch, held, age, expected_writes):
    monkeypatch.setattr(ingest_writes, "WRITE_BATCHES", held)
    monkeypatch.setattr(ingest_writes, "WRITE_AGE_S", age)
    write_images(tmp_path / "p", 9)
    (tmp_path / "p" / "img_0003.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (tmp_path / "p" / "zz_copy.png").write_bytes((tmp_path / "p" / "img_0000.png").read_bytes())
    items, problems = collect(tmp_path / "p")
    progress = []
    report = ingest(store, "col1", tiny_embedder, items, problems=problems, progress=progress.append, batch_size=2)
    assert (report.added, report.already_stored) == (8, 1)
    assert [p.name for p in report.problems] == ["img_0003.png"]
    assert [p.done for p in progress] == [2, 4, 6, 8, 10]  # every batch end, written or held
    assert writes(store) == expected_writes

    monkeypatch.setattr(ingest_writes, "WRITE_BATCHES", 1)  # the reference: one write per batch
    reference = tmp_path / "reference"
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    other = Store(Settings.from_env(store_dir=reference))
    ingest(other, "col1", tiny_embedder, collect(tmp_path / "p")[0], batch_size=2)
    ours, theirs = stored(store), stored(other)
    assert ours.keys() == theirs.keys()
    for item_id, (caption, metadata, vector) in ours.items():
        assert (caption, metadata) == theirs[item_id][:2]
        np.testing.assert_array_equal(vector, theirs[item_id][2])


def test_held_batches_are_stored_before_a_stop(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 10)
    items, _ = collect(tmp_path / "p")
    calls = iter(range(100))
    report = ingest(store, "col1", tiny_embedder, items, batch_size=2, should_stop=lambda: next(calls) >= 3)
    assert report.added == 6 and store.open("col1").count() == 6
    assert report.problems[-1].reason == "stopped by the user after 6 of 10 items"
    assert writes(store) == 1


class FailingEmbedder:
    """The tiny embedder, failing once it has been given more than `after` images."""

    def __init__(self, inner, after):
        self.inner, self.identity, self.after, self.seen = inner, inner.identity, after, 0

    def embed_images(self, images):
        self.seen += len(images)
        if self.seen > self.after:
            raise RuntimeError("the embedder failed")
        return self.inner.embed_images(images)


def test_held_batches_are_stored_when_embedding_fails(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 10)
    items, _ = collect(tmp_path / "p")
    with pytest.raises(RuntimeError, match="the embedder failed"):
        ingest(store, "col1", FailingEmbedder(tiny_embedder, after=4), items, batch_size=2)
    assert store.open("col1").count() == 4  # the two whole batches embedded before the failure
    report = ingest(store, "col1", tiny_embedder, collect(tmp_path / "p")[0], batch_size=2)
    assert (report.added, report.already_stored) == (6, 4)
