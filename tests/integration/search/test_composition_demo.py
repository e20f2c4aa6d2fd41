"""Composed queries on the real demo store (600 scenes, read-only): exclusion, weights, parts, plain queries unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from imgsearch_core.cli.main import main
from imgsearch_core.search.engine import SearchError, Searcher
from imgsearch_core.search.fusion import fuse
from imgsearch_core.text.analysis import analyze_one

NEGATIONS = [("circle", "red"), ("red", "circle"), ("square", "blue square"), ("a triangle", "green")]


@pytest.fixture(scope="module")
def searcher(demo_600) -> Searcher:
    collection, embedder = demo_600
    return Searcher(collection, embedder)


def holds(searcher: Searcher, caption: str, words: str) -> bool:
    index = searcher.collection.bm25()
    return set(analyze_one(words, index.language)) <= set(analyze_one(caption, index.language))


@pytest.mark.parametrize("mode", ["hybrid", "text", "vector"])
@pytest.mark.parametrize("positive, negative", NEGATIONS)
def test_a_negative_term_never_raises_a_hit_holding_it(searcher, mode, positive, negative):
    plain = searcher.search(positive, mode, k=100)
    composed = searcher.search(f"{positive} - {negative}", mode, k=100)
    assert composed.hits, "the composed query still finds something"
    assert any(holds(searcher, h.caption, negative) for h in plain.hits), "the test must be able to fail"
    assert not any(holds(searcher, h.caption, negative) for h in composed.hits)
    # what is left keeps its order from the plain query's sides where only the exclusion acted (keyword side)
    if mode == "text":
        kept = [h.id for h in plain.hits if not holds(searcher, h.caption, negative)]
        assert [h.id for h in composed.hits] == kept[: len(composed.hits)]


def test_a_weight_out_of_range_is_rejected_before_anything_runs(searcher):
    for query in ("circle + 11:red", "10.5:circle + red", "circle - 20:red"):
        with pytest.raises(SearchError, match="out of range"):
            searcher.search(query)


@pytest.mark.parametrize("query", ["red circle", "2:red circle", "+ red circle", "0.5:red circle"])
def test_a_one_term_query_ranks_exactly_as_the_plain_sides_fused(searcher, query):
    """The reference is computed from the store's own pieces, not from the Searcher."""
    words, collection = "red circle", searcher.collection
    index = collection.bm25()
    bm25 = index.top(analyze_one(words, index.language), searcher.depth)
    cosine = collection.query_vector(searcher.embedder.embed_texts([words])[0], searcher.depth)
    expected = fuse(bm25, cosine, 0.5)[:20]
    hits = searcher.search(query, "hybrid", 0.5, 20).hits
    assert [(h.id, round(h.score, 9)) for h in hits] == [(r.id, round(r.score, 9)) for r in expected]
    assert all(h.terms == () for h in hits)


def test_each_terms_parts_add_up_to_the_sides_scores(searcher):
    query = "2:red circle + square - blue"
    hits = searcher.search(query, "hybrid", 0.5, 30).hits
    vectors = searcher.embedder.embed_texts(["red circle", "square", "blue"]).astype(np.float64)
    direction = np.array([2.0, 1.0, -1.0]) @ vectors
    direction /= np.linalg.norm(direction)
    stored = searcher.collection.embeddings([h.id for h in hits])
    for hit in hits:
        assert [(p.term, p.weight) for p in hit.terms] == [("red circle", 2.0), ("square", 1.0), ("blue", -1.0)]
        assert hit.terms[2].bm25 is None  # a negative term excludes, it never scores
        if hit.bm25 is not None:
            assert sum(p.bm25 for p in hit.terms[:2]) == pytest.approx(hit.bm25, rel=1e-9)
        assert float(stored[hit.id] @ direction) == pytest.approx(sum(p.cosine for p in hit.terms), abs=1e-5)
        if hit.cosine is not None:
            assert hit.cosine == pytest.approx(sum(p.cosine for p in hit.terms), abs=1e-4)
        assert hit.to_dict()["terms"][0] == {"term": "red circle", "weight": 2.0, "bm25": hit.terms[0].bm25,
                                             "cosine": hit.terms[0].cosine, "kind": "text"}


def test_a_larger_weight_pulls_the_ranking_towards_its_term(searcher):
    def share(query: str, word: str) -> float:
        hits = searcher.search(query, "vector", k=20).hits
        return sum(holds(searcher, h.caption, word) for h in hits) / len(hits)

    assert share("5:circle + square", "circle") > share("circle + 5:square", "circle")


def test_the_cli_answers_a_malformed_composition_with_one_line_and_exit_2(searcher, capsys):
    store_dir = str(searcher.collection._store.root)
    code = main(["search", "circle + + red", "--store", store_dir, "--collection", searcher.collection.name])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines == ["error: Two operators in a row ('+ +'): put a term between them."]


def test_in_hybrid_mode_every_candidate_is_scored_on_both_sides(searcher):
    """A keyword hit the subtraction pushed past the vector look-up still carries its exact cosine, so it cannot
    ride on its BM25 alone; a vector hit whose caption holds a positive term carries its BM25."""
    candidates = searcher.text_candidates("circle - red", mode="hybrid")
    cosine, bm25 = dict(candidates.cosine), dict(candidates.bm25)
    assert set(bm25) <= set(cosine)
    assert len(cosine) > searcher.depth, "some keyword candidates lay beyond the vector look-up"
    for doc_id, parts in candidates.term_parts.items():
        assert cosine[doc_id] == pytest.approx(sum(p.cosine for p in parts), abs=1e-4)
        if parts[0].bm25 > 0:
            assert bm25[doc_id] == pytest.approx(parts[0].bm25)


def test_a_filter_holds_for_every_composed_hit(searcher):
    hits = searcher.search("circle - red", "hybrid", 0.5, 30, where={"n_objects": 1}).hits
    assert hits and all(h.metadata["n_objects"] == 1 for h in hits)
    assert all(h.bm25 is None or h.bm25 > 0 for h in hits)
