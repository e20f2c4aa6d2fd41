"""State that stays and links that carry the whole view (AppTest): a search page's query, options, filters,
sort and page survive a visit to another page, and a link restores all of it, with one error per bad value."""
from __future__ import annotations

from datetime import date

from tests.app.archive import archive_ids
from tests.app.conftest import IMAGE_PAGE, TEXT_PAGE, core_similar, hit_ids, run, start, submit_query, texts

QUERY = "harbour"


def core_ids(store, where=None, sort="relevance", k=24, alpha=0.5) -> list[str]:
    """The ranking the page must show, from the core (a fresh Searcher on the same store)."""
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.search.export import sort_hits

    collection = store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    hits = searcher.rank(searcher.text_candidates(QUERY, where), "hybrid", alpha, k).hits
    return [h.id for h in sort_hits(hits, sort)]


def visit(at, page: str, query: dict | None = None):
    """Go to another page as the sidebar does (its URL carries no view) or with a link's parameters."""
    at.query_params.clear()
    at.query_params.update(query or {})
    at.switch_page(page)
    return run(at)


def reuters_oldest_first(at):
    at.selectbox(key="ts_k").set_value(12)
    submit_query(at, QUERY)
    at.multiselect(key="ts_f_credit").set_value(["Reuters", "AP"])
    at.selectbox(key="ts_sort").set_value("date_asc")
    at.toggle(key="ts_cutoff").set_value(False)
    return run(at)


def test_the_text_search_survives_other_pages(archive_store):
    at = reuters_oldest_first(start())
    shown, link = hit_ids(at), dict(at.query_params)
    where = {"credit": {"$in": ["Reuters", "AP"]}}
    assert shown == core_ids(archive_store, where, "date_asc", k=12) and len(shown) == 6
    visit(at, IMAGE_PAGE, {"item": shown[0], "c": "photos"})  # "More like this"
    assert hit_ids(at, "is")
    visit(at, "pages/evaluate.py")
    visit(at, TEXT_PAGE)  # back by the sidebar
    assert at.text_input(key="ts_q").value == QUERY
    assert at.multiselect(key="ts_f_credit").value == ["Reuters", "AP"]
    assert at.selectbox(key="ts_sort").value == "date_asc" and at.selectbox(key="ts_k").value == 12
    assert hit_ids(at) == shown and dict(at.query_params) == link


def test_the_image_search_survives_other_pages(archive_store, archive_folder):
    ids = archive_ids(archive_folder)
    at = start(IMAGE_PAGE, query={"item": ids["snow.jpg"], "text": "harbour boats"})
    at.multiselect(key="is_f_keywords").set_value(["harbour"])
    run(at)
    shown, link = hit_ids(at, "is"), dict(at.query_params)
    assert shown and link["kw"] == "harbour" and link["text"] == "harbour boats"
    visit(at, TEXT_PAGE)
    visit(at, IMAGE_PAGE)
    assert at.text_input(key="is_text").value == "harbour boats"
    assert at.multiselect(key="is_f_keywords").value == ["harbour"]
    assert hit_ids(at, "is") == shown and dict(at.query_params) == link


def test_a_link_restores_filters_sort_dates_and_collapse(archive_store, archive_folder):
    link = {"q": QUERY, "credit": "Reuters", "from": "2020-01-01", "to": "2021-12-31", "sort": "date",
            "collapse": "1", "c": "photos"}
    at = start(query=link)
    assert not at.error
    assert at.multiselect(key="ts_f_credit").value == ["Reuters"]
    assert at.date_input(key="ts_f_dates").value == (date(2020, 1, 1), date(2021, 12, 31))
    assert at.selectbox(key="ts_sort").value == "date" and at.toggle(key="ts_collapse").value
    ids = archive_ids(archive_folder)
    # Reuters in 2020-2021: harbour (2021), its copy (collapsed into it) and ship (2020), newest first
    assert hit_ids(at) in ([ids["harbour.jpg"], ids["ship.jpg"]], [ids["harbour_large.jpg"], ids["ship.jpg"]])
    assert dict(at.query_params) == link


def test_bad_filter_values_in_a_link_are_one_error_each(archive_store):
    at = start(query={"q": QUERY, "credit": "Getty", "kw": "zebra", "from": "someday", "sort": "size"})
    errors = texts(at.error)
    assert len(errors) == 4, errors
    for words in ("from date 'someday'", "sort 'size'", "no credit 'Getty'", "no keywords 'zebra'"):
        assert any(words in e for e in errors), (words, errors)
    assert at.multiselect(key="ts_f_credit").value == [] and at.selectbox(key="ts_sort").value == "relevance"
    assert len(hit_ids(at)) == 9  # the search runs unfiltered
    assert set(at.query_params) == {"c", "q"}  # the page's link drops what it could not use


def test_back_to_an_earlier_url_of_the_same_page_shows_that_view(archive_store):
    """Back/Forward: the URL changes under the page without a page switch; the URL's view wins."""
    at = start()
    submit_query(at, QUERY)
    first = hit_ids(at)
    at.multiselect(key="ts_f_credit").set_value(["dpa"])
    run(at)
    assert len(hit_ids(at)) == 2
    at.query_params.clear()
    at.query_params.update({"c": "photos", "q": QUERY})  # the browser's earlier history entry
    run(at)
    assert at.multiselect(key="ts_f_credit").value == [] and hit_ids(at) == first


def test_image_and_text_uses_the_text_and_says_so(archive_store, archive_folder):
    ids = archive_ids(archive_folder)
    at = start(IMAGE_PAGE, query={"item": ids["harbour.jpg"]})
    image_only = hit_ids(at, "is")
    assert at.select_slider(key="is_alpha").value == 1.0
    assert any("· image only ·" in m for m in texts(at.markdown))
    at.text_input(key="is_text").set_value("snow mountain")
    run(at)
    assert at.select_slider(key="is_alpha").value == 0.5
    assert any("image + text at alpha 0.50" in m for m in texts(at.markdown))
    combined = hit_ids(at, "is")
    assert combined == core_similar(archive_store, item_id=ids["harbour.jpg"], text="snow mountain", alpha=0.5)
    # the only photo captioned with both words climbs (the random test model's cosines decide by how much)
    assert combined != image_only and combined.index(ids["snow.jpg"]) < image_only.index(ids["snow.jpg"])
    at.select_slider(key="is_alpha").set_value(0.8)  # the user's slider stays while the text is edited
    run(at)
    at.text_input(key="is_text").set_value("zebra")
    run(at)
    assert at.select_slider(key="is_alpha").value == 0.8
    assert any("image only: the text matched no captions" in m for m in texts(at.markdown))
    at.text_input(key="is_text").set_value("")
    run(at)
    assert at.select_slider(key="is_alpha").value == 1.0


def test_an_upload_says_it_cannot_be_linked(filled_store):
    from tests.helpers import image_bytes

    at = start(IMAGE_PAGE)
    at.file_uploader(key="is_upload").set_value(("query.png", image_bytes(1000), "image/png"))
    run(at)
    assert any("uploaded picture cannot be linked" in c for c in texts(at.caption))
    assert "item" not in at.query_params


def test_a_search_sent_before_the_url_caught_up_keeps_the_editor_s_choices(archive_store):
    """A slow machine: the editor switches to Text mode and presses Enter before the browser took the URL that
    run wrote, so the search arrives with the older URL. Own input keeps the widgets; only Back/Forward (a URL
    change with no input, test above) restores the URL's view."""
    at = start()
    submit_query(at, QUERY)
    older_url = dict(at.query_params)
    at.segmented_control(key="ts_mode").set_value("text")
    run(at)
    at.query_params.clear()
    at.query_params.update(older_url)  # the browser still shows the hybrid search's URL
    submit_query(at, QUERY)
    assert at.segmented_control(key="ts_mode").value == "text"
    assert any("· text ·" in m for m in texts(at.markdown))
    at.multiselect(key="ts_f_credit").set_value(["dpa"])  # a filter chosen with the URL still behind, too
    at.query_params.clear()
    at.query_params.update(older_url)
    run(at)
    assert at.multiselect(key="ts_f_credit").value == ["dpa"] and at.segmented_control(key="ts_mode").value == "text"
