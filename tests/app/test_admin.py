"""Admin page: the password gate, ingest from a folder, a zip or uploads, progress and problems, stats,
deleting items and collections, the demo collection, and bad input that must end in a clear error."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.app.conftest import ADMIN_PAGE, button, fill, make_zip, pixel_bomb_png, run, start, texts
from tests.app.test_navigation import fake_demo_module
from tests.helpers import caption_for, image_bytes, write_images

PASSWORD = "correct horse"


# ----- helpers ------------------------------------------------------------------------------------
def open_store():
    """A fresh Store on the app's directory, so nothing the app cached hides what is on disk."""
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    return Store(Settings.from_env())


def snapshot(store) -> tuple[dict[str, list[str]], list[str]]:
    """Every collection's item ids and every media file: equal snapshots mean nothing was stored or removed."""
    ids = {n: sorted(i.id for i in store.open(n).all_items()) for n in store.collection_names()}
    return ids, sorted(str(p.relative_to(store.media_root)) for p in store.media_root.rglob("*"))


def admin(secrets: dict | None = None):
    at = start(ADMIN_PAGE, secrets=secrets)
    assert at.title[0].value == "Admin"
    return at


def source(at, kind: str):
    at.segmented_control(key="adm_source").set_value(kind)
    return run(at)


def new_collection(at, name: str, model: str | Path):
    """Target a new collection `name`; a Path is given through the "model directory" option."""
    if at.radio(key="adm_target").value != "new":
        at.radio(key="adm_target").set_value("new")
        run(at)
    at.text_input(key="adm_new_name").set_value(name)
    at.radio(key="adm_model").set_value("local" if isinstance(model, Path) else model)
    run(at)
    if isinstance(model, Path):
        at.text_input(key="adm_model_path").set_value(str(model))
        run(at)
    return at


def folder_source(at, folder: Path | str):
    at.text_input(key="adm_folder").set_value(str(folder))
    return run(at)


def start_ingest(at):
    start_button = at.button(key="adm_start")
    assert not start_button.disabled, texts(at.caption)
    start_button.click()
    return run(at)


def problem_rows(at) -> dict[str, str]:
    """The problem table under the report: file -> reason."""
    tables = [d.value for d in at.dataframe if list(d.value.columns) == ["file", "problem"]]
    assert len(tables) == 1, [list(d.value.columns) for d in at.dataframe]
    return dict(zip(tables[0]["file"], tables[0]["problem"]))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# ----- ingest -------------------------------------------------------------------------------------
def test_a_folder_goes_into_a_new_collection_with_a_local_model(filled_store, image_folder, tiny_model_dir):
    at = admin()
    folder_source(at, image_folder)
    new_collection(at, "trips", tiny_model_dir)
    start_ingest(at)
    collection = open_store().open("trips")
    assert collection.count() == 30
    assert collection.model.name == str(tiny_model_dir.resolve())
    assert {i.caption for i in collection.all_items()} == {caption_for(n) for n in range(30)}
    assert "Ingest into **trips**: 30 added, 0 already stored, 0 problems" in at.success[0].value
    assert metrics(at)["Collection"] == "trips" and metrics(at)["Items"] == "30" and not at.error
    assert at.sidebar.selectbox(key="collection").value == "trips"
    assert at.radio(key="adm_target").value == "existing" and at.selectbox(key="adm_existing").value == "trips"
    at.radio(key="adm_target").set_value("new")  # the name just used is not offered again
    run(at)
    assert at.text_input(key="adm_new_name").value == "" and not at.error


def test_the_first_collection_of_an_empty_store(store_dir, tiny_model_dir):
    at = admin()
    assert any("The store is empty" in i for i in texts(at.info))
    assert at.radio(key="adm_target").options == ["New collection"]
    source(at, "files")
    at.file_uploader(key="adm_files").set_value([("one.png", image_bytes(1), "image/png")])
    run(at)
    new_collection(at, "first", tiny_model_dir)
    start_ingest(at)
    assert open_store().collection_names() == ["first"]
    assert metrics(at)["Items"] == "1" and at.radio(key="adm_target").value == "existing"


def test_a_zip_goes_into_an_existing_collection_with_its_own_model(filled_store, tiny_model_dir):
    archive = make_zip({
        "trip/new_1.png": image_bytes(101),
        "trip/new_1.txt": b"a harbour at dawn",
        "trip/new_2.png": image_bytes(102),
        "trip/again.png": image_bytes(0),  # already stored as img_0000.png
    })
    at = admin()
    source(at, "zip")
    at.file_uploader(key="adm_zip").set_value(("trip.zip", archive, "application/zip"))
    run(at)
    assert at.radio(key="adm_target").value == "existing"
    assert at.selectbox(key="adm_existing").value == "photos"
    assert "adm_model" not in [r.key for r in at.radio]  # an existing collection keeps its model
    assert f"Pinned to model {tiny_model_dir.resolve()}." in texts(at.caption)
    start_ingest(at)
    collection = open_store().open("photos")
    assert collection.count() == 32
    assert "a harbour at dawn" in {i.caption for i in collection.all_items()}
    assert "2 added, 1 already stored" in at.success[0].value


def test_uploaded_images_take_captions_from_a_csv(store_dir, tiny_model_dir):
    at = admin()
    source(at, "files")
    uploads = [(f"up_{n}.png", image_bytes(200 + n), "image/png") for n in range(3)]
    at.file_uploader(key="adm_files").set_value(uploads)
    csv = "file_name,caption,place\nup_0.png,a red boat,harbour\nup_2.png,a snowy peak,alps\n"
    at.file_uploader(key="adm_captions").set_value(("captions.csv", csv.encode(), "text/csv"))
    run(at)
    new_collection(at, "uploads", tiny_model_dir)
    start_ingest(at)
    items = {i.metadata["file_name"]: i for i in open_store().open("uploads").all_items()}
    assert sorted(items) == ["up_0.png", "up_1.png", "up_2.png"]
    assert items["up_0.png"].caption == "a red boat" and items["up_0.png"].metadata["place"] == "harbour"
    assert items["up_1.png"].caption == "" and items["up_2.png"].caption == "a snowy peak"
    assert metrics(at)["Captioned"] == "67%"


def test_a_new_collection_offers_the_default_the_bundled_and_a_local_model(store_dir, monkeypatch):
    monkeypatch.delenv("IMGSEARCH_MODEL", raising=False)
    at = admin()
    choice = at.radio(key="adm_model")
    assert [o.split(" — ")[0] for o in choice.options] == ["clip-ViT-B-32", "imgsearch-mini",
                                                            "A model directory on the server"]
    assert choice.value == "clip-ViT-B-32"
    assert "adm_model_path" not in [t.key for t in at.text_input]
    choice.set_value("local")
    run(at)
    assert at.text_input(key="adm_model_path").value == ""


@pytest.mark.parametrize(("model", "words"), [
    ("clip-ViT-B-32", "'clip-ViT-B-32' is not in the local Hugging Face cache and the model hub cannot be reached"),
    (Path("/nowhere/my-clip"), "Model directory '/nowhere/my-clip' does not exist."),
    ("images", "Could not load the model in"),  # a directory, but no model in it
])
def test_a_model_that_cannot_be_loaded_is_a_clear_error(store_dir, image_folder, model, words):
    at = admin()
    folder_source(at, image_folder)
    new_collection(at, "holiday", image_folder if model == "images" else model)
    start_ingest(at)
    assert words in " ".join(texts(at.error)), texts(at.error)
    assert not at.get("progress") and not at.success
    assert open_store().collection_names() == []


def test_progress_shows_counts_rate_and_time_left(store_dir, tiny_model_dir, monkeypatch, tmp_path):
    from imgsearch_core.display import formatting

    monkeypatch.setenv("IMGSEARCH_BATCH_SIZE", "2")  # three batches, so two updates still have time left
    shown: list[str] = []
    real = formatting.progress_text

    def recording(*args):
        shown.append(real(*args))
        return shown[-1]

    monkeypatch.setattr(formatting, "progress_text", recording)
    write_images(tmp_path / "six", 6)
    at = admin()
    folder_source(at, tmp_path / "six")
    new_collection(at, "six", tiny_model_dir)
    start_ingest(at)
    assert shown[0].startswith("2 of 6 images · ") and " images/s · about " in shown[0] and shown[0].endswith(" left")
    assert shown[1].startswith("4 of 6 images · ")
    assert shown[-1].startswith("6 of 6 images · ") and shown[-1].endswith(" images/s")
    assert re.search(r"6 added, 0 already stored, 0 problems in [\d.]+ s \([\d.]+ images/s\)", at.success[0].value)


def test_the_report_lists_every_file_that_was_skipped(store_dir, tiny_model_dir, tmp_path):
    folder = tmp_path / "mixed"
    write_images(folder, 4)
    (folder / "broken.png").write_bytes(image_bytes(9)[:60])
    (folder / "manual.pdf").write_bytes(b"%PDF-1.4 not a picture")
    (folder / "fake.jpg").write_bytes(b"%PDF-1.4 a PDF under an image name")
    at = admin()
    folder_source(at, folder)
    new_collection(at, "mixed", tiny_model_dir)
    start_ingest(at)
    assert open_store().open("mixed").count() == 4
    assert "4 added, 0 already stored, 3 problems" in at.warning[-1].value
    rows = problem_rows(at)
    assert set(rows) == {"broken.png", "(other files)", "fake.jpg"}  # a file that is no image: counted, not named
    assert "truncated" in rows["broken.png"]
    assert rows["(other files)"] == "1 file that is not an image was skipped"
    assert "PDF" in rows["fake.jpg"]


# ----- stats --------------------------------------------------------------------------------------
def test_stats_show_items_model_dimension_disk_size_and_captioned_share(filled_store, tiny_embedder, tiny_model_dir,
                                                                        tmp_path):
    from imgsearch_core.display.formatting import format_bytes

    fill(filled_store, tiny_embedder, write_images(tmp_path / "bare", 10, start=300, sidecars=False)[0].parent)
    at = admin()
    shown = metrics(at)
    disk = open_store().open("photos").disk_size()
    media = sum(p.stat().st_size for p in (filled_store.media_root / "photos").rglob("*") if p.is_file())
    assert disk > media > 0
    assert shown == {"Collection": "photos", "Items": "40", "Model": tiny_model_dir.name, "Dimension": "16",
                     "Disk size": format_bytes(disk), "Captioned": "75%"}
    table = next(d.value for d in at.dataframe if "collection" in d.value.columns)
    assert table.to_dict("records") == [{"collection": "photos", "items": 40, "model": tiny_model_dir.name,
                                         "dim": 16, "captioned": "75%", "disk": format_bytes(disk)}]


# ----- deleting -----------------------------------------------------------------------------------
def test_selected_items_are_deleted_with_their_media_and_keywords(filled_store):
    at = admin()
    boxes = [c.key for c in at.checkbox if c.key.startswith("adm_sel_")]
    assert len(boxes) == 24  # first browse page
    chosen = [at.checkbox(key=boxes[n]).help for n in (0, 5)]
    media = {i.id: i.media_path for i in filled_store.open("photos").get(chosen)}
    for n in (0, 5):
        at.checkbox(key=boxes[n]).check()
        run(at)
    assert at.button(key="adm_delete_items").label == "Delete 2 selected"
    at.button(key="adm_delete_items").click()
    run(at)
    collection = open_store().open("photos")
    assert collection.count() == 28 and not collection.existing_ids(chosen)
    assert not any(path.exists() for path in media.values())
    index = collection.bm25()
    assert len(index) == 28 and not any(i in index for i in chosen)
    assert "Deleted 2 item(s) from photos." in texts(at.success)
    assert at.button(key="adm_delete_items").label == "Delete 0 selected"
    assert not any(c.value for c in at.checkbox if c.key.startswith("adm_sel_"))
    assert metrics(at)["Items"] == "28"


def browse_status(at) -> str:
    return next(m for m in texts(at.markdown) if m.startswith("Page **"))


def test_the_selection_spans_the_browse_pages(filled_store):
    at = admin()
    first = [c.key for c in at.checkbox if c.key.startswith("adm_sel_")]
    assert len(first) == 24 and browse_status(at) == "Page **1** of 2 · results 1–24 of 30"
    at.checkbox(key=first[3]).check()
    run(at)
    at.button(key="adm_browse_page_next").click()
    run(at)
    second = [c.key for c in at.checkbox if c.key.startswith("adm_sel_")]
    assert len(second) == 6 and browse_status(at) == "Page **2** of 2 · results 25–30 of 30"
    assert at.button(key="adm_browse_page_next").disabled
    at.checkbox(key=second[0]).check()
    run(at)
    assert at.button(key="adm_delete_items").label == "Delete 2 selected"
    at.button(key="adm_delete_items").click()
    run(at)
    assert open_store().open("photos").count() == 28
    assert browse_status(at) == "Page **2** of 2 · results 25–28 of 28"


def test_a_collection_is_deleted_only_after_its_name_is_typed(filled_store, tiny_embedder, tmp_path):
    fill(filled_store, tiny_embedder, write_images(tmp_path / "more", 4, start=500)[0].parent, name="archive")
    at = admin()
    at.selectbox(key="adm_delete_target").set_value("photos")
    for wrong in ("photo", "PHOTOS", "archive"):
        at.text_input(key="adm_delete_confirm").set_value(wrong)
        run(at)
        assert at.button(key="adm_delete_collection").disabled, wrong
    at.text_input(key="adm_delete_confirm").set_value("photos")
    at.selectbox(key="adm_delete_target").set_value("archive")  # the name typed is not the chosen collection
    run(at)
    assert at.button(key="adm_delete_collection").disabled
    assert open_store().collection_names() == ["archive", "photos"]
    at.selectbox(key="adm_delete_target").set_value("photos")
    run(at)
    at.text_input(key="adm_delete_confirm").set_value("photo")  # edited while clicking: one rerun gets both
    at.button(key="adm_delete_collection").click()
    run(at)
    assert open_store().collection_names() == ["archive", "photos"]
    at.text_input(key="adm_delete_confirm").set_value("photos")
    run(at)
    at.button(key="adm_delete_collection").click()
    run(at)
    store = open_store()
    assert store.collection_names() == ["archive"] and store.open("archive").count() == 4
    assert not (store.media_root / "photos").exists() and not (store.index_root / "photos").exists()
    assert "Deleted collection photos." in texts(at.success)
    assert metrics(at)["Collection"] == "archive"
    assert at.selectbox(key="adm_delete_target").options == ["archive"]
    assert at.text_input(key="adm_delete_confirm").value == ""


def test_the_demo_collection_loads_from_the_admin_page(store_dir, tiny_embedder, image_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "imgsearch_core.demo.collection", fake_demo_module(tiny_embedder, image_folder))
    at = admin()
    button(at, "Load the demo collection").click()
    run(at)
    assert at.title[0].value == "Admin"
    assert "Demo collection ready: 30 added" in at.success[0].value
    assert open_store().open("demo").count() == 30
    assert metrics(at)["Collection"] == "demo"
    button(at, "Load the demo collection").click()  # again: only what is missing is added
    run(at)
    assert "Demo collection ready: 0 added, 30 already stored" in at.success[0].value
    assert open_store().open("demo").count() == 30


# ----- password gate ------------------------------------------------------------------------------
def locked(at) -> bool:
    """Only the password form: no tabs, no stats, no widget but the password field and its button."""
    return (not at.tabs and not at.metric and not at.dataframe and not at.file_uploader
            and [t.key for t in at.text_input] == ["admin_login_password_input"]
            and [b.label for b in at.main.button] == ["Unlock"])


def unlock(at, password: str):
    at.text_input(key="admin_login_password_input").set_value(password)
    at.get("form_submit_button")[0].click()
    return run(at)


@pytest.mark.parametrize("where", ["env", "secrets"])
def test_a_password_hides_the_page_until_it_is_given(filled_store, monkeypatch, where):
    secrets = None
    if where == "env":
        monkeypatch.setenv("IMGSEARCH_ADMIN_PASSWORD", PASSWORD)
    else:
        secrets = {"admin_password": PASSWORD}
    at = admin(secrets)
    assert locked(at) and not at.error
    unlock(at, "wrong guess")
    assert locked(at) and "Wrong password." in texts(at.error)
    unlock(at, PASSWORD)
    assert not at.error and at.tabs and metrics(at)["Items"] == "30"
    assert not any("open" in w for w in texts(at.warning))


def test_without_a_password_the_page_says_it_is_open(filled_store):
    at = admin()
    assert any("Admin page is **open**" in w for w in texts(at.warning))
    assert at.tabs and not at.get("form_submit_button")


# ----- bad input ----------------------------------------------------------------------------------
def broken_zip(at, tmp_path):
    source(at, "zip")
    truncated = make_zip({"a.png": image_bytes(1)})[:50]
    at.file_uploader(key="adm_zip").set_value(("photos.zip", truncated, "application/zip"))
    return run(at)


def pixel_bomb(at, tmp_path):
    source(at, "files")
    at.file_uploader(key="adm_files").set_value([("bomb.png", pixel_bomb_png(), "image/png")])
    return run(at)


def bad_captions(at, tmp_path):
    source(at, "files")
    at.file_uploader(key="adm_files").set_value([("one.png", image_bytes(400), "image/png")])
    at.file_uploader(key="adm_captions").set_value(("captions.csv", b"file_name,size\none.png,3\n", "text/csv"))
    return run(at)


def empty_folder(at, tmp_path):
    (tmp_path / "empty").mkdir()
    return folder_source(at, tmp_path / "empty")


def missing_folder(at, tmp_path):
    return folder_source(at, tmp_path / "nowhere")


@pytest.mark.parametrize(("choose", "words", "skipped"), [
    (broken_zip, "photos.zip: not a readable zip archive", {}),
    (pixel_bomb, "No image could be stored (1 file skipped, see below).",
     {"bomb.png": "image declares 900,000,000 pixels, over the limit of 80,000,000"}),
    (bad_captions, "captions.csv: No caption column found; expected one of caption, text", {}),
    (empty_folder, "No images found in the chosen source.", {}),
    (missing_folder, "nowhere' is not a folder, a zip file or an image file.", {}),
])
@pytest.mark.parametrize("target", ["new", "existing"])
def test_bad_input_is_a_clear_error_and_changes_nothing(filled_store, tiny_model_dir, tmp_path, choose, words, skipped,
                                                        target):
    before = snapshot(filled_store)
    at = admin()
    choose(at, tmp_path)
    if target == "new":
        new_collection(at, "fresh", tiny_model_dir)
    start_ingest(at)
    assert any(words in e for e in texts(at.error)), texts(at.error)
    assert not at.success and not at.get("progress")
    if skipped:
        assert problem_rows(at) == skipped
    assert snapshot(open_store()) == before


def test_a_blank_folder_path_cannot_start_an_ingest(filled_store):
    at = admin()
    folder_source(at, "   ")
    assert at.button(key="adm_start").disabled
    assert "Choose a source and a target collection to start." in texts(at.caption)


def test_a_collection_is_embedded_again_into_a_new_one(filled_store):
    at = admin()
    at.selectbox(key="adm_reembed_source").set_value("photos")
    at.text_input(key="adm_reembed_target").set_value("photos")  # an existing name is refused
    run(at)
    at.button(key="adm_reembed").click()
    run(at)
    assert any("exists already" in e for e in texts(at.error)) and open_store().collection_names() == ["photos"]
    at.text_input(key="adm_reembed_target").set_value("photos-renewed")
    run(at)
    at.button(key="adm_reembed").click()
    run(at)
    store = open_store()
    assert store.collection_names() == ["photos", "photos-renewed"]
    old, new = store.open("photos"), store.open("photos-renewed")
    assert new.count() == old.count() and new.model.fingerprint == old.model.fingerprint
    assert sorted(i.caption for i in new.all_items()) == sorted(i.caption for i in old.all_items())
    assert all(i.media_path.is_file() for i in new.all_items())
