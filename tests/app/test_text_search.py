"""Text search page: modes, alpha slider (re-rank without re-embedding), URL state, paging, details, errors."""
from __future__ import annotations

import pytest

from tests.app.conftest import button, hit_ids, run, start, submit_query, texts

QUERY = "red circle"


def core_hits(store, mode: str, alpha: float, k: int = 24, where=None):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher

    collection = store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    return searcher.rank(searcher.text_candidates(QUERY, where), mode, alpha, k).hits


def core_ranking(store, mode: str, alpha: float, k: int = 24, where=None) -> list[str]:
    return [h.id for h in core_hits(store, mode, alpha, k, where)]


@pytest.mark.parametrize("mode", ["text", "vector", "hybrid"])
def test_each_mode_shows_the_core_ranking_as_a_grid(filled_store, mode):
    at = start()
    at.segmented_control(key="ts_mode").set_value(mode)
    submit_query(at, QUERY)
    assert hit_ids(at) == core_ranking(filled_store, mode, 0.5)[:12]
    assert len(at.image) == 12  # first page of the grid
    assert ("ts_alpha" in [s.key for s in at.select_slider]) == (mode == "hybrid")
    summary = next(m for m in texts(at.markdown) if "results for" in m)
    assert "search took" in summary and " ms" in summary
    breakdowns = [m for m in texts(at.markdown) if m.startswith("| | raw | normalised")]
    assert len(breakdowns) == 12
    assert ("BM25 (keyword)" in breakdowns[0]) == (mode != "vector")
    assert ("cosine (semantic)" in breakdowns[0]) == (mode != "text")
    if mode == "text":  # every keyword hit shows the query term it matched, highlighted
        captions = [m for m in texts(at.markdown) if ":orange-background[" in m]
        assert len(captions) == 12


def test_slider_reranks_without_embedding_again(filled_store, embed_calls):
    at = start()
    submit_query(at, QUERY)
    embedded = embed_calls["embed_texts"]
    assert embedded >= 1
    rankings = {}
    for alpha in (0.0, 1.0, 0.3):
        at.select_slider(key="ts_alpha").set_value(alpha)
        run(at)
        rankings[alpha] = hit_ids(at)
        assert any("re-ranked in" in m for m in texts(at.markdown))
        assert at.query_params.get("alpha") == f"{alpha:g}"
    assert embed_calls["embed_texts"] == embedded  # the query was embedded once, slider moves only re-rank
    for alpha, ranking in rankings.items():
        assert ranking == core_ranking(filled_store, "hybrid", alpha)[:12]
    # alpha = 0 ranks by BM25 (equal BM25 scores may be ordered by cosine), alpha = 1 exactly as vector search
    bm25_of = {h.id: h.bm25 for h in core_hits(filled_store, "text", 0.0)}
    assert [bm25_of[i] for i in rankings[0.0]] == [h.bm25 for h in core_hits(filled_store, "text", 0.0)[:12]]
    assert rankings[1.0] == core_ranking(filled_store, "vector", 1.0)[:12]
    assert rankings[0.0] != rankings[1.0]


def test_a_bookmarked_link_restores_the_search(filled_store):
    at = start(query={"q": QUERY, "mode": "hybrid", "alpha": "0.25", "k": "12"})
    assert at.text_input(key="ts_q").value == QUERY
    assert at.select_slider(key="ts_alpha").value == 0.25
    assert hit_ids(at) == core_ranking(filled_store, "hybrid", 0.25, k=12)
    assert at.query_params == {"c": "photos", "q": QUERY, "alpha": "0.25", "k": "12"}
    at.segmented_control(key="ts_mode").set_value("vector")
    run(at)
    assert at.query_params == {"c": "photos", "q": QUERY, "mode": "vector", "k": "12"}


def test_bad_link_parameters_end_in_clear_errors(filled_store):
    at = start(query={"q": QUERY, "mode": "fuzzy", "alpha": "2", "k": "7"})
    errors = " ".join(texts(at.error))
    assert "search mode 'fuzzy'" in errors and "alpha '2'" in errors and "number of results '7'" in errors
    assert len(hit_ids(at)) == 12  # the search still runs with the defaults


def test_results_beyond_the_first_page_are_paginated(filled_store):
    at = start()
    submit_query(at, QUERY)
    expected = core_ranking(filled_store, "hybrid", 0.5)
    assert len(expected) == 24
    assert hit_ids(at) == expected[:12]
    button(at, "Next").click()
    run(at)
    assert hit_ids(at) == expected[12:24]
    assert at.query_params.get("page") == "2"
    assert any("Page **2** of 2" in m for m in texts(at.markdown))
    assert button(at, "Next").disabled
    at.select_slider(key="ts_alpha").set_value(0.9)  # a new ranking starts again on page 1
    run(at)
    assert "page" not in at.query_params
    assert hit_ids(at) == core_ranking(filled_store, "hybrid", 0.9)[:12]


def test_a_hit_opens_its_details_and_more_like_this(filled_store):
    at = start()
    submit_query(at, QUERY)
    first = hit_ids(at)[0]
    next(b for b in at.button if b.key == f"ts_detail_{first}").click()
    run(at)
    table = at.dataframe[0].value
    fields = dict(zip(table["field"], table["value"]))
    assert fields["id"] == first and fields["file_name"].startswith("img_") and "captioned" in fields
    button(at, "More like this")  # inside the dialog too
    next(b for b in at.button if b.key == "ts_detail_similar").click()
    run(at)
    assert at.query_params.get("item") == first
    assert at.title[0].value == "Image search"


def test_more_like_this_on_a_hit_opens_the_image_page(filled_store, embed_calls):
    at = start()
    submit_query(at, QUERY)
    second = hit_ids(at)[1]
    images_embedded = embed_calls["embed_images"]
    next(b for b in at.button if b.key == f"ts_similar_{second}").click()
    run(at)
    assert at.title[0].value == "Image search"
    assert at.query_params == {"c": "photos", "item": second}
    similar = hit_ids(at, "is")
    assert len(similar) == 12 and second not in similar  # the query item itself is left out
    assert embed_calls["embed_images"] == images_embedded  # a stored item's vector is reused


def test_empty_query_bad_filter_and_filter(filled_store):
    at = start()
    assert not at.error and any("Type a query" in c for c in texts(at.caption))
    submit_query(at, "   ")
    assert "Enter a search query" in at.error[0].value
    at.text_input(key="ts_where").set_value("width ~ 3")
    submit_query(at, QUERY)
    assert "Cannot read the filter part" in at.error[0].value
    at.text_input(key="ts_where").set_value("file_name = img_0003.png")
    run(at)
    assert not at.error
    only = core_ranking(filled_store, "hybrid", 0.5, where={"file_name": {"$eq": "img_0003.png"}})
    assert hit_ids(at) == only and len(only) == 1
    assert at.query_params.get("where") == "file_name = img_0003.png"


def test_stop_words_only_query_gives_a_notice_not_an_error(filled_store):
    at = start()
    at.segmented_control(key="ts_mode").set_value("text")
    submit_query(at, "the of and")
    assert not at.error
    assert any("stop words" in i for i in texts(at.info))
