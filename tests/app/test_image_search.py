"""Image search page: uploads (and bad ones), arriving from "More like this", image + text with alpha."""
from __future__ import annotations

from tests.app.conftest import IMAGE_PAGE, core_similar, hit_ids, pixel_bomb_png, run, start, texts
from tests.helpers import image_bytes


def upload(at, name: str, data: bytes, mime: str = "image/png"):
    at.file_uploader(key="is_upload").set_value((name, data, mime))
    return run(at)


def test_without_a_query_image_the_page_explains_what_to_do(filled_store):
    at = start(IMAGE_PAGE)
    assert at.title[0].value == "Image search"
    assert any("Upload an image" in i for i in texts(at.info))
    assert not at.error


def test_an_upload_finds_similar_images_and_is_embedded_once(filled_store, embed_calls):
    at = start(IMAGE_PAGE)
    query = image_bytes(1000)  # not in the collection
    upload(at, "query.png", query)
    assert embed_calls["embed_images"] == 1
    first = hit_ids(at, "is")
    assert "Uploaded: query.png" in texts(at.caption)
    at.text_input(key="is_text").set_value("red")  # image + text: the same image, no new embedding
    run(at)
    at.select_slider(key="is_alpha").set_value(0.4)
    run(at)
    assert embed_calls["embed_images"] == 1
    assert first == core_similar(filled_store, image=query)[:12]
    assert hit_ids(at, "is") == core_similar(filled_store, image=query, text="red", alpha=0.4)[:12]
    assert at.query_params == {"c": "photos", "text": "red", "alpha": "0.4"}


def test_an_uploaded_copy_of_a_stored_image_is_left_out_of_its_results(filled_store):
    import hashlib

    at = start(IMAGE_PAGE)
    stored = image_bytes(3)
    upload(at, "copy.png", stored)
    assert hashlib.sha256(stored).hexdigest() not in hit_ids(at, "is")
    assert len(hit_ids(at, "is")) == 12


def test_bad_uploads_end_in_clear_errors(filled_store):
    at = start(IMAGE_PAGE)
    cases = {
        "broken.png": (image_bytes(1)[:60], "truncated"),
        "notes.png": (b"just some text, not a picture\n" * 3, "not an image"),
        "bomb.png": (pixel_bomb_png(), "pixels"),
        "empty.png": (b"", "empty"),
    }
    for name, (data, words) in cases.items():
        upload(at, name, data)
        assert at.error, name
        assert name in at.error[0].value and words in at.error[0].value, at.error[0].value
        assert not hit_ids(at, "is")


def test_an_item_link_with_text_and_alpha(filled_store):
    item = core_similar(filled_store, image=image_bytes(1000))[0]
    at = start(IMAGE_PAGE, query={"item": item, "text": "green street", "alpha": "0.5"})
    assert hit_ids(at, "is") == core_similar(filled_store, item_id=item, text="green street", alpha=0.5)[:12]
    assert item not in hit_ids(at, "is")
    assert any("green street" in c for c in texts(at.caption))
    next(b for b in at.button if b.key == "is_clear").click()
    run(at)
    assert not hit_ids(at, "is") and "item" not in at.query_params


def test_an_unknown_or_malformed_item_link_is_an_error(filled_store):
    at = start(IMAGE_PAGE, query={"item": "ab" * 32})
    assert "is not in collection 'photos'" in at.error[0].value
    at = start(IMAGE_PAGE, query={"item": "../../etc/passwd"})
    assert "not a valid id" in at.error[0].value
