"""A search fetches only the side its mode ranks, and ranks exactly as it did with both sides fetched."""
import pytest

from imgsearch_core.models.embed import Embedder
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from tests.helpers import write_images

QUERY = "red harbour city"


@pytest.fixture
def collection(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "photos", 24)
    items, _ = collect(tmp_path / "photos")
    ingest(store, "photos", tiny_embedder, items)
    return store.open("photos")


def test_a_keyword_search_never_embeds_the_query(collection, tiny_model_dir):
    searcher = Searcher(collection, Embedder(str(tiny_model_dir)))  # its own embedder: no session made yet
    text = searcher.search(QUERY, "text", k=10)
    assert "text" not in searcher.embedder._onnx._sessions
    assert set(text.timings_ms) == {"bm25", "rank"} and text.query_tokens == ["red", "harbour", "city"]
    both = searcher.text_candidates(QUERY)
    assert text.hits and text.hits == searcher.rank(both, "text", k=10).hits


def test_a_vector_search_never_analyses_the_query(collection, tiny_embedder):
    searcher = Searcher(collection, tiny_embedder)
    vector = searcher.search(QUERY, "vector", k=10)
    assert set(vector.timings_ms) == {"embed", "vector", "rank"} and vector.query_tokens == []
    assert vector.notice is None
    assert vector.hits and vector.hits == searcher.rank(searcher.text_candidates(QUERY), "vector", k=10).hits


def test_hybrid_fetches_both_sides(collection, tiny_embedder):
    searcher = Searcher(collection, tiny_embedder)
    hybrid = searcher.search(QUERY, "hybrid", alpha=0.4, k=10)
    assert set(hybrid.timings_ms) == {"embed", "vector", "bm25", "rank"}
    assert any(h.bm25 is not None for h in hybrid.hits) and all(h.cosine is not None for h in hybrid.hits)


def test_an_image_only_similar_search_has_no_keyword_side(collection, tiny_embedder):
    searcher = Searcher(collection, tiny_embedder)
    source = collection.page(limit=1)[0]
    alone = searcher.similar(item_id=source.id, k=8)
    assert "bm25" not in alone.timings_ms and alone.query_tokens == [] and alone.mode == "vector"
    with_keywords = searcher.image_candidates(item_id=source.id, keywords=True)
    assert with_keywords.bm25 and alone.hits == searcher.rank(with_keywords, "vector", 1.0, 8).hits
    assert "bm25" in searcher.similar(item_id=source.id, alpha=0.5, k=8).timings_ms
