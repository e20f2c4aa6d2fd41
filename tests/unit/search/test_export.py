"""Export of hits: columns and order, CSV escaping and formula neutralising, non-ASCII, JSON, sorting."""
import csv
import io
import json
from pathlib import Path

import pytest

from imgsearch_core.search.export import COLUMNS, ExportError, export_format, export_rows, sort_hits, to_csv, to_json
from imgsearch_core.search.engine import Hit


def hit(rank: int, taken: int | None = None, caption: str = "a caption", bm25: float | None = 1.5, **meta) -> Hit:
    metadata = dict(meta)
    if taken is not None:
        metadata["date_taken_ts"] = taken
    return Hit(rank, f"id{rank}", caption, Path(f"/m/{rank}.jpg"), metadata, score=1.0 / rank, bm25=bm25,
               bm25_norm=0.5, cosine=-0.25, cosine_norm=0.0)


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the file as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_rows_have_the_columns_in_order_and_empty_cells_when_absent():
    full = hit(1, file_name="a.jpg", credit="Reuters", creator="Ann", copyright="(c) Ann", date_taken="2020-05-17",
               keywords=["harbour", "boat"], city="Kiel", country="Germany")
    rows = export_rows([full, hit(2, bm25=None)])
    assert list(rows[0]) == list(COLUMNS) == [
        "rank", "file_name", "caption", "machine_caption", "ocr_text", "credit", "creator", "copyright", "date_taken", "keywords", "city", "country",
        "id", "score", "bm25", "bm25_norm", "cosine", "cosine_norm",
    ]
    assert rows[0]["keywords"] == "harbour; boat" and rows[0]["credit"] == "Reuters" and rows[0]["rank"] == 1
    assert rows[0]["score"] == 1.0 and rows[0]["cosine"] == -0.25
    assert rows[1]["credit"] == "" and rows[1]["keywords"] == "" and rows[1]["bm25"] is None
    assert read_csv(to_csv([hit(2, bm25=None)]))[0]["bm25"] == ""


def test_csv_quotes_commas_quotes_and_newlines_and_keeps_non_ascii():
    caption = 'Straße, "Brücke" am Fluss\nzweite Zeile; café'
    data = to_csv([hit(1, caption=caption, credit="Müller, Jörg", city="Zürich")])
    row = read_csv(data)[0]
    assert row["caption"] == caption and row["credit"] == "Müller, Jörg" and row["city"] == "Zürich"
    assert list(row) == list(COLUMNS)


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_neutralises_text_cells_that_start_a_formula(dangerous):
    row = read_csv(to_csv([hit(1, caption=dangerous, credit=dangerous)]))[0]
    assert row["caption"] == "'" + dangerous and row["credit"] == "'" + dangerous
    assert json.loads(to_json([hit(1, caption=dangerous)]))[0]["caption"] == dangerous  # JSON is data, not a sheet


def test_csv_numbers_stay_numbers_even_when_negative():
    row = read_csv(to_csv([hit(3)]))[0]
    assert row["cosine"] == "-0.25" and float(row["score"]) == pytest.approx(1 / 3) and row["rank"] == "3"
    assert row["caption"] == "a caption"


def test_json_is_a_list_of_objects_with_non_ascii_kept():
    data = to_json([hit(1, caption="Fähre über die Förde", keywords=["Hafen"]), hit(2)])
    assert "Fähre über die Förde".encode() in data
    document = json.loads(data)
    assert isinstance(document, list) and [list(row) for row in document] == [list(COLUMNS)] * 2
    assert document[0]["keywords"] == "Hafen" and document[0]["bm25"] == 1.5 and document[1]["credit"] == ""


def test_sort_by_date_newest_first_missing_last_ties_by_relevance():
    hits = [hit(1, taken=100), hit(2), hit(3, taken=300), hit(4, taken=100), hit(5), hit(6, taken=200)]
    assert [h.rank for h in sort_hits(hits, "date")] == [3, 6, 1, 4, 2, 5]
    assert [h.rank for h in sort_hits(hits, "date_asc")] == [1, 4, 6, 3, 2, 5]
    assert sort_hits(hits, "relevance") == hits and sort_hits(hits, "date") is not hits
    not_a_date = hit(7, date_taken_ts="2020")  # only an epoch number counts as a date
    assert sort_hits([not_a_date, hit(8, taken=1)], "date")[0].rank == 8
    with pytest.raises(ExportError, match="Unknown sort 'size'"):
        sort_hits(hits, "size")


def test_export_format_by_extension():
    assert export_format(Path("x/hits.CSV")) == ".csv" and export_format(Path("hits.json")) == ".json"
    for bad in ("hits.xlsx", "hits"):
        with pytest.raises(ExportError, match="must end in .csv or .json"):
            export_format(Path(bad))


def test_machine_caption_and_text_in_the_picture_are_exported_literally_in_their_own_columns():
    hostile = '=HYPERLINK("http://x","y")'
    row = read_csv(to_csv([hit(1, caption="", machine_caption="a red picture", ocr_text=hostile)]))[0]
    assert row["caption"] == "" and row["machine_caption"] == "a red picture" and row["ocr_text"] == "'" + hostile
    document = json.loads(to_json([hit(1, machine_caption="**bold** <b>x</b>", ocr_text="Köln")]))[0]
    assert (document["machine_caption"], document["ocr_text"]) == ("**bold** <b>x</b>", "Köln")
