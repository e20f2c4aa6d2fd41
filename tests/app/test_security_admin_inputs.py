"""Hostile inputs through the pages: a folder outside the import roots, uploads over their limits, and an
image query that must be decoded once however often the page reruns."""
from __future__ import annotations

import io

from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.display.formatting import format_bytes
from tests.app.conftest import IMAGE_PAGE, hit_ids, run, start, texts
from tests.app.test_admin import admin, folder_source, new_collection, open_store, source, start_ingest
from tests.helpers import image_bytes, write_images


def test_a_folder_outside_the_import_roots_is_refused_and_one_inside_is_imported(
        store_dir, tiny_model_dir, tmp_path, monkeypatch):
    root = tmp_path / "import"
    write_images(root / "photos", 3)
    write_images(tmp_path / "private", 2)
    (root / "door").symlink_to(tmp_path / "private", target_is_directory=True)
    monkeypatch.setenv("IMGSEARCH_IMPORT_ROOTS", str(root))
    at = admin()
    assert f"Only folders under `{root}` (IMGSEARCH_IMPORT_ROOTS); the command line can import any folder." \
        in texts(at.caption)
    new_collection(at, "photos", tiny_model_dir)
    for outside in ["/", str(tmp_path / "private"), str(root / ".." / "private"), str(root / "door")]:
        folder_source(at, outside)
        expected = f"{outside!r} is outside the folders the Admin page imports from: {root} (IMGSEARCH_IMPORT_ROOTS)."
        assert texts(at.error) == [escape_markdown(expected)]
        assert at.button(key="adm_start").disabled
    folder_source(at, root / "photos")
    assert not at.error
    start_ingest(at)
    assert open_store().open("photos").count() == 3


def upload_files(at, count: int):
    at.file_uploader(key="adm_files").set_value([(f"u{n}.png", image_bytes(500 + n), "image/png") for n in range(count)])
    return run(at)


def test_image_uploads_over_the_file_count_are_refused(store_dir, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_MAX_UPLOAD_FILES", "2")
    at = admin()
    source(at, "files")
    new_collection(at, "uploads", tiny_model_dir)
    upload_files(at, 3)
    assert texts(at.error) == ["The upload: 3 files, over the upload limit of 2 files (IMGSEARCH_MAX_UPLOAD_FILES)"]
    assert at.button(key="adm_start").disabled
    upload_files(at, 2)
    assert not at.error
    start_ingest(at)
    assert open_store().open("uploads").count() == 2


def test_image_uploads_over_the_total_bytes_are_refused(store_dir, tiny_model_dir, monkeypatch):
    total = sum(len(image_bytes(500 + n)) for n in range(2))
    monkeypatch.setenv("IMGSEARCH_MAX_UPLOAD_BYTES", str(total - 1))
    at = admin()
    source(at, "files")
    new_collection(at, "uploads", tiny_model_dir)
    upload_files(at, 2)
    assert texts(at.error) == [f"The upload: {format_bytes(total)}, over the upload size limit of "
                               f"{format_bytes(total - 1)} (IMGSEARCH_MAX_UPLOAD_BYTES)"]
    assert at.button(key="adm_start").disabled


def test_an_uploaded_query_is_decoded_once_across_reruns_and_the_archive_check(filled_store, monkeypatch):
    from PIL import Image

    query = image_bytes(1000)
    decodes = []
    original = Image.open

    def counting(fp, *args, **kwargs):
        if isinstance(fp, io.BytesIO) and fp.getvalue() == query:
            decodes.append(fp)
        return original(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting)
    at = start(IMAGE_PAGE)
    at.file_uploader(key="is_upload").set_value(("query.png", query, "image/png"))
    run(at)
    assert hit_ids(at, "is")
    at.text_input(key="is_text").set_value("red")  # image + text
    run(at)
    at.selectbox(key="is_k").set_value(at.selectbox(key="is_k").options[-1])
    run(at)
    next(b for b in at.button if b.key == "is_provenance").click()  # "Is this already in our archive?"
    run(at)
    assert any("archive" in i for i in texts(at.info) + texts(at.success) + texts(at.markdown))
    assert len(decodes) == 1
