"""A grid's relevance judge works on the store and collection the page holds: it does not open the app's
store again by the collection's name (here the app's configured store is another, empty one)."""
from __future__ import annotations

import pytest

from tests.app.test_relevance_card import QUERY


@pytest.mark.parametrize("mode", ["vector", "text"])
def test_the_judge_bands_the_hits_of_the_collection_it_is_given(filled_store, tmp_path, monkeypatch, mode):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.search.relevance import UNCALIBRATED, calibrate, hit_verdict
    from pages import _ui

    monkeypatch.setenv("IMGSEARCH_STORE", str(tmp_path / "another-store"))
    collection = filled_store.open("photos")
    embedder = Embedder(collection.model.name)
    result = Searcher(collection, embedder).search(QUERY, mode, 0.5, 12)
    calibration = UNCALIBRATED if mode == "text" else calibrate(collection, embedder)
    expected = [hit_verdict(calibration, h, query="text", mode=mode, query_tokens=result.query_tokens,
                            index=collection.bm25()) for h in result.hits]

    judge = _ui.relevance_judge(filled_store, collection, mode, True, result.query_tokens)
    shown = [judge(hit)[0] for hit in result.hits]
    assert len(shown) == 12 and shown == expected
