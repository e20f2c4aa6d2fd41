"""The detail view's pure helpers (imgsearch_core.display.item_facts): prominent facts and the metadata table."""
from __future__ import annotations

import json

from imgsearch_core.display import formatting as fmt
from imgsearch_core.display import item_facts

META = {
    "credit": "Reuters", "creator": "Jane Doe", "copyright": "(c) Reuters", "date_taken": "2021-05-17",
    "date_taken_ts": 1621209600, "keywords": ["harbour", "boat"], "keywords_lc": ["harbour", "boat"],
    "city": "Kiel", "country": "Germany", "camera_make": "Canon", "camera_model": "Canon EOS R5",
    "media": "photos/ab/ab.jpg", "phash": "870707f8f0f8f0f0", "file_name": "a.jpg", "added_at": 0,
    "metadata_from": json.dumps({"credit": "iptc", "city": "xmp", "camera_model": "exif"}),
    "group": "g1", "group_lc": "g1",  # a caption-file column and its twin (fields.is_twin)
}


def test_prominent_facts_with_catalogue_labels_and_sources():
    facts = {f.label: (f.value, f.source) for f in item_facts.detail_facts(META)}
    assert list(facts)[:5] == ["Credit", "Creator / by-line", "Copyright", "Date taken", "Keywords"]
    assert facts["Credit"] == ("Reuters", "IPTC")
    assert facts["Keywords"] == ("harbour; boat", "")
    assert facts["City / Country"] == ("Kiel, Germany", "XMP")
    assert facts["Camera"] == ("Canon EOS R5", "EXIF")  # the make is not repeated
    assert "Headline" not in facts
    assert item_facts.detail_facts({"city": "", "camera_make": "Nikon"})[0] == item_facts.Fact("Camera", "Nikon", "")


def test_metadata_table_leaves_out_bookkeeping_and_twins():
    rows = {r["field"]: r for r in item_facts.metadata_rows(META)}
    assert not set(rows) & {"media", "phash", "metadata_from", "keywords_lc", "date_taken_ts", "group_lc"}
    assert {"credit", "keywords", "file_name", "added_at", "group"} <= set(rows)
    assert rows["keywords"]["value"] == "harbour; boat" and rows["credit"]["from"] == "IPTC"
    assert rows["file_name"]["from"] == ""


def test_unreadable_metadata_from_is_ignored_and_markdown_is_escaped():
    assert item_facts.metadata_sources({"metadata_from": "not json"}) == {}
    assert item_facts.metadata_sources({"metadata_from": "[1, 2]"}) == {}
    text = item_facts.facts_markdown([item_facts.Fact("Credit", "*Reuters* [x](y)", "IPTC")])
    assert text == "- **Credit:** \\*Reuters\\* \\[x\\](y) :gray[· from IPTC]"
    assert fmt.count_label("Reuters", 1204) == "Reuters (1,204)"
    assert (fmt.copies_label(1), fmt.copies_label(3)) == ("+1 copy", "+3 copies")


def test_highlighting_reads_captions_in_the_collections_language():
    from pages._results import GridContext

    german = GridContext("c", "text", 0.0, ("brucke",), "ts", "Brücken", language="de")
    assert ":orange-background[**Brücken**]" in german.highlight("Zwei Brücken über den Rhein")
    english = GridContext("c", "text", 0.0, ("brucke",), "ts", "Brücken")  # English rules: no such lemma (terms are folded)
    assert "orange-background" not in english.highlight("Zwei Brücken über den Rhein")
