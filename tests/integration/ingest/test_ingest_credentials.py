"""Content Credentials through a real ingest into a real store: stored as fields, filterable, never planted
by a caption file, a broken manifest reported while its picture is stored, re-read like embedded metadata."""
from __future__ import annotations

from imgsearch_core.display.item_facts import metadata_rows
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.ingest.reread import reread_metadata
from imgsearch_core.search.filters.parse import collection_fields, parse_filter
from tests import c2pa_fixtures as fx


def credential_folder(root):
    root.mkdir(parents=True)
    signed = fx.signed_jpeg(11)
    for name, data in (("signed.jpg", signed), ("altered.jpg", fx.altered(fx.signed_jpeg(12))),
                       ("unsigned.jpg", fx.plain_jpeg(13)), ("malformed.jpg", fx.malformed(fx.signed_jpeg(14)))):
        (root / name).write_bytes(data)
    return root


def test_ingest_stores_credentials_as_filterable_fields_and_reports_a_broken_manifest(store, tiny_embedder, tmp_path):
    folder = credential_folder(tmp_path / "in")
    captions = tmp_path / "captions.csv"
    captions.write_text("filename,caption,has_credentials,c2pa_signer\n"
                        "unsigned.jpg,A street,true,Forged Agency\n")
    items, problems = collect(folder, captions_file=captions)
    report = ingest(store, "news", tiny_embedder, items, problems=problems, batch_size=2)
    assert report.added == 4  # every picture is stored, the broken manifest too
    reasons = {p.name: p.reason for p in report.problems}
    assert "Content Credentials unreadable" in reasons["malformed.jpg"] and "the image was stored" in reasons["malformed.jpg"]
    refused = sorted(p.reason for p in report.problems if p.name == "unsigned.jpg")
    assert len(refused) == 2 and "'c2pa_signer'" in refused[0] and "'has_credentials'" in refused[1]
    collection = store.open("news")
    items = {i.metadata["file_name"]: i.metadata for i in collection.all_items()}
    assert items["signed.jpg"]["c2pa_status"] == "untrusted" and items["signed.jpg"]["c2pa_signer"] == fx.SIGNER_NAME
    assert items["signed.jpg"]["c2pa_actions"] == ["c2pa.created", "c2pa.edited"]
    assert items["altered.jpg"]["c2pa_status"] == "invalid"
    assert "has_credentials" not in items["unsigned.jpg"] and "c2pa_signer" not in items["unsigned.jpg"]
    assert items["malformed.jpg"]["c2pa_status"] == "unreadable"
    assert "Content Credentials unreadable" in items["malformed.jpg"]["metadata_problem"]

    rows = {r["field"]: r["value"] for r in metadata_rows(items["signed.jpg"])}  # the detail view's table
    assert rows["c2pa_actions"] == "c2pa.created; c2pa.edited" and rows["has_credentials"] == "True"
    assert rows["c2pa_signer"] == fx.SIGNER_NAME and "c2pa_actions_lc" not in rows

    fields = collection_fields(collection)
    by_name = {i.id: i.metadata["file_name"] for i in collection.all_items()}
    names = lambda text: {by_name[i] for i in collection.ids_matching(parse_filter(text, fields))}  # noqa: E731
    assert names("has_credentials = true") == {"signed.jpg", "altered.jpg"}
    assert names('c2pa_status = "invalid"') == {"altered.jpg"}
    assert names('c2pa_actions contains "c2pa.edited"') == {"signed.jpg", "altered.jpg"}



def test_reread_adds_the_credentials_of_an_ingest_that_skipped_metadata(store, tiny_embedder, tmp_path):
    folder = credential_folder(tmp_path / "in")
    ingest(store, "news", tiny_embedder, collect(folder)[0], read_metadata=False)
    collection = store.open("news")
    assert not any("c2pa_status" in i.metadata for i in collection.all_items())
    report = reread_metadata(store, "news", collect(folder)[0])
    assert report.updated == 3  # signed, altered, malformed; the unsigned file gains nothing
    status = {i.metadata["file_name"]: i.metadata.get("c2pa_status") for i in collection.all_items()}
    assert status == {"signed.jpg": "untrusted", "altered.jpg": "invalid", "unsigned.jpg": None,
                      "malformed.jpg": "unreadable"}
