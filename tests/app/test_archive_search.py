"""Search an editorial archive: filter widgets built from the collection's IPTC fields, sort by date,
CSV/JSON export, the detail view's prominent fields, collapsing near-duplicates, no re-embedding on reruns."""
from __future__ import annotations

import csv
import io
import json
from datetime import date

from imgsearch_core.display.filenames import export_stem
from tests.app.archive import ARCHIVE, COPY_NAME, COPYRIGHT, archive_ids
from tests.app.conftest import hit_ids, run, start, submit_query, texts

QUERY = "harbour"  # hybrid: the vector side reaches every picture the filter lets through
EXPORTED = export_stem("photos", QUERY, date.today())  # the downloads' name: collection, query, day
ALL = len(ARCHIVE) + 1


def fields_by_id(store) -> dict[str, dict]:
    collection = store.open("photos")
    return {item.id: item.metadata for item in collection.all_items()}


def names(at, store, prefix: str = "ts") -> list[str]:
    meta = fields_by_id(store)
    return [meta[i]["file_name"] for i in hit_ids(at, prefix)]


def searched(k: int = 12):
    at = start()
    at.selectbox(key="ts_k").set_value(k)
    return submit_query(at, QUERY)


def test_filter_options_and_counts_come_from_the_collection(archive_store):
    at = searched()
    assert at.multiselect(key="ts_f_credit").options == ["Reuters (4)", "AP (2)", "dpa (2)"]
    assert at.multiselect(key="ts_f_creator").options == ["Jane Doe (3)", "John Roe (2)", "Max Mustermann (2)"]
    keywords = at.multiselect(key="ts_f_keywords").options
    assert keywords[:3] == ["harbour (3)", "boat (3)", "city (2)"] or keywords[:2] == ["boat (3)", "harbour (3)"]
    assert set(keywords) == {"boat (3)", "harbour (3)", "city (2)", "mountain (2)", "street (1)", "snow (1)"}
    dates = at.date_input(key="ts_f_dates")
    assert (dates.min, dates.max) == (date(2017, 8, 8), date(2023, 2, 10))
    assert dates.value == (date(2017, 8, 8), date(2023, 2, 10))
    assert [c.label for c in at.checkbox if c.key == "ts_f_uncaptioned"] == ["Only uncaptioned (2)"]
    assert len(hit_ids(at)) == ALL  # the full date span keeps the undated picture too


def test_controls_without_values_are_not_shown(filled_store):
    at = searched()
    assert not at.multiselect and not at.date_input
    assert "ts_f_uncaptioned" not in [c.key for c in at.checkbox]
    assert "ts_sort" not in [s.key for s in at.selectbox]  # nothing carries a date: relevance only
    assert sorted(t.key for t in at.toggle) == ["ts_collapse", "ts_cutoff"]  # these two do not depend on fields


def test_choosing_a_credit_filters_the_results_and_ands_with_the_typed_filter(archive_store, embed_calls):
    at = searched()
    before = embed_calls["embed_texts"]
    at.multiselect(key="ts_f_credit").set_value(["Reuters"])
    run(at)
    meta = fields_by_id(archive_store)
    shown = hit_ids(at)
    assert sorted(meta[i]["file_name"] for i in shown) == sorted(["harbour.jpg", "ship.jpg", "street.jpg", COPY_NAME])
    assert embed_calls["embed_texts"] == before + 1  # a new filter fetches new candidates once
    at.select_slider(key="ts_alpha").set_value(0.8)  # the slider only re-ranks
    run(at)
    assert embed_calls["embed_texts"] == before + 1
    assert any("re-ranked in" in m for m in texts(at.markdown))
    at.multiselect(key="ts_f_credit").set_value(["Reuters", "AP"])
    run(at)
    assert {meta[i]["credit"] for i in hit_ids(at)} == {"Reuters", "AP"} and len(hit_ids(at)) == 6
    at.text_input(key="ts_where").set_value("creator = John Roe")  # typed filter AND widgets
    run(at)
    assert sorted(names(at, archive_store)) == ["peak.jpg", "square.jpg"]
    at.multiselect(key="ts_f_keywords").set_value(["mountain"])
    run(at)
    assert names(at, archive_store) == ["peak.jpg"]


def test_date_range_and_only_uncaptioned(archive_store):
    at = searched()
    at.date_input(key="ts_f_dates").set_value((date(2020, 1, 1), date(2021, 12, 31)))
    run(at)
    assert sorted(names(at, archive_store)) == sorted(["harbour.jpg", "ship.jpg", COPY_NAME])
    at.date_input(key="ts_f_dates").set_value((date(2017, 8, 8), date(2023, 2, 10)))  # the full span again
    run(at)
    assert len(hit_ids(at)) == ALL
    at.checkbox(key="ts_f_uncaptioned").check()
    run(at)
    assert sorted(names(at, archive_store)) == ["dock.jpg", "peak.jpg"]


def test_sort_by_date_orders_every_hit_before_paging(archive_store):
    at = searched()
    relevance = hit_ids(at)
    meta = fields_by_id(archive_store)
    at.selectbox(key="ts_sort").set_value("date")
    run(at)
    newest = hit_ids(at)
    stamps = [meta[i].get("date_taken_ts") for i in newest]
    assert stamps[-1] is None  # the undated picture last
    assert stamps[:-1] == sorted(stamps[:-1], reverse=True) and sorted(newest) == sorted(relevance)
    at.selectbox(key="ts_sort").set_value("date_asc")
    run(at)
    oldest = [meta[i].get("date_taken_ts") for i in hit_ids(at)]
    assert oldest[:-1] == sorted(oldest[:-1]) and oldest[-1] is None
    assert meta[hit_ids(at)[0]]["file_name"] == "dock.jpg"


def test_sort_by_date_spans_pages(archive_store, store_dir, tiny_embedder, tmp_path):
    """More hits than a page: the newest picture of all comes first, whatever its relevance."""
    from tests.app.conftest import fill
    from tests.helpers import write_images

    write_images(tmp_path / "more", 20)
    fill(archive_store, tiny_embedder, tmp_path / "more")
    at = searched(k=48)
    assert len(hit_ids(at)) == 12
    at.selectbox(key="ts_sort").set_value("date")
    run(at)
    meta = fields_by_id(archive_store)
    assert meta[hit_ids(at)[0]]["file_name"] == "snow.jpg"  # 2023, the newest of all 29 hits


def test_exports_hold_the_sorted_filtered_hits(archive_store, downloads):
    at = searched()
    at.multiselect(key="ts_f_credit").set_value(["Reuters"])
    at.selectbox(key="ts_sort").set_value("date_asc")
    run(at)
    buttons = {b.key: b for b in at.download_button}
    assert set(buttons) == {"ts_export_csv", "ts_export_json"}
    assert [buttons[k].label for k in ("ts_export_csv", "ts_export_json")] == ["CSV", "JSON"]
    files = {name: (mime, data) for name, mime, data in downloads}
    mime, data = files[f"{EXPORTED}.csv"]
    assert mime == "text/csv" and data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == hit_ids(at)
    assert [r["file_name"] for r in rows] == ["street.jpg", "ship.jpg", "harbour.jpg", COPY_NAME] or \
        [r["file_name"] for r in rows][:2] == ["street.jpg", "ship.jpg"]
    assert {r["credit"] for r in rows} == {"Reuters"}
    assert rows[-1]["keywords"] == "harbour; boat" and rows[-1]["date_taken"] == "2021-05-17"
    mime, data = files[f"{EXPORTED}.json"]
    assert mime == "application/json"
    assert [r["id"] for r in json.loads(data)] == hit_ids(at)


def test_detail_shows_credit_and_copyright_prominently_and_hides_bookkeeping(archive_store, archive_folder):
    at = searched()
    harbour = archive_ids(archive_folder)["harbour.jpg"]
    next(b for b in at.button if b.key == f"ts_detail_{harbour}").click()
    run(at)
    facts = next(m for m in texts(at.markdown) if "**Credit:**" in m)
    assert "**Credit:** Reuters" in facts and "from IPTC" in facts
    assert f"**Copyright:** {COPYRIGHT}" in facts  # escape_markdown leaves punctuation that makes no markup
    for label in ("Creator / by-line:** Jane Doe", "Date taken:** 2021-05-17", "Keywords:** harbour; boat"):
        assert label in facts, facts
    table = at.dataframe[0].value
    listed = set(table["field"])
    assert {"credit", "copyright", "keywords", "date_taken", "file_name"} <= listed
    assert not listed & {"media", "phash", "metadata_from", "keywords_lc", "date_taken_ts"}
    assert dict(zip(table["field"], table["from"]))["credit"] == "IPTC"


def test_collapse_folds_a_stored_near_duplicate_pair(archive_store, archive_folder, embed_calls):
    at = searched()
    ids = archive_ids(archive_folder)
    pair = {ids["harbour.jpg"], ids[COPY_NAME]}
    assert pair <= set(hit_ids(at))
    embedded = dict(embed_calls)
    at.toggle(key="ts_collapse").set_value(True)
    run(at)
    shown = hit_ids(at)
    assert len(shown) == ALL - 1 and len(pair & set(shown)) == 1
    badges = [t for t in texts(at.markdown) if "+1 copy" in t]
    assert len(badges) == 1, texts(at.markdown)
    assert any("1 near-duplicate copy folded" in c for c in texts(at.caption))
    at.selectbox(key="ts_sort").set_value("date")  # sort and collapse together, still no embedding
    run(at)
    assert len(hit_ids(at)) == ALL - 1
    assert dict(embed_calls) == embedded


def test_collapsed_cards_show_the_scores_of_the_current_ranking(archive_store, downloads):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher

    at = searched()
    at.toggle(key="ts_collapse").set_value(True)
    run(at)
    collection = archive_store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    candidates = searcher.text_candidates(QUERY)
    for alpha in (0.0, 0.95):  # the same ids may keep their clusters, the scores are the new ones
        at.select_slider(key="ts_alpha").set_value(alpha)
        run(at)
        expected = {h.id: h.score for h in searcher.rank(candidates, "hybrid", alpha, 12).hits}
        rows = list(csv.DictReader(io.StringIO(downloads[-2][2].decode("utf-8-sig"))))
        assert downloads[-2][0] == f"{EXPORTED}.csv" and len(rows) == len(hit_ids(at))
        assert all(abs(float(r["score"]) - expected[r["id"]]) < 1e-9 for r in rows)


def test_facets_are_counted_once_per_collection_revision(archive_store, monkeypatch, tiny_embedder, tmp_path):
    from imgsearch_core.search import facets

    calls = []
    original = facets.facets_of
    monkeypatch.setattr(facets, "facets_of", lambda metadatas: calls.append(1) or original(metadatas))
    at = searched()
    for alpha in (0.2, 0.9):
        at.select_slider(key="ts_alpha").set_value(alpha)
        run(at)
    assert len(calls) == 1
    from tests.app.conftest import fill
    from tests.helpers import write_images

    write_images(tmp_path / "more", 2)
    fill(archive_store, tiny_embedder, tmp_path / "more")  # a write bumps the revision
    run(at)
    assert len(calls) == 2
    assert len(hit_ids(at)) == ALL + 2  # and the candidates were fetched again (collection_key changed)
