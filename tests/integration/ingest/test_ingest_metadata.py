"""Embedded IPTC / XMP / EXIF on every ingest path into a real store, keyword search over it, and
re-reading metadata without re-embedding."""
from __future__ import annotations

import io
import zipfile

import numpy as np

from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.ingest.reread import reread_metadata
from imgsearch_core.search.engine import Searcher
from tests.metadata_fixtures import editorial_photo, exiftool_write, picture


def newsroom_folder(root):
    """The three files of the issue: IPTC caption, XMP description, EXIF description."""
    editorial_photo(root / "iptc.jpg", 1, caption="Fire at a warehouse near the docks", credit="Reuters",
                    creator="Jörg Müller", keywords=["fire", "Docks"], date="2022:01:02")
    exiftool_write(picture(root / "xmp.png", 2), "-XMP-dc:Description=Rainy morning in Hamburg",
                   "-XMP-photoshop:Credit=dpa", "-XMP-dc:Subject=weather")
    exiftool_write(picture(root / "exif.tif", 3), "-EXIF:ImageDescription=Football fans celebrate",
                   "-EXIF:Artist=Sam Exif", "-EXIF:DateTimeOriginal=2020:06:07 08:09:10")
    exiftool_write(picture(root / "camera.webp", 4), "-EXIF:ImageDescription=OLYMPUS DIGITAL CAMERA", "-EXIF:Make=OLYMPUS")
    return root


def ingest_source(store, embedder, name="news", **collect_args):
    items, problems = collect(**collect_args)
    return ingest(store, name, embedder, items, problems=problems, batch_size=3)


def by_file(collection):
    return {i.metadata["file_name"]: i for i in collection.all_items()}


def test_folder_ingest_reads_each_container_and_keyword_search_finds_them(store, tiny_embedder, tmp_path):
    report = ingest_source(store, tiny_embedder, source=newsroom_folder(tmp_path / "in"))
    assert report.added == 4 and report.problems == []
    collection = store.open("news")
    items = by_file(collection)
    assert items["iptc.jpg"].caption == "Fire at a warehouse near the docks"
    assert items["iptc.jpg"].metadata["credit"] == "Reuters" and items["iptc.jpg"].metadata["caption_from"] == "iptc"
    assert items["iptc.jpg"].metadata["date_taken"] == "2022-01-02"
    assert items["xmp.png"].metadata["credit"] == "dpa" and items["xmp.png"].metadata["caption_from"] == "xmp"
    assert items["exif.tif"].metadata["creator"] == "Sam Exif"
    assert items["camera.webp"].caption == "" and items["camera.webp"].metadata["captioned"] is False
    assert items["camera.webp"].metadata["camera_make"] == "OLYMPUS"
    assert all(len(i.metadata["phash"]) == 16 for i in items.values())
    searcher = Searcher(collection, tiny_embedder)
    for word, name in (("warehouse", "iptc.jpg"), ("Hamburg", "xmp.png"), ("football", "exif.tif"),
                       ("docks", "iptc.jpg"), ("weather", "xmp.png")):  # captions and keywords alike
        hits = searcher.search(word, mode="text", k=5).hits
        assert [h.metadata["file_name"] for h in hits] == [name], word
    assert collection.ids_matching({"keywords_lc": {"$contains": "docks"}}) == {items["iptc.jpg"].id}


def test_zip_and_upload_paths_read_metadata_and_sidecars_win(store, tiny_embedder, tmp_path):
    folder = newsroom_folder(tmp_path / "in")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(folder / "iptc.jpg", "set/iptc.jpg")
        archive.writestr("set/iptc.txt", "Sidecar caption overrides the file")
        archive.write(folder / "xmp.png", "set/xmp.png")
    report = ingest_source(store, tiny_embedder, zip_bytes=("news.zip", buffer.getvalue()))
    assert report.added == 2
    items = by_file(store.open("news"))
    assert items["iptc.jpg"].caption == "Sidecar caption overrides the file"
    assert items["iptc.jpg"].metadata["caption_from"] == "sidecar" and items["iptc.jpg"].metadata["credit"] == "Reuters"
    assert items["iptc.jpg"].metadata["source_path"] == "set/iptc.jpg"
    assert items["xmp.png"].caption == "Rainy morning in Hamburg"
    ingest_source(store, tiny_embedder, name="uploads", uploads=[("e.tif", (folder / "exif.tif").read_bytes())])
    assert store.open("uploads").all_items()[0].caption == "Football fans celebrate"


def test_malformed_metadata_is_reported_and_the_image_still_stored(store, tiny_embedder, tmp_path):
    folder = tmp_path / "in"
    path = editorial_photo(folder / "bad.jpg", 5, caption="Caption survives")
    exiftool_write(path, "-XMP-dc:Description=x")
    path.write_bytes(path.read_bytes().replace(b"</rdf:RDF>", b"</rdf:RDX>"))
    report = ingest_source(store, tiny_embedder, source=folder)
    assert report.added == 1
    assert len(report.problems) == 1 and "XMP block unreadable" in report.problems[0].reason
    assert "the image was stored" in report.problems[0].reason
    item = store.open("news").all_items()[0]
    assert item.caption == "Caption survives" and "XMP" in item.metadata["metadata_problem"]


def test_ingest_without_metadata_reading_then_reread_updates_without_re_embedding(store, tiny_embedder, tmp_path):
    folder = newsroom_folder(tmp_path / "in")
    items, problems = collect(folder)
    ingest(store, "news", tiny_embedder, items, problems=problems, read_metadata=False)
    collection = store.open("news")
    before = by_file(collection)
    assert before["iptc.jpg"].caption == "" and "credit" not in before["iptc.jpg"].metadata
    vectors_before = collection.embeddings([i.id for i in before.values()])
    searcher = Searcher(collection, tiny_embedder)
    assert searcher.search("warehouse", mode="text", k=5).hits == []

    items, problems = collect(folder)
    report = reread_metadata(store, "news", items, problems=problems)
    assert (report.updated, report.unchanged, report.not_stored) == (4, 0, 0)  # the camera file gains its make
    after = by_file(collection)
    assert after["iptc.jpg"].caption == "Fire at a warehouse near the docks"
    assert after["iptc.jpg"].metadata["credit"] == "Reuters" and after["iptc.jpg"].metadata["captioned"] is True
    assert after["iptc.jpg"].metadata["added_at"] == before["iptc.jpg"].metadata["added_at"]
    vectors_after = collection.embeddings(list(vectors_before))
    assert max(float(np.abs(vectors_before[i] - vectors_after[i]).max()) for i in vectors_before) < 1e-6
    assert [h.metadata["file_name"] for h in searcher.search("warehouse", mode="text", k=5).hits] == ["iptc.jpg"]
    assert collection.count() == 4

    # The agency corrects nothing, we re-read again: nothing changes. A field removed from the file is
    # a different file (new hash), so it is "not stored"; removal is covered by a sidecar-less re-read.
    again = reread_metadata(store, "news", collect(folder)[0])
    assert (again.updated, again.unchanged) == (0, 4)


def test_reread_keeps_an_explicit_caption_and_drops_fields_the_file_no_longer_gives(store, tiny_embedder, tmp_path):
    folder = tmp_path / "in"
    editorial_photo(folder / "a.jpg", 6, caption="Embedded", credit="AP")
    (folder / "a.txt").write_text("Editor's caption")
    ingest_source(store, tiny_embedder, source=folder)
    collection = store.open("news")
    item = collection.all_items()[0]
    assert item.caption == "Editor's caption"
    # Simulate an item stored with a stale field (as an older version would have written it).
    collection.update_items([(item.id, item.caption, {"city": "Stale", "keywords": ["old"], "keywords_lc": ["old"]})])
    (folder / "a.txt").unlink()
    report = reread_metadata(store, "news", collect(folder)[0])
    assert report.updated == 1
    item = collection.all_items()[0]
    assert item.caption == "Editor's caption" and item.metadata["caption_from"] == "sidecar"
    assert "city" not in item.metadata and "keywords" not in item.metadata and "keywords_lc" not in item.metadata
    assert item.metadata["credit"] == "AP"
    assert Searcher(collection, tiny_embedder).search("old", mode="text", k=5).hits == []
