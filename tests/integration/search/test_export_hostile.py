"""Captions and credits a spreadsheet would run as formulas leave through every export as inert text.

The escaping itself is unit-tested on `to_csv`; these tests send hostile cells through the two ways a user
actually gets a file: the command line's `search --export FILE.csv` and the Text search page's CSV download
(a real Streamlit AppTest run). Each cell must come back with the leading quote that stops a spreadsheet
from evaluating it, and the JSON export must keep the text as it was stored.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from imgsearch_core.display.filenames import export_stem
from tests.app.conftest import downloads, navigation_only, start, store_dir, submit_query  # noqa: F401 - fixtures
from tests.helpers import write_images
from tests.integration.cli.test_cli import cli

# file name -> (caption, credit): each one starts with a character that makes a spreadsheet cell a formula
HOSTILE = {
    "img_0000.png": ('=HYPERLINK("http://x")', "=1+2"),
    "img_0001.png": ("+1", "+A1"),
    "img_0002.png": ("-2", "-A1"),
    "img_0003.png": ("@SUM(A1)", "@cmd"),
}


@pytest.fixture
def hostile_store(store_dir, tmp_path, tiny_embedder) -> Path:  # noqa: F811 - store_dir is a fixture
    """The app's store (IMGSEARCH_STORE) with collection 'photos': four pictures with hostile captions and credits."""
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    folder = tmp_path / "hostile"
    write_images(folder, len(HOSTILE), sidecars=False)
    with (folder / "captions.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["file_name", "caption", "credit"])
        writer.writerows([name, caption, credit] for name, (caption, credit) in HOSTILE.items())
    items, problems = collect(folder)
    assert not problems, problems
    report = ingest(Store(Settings.from_env()), "photos", tiny_embedder, items)
    assert report.added == len(HOSTILE)
    return store_dir


def assert_neutralised(csv_bytes: bytes) -> None:
    """Every hostile caption and credit is in the CSV with a leading quote, once per picture."""
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    assert sorted(r["file_name"] for r in rows) == sorted(HOSTILE)
    for row in rows:
        caption, credit = HOSTILE[row["file_name"]]
        assert (row["caption"], row["credit"]) == ("'" + caption, "'" + credit), row


def test_cli_export_neutralises_formula_cells(hostile_store, tmp_path):
    target, raw = tmp_path / "hits.csv", tmp_path / "hits.json"
    for path in (target, raw):
        done = cli("search", "harbour", "--collection", "photos", "--mode", "vector", "--k", "10", "--export",
                   str(path), store=hostile_store)
        assert done.returncode == 0, done.stderr
    assert_neutralised(target.read_bytes())
    assert {r["file_name"]: (r["caption"], r["credit"]) for r in json.loads(raw.read_text())} == HOSTILE


def test_app_csv_download_neutralises_formula_cells(hostile_store, downloads):  # noqa: F811 - fixture
    at = submit_query(start(), "harbour")
    assert len([b for b in at.button if b.key and b.key.startswith("ts_similar_")]) == len(HOSTILE)
    files = {name: data for name, _, data in downloads}
    exported = export_stem("photos", "harbour", date.today())  # the downloads' name: collection, query, day
    assert_neutralised(files[f"{exported}.csv"])
    assert {r["file_name"]: (r["caption"], r["credit"]) for r in json.loads(files[f"{exported}.json"])} == HOSTILE
