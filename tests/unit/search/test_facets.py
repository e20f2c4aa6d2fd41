"""Facet counts for the app's filter controls."""
from imgsearch_core.search.facets import facets_of


def test_counts_values_list_elements_dates_and_uncaptioned():
    metadatas = [
        {"credit": "Reuters", "keywords": ["harbour", "ship"], "keywords_lc": ["harbour", "ship"], "captioned": True,
         "date_taken": "2021-01-01", "date_taken_ts": 1609459200, "media": "x", "group": "g1"},
        {"credit": "Reuters", "keywords": ["ship"], "keywords_lc": ["ship"], "captioned": True, "date_taken_ts": 1500000000},
        {"credit": "AP", "creator": "Ann", "captioned": False},
        {"captioned": False},
    ]
    facets = facets_of(metadatas)
    assert (facets.total, facets.uncaptioned, facets.dated) == (4, 2, 2)
    assert facets.values["credit"] == [("Reuters", 2), ("AP", 1)]
    assert facets.values["keywords"] == [("ship", 2), ("harbour", 1)]
    assert facets.options("creator") == ["Ann"] and facets.count("credit", "AP") == 1
    assert facets.date_span == (1500000000, 1609459200)
    # twins and bookkeeping keys are not offered as fields; a caption-file column is
    assert facets.fields == ["captioned", "creator", "credit", "date_taken", "group", "keywords"]


def test_an_empty_collection_has_no_facets():
    facets = facets_of([])
    assert (facets.total, facets.values, facets.date_span, facets.fields) == (0, {}, None, [])
