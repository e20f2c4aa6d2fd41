"""Ingestion of folders, zips, uploads and caption files into a real store."""
import io
import json
import zipfile

import pytest

from imgsearch_core.ingest.pipeline import IngestError, collect, ingest
from tests.helpers import image_bytes, write_images


def run(store, embedder, **collect_args):
    items, problems = collect(**collect_args)
    progress = []
    report = ingest(store, "col1", embedder, items, problems=problems, progress=progress.append, batch_size=4)
    return report, progress


def test_folder_with_sidecars_nested_dirs_and_bad_files(store, tiny_embedder, tmp_path):
    root = tmp_path / "photos"
    write_images(root, 5)
    write_images(root / "nested" / "deeper", 3, start=5, sidecars=False)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (root / "notes.pdf").write_bytes(b"%PDF-1.4")
    (root / ".hidden.png").write_bytes(image_bytes(99))
    (root / "zz_dup.png").write_bytes(image_bytes(0))  # same bytes as img_0000.png
    report, progress = run(store, tiny_embedder, source=root)
    assert report.added == 8 and report.already_stored == 1
    problems = {p.name: p.reason for p in report.problems}
    assert set(problems) == {"broken.jpg", "(other files)"}  # files that are not images: counted, not named
    assert "truncated" in problems["broken.jpg"] and "broken.jpg" not in problems["broken.jpg"]  # named once
    assert problems["(other files)"] == "1 file that is not an image was skipped"
    collection = store.open("col1")
    assert collection.count() == 8
    captioned = collection.ids_matching({"captioned": True})
    assert len(captioned) == 5
    assert len(collection.bm25()) == 5  # uncaptioned images are for vector search only
    assert progress[-1].done == progress[-1].total == 10
    assert all(p.rate > 0 for p in progress) and progress[-1].eta_seconds == 0


def test_rerun_is_idempotent(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 6)
    first, _ = run(store, tiny_embedder, source=tmp_path / "p")
    second, _ = run(store, tiny_embedder, source=tmp_path / "p")
    assert (first.added, second.added, second.already_stored) == (6, 0, 6)
    assert store.open("col1").count() == 6


def test_csv_captions_become_documents_and_filterable_metadata(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 3, sidecars=False)
    captions = tmp_path / "captions.csv"
    captions.write_text(
        "filename,caption,photographer,year\n"
        "img_0000.png,Fishing boats in the harbour,Ann,2021\n"
        "img_0001.png,Snow on the mountain,Bo,2019\n"
        "img_0002.png,A quiet street at night,Di,2018\n"
        "ghost.png,An image that is not there,Cy,2020\n"
    )
    report, _ = run(store, tiny_embedder, source=tmp_path / "p", captions_file=captions)
    assert report.added == 3
    assert [(p.name, p.reason) for p in report.problems] == [("ghost.png", "caption row matches no image")]
    collection = store.open("col1")
    by_ann = collection.get(sorted(collection.ids_matching({"photographer": "Ann"})))
    assert [i.caption for i in by_ann] == ["Fishing boats in the harbour"]
    assert by_ann[0].metadata["year"] == "2021"
    # With two of three captions BM25 idf of a one-document term is positive (with two of two it is 0).
    assert collection.bm25().top(["mountain"], 5)[0][0] in collection.ids_matching({"photographer": "Bo"})


def test_zip_with_escaping_entries_and_caption_file(store, tiny_embedder, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("album/a.png", image_bytes(1))
        archive.writestr("album/b.png", image_bytes(2))
        archive.writestr("album/b.txt", "sidecar caption for b")
        archive.writestr("../evil.png", image_bytes(3))
        archive.writestr("/abs.png", image_bytes(4))
        archive.writestr("captions.jsonl", json.dumps({"file_name": "album/a.png", "caption": "from the jsonl"}) + "\n")
        archive.writestr("album/readme.doc", b"doc")
    report, _ = run(store, tiny_embedder, zip_bytes=("upload.zip", buffer.getvalue()))
    assert report.added == 2
    reasons = {p.name: p.reason for p in report.problems}
    assert "escapes the archive" in reasons["../evil.png"] and "escapes the archive" in reasons["/abs.png"]
    assert "not a supported image type" in reasons["album/readme.doc"]
    captions = sorted(i.caption for i in store.open("col1").page())
    assert captions == ["from the jsonl", "sidecar caption for b"]
    assert {i.metadata["source"] for i in store.open("col1").page()} == {"upload.zip"}


def test_uploads_with_a_bad_file(store, tiny_embedder):
    uploads = [("x.png", image_bytes(10)), ("y.jpg", image_bytes(11, fmt="JPEG")), ("z.png", b"not an image")]
    report, _ = run(store, tiny_embedder, uploads=uploads)
    assert report.added == 2 and [p.name for p in report.problems] == ["z.png"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(source="/no/such/folder"), "not a folder"),
        (dict(zip_bytes=("broken.zip", b"PK\x03\x04 broken")), "not a readable zip"),
    ],
)
def test_unusable_sources_are_clear_errors(kwargs, message):
    with pytest.raises(IngestError, match=message):
        collect(**kwargs)


def test_bad_caption_file_is_a_clear_error(tmp_path):
    write_images(tmp_path / "p", 1)
    bad = tmp_path / "c.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match="file-name column"):
        collect(tmp_path / "p", captions_file=bad)


def test_stop_flag_ends_cleanly_with_whole_batches(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 10)
    items, _ = collect(tmp_path / "p")
    calls = iter(range(100))
    report = ingest(store, "col1", tiny_embedder, items, batch_size=3, should_stop=lambda: next(calls) >= 2)
    assert report.added == 6 and store.open("col1").count() == 6
    assert "stopped by the user" in report.problems[-1].reason


class RecordingEmbedder:
    """The tiny embedder, declaring an input size and recording what it is given."""

    def __init__(self, inner, image_size=None):
        self.inner, self.identity, self.sizes = inner, inner.identity, []
        if image_size is not None:
            self.image_size = image_size

    def embed_images(self, images):
        self.sizes.extend(image.size for image in images)
        return self.inner.embed_images(images)


def test_large_files_are_stored_as_1024_renditions_and_embedded_at_the_model_size(store, tiny_embedder, tmp_path):
    from PIL import Image

    from tests.image_fixtures import large_jpeg, photo_like

    root = tmp_path / "big"
    root.mkdir()
    (root / "a.jpg").write_bytes(large_jpeg(5000, 3000))
    photo_like(3000, 2000, seed=1).save(root / "b.png")
    (root / "c.png").write_bytes(image_bytes(3))
    recorder = RecordingEmbedder(tiny_embedder, image_size=64)
    items, problems = collect(root)
    report = ingest(store, "col1", recorder, items, problems=problems)
    assert report.added == 3 and report.problems == []
    by_name = {i.metadata["file_name"]: i for i in store.open("col1").all_items()}
    assert (by_name["a.jpg"].metadata["width"], by_name["a.jpg"].metadata["height"]) == (5000, 3000)
    assert Image.open(by_name["a.jpg"].media_path).size == (1024, 614)
    assert Image.open(by_name["b.png"].media_path).size == (1000, 667)  # reduce(3), under 1024: as is
    assert by_name["c.png"].media_path.read_bytes() == image_bytes(3)  # small: the original bytes
    assert sorted(recorder.sizes) == sorted([(106, 64), (96, 64), (64, 48)])  # short side 64, never enlarged


def test_pipeline_reports_in_source_order_whatever_the_thread_count(tiny_embedder, tmp_path):
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    root = tmp_path / "p"
    write_images(root, 11)
    (root / "img_0003.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "img_0003_copy.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # a copy of a broken file, same batch
    (root / "img_0005_copy.png").write_bytes(image_bytes(5))  # a copy of a good file, same batch
    (root / "zz_copy_of_0.png").write_bytes(image_bytes(0))  # a copy from an earlier batch
    outcomes = []
    for threads in (1, 3):
        store = Store(Settings.from_env(store_dir=tmp_path / f"store{threads}", decode_threads=threads))
        items, problems = collect(root)
        report = ingest(store, "col1", tiny_embedder, items, problems=problems, batch_size=4)
        ids = [i.id for i in store.open("col1").page(limit=100)]
        outcomes.append((report.added, report.already_stored, [(p.name, p.reason) for p in report.problems], sorted(ids)))
    assert outcomes[0] == outcomes[1]
    added, already, problems, _ = outcomes[0]
    assert (added, already) == (10, 2)
    assert [name for name, _ in problems] == ["img_0003.png", "img_0003_copy.png"]
    assert all(reason and name not in reason for name, reason in problems)  # the name has its own column


def test_stored_files_of_a_folder_are_hashed_from_disk_and_never_read_whole(store, tiny_embedder, tmp_path):
    import dataclasses

    write_images(tmp_path / "p", 5)
    items, _ = collect(tmp_path / "p")
    assert ingest(store, "col1", tiny_embedder, items).added == 5

    def refuse() -> bytes:
        raise AssertionError("an already stored file was read into memory")

    again = [dataclasses.replace(item, read=refuse) for item in collect(tmp_path / "p")[0]]
    report = ingest(store, "col1", tiny_embedder, again, batch_size=2)
    assert (report.added, report.already_stored, report.problems) == (0, 5, [])
