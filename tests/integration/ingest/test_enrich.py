"""Enrich and ingest with a text reader and a captioner, on real stores: the fields, BM25 in every process, machine
captions that never replace an editorial caption, problems per file, stop, reset, and a run killed with kill -9."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from imgsearch_core.config import Settings
from imgsearch_core.ingest.enrich import enrich, ocr_at_ingest, pending_ids, reset_machine_captions, set_ocr_at_ingest
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.ingest.reread import reread_metadata
from imgsearch_core.media.picture_text import OCR_MAX_SIDE, decode_words
from imgsearch_core.search.filters.parse import collection_fields, parse_filter
from imgsearch_core.store.store import Store
from imgsearch_core.text.analysis import analyze_one
from tests.picture_text_fixtures import CRASH, SIZE, HueCaptioner, PixelReader, picture, word_box, write_pictures

PICTURES = {
    "placard.png": picture(["Strike", "Köln"], "red"),
    "shop.png": picture(["Bäckerei"], "green"),
    "plain.png": picture([], "blue"),
    "captioned.png": picture(["Ferry"], "yellow"),
    "broken.png": picture([CRASH], "red", seed=5),
}
SIDECARS = {"captioned.png": "Harbour ferry at dawn"}


def by_name(collection) -> dict:
    return {i.metadata["file_name"]: i for i in collection.all_items()}


def hits(collection, query: str) -> set[str]:
    names = {i.id: i.metadata["file_name"] for i in collection.all_items()}
    return {names[i] for i, _ in collection.bm25().top(analyze_one(query), 10)}


@pytest.fixture
def plain_store(store, tiny_embedder, tmp_path):
    """The five pictures ingested without reading or captioning them."""
    folder = write_pictures(tmp_path / "in", PICTURES, SIDECARS)
    report = ingest(store, "news", tiny_embedder, collect(folder)[0])
    assert report.added == 5
    return store


def test_enrich_reads_text_and_writes_machine_captions_only_where_no_caption_is(plain_store):
    reader, captioner = PixelReader(), HueCaptioner()
    report = enrich(plain_store, "news", reader=reader, captioner=captioner)
    items = by_name(plain_store.open("news"))
    assert (report.total, report.read, report.with_text, report.captioned) == (5, 4, 3, 4)
    assert [p.name.split(" ")[0] for p in report.problems] == ["broken.png"]
    assert "Reading the text (pixel-reader 1) failed" in report.problems[0].reason

    placard = items["placard.png"].metadata
    assert (placard["ocr_text"], placard["ocr_engine"]) == ("Strike Köln", "pixel-reader 1")
    layout = decode_words(placard["ocr_words"])
    assert layout.size == SIZE and [(w.text, w.box) for w in layout.words] == [("Strike", word_box(0)), ("Köln", word_box(1))]
    plain = items["plain.png"].metadata
    assert plain["ocr_engine"] == "pixel-reader 1" and "ocr_text" not in plain and "ocr_words" not in plain
    assert "ocr_engine" not in items["broken.png"].metadata  # the item stays as it was: read again next time

    assert (placard["machine_caption"], placard["machine_caption_model"]) == ("a red picture", "hue-captioner 1")
    assert placard["caption_from"] == "machine" and placard["captioned"] is False and items["placard.png"].caption == ""
    captioned = items["captioned.png"]
    assert captioned.caption == "Harbour ferry at dawn" and captioned.metadata["caption_from"] == "sidecar"
    assert "machine_caption" not in captioned.metadata and captioned.metadata["ocr_text"] == "Ferry"

    collection = plain_store.open("news")
    assert hits(collection, "Köln") == {"placard.png"} and hits(collection, "bäckerei") == {"shop.png"}
    assert hits(collection, "green") == {"shop.png"}  # the machine caption of an uncaptioned item
    assert hits(collection, "ferry") == {"captioned.png"}  # editorial caption plus its OCR text
    where = parse_filter("caption_from = machine", collection_fields(collection))
    assert {items_id for items_id in collection.ids_matching(where)} == {
        items[n].id for n in ("placard.png", "shop.png", "plain.png", "broken.png")}

    again = enrich(plain_store, "news", reader=reader, captioner=captioner)  # only the broken picture is left
    assert (again.total, again.read) == (1, 0) and len(again.problems) == 1
    assert pending_ids(collection, ocr=True, captions=True) == [items["broken.png"].id]


def test_new_text_reaches_bm25_in_another_store_instance_through_the_write_log(plain_store, settings):
    other = Store(settings).open("news")  # another process's view, its index built before the enrich
    assert hits(other, "Strike") == set()
    enrich(plain_store, "news", reader=PixelReader())
    assert hits(other, "Strike") == {"placard.png"}
    reset_machine_captions(plain_store, "news")  # nothing to reset: no captions were written
    assert hits(other, "Strike") == {"placard.png"}


def test_reset_removes_machine_captions_and_their_origin_and_keeps_editorial_ones(plain_store, settings):
    other = Store(settings).open("news")
    enrich(plain_store, "news", captioner=HueCaptioner())
    assert hits(other, "green") == {"shop.png"}
    assert reset_machine_captions(plain_store, "news") == 4
    items = by_name(plain_store.open("news"))
    assert not any(k in i.metadata for i in items.values() for k in ("machine_caption", "machine_caption_model"))
    assert [n for n, i in items.items() if "caption_from" in i.metadata] == ["captioned.png"]
    assert items["captioned.png"].caption == "Harbour ferry at dawn"
    assert hits(other, "green") == set() and other.bm25().ids == [items["captioned.png"].id]  # no other text left
    assert pending_ids(other, ocr=False, captions=True) != []  # captioned again by the next run


def test_an_editorial_caption_given_later_wins_and_a_reread_without_one_keeps_the_machine_mark(plain_store, tmp_path,
                                                                                               tiny_embedder):
    enrich(plain_store, "news", captioner=HueCaptioner())
    folder = tmp_path / "in"
    reread_metadata(plain_store, "news", collect(folder)[0])  # no caption for placard.png: still the machine's
    placard = by_name(plain_store.open("news"))["placard.png"]
    assert placard.metadata["caption_from"] == "machine" and placard.caption == ""

    captions = tmp_path / "captions.csv"
    captions.write_text("file_name,caption\nplacard.png,Dock workers on strike\n")
    again = ingest(plain_store, "news", tiny_embedder, collect(folder, captions_file=captions)[0])
    assert again.added == 0 and by_name(plain_store.open("news"))["placard.png"].caption == ""  # stored: not re-read
    reread_metadata(plain_store, "news", collect(folder, captions_file=captions)[0])
    collection = plain_store.open("news")
    placard = by_name(collection)["placard.png"]
    assert placard.caption == "Dock workers on strike" and placard.metadata["caption_from"] == "caption file"
    assert placard.metadata["captioned"] is True and placard.metadata["machine_caption"] == "a red picture"
    assert hits(collection, "red") == {"broken.png"}  # the machine caption no longer counts for placard.png
    enrich(plain_store, "news", captioner=HueCaptioner("hue-captioner 2"))
    assert by_name(plain_store.open("news"))["placard.png"].caption == "Dock workers on strike"


def test_problems_per_file_stop_and_resume(plain_store):
    media = by_name(plain_store.open("news"))["shop.png"].media_path
    media.unlink()
    calls = []
    report = enrich(plain_store, "news", reader=PixelReader(), captioner=HueCaptioner(fail_on="yellow"),
                    batch_size=2, should_stop=lambda: len(calls) >= 1, progress=calls.append)
    assert report.stopped and report.total == 5 and calls[0].done == 2 and calls[0].total == 5
    rest = enrich(plain_store, "news", reader=PixelReader(), captioner=HueCaptioner(fail_on="yellow"))
    assert rest.total == 5 - report.read  # only what the stopped run did not do
    reasons = {p.name.split(" ")[0]: p.reason for p in report.problems + rest.problems}
    assert "media file cannot be read" in reasons["shop.png"]
    assert "failed on this picture" in reasons["broken.png"]
    items = by_name(plain_store.open("news"))
    assert "ocr_engine" not in items["shop.png"].metadata and items["captioned.png"].metadata["ocr_text"] == "Ferry"


def test_enrich_outlasts_a_writer_holding_the_store_and_stops_when_asked_meanwhile(plain_store):
    """Admin runs an ingest (the write lock held for its whole run) beside an enrich: the enrich waits, not fails."""
    held, release = threading.Event(), threading.Event()

    def ingest_like_writer() -> None:
        with plain_store.writing():
            held.set()
            release.wait(60)

    writer = threading.Thread(target=ingest_like_writer)
    writer.start()
    assert held.wait(10)
    answers = iter([False, True])  # at the batch's start: go on; once the store was found busy: stop
    stopped = enrich(plain_store, "news", reader=PixelReader(), should_stop=lambda: next(answers))
    assert stopped.stopped and "stopped by the user after 0 of 5" in stopped.problems[-1].reason
    assert len(pending_ids(plain_store.open("news"), ocr=True, captions=False)) == 5  # nothing half-written

    threading.Timer(3.0, release.set).start()
    started = time.monotonic()
    report = enrich(plain_store, "news", reader=PixelReader())
    writer.join(10)
    assert time.monotonic() - started >= 2.5 and not report.stopped and report.read == 4
    broken = by_name(plain_store.open("news"))["broken.png"].id  # the reader fails on it: a problem, still to do
    assert pending_ids(plain_store.open("news"), ocr=True, captions=False) == [broken]


def test_ingest_reads_text_and_captions_new_items(store, tiny_embedder, tmp_path):
    folder = write_pictures(tmp_path / "in", PICTURES, SIDECARS)
    collection = store.open_or_create("news", tiny_embedder.identity)
    assert not ocr_at_ingest(collection)
    set_ocr_at_ingest(collection, True)
    assert ocr_at_ingest(store.open("news"))
    report = ingest(store, "news", tiny_embedder, collect(folder)[0], reader=PixelReader(),
                    captioner=HueCaptioner(), batch_size=2)
    assert report.added == 5 and [p.name for p in report.problems] == ["broken.png"]
    items = by_name(store.open("news"))
    assert items["placard.png"].metadata["ocr_text"] == "Strike Köln"
    assert decode_words(items["placard.png"].metadata["ocr_words"]).size == SIZE
    assert items["shop.png"].metadata["machine_caption"] == "a green picture"
    assert items["shop.png"].metadata["caption_from"] == "machine"
    assert "machine_caption" not in items["captioned.png"].metadata
    assert "ocr_engine" not in items["broken.png"].metadata and items["broken.png"].metadata["machine_caption"]
    assert hits(store.open("news"), "strike") == {"placard.png"}


WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.enrich import enrich
    from imgsearch_core.store.store import Store
    from tests.picture_text_fixtures import PixelReader

    marker = Path(sys.argv[2])
    enrich(Store(Settings.from_env(store_dir=Path(sys.argv[1]))), "news", reader=PixelReader(delay=0.05),
           batch_size=4, progress=lambda p: marker.write_text(str(p.done)))
""")


def test_an_enrich_killed_mid_run_resumes_with_only_the_rest(store, tiny_embedder, tmp_path, settings):
    count = 40
    folder = write_pictures(tmp_path / "many", {f"p{i:02d}.png": picture([f"w{i}"], seed=i) for i in range(count)})
    assert ingest(store, "news", tiny_embedder, collect(folder)[0]).added == count
    marker = tmp_path / "done"
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(settings.store_dir), str(marker)], env=env,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (marker.exists() and int(marker.read_text() or 0) >= 8) and time.time() < deadline:
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    collection = Store(Settings.from_env(store_dir=settings.store_dir)).open("news")
    done = count - len(pending_ids(collection, ocr=True, captions=False))
    assert 8 <= done < count
    reader = PixelReader()
    rest = enrich(Store(Settings.from_env(store_dir=settings.store_dir)), "news", reader=reader)
    assert rest.total == reader.calls == count - done and not rest.problems
    items = collection.all_items()
    assert sorted(i.metadata["ocr_text"] for i in items) == sorted(f"w{i}" for i in range(count))
    assert hits(collection, "w3") == {"p03.png"} and len(collection.bm25().ids) == count


class SizeReader(PixelReader):
    """Records the size of every picture it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def read(self, image):
        self.sizes.append(image.size)
        return super().read(image)


class SizeCaptioner(HueCaptioner):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def caption(self, images):
        self.sizes += [i.size for i in images]
        return super().caption(images)


def test_engines_get_bounded_pictures_at_ingest_and_at_enrich(store, tiny_embedder, tmp_path):
    folder = write_pictures(tmp_path / "big", {"scan.png": picture([], "blue", size=(5000, 3000)),
                                               "scan.jpg": picture([], "red", size=(3000, 5000), fmt="JPEG")})
    reader, captioner = SizeReader(), SizeCaptioner()
    assert ingest(store, "news", tiny_embedder, collect(folder)[0], reader=reader, captioner=captioner).added == 2
    # the working picture of one decode (JPEG: DCT-scaled, PNG: reduced by an integer factor), never the full scan,
    # and at OCR_MAX_SIDE, not the 1024-px rendition, so small words stay readable
    assert len(reader.sizes) == 2 and all(max(s) == OCR_MAX_SIDE and min(s) == 1200 for s in reader.sizes), reader.sizes
    assert all(max(i.metadata["width"], i.metadata["height"]) == 5000 for i in store.open("news").all_items())
    assert all(max(Image.open(i.media_path).size) == 1024 for i in store.open("news").all_items())  # as without OCR
    assert sorted(captioner.sizes) == [(230, 384), (384, 230)]
    reset_machine_captions(store, "news")
    enrich(store, "news", reader=reader, captioner=captioner)  # from the stored renditions: nothing read twice
    assert len(reader.sizes) == 2 and sorted(captioner.sizes[2:]) == [(230, 384), (384, 230)]
