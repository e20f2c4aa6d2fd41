"""A re-read that replaces a caption drops the caption audit's score of the old one, and only there: a
`caption_suspicion` filter must not list a photo for a caption it no longer has."""
from __future__ import annotations

from imgsearch_core.fields import CAPTION_AUDIT_FIELDS
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.ingest.reread import reread_metadata
from tests.helpers import write_images

AUDIT = dict(zip(CAPTION_AUDIT_FIELDS, (0.97, 0.99, "csls:test-model", 12345)))


def captions_csv(path, harbour_caption: str):
    path.write_text(f"filename,caption\nimg_0000.png,{harbour_caption}\nimg_0001.png,Snow on the mountain\n")
    return path


def test_a_replaced_caption_loses_its_audit_score_and_the_others_keep_theirs(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 2, sidecars=False)
    items, problems = collect(tmp_path / "p", captions_file=captions_csv(tmp_path / "a.csv", "Boats in the harbour"))
    ingest(store, "col", tiny_embedder, items, problems=problems)
    collection = store.open("col")
    collection.update_items([(i.id, i.caption, AUDIT) for i in collection.all_items()])  # what an audit writes

    items, problems = collect(tmp_path / "p", captions_file=captions_csv(tmp_path / "b.csv", "A red ship at sea"))
    report = reread_metadata(store, "col", items, problems=problems)

    by_caption = {i.caption: i.metadata for i in store.open("col").all_items()}
    assert report.updated == 1 and set(by_caption) == {"A red ship at sea", "Snow on the mountain"}
    assert not set(CAPTION_AUDIT_FIELDS) & set(by_caption["A red ship at sea"])
    assert {k: by_caption["Snow on the mountain"][k] for k in CAPTION_AUDIT_FIELDS} == AUDIT
    assert store.open("col").ids_matching({"caption_suspicion": {"$gt": 0.9}}) == {
        i.id for i in store.open("col").all_items() if i.caption == "Snow on the mountain"}
