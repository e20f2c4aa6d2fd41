"""Dates taken in the app, from files exiftool wrote: sorted by date, each card says its date in the one
format; the CSV export keeps an offset-less time without an offset and a date as a date."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

from imgsearch_core.display.filenames import export_stem
from tests.app.conftest import fill, hit_ids, run, start, submit_query, texts
from tests.metadata_fixtures import editorial_photo, exiftool_write, picture

# file name -> (how exiftool writes it, what the card shows, what the CSV holds)
DATED = {
    "local.jpg": (["-EXIF:DateTimeOriginal=2019:07:08 23:10:11"], "2019-07-08 23:10", "2019-07-08T23:10:11"),
    "zoned.jpg": (["-EXIF:DateTimeOriginal=2021:03:04 05:06:07", "-EXIF:OffsetTimeOriginal=+02:00"],
                  "2021-03-04 05:06 +02:00", "2021-03-04T05:06:07+02:00"),
}


def dated_folder(folder):
    for index, (name, (tags, _, _)) in enumerate(DATED.items()):
        exiftool_write(picture(folder / name, index), "-EXIF:ImageDescription=a harbour scene", *tags)
    editorial_photo(folder / "day.jpg", 7, caption="a harbour scene", date="2020:05:17")
    return folder


def test_cards_sorted_by_date_show_it_and_the_export_keeps_its_precision(store_dir, tiny_embedder, tmp_path,
                                                                          downloads):
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    store = Store(Settings.from_env())
    fill(store, tiny_embedder, dated_folder(tmp_path / "dated"))
    names = {item.id: item.metadata["file_name"] for item in store.open("photos").all_items()}
    at = submit_query(start(), "harbour scene")
    assert not [c for c in texts(at.caption) if c.startswith(":material/event:")]  # by relevance: no date line
    at.selectbox(key="ts_sort").set_value("date")
    run(at)
    assert [names[i] for i in hit_ids(at)] == ["zoned.jpg", "day.jpg", "local.jpg"]
    shown = [re.sub(r"\\(.)", r"\1", c.removeprefix(":material/event: "))  # as rendered: escapes undone
             for c in texts(at.caption) if c.startswith(":material/event:")]
    assert shown == ["2021-03-04 05:06 +02:00", "2020-05-17", "2019-07-08 23:10"]
    csv_data = {name: data for name, _, data in downloads}[f"{export_stem('photos', 'harbour scene', date.today())}.csv"]
    rows = {r["file_name"]: r["date_taken"] for r in csv.DictReader(io.StringIO(csv_data.decode("utf-8-sig")))}
    assert rows == {**{name: stored for name, (_, _, stored) in DATED.items()}, "day.jpg": "2020-05-17"}
