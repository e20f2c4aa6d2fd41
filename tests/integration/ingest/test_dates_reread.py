"""Stores ingested before dates kept their precision hold an offset-less time as "+00:00": it still shows
as stored, and Re-read embedded metadata writes the local time back."""
from __future__ import annotations

from datetime import datetime, timezone

from imgsearch_core.display.formatting import format_date_taken
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.ingest.reread import reread_metadata
from tests.metadata_fixtures import exiftool_write, picture


def test_an_old_store_value_shows_as_stored_and_a_reread_restores_the_local_time(store, tiny_embedder, tmp_path):
    folder = tmp_path / "old"
    exiftool_write(picture(folder / "local.jpg", 9), "-EXIF:DateTimeOriginal=2019:07:08 23:10:11")
    items, problems = collect(folder)
    ingest(store, "old", tiny_embedder, items, problems=problems)
    collection = store.open("old")
    [item] = collection.all_items()
    collection.update_items([(item.id, item.caption, {"date_taken": "2019-07-08T23:10:11+00:00"})])  # as before
    [old] = collection.all_items()
    assert format_date_taken(old.metadata["date_taken"]) == "2019-07-08 23:10 +00:00"
    items, problems = collect(folder)
    reread_metadata(store, "old", items, problems=problems)
    [fixed] = store.open("old").all_items()
    assert fixed.metadata["date_taken"] == "2019-07-08T23:10:11"
    assert fixed.metadata["date_taken_ts"] == int(datetime(2019, 7, 8, 23, 10, 11, tzinfo=timezone.utc).timestamp())
