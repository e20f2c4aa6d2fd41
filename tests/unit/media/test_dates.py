"""Dates taken as precise as the file said, on files exiftool wrote: a time without an offset stays a
wall-clock time (never "+00:00"), a date-only IPTC date stays a date, one display format, and the
filter twin of an offset-less time is its wall clock read as UTC."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from imgsearch_core.display.formatting import format_date_taken
from imgsearch_core.display.item_facts import detail_facts, metadata_rows
from imgsearch_core.media.dates import parse_taken, shown_taken, taken_epoch, taken_text
from imgsearch_core.media.embedded_metadata import read_embedded
from imgsearch_core.media.item_metadata import normalise_extra
from tests.metadata_fixtures import editorial_photo, exiftool_write, picture


def stored(path) -> dict:
    return read_embedded(path.read_bytes()).as_metadata()


def utc_epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_an_exif_time_without_an_offset_stays_a_local_time(tmp_path, suffix):
    path = exiftool_write(picture(tmp_path / f"local{suffix}", 1), "-EXIF:DateTimeOriginal=2019:07:08 23:10:11")
    meta = stored(path)
    assert meta["date_taken"] == "2019-07-08T23:10:11"  # no "+00:00": the file never said
    assert meta["date_taken_ts"] == utc_epoch(2019, 7, 8, 23, 10, 11)  # its wall clock, read as UTC
    assert format_date_taken(meta["date_taken"]) == "2019-07-08 23:10"


def test_an_exif_time_with_an_offset_keeps_it_and_is_its_true_instant(tmp_path):
    path = exiftool_write(picture(tmp_path / "zoned.jpg", 2), "-EXIF:DateTimeOriginal=2019:07:08 01:10:11",
                          "-EXIF:OffsetTimeOriginal=+02:00")
    meta = stored(path)
    assert meta["date_taken"] == "2019-07-08T01:10:11+02:00"
    assert meta["date_taken_ts"] == utc_epoch(2019, 7, 7, 23, 10, 11)
    assert format_date_taken(meta["date_taken"]) == "2019-07-08 01:10 +02:00"


def test_an_iptc_date_without_a_time_is_a_date(tmp_path):
    meta = stored(editorial_photo(tmp_path / "day.jpg", 3, date="2021:05:17"))
    assert meta["date_taken"] == "2021-05-17" and meta["date_taken_ts"] == utc_epoch(2021, 5, 17)
    assert format_date_taken(meta["date_taken"]) == "2021-05-17"


def test_an_iptc_date_and_time_with_a_zone(tmp_path):
    meta = stored(editorial_photo(tmp_path / "iptc.jpg", 4, date="2021:05:17", time="14:03:00-05:00"))
    assert meta["date_taken"] == "2021-05-17T14:03:00-05:00"
    assert format_date_taken(meta["date_taken"]) == "2021-05-17 14:03 -05:00"


def test_an_xmp_time_without_a_zone_and_an_xmp_year(tmp_path):
    local = exiftool_write(picture(tmp_path / "xmp.jpg", 5), "-XMP-photoshop:DateCreated=2021-03-04T05:06:07")
    assert stored(local)["date_taken"] == "2021-03-04T05:06:07"
    year = exiftool_write(picture(tmp_path / "year.jpg", 6), "-XMP-photoshop:DateCreated=2021")
    assert stored(year)["date_taken"] == "2021-01-01"


def test_a_caption_file_date_cell_gets_the_same_twin():
    assert normalise_extra({"date_taken": " 2020-12-31T23:00 "}) == {
        "date_taken": "2020-12-31T23:00", "date_taken_ts": utc_epoch(2020, 12, 31, 23)}
    assert normalise_extra({"date_taken": "last summer"}) == {"date_taken": "last summer"}  # no twin, kept as text


@pytest.mark.parametrize("value", [
    date(2024, 5, 17), datetime(2024, 5, 17, 14, 3, 9), datetime(2024, 5, 17, 14, 3, 9, tzinfo=timezone(timedelta(hours=2))),
    datetime(2024, 5, 17, 14, 3, 9, tzinfo=timezone(-timedelta(hours=9, minutes=30))),
])
def test_stored_text_round_trips(value):
    assert parse_taken(taken_text(value)) == value and type(parse_taken(taken_text(value))) is type(value)
    assert taken_epoch(parse_taken(taken_text(value))) == taken_epoch(value)


def test_one_display_format_and_old_stored_values_still_read():
    assert shown_taken(datetime(2024, 5, 17, 14, 3, tzinfo=timezone(-timedelta(hours=9, minutes=30)))) == \
        "2024-05-17 14:03 -09:30"
    assert format_date_taken("2021-05-17T14:03:00+00:00") == "2021-05-17 14:03 +00:00"  # written before: as stored
    assert format_date_taken("2021-05-17T14:03:00Z") == "2021-05-17 14:03 +00:00"
    assert format_date_taken("2021-05") == "2021-05-01"
    assert format_date_taken("spring 2021") == "spring 2021"  # a caption-file cell that is no date
    metadata = {"date_taken": "2019-07-08T23:10:11", "date_taken_ts": utc_epoch(2019, 7, 8, 23, 10, 11)}
    assert {r["field"]: r["value"] for r in metadata_rows(metadata)}["date_taken"] == "2019-07-08 23:10"
    assert [f.value for f in detail_facts(metadata)] == ["2019-07-08 23:10"]

