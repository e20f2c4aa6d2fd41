"""Search semantics on a real store: both ends of the hybrid slider, score parts, errors."""
import hashlib

import pytest
from rank_bm25 import BM25Okapi

from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import STOP_WORDS_NOTICE, SearchError, Searcher
from imgsearch_core.text.analysis import analyze
from tests.helpers import write_images

N_IMAGES = 40


@pytest.fixture
def searcher(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "photos", N_IMAGES)
    items, _ = collect(tmp_path / "photos")
    ingest(store, "photos", tiny_embedder, items)
    return Searcher(store.open("photos"), tiny_embedder)


def all_items(collection):
    return collection.page(limit=1000)


def test_alpha_zero_is_bm25_order(searcher):
    items = all_items(searcher.collection)
    reference = BM25Okapi(analyze([i.caption for i in items]))
    query = "red harbour"
    scores = reference.get_scores(analyze([query])[0])
    expected = [items[j].id for j in sorted(range(len(items)), key=lambda j: (-scores[j], items[j].id)) if scores[j] > 0]
    result = searcher.search(query, "hybrid", alpha=0.0, k=len(expected))
    assert [h.id for h in result.hits] == expected
    assert [h.id for h in searcher.search(query, "text", k=len(expected)).hits] == expected
    for hit in result.hits:
        assert hit.bm25 == pytest.approx(scores[[i.id for i in items].index(hit.id)], abs=1e-6)


def test_alpha_one_is_exact_vector_order(searcher, tiny_embedder):
    items = all_items(searcher.collection)
    vectors = searcher.collection.embeddings([i.id for i in items])
    query = "blue mountain"
    q = tiny_embedder.embed_texts([query])[0]
    exact = sorted(items, key=lambda i: -float(vectors[i.id] @ q))
    result = searcher.search(query, "hybrid", alpha=1.0, k=10)
    assert [h.id for h in result.hits] == [i.id for i in exact[:10]]
    assert [h.id for h in searcher.search(query, "vector", k=10).hits] == [h.id for h in result.hits]
    for hit in result.hits:
        assert hit.cosine == pytest.approx(float(vectors[hit.id] @ q), abs=1e-4)


def test_hybrid_scores_follow_the_formula(searcher):
    alpha = 0.3
    result = searcher.search("green city street", "hybrid", alpha=alpha, k=30)
    assert result.hits, "expected hits"
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    for hit in result.hits:
        assert hit.score == pytest.approx(alpha * hit.cosine_norm + (1 - alpha) * hit.bm25_norm, abs=1e-9)
        assert 0.0 <= hit.bm25_norm <= 1.0 and 0.0 <= hit.cosine_norm <= 1.0
        if hit.bm25 is None:
            assert hit.bm25_norm == 0.0
        if hit.cosine is None:
            assert hit.cosine_norm == 0.0
        assert hit.media_path.is_file() and hit.caption


def test_rerank_from_cached_candidates_needs_no_new_embedding(searcher):
    candidates = searcher.text_candidates("red square")
    ranked = {alpha: [h.id for h in searcher.rank(candidates, "hybrid", alpha, 10).hits] for alpha in (0.0, 0.5, 1.0)}
    assert ranked[0.0] == [h.id for h in searcher.search("red square", "text", k=10).hits]
    assert ranked[1.0] == [h.id for h in searcher.search("red square", "vector", k=10).hits]


def test_stop_word_query_has_no_bm25_hits_but_vector_answers(searcher):
    text = searcher.search("the of and", "text", k=5)
    assert text.hits == [] and text.notice == STOP_WORDS_NOTICE
    vector = searcher.search("the of and", "vector", k=5)
    assert len(vector.hits) == 5 and vector.notice is None


def test_image_query_excludes_itself(searcher, tmp_path):
    data = (tmp_path / "photos" / "img_0003.png").read_bytes()
    own_id = hashlib.sha256(data).hexdigest()
    by_bytes = searcher.similar(data, k=5)
    by_id = searcher.similar(item_id=own_id, k=5)
    assert own_id not in [h.id for h in by_bytes.hits] and own_id not in [h.id for h in by_id.hits]
    assert [h.id for h in by_bytes.hits] == [h.id for h in by_id.hits]
    assert all(h.bm25 is None for h in by_id.hits)


def test_image_plus_text_fuses_the_source_caption(searcher):
    source = all_items(searcher.collection)[0]
    result = searcher.similar(item_id=source.id, alpha=0.5, k=10)
    assert result.mode == "hybrid" and source.id not in [h.id for h in result.hits]
    assert any(h.bm25 is not None for h in result.hits)
    with_text = searcher.similar(item_id=source.id, text="portrait", alpha=0.0, k=5)
    assert with_text.query_tokens == ["portrait"]
    expected = [i for i in all_items(searcher.collection) if "portrait" in i.caption and i.id != source.id]
    assert expected and len(with_text.hits) == min(5, len(expected))  # alpha 0: exactly the keyword side
    assert all("portrait" in h.caption and h.bm25 > 0 for h in with_text.hits)


def test_metadata_filter_applies_to_both_sides(searcher):
    target = all_items(searcher.collection)[5].metadata["file_name"]
    result = searcher.search("red harbour city", "hybrid", 0.5, 10, where={"file_name": target})
    assert [h.metadata["file_name"] for h in result.hits] == [target]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(query=""), "Enter a search query"),
        (dict(query="   "), "Enter a search query"),
        (dict(query="red", alpha=1.2), "alpha"),
        (dict(query="red", alpha=-0.1), "alpha"),
        (dict(query="red", k=0), "between 1 and 100"),
        (dict(query="red", k=101), "between 1 and 100"),
        (dict(query="red", mode="fuzzy"), "Unknown search mode"),
    ],
)
def test_bad_requests_are_clear_errors(searcher, kwargs, message):
    args = dict(mode="hybrid", alpha=0.5, k=10) | kwargs
    with pytest.raises(SearchError, match=message):
        searcher.search(args.pop("query"), **args)


def test_unknown_id_and_bad_image_bytes_are_clear_errors(searcher):
    with pytest.raises(SearchError, match="No item with id"):
        searcher.similar(item_id="0" * 64)
    with pytest.raises(SearchError, match="query image"):
        searcher.similar(b"definitely not an image")
    with pytest.raises(SearchError, match="exactly one"):
        searcher.similar()


def test_k_caps_results_and_depth_covers_100(searcher):
    assert len(searcher.search("red", "vector", k=100).hits) == N_IMAGES
    assert len(searcher.search("red", "vector", k=3).hits) == 3
