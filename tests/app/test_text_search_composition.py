"""The Text search page takes a composed query as it is (no new controls): ranking, link, malformed input."""
from __future__ import annotations

from tests.app.conftest import hit_ids, start, submit_query, texts

COMPOSED = "2:red circle + square - blue"


def core_hits(store, query: str):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher

    collection = store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    return searcher.rank(searcher.text_candidates(query), "hybrid", 0.5, 24).hits


def test_a_composed_query_ranks_as_the_core_and_a_malformed_one_is_one_error(filled_store):
    """One test (one store): the page's ranking is the core's composed ranking, kept in the link; then a dangling
    operator is one error and no grid."""
    at = start()
    submit_query(at, COMPOSED)
    expected = core_hits(filled_store, COMPOSED)
    assert not at.error and hit_ids(at) == [h.id for h in expected][:12]
    assert expected and all(len(h.terms) == 3 for h in expected)
    assert not any("blue" in h.caption.lower().split() for h in expected)
    assert at.query_params.get("q") == COMPOSED
    submit_query(at, "red circle +")
    assert [e for e in texts(at.error) if "ends with the operator '+'" in e] and not hit_ids(at)
