"""Image search on an editorial archive: "Is this already in our archive?" (exact copy, resized copy,
unrelated picture), the filter widgets and the collapse toggle there, and the embedding count."""
from __future__ import annotations

import io
from tests.app.archive import ARCHIVE, COPY_NAME, archive_ids, archive_picture, resized_copy
from tests.app.conftest import IMAGE_PAGE, hit_ids, run, start, texts

ALL = len(ARCHIVE) + 1


def upload(at, name: str, data: bytes):
    at.file_uploader(key="is_upload").set_value((name, data, "image/jpeg"))
    return run(at)


def check_archive(at):
    next(b for b in at.button if b.key == "is_provenance").click()
    return run(at)


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    archive_picture(seed).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_an_exact_copy_is_found_with_its_archive_details(archive_store, archive_folder, embed_calls):
    ids = archive_ids(archive_folder)
    at = start(IMAGE_PAGE)
    upload(at, "from-the-wire.jpg", (archive_folder / "harbour.jpg").read_bytes())
    assert embed_calls["embed_images"] == 1  # the search; the archive check waits for the button
    check_archive(at)
    assert embed_calls["embed_images"] == 2
    page = " ".join(texts(at.markdown) + texts(at.caption) + texts(at.success))
    assert "Exact copy" in page and "Near-duplicate" in page
    assert "an **exact copy** and **1 near-duplicate**" in " ".join(texts(at.success))
    assert ids["harbour.jpg"] in page and ids[COPY_NAME] in page
    facts = next(m for m in texts(at.markdown) if "**Original file:** harbour.jpg" in m)
    assert "**Credit:** Reuters" in facts and "**Ingested from:**" in facts and "**Date added:** 20" in facts
    assert any("pHash **0** of 64 bits apart" in c and "cosine **1.000**" in c for c in texts(at.caption))
    at.text_input(key="is_text").set_value("boats")  # reruns keep the report, nothing is embedded again
    run(at)
    at.select_slider(key="is_alpha").set_value(0.5)
    run(at)
    assert "an **exact copy**" in " ".join(texts(at.success))
    assert embed_calls["embed_images"] == 2


def test_a_resized_copy_is_a_near_duplicate_and_an_unrelated_picture_is_not_in_the_archive(archive_store, archive_folder):
    ids = archive_ids(archive_folder)
    at = start(IMAGE_PAGE)
    upload(at, "snow-small.jpg", resized_copy((archive_folder / "snow.jpg").read_bytes(), scale=0.75, quality=70))
    check_archive(at)
    success = " ".join(texts(at.success))
    assert "**1 near-duplicate**" in success and "exact" not in success
    assert any(ids["snow.jpg"] in c for c in texts(at.caption))
    assert not [i for i in texts(at.info) if "Not in the archive" in i]
    upload(at, "new.jpg", jpeg(99))  # a new upload: the button has to be pressed again
    assert not [m for m in texts(at.success) + texts(at.info) if "archive" in m.lower() and "Not" in m]
    check_archive(at)
    assert any("**Not in the archive**" in i for i in texts(at.info))
    assert not at.success


def test_filters_and_collapse_on_the_image_page(archive_store, archive_folder, embed_calls):
    ids = archive_ids(archive_folder)
    at = start(IMAGE_PAGE)
    upload(at, "query.jpg", jpeg(50))
    assert len(hit_ids(at, "is")) == ALL
    at.multiselect(key="is_f_credit").set_value(["dpa"])
    run(at)
    assert sorted(hit_ids(at, "is")) == sorted([ids["snow.jpg"], ids["dock.jpg"]])
    at.multiselect(key="is_f_credit").set_value([])
    run(at)
    images = embed_calls["embed_images"]
    at.toggle(key="is_collapse").set_value(True)
    run(at)
    shown = hit_ids(at, "is")
    assert len(shown) == ALL - 1 and len({ids["harbour.jpg"], ids[COPY_NAME]} & set(shown)) == 1
    assert len([t for t in texts(at.markdown) if "+1 copy" in t]) == 1
    assert {b.key for b in at.download_button} == {"is_export_csv", "is_export_json"}
    assert embed_calls["embed_images"] == images


def test_a_stored_item_link_gets_no_archive_check(archive_store, archive_folder):
    ids = archive_ids(archive_folder)
    at = start(IMAGE_PAGE, query={"item": ids["ship.jpg"]})
    assert hit_ids(at, "is") and "is_provenance" not in [b.key for b in at.button]
