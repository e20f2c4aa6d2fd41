"""Property: after any sequence of ingest, delete and re-ingest, Chroma, BM25 and media agree."""
import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgsearch_core.config import Settings
from imgsearch_core.ingest.pipeline import SourceItem, ingest
from imgsearch_core.store.store import Store
from imgsearch_core.text.analysis import analyze
from imgsearch_core.text.bm25 import BM25Index
from tests.helpers import caption_for, image_bytes

POOL = 12
operation = st.one_of(
    st.tuples(st.just("ingest"), st.sets(st.integers(0, POOL - 1), min_size=1, max_size=6)),
    st.tuples(st.just("delete"), st.sets(st.integers(0, POOL - 1), min_size=1, max_size=6)),
)


def item(index: int) -> SourceItem:
    data = image_bytes(index)
    caption = caption_for(index) if index % 3 else ""  # some items have no caption
    return SourceItem(f"img_{index}.png", "pool", lambda d=data: d, caption)


def digest(index: int) -> str:
    return hashlib.sha256(image_bytes(index)).hexdigest()


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(operation, min_size=1, max_size=6))
def test_store_bm25_and_media_always_agree(tmp_path_factory, tiny_embedder, operations):
    store = Store(Settings.from_env(store_dir=tmp_path_factory.mktemp("prop")))
    expected: set[int] = set()
    for kind, indices in operations:
        if kind == "ingest":
            ingest(store, "prop", tiny_embedder, [item(i) for i in sorted(indices)], batch_size=4)
            expected |= indices
        else:
            if "prop" in store.collection_names():
                store.open("prop").delete([digest(i) for i in indices])
            expected -= indices
    if "prop" not in store.collection_names():  # only deletes ran: nothing was ever created
        assert not expected and all(kind == "delete" for kind, _ in operations)
        return
    collection = store.open("prop")
    stored = collection.page(limit=100)
    assert {i.id for i in stored} == {digest(i) for i in expected}
    media_files = {p.stem for p in (store.media_root / "prop").rglob("*") if p.is_file()}
    assert media_files == {i.id for i in stored}
    captioned = [i for i in stored if i.caption]
    index = collection.bm25()
    assert sorted(index.ids) == sorted(i.id for i in captioned)
    fresh = BM25Index.build([i.id for i in captioned], analyze([i.caption for i in captioned]))
    query = ["red", "harbour", "city"]
    assert index.top(query, 20) == fresh.top(query, 20)
