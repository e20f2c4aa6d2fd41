"""Admin's ingest report: the duplicates are named with the stored item they match, a re-ingest that
embedded nothing shows no rate, and a problem's text does not repeat the file name."""
from __future__ import annotations

from tests.app.test_admin import admin, folder_source, new_collection, open_store, problem_rows, start_ingest
from tests.helpers import image_bytes, write_images


def duplicate_rows(at) -> dict[str, str]:
    tables = [d.value for d in at.dataframe if list(d.value.columns) == ["file", "same content as"]]
    assert len(tables) == 1, [list(d.value.columns) for d in at.dataframe]
    return dict(zip(tables[0]["file"], tables[0]["same content as"]))


def test_the_report_names_duplicates_and_a_noop_reingest_has_no_rate(store_dir, tiny_model_dir, tmp_path):
    folder = tmp_path / "mixed"
    write_images(folder, 3)
    (folder / "zz_copy.png").write_bytes(image_bytes(0))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    at = admin()
    folder_source(at, folder)
    new_collection(at, "mixed", tiny_model_dir)
    start_ingest(at)
    first = at.warning[-1].value
    assert "3 added, 1 already stored, 1 problems in " in first and " images/s)" in first
    original = next(i for i in open_store().open("mixed").all_items() if i.metadata["file_name"] == "img_0000.png")
    assert duplicate_rows(at) == {"zz_copy.png": f"img_0000.png (id {original.id[:12]})"}
    rows = problem_rows(at)
    assert list(rows) == ["broken.png"] and rows["broken.png"] and "broken.png" not in rows["broken.png"]

    assert at.radio(key="adm_target").value == "existing"
    start_ingest(at)  # the same folder again: nothing to embed
    again = at.warning[-1].value
    assert "0 added, 4 already stored, 1 problems in " in again and "images/s" not in again, again
    assert sorted(duplicate_rows(at)) == ["img_0000.png", "img_0001.png", "img_0002.png", "zz_copy.png"]
    assert duplicate_rows(at)["zz_copy.png"].startswith("img_0000.png (id ")
