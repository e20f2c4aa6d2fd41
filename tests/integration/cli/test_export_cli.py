"""`search`/`similar --sort date --export FILE` as a script runs them: the file holds the printed hits."""
import csv
import io
import json

from tests.integration.cli.test_cli import cli
from tests.integration.search.test_filters_store import ITEMS, collection  # noqa: F401 - the fixture


def taken(index: int) -> str:
    return ITEMS[index][1] or ""


def test_search_sort_date_and_export_csv_and_json(collection, settings, tmp_path):  # noqa: F811
    out_csv, out_json = tmp_path / "hits.csv", tmp_path / "hits.json"
    args = ("search", "harbour", "--mode", "vector", "--k", "100", "--sort", "date", "--json")
    done = cli(*args, "--export", str(out_csv), store=settings.store_dir)
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert len(hits) == len(ITEMS)
    dates = [h["metadata"].get("date_taken_ts") for h in hits]
    dated = [d for d in dates if d is not None]
    assert dated == sorted(dated, reverse=True) and dates[len(dated):] == [None] * (len(hits) - len(dated))
    assert sorted(h["rank"] for h in hits) == list(range(1, len(hits) + 1))  # relevance ranks are kept

    rows = list(csv.DictReader(io.StringIO(out_csv.read_bytes().decode("utf-8-sig"), newline="")))
    assert [r["id"] for r in rows] == [h["id"] for h in hits]
    assert [r["rank"] for r in rows] == [str(h["rank"]) for h in hits]
    by_id = {r["id"]: r for r in rows}
    assert by_id["04" * 32]["credit"] == "Smith, J." and by_id["00" * 32]["keywords"] == "Harbour; Boat"
    assert by_id["00" * 32]["date_taken"] == taken(0) and by_id["04" * 32]["date_taken"] == ""

    relevance = cli(*args[:-3], "--json", "--export", str(out_json), store=settings.store_dir)
    assert relevance.returncode == 0, relevance.stderr
    exported = json.loads(out_json.read_text(encoding="utf-8"))
    assert [r["rank"] for r in exported] == list(range(1, len(ITEMS) + 1))
    assert {r["id"] for r in exported} == {h["id"] for h in hits}


def test_similar_exports_and_a_bad_extension_writes_nothing(collection, settings, tmp_path):  # noqa: F811
    out = tmp_path / "similar.json"
    done = cli("similar", "--id", "00" * 32, "--k", "3", "--sort", "date", "--export", str(out), store=settings.store_dir)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 3
    bad = cli("search", "harbour", "--export", str(tmp_path / "hits.xlsx"), store=settings.store_dir)
    assert bad.returncode == 2 and "must end in .csv or .json" in bad.stderr
    assert not (tmp_path / "hits.xlsx").exists()
