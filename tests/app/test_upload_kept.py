"""An uploaded query picture outlives a visit to another page (issue 21, state that stays): the uploader widget
comes back empty, the session keeps the picture, so Image search shows the same query and results, embedded
once. A stored item's view, the uploader's x and the Clear button each end it."""
from __future__ import annotations

from tests.app.conftest import IMAGE_PAGE, TEXT_PAGE, hit_ids, run, start, texts
from tests.helpers import image_bytes


def visit(at, page: str, query: dict | None = None):
    """Another page, as the sidebar opens it (no view in the URL) or with a link's parameters."""
    at.query_params.clear()
    at.query_params.update(query or {})
    at.switch_page(page)
    return run(at)


def uploaded(name: str = "query.png"):
    at = start(IMAGE_PAGE)
    at.file_uploader(key="is_upload").set_value((name, image_bytes(1000), "image/png"))
    at.text_input(key="is_text").set_value("red")
    run(at)
    at.select_slider(key="is_alpha").set_value(0.7)
    return run(at)


def test_the_upload_comes_back_with_its_results_and_is_not_embedded_again(filled_store, embed_calls):
    at = uploaded()
    shown, embedded = hit_ids(at, "is"), embed_calls["embed_images"]
    assert shown and embedded == 1
    assert not any(b.key == "is_clear" for b in at.button)  # the uploader's own x removes it

    visit(at, TEXT_PAGE)
    visit(at, IMAGE_PAGE)
    assert at.file_uploader(key="is_upload").value is None  # the widget forgot it
    assert "Uploaded: query.png" in texts(at.caption)
    assert hit_ids(at, "is") == shown
    assert at.text_input(key="is_text").value == "red" and at.select_slider(key="is_alpha").value == 0.7
    assert embed_calls["embed_images"] == embedded
    assert not at.error

    next(b for b in at.button if b.key == "is_clear").click()  # the kept picture can still be put away
    run(at)
    assert not hit_ids(at, "is") and any("Upload an image" in i for i in texts(at.info))
    visit(at, TEXT_PAGE)
    visit(at, IMAGE_PAGE)
    assert not hit_ids(at, "is")


def test_removing_the_file_or_more_like_this_ends_the_kept_upload(filled_store):
    at = uploaded()
    at.file_uploader(key="is_upload").set_value(None)  # the uploader's x
    run(at)
    assert not hit_ids(at, "is")
    visit(at, TEXT_PAGE)
    visit(at, IMAGE_PAGE)
    assert not hit_ids(at, "is")

    at = uploaded()
    item = hit_ids(at, "is")[0]
    visit(at, TEXT_PAGE)
    visit(at, IMAGE_PAGE, {"item": item, "c": "photos"})  # "More like this" on a card of Text search
    assert item not in hit_ids(at, "is") and hit_ids(at, "is")
    assert "Uploaded: query.png" not in texts(at.caption)
    visit(at, TEXT_PAGE)
    visit(at, IMAGE_PAGE)
    assert "Uploaded: query.png" not in texts(at.caption) and at.query_params.get("item") == item
