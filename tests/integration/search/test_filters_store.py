"""Parsed filters on a real Chroma store select exactly the expected items, in the core and the CLI."""
import io
import json
from datetime import date, datetime, timezone

import pytest
from PIL import Image

from imgsearch_core.search.filters.where import combine, where_from_choices
from imgsearch_core.search.filters.parse import collection_fields, parse_filter
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.records import Record
from tests.helpers import image_bytes
from tests.integration.cli.test_cli import cli


def stamp(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


# index: (credit, date taken, keywords, caption, width, group, added_at)
ITEMS = {
    0: ("Reuters", "2019-12-31T23:59:59", ["Harbour", "Boat"], "boats in the harbour", 800, "g1", "2025-06-01"),
    1: ("Reuters", "2020-01-01", ["harbour"], "a quiet harbour", 1200, "g1", "2026-02-01"),
    2: ("Reuters", "2020-12-31T18:00:00", ["Mountain"], "snow on the mountain", 640, "g2", "2026-03-01"),
    3: ("AP", "2020-06-01", ["boat"], "a red boat", 1024, "g2", "2025-01-01"),
    4: ("Smith, J.", None, [], "", 300, "g3", "2025-01-01"),
    5: ("Reuters", "2021-01-01T00:00:00", [], "city street at night", 1500, "g3", "2026-01-01"),
    6: (None, "2020-03-03", ["Street"], "a busy street", 2500, "g1", "2025-01-01"),
    7: ("AP", "2022-08-08", ["portrait"], "portrait of a harbour worker", 900, "g2", "2025-01-01"),
}


SAYS_HARBOUR = {0, 1, 7}  # "harbour" in the caption or the keywords: what BM25 finds for the query


def metadata(index: int) -> dict:
    credit, taken, keywords, caption, width, group, added = ITEMS[index]
    meta = {"file_name": f"img_{index}.png", "width": width, "height": 100, "group": group,
            "captioned": bool(caption), "added_at": stamp(added)}
    if credit:
        meta["credit"] = credit
    if taken:
        meta.update(date_taken=taken, date_taken_ts=stamp(taken))
    if keywords:
        meta.update(keywords=keywords, keywords_lc=[k.lower() for k in keywords])
    return meta


@pytest.fixture
def collection(store, tiny_embedder):
    collection = store.open_or_create("filters", tiny_embedder.identity)
    vectors = tiny_embedder.embed_images([Image.open(io.BytesIO(image_bytes(i))).convert("RGB") for i in ITEMS])
    collection.add([
        Record(f"{i:02x}" * 32, vectors[i], ITEMS[i][3], metadata(i), image_bytes(i), ".png") for i in ITEMS
    ])
    stored = collection.get(["00" * 32])[0].metadata
    assert stored["keywords_lc"] == ["harbour", "boat"], "the store must keep list metadata as lists"
    return collection


def ids_of(indexes) -> set[str]:
    return {f"{i:02x}" * 32 for i in indexes}


def found(collection, tiny_embedder, where, mode: str = "vector") -> list[str]:
    return [h.id for h in Searcher(collection, tiny_embedder).search("harbour", mode, 0.5, 100, where).hits]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("credit = Reuters", {0, 1, 2, 5}),
        ("credit != Reuters", {3, 4, 6, 7}),  # an item without a credit is not Reuters
        ('credit = "Smith, J."', {4}),
        ('credit in (AP, "Smith, J.")', {3, 4, 7}),
        ("credit = Reuters, date_taken >= 2020-01-01", {1, 2, 5}),
        ("credit = Reuters and date_taken < 2020-01-01", {0}),
        ("date_taken between 2020-01-01 and 2020-12-31", {1, 2, 3, 6}),  # 2020-12-31 18:00 is inside
        ("date_taken <= 2020-12-31", {0, 1, 2, 3, 6}),
        ("date_taken < 2020-12-31T12:00", {0, 1, 3, 6}),
        ("date_taken = 2020", {1, 2, 3, 6}),
        ("date_taken > 2020", {5, 7}),
        ("added_at >= 2026-01-01", {1, 2, 5}),
        ("keywords contains HARBOUR", {0, 1}),
        ("keywords contains any (harbour, boat)", {0, 1, 3}),
        ("keywords contains any (boat, street), width >= 1000", {3, 6}),
        ("width between 1000 and 2000", {1, 3, 5}),
        ("has no caption", {4}),
        ("has caption, group = g3", {5}),
        ("group in (g1, g3), width < 1000", {0, 4}),
        ('{"credit": "AP"}', {3, 7}),
        ('{"$or": [{"keywords_lc": {"$contains": "portrait"}}, {"credit": "Smith, J."}]}', {4, 7}),
    ],
)
def test_parsed_filters_select_exactly_the_matching_items(collection, tiny_embedder, text, expected):
    where = parse_filter(text, collection_fields(collection))
    assert set(found(collection, tiny_embedder, where)) == ids_of(expected)
    hybrid = Searcher(collection, tiny_embedder).search("harbour", "hybrid", 0.5, 100, where).hits
    assert {h.id for h in hybrid} == ids_of(expected)  # the vector side reaches every item the filter lets through
    keyword_side = {h.id for h in hybrid if h.bm25_rank is not None}
    assert keyword_side == ids_of(expected & SAYS_HARBOUR)  # BM25 side filtered too, and not empty when it matches


def test_widget_filter_and_typed_filter_and_together(collection, tiny_embedder):
    widgets = where_from_choices({"credit": ["Reuters", "AP"]}, ["harbour", "boat", "mountain"],
                                 date(2020, 1, 1), date(2020, 12, 31), False)
    assert set(found(collection, tiny_embedder, widgets)) == ids_of({1, 2, 3})
    typed = parse_filter("width > 1000", collection_fields(collection))
    assert set(found(collection, tiny_embedder, combine(typed, widgets))) == ids_of({1, 3})


def test_collection_fields_include_caption_file_columns(collection):
    fields = collection_fields(collection)
    assert "group" in fields and "credit" in fields
    assert not {"keywords_lc", "date_taken_ts", "media"} & set(fields)


def test_cli_where_returns_the_same_ids_as_the_core(collection, tiny_embedder, settings):
    text = "credit = Reuters, date_taken >= 2020-01-01"
    core = found(collection, tiny_embedder, parse_filter(text, collection_fields(collection)))
    done = cli("search", "harbour", "--mode", "vector", "--k", "100", "--where", text, "--json", store=settings.store_dir)
    assert done.returncode == 0, done.stderr
    assert [h["id"] for h in json.loads(done.stdout)["hits"]] == core and set(core) == ids_of({1, 2, 5})
    similar = cli("similar", "--id", "00" * 32, "--k", "100", "--where", "keywords contains boat", "--json",
                  store=settings.store_dir)
    assert similar.returncode == 0, similar.stderr
    assert {h["id"] for h in json.loads(similar.stdout)["hits"]} == ids_of({3})  # the query item is left out


def test_cli_unknown_field_is_exit_2_naming_the_known_fields(collection, settings):
    done = cli("search", "harbour", "--where", "credt = Reuters", store=settings.store_dir)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --where: Unknown field 'credt'. Known fields: ") and "group" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_filters_on_what_ingest_writes_from_a_caption_file(store, tiny_embedder, tmp_path):
    from imgsearch_core.ingest.pipeline import collect, ingest
    from tests.helpers import write_images

    paths = write_images(tmp_path / "photos", 4, sidecars=False)
    rows = ["file_name,caption,credit,keywords,date_taken,year",
            f'{paths[0].name},harbour at dawn,"Smith, J.",Straße; Hafen,2020-05-17T06:30:00,2020',
            f"{paths[1].name},harbour at noon,Reuters,Boat,2020-12-31,2020",
            f"{paths[2].name},,Reuters,,2021-01-01T00:00:00+01:00,2021",
            f"{paths[3].name},a mountain,AP,hafen; boat,,2019"]
    (tmp_path / "photos" / "captions.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    items, problems = collect(tmp_path / "photos")
    assert not problems
    ingest(store, "ingested", tiny_embedder, items)
    collection = store.open("ingested")
    by_name = {i.metadata["file_name"]: i.id for i in collection.page(0, 10)}

    def select(text: str) -> set[str]:
        where = parse_filter(text, collection_fields(collection))
        return {h.id for h in Searcher(collection, tiny_embedder).search("harbour", "vector", 0.5, 100, where).hits}

    def named(*indexes: int) -> set[str]:
        return {by_name[paths[i].name] for i in indexes}

    assert select('credit = "Smith, J."') == named(0)
    assert select("keywords contains STRASSE") == select("keywords contains Straße") == named(0)  # casefolded
    assert select("keywords contains any (hafen, boat)") == named(0, 1, 3)
    assert select("date_taken between 2020-01-01 and 2020-12-31") == named(0, 1, 2)  # 2020-12-31T23:00Z
    assert select("date_taken >= 2021-01-01") == set()
    assert select("has no caption, credit = Reuters") == named(2)
    assert select("credit = Reuters, date_taken >= 2020-06-01") == named(1, 2)
