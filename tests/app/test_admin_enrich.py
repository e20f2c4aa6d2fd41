"""Admin > Collections, "Text in pictures and machine captions": runs in the background with progress, problems
per file, Stop, reset, and the collection's "read the text at ingest" setting honoured by an Admin ingest. The
engine factories give small real engines (tests/picture_text_fixtures.py); the page and the core are under test."""
from __future__ import annotations

import sys
import threading
import time
import types

import pytest

from tests.app.conftest import button, run, texts
from tests.app.test_admin import admin, folder_source, open_store, start_ingest
from tests.picture_text_fixtures import CRASH, HueCaptioner, PixelReader, picture, write_pictures


class HeldReader(PixelReader):
    """Waits for `go` before each picture, so a test can look at a run in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def read(self, image):
        assert self.go.wait(30)
        return super().read(image)


@pytest.fixture
def engines(monkeypatch):
    from pages import _enrich

    made = {"reader": PixelReader(), "captioner": HueCaptioner()}
    monkeypatch.setitem(sys.modules, "imgsearch_core.models.ocr",
                        types.SimpleNamespace(load_text_reader=lambda: made["reader"]))
    monkeypatch.setitem(sys.modules, "imgsearch_core.models.captioner",
                        types.SimpleNamespace(load_captioner=lambda name_or_path=None: made["captioner"]))
    for cache in (_enrich._reader, _enrich._captioner):
        cache.clear()
    _enrich._jobs().clear()
    yield made
    _enrich._jobs().clear()


@pytest.fixture
def news(store_dir, tiny_embedder, tmp_path):
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    folder = write_pictures(tmp_path / "in", {"sign.png": picture(["Rathaus"], "green"), "bad.png": picture([CRASH]),
                                              **{f"p{i}.png": picture([f"w{i}"], "blue", seed=i) for i in range(20)}},
                            {"sign.png": "Town hall **at night** <b>x</b>"})
    assert ingest(Store(Settings.from_env()), "news", tiny_embedder, collect(folder)[0]).added == 22
    return folder


def finish(at, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while "adm_enrich_stop" in [b.key for b in at.button] or any("finding the pictures" in p.proto.text
                                                               for p in at.get("progress")):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        run(at)
    return run(at)


def problems(at) -> dict[str, str]:
    [table] = [d.value for d in at.dataframe if list(d.value.columns) == ["file", "problem"]]
    return dict(zip(table["file"], table["problem"]))


def test_read_text_then_write_machine_captions_then_reset_them(news, engines):
    at = admin()
    button(at, "Read text in pictures").click()
    finish(run(at))
    [summary] = [w.value for w in at.warning if "Reading the text" in w.value]
    assert "21 pictures read (21 with text), 0 machine captions written, 1 problems" in summary
    [(name, reason)] = problems(at).items()
    assert name.startswith("bad.png (id ") and "failed on this picture" in reason
    items = {i.metadata["file_name"]: i for i in open_store().open("news").all_items()}
    assert items["sign.png"].metadata["ocr_text"] == "Rathaus" and "ocr_engine" not in items["bad.png"].metadata

    button(at, "Write machine captions").click()
    finish(run(at))
    assert any("21 machine captions written, 0 problems" in s.value for s in at.success), texts(at.success)
    items = {i.metadata["file_name"]: i for i in open_store().open("news").all_items()}
    assert items["p3.png"].metadata["machine_caption"] == "a blue picture"
    assert "machine_caption" not in items["sign.png"].metadata  # it has an editorial caption

    button(at, "Reset machine captions").click()
    run(at)
    assert "Removed the machine captions of 21 items of news." in [s.value for s in at.success]
    assert not any("machine_caption" in i.metadata for i in open_store().open("news").all_items())


def test_stop_ends_the_run_after_the_current_batch_and_the_next_run_does_the_rest(news, engines):
    held = engines["reader"] = HeldReader()
    at = admin()
    button(at, "Read text in pictures").click()
    run(at)
    assert at.button(key="adm_enrich_ocr").disabled and at.button(key="adm_reset_captions").disabled
    at.button(key="adm_enrich_stop").click()
    run(at)
    assert any("Stopping after the current batch" in c for c in texts(at.caption))
    held.go.set()
    finish(at)
    assert any("15 pictures read (15 with text), 0 machine captions written, 2 problems" in w.value  # bad.png and the stop
               and "(stopped)" in w.value for w in at.warning), texts(at.warning)
    assert "stopped by the user after 16 of 22 items" in problems(at)["(run)"]
    button(at, "Read text in pictures").click()
    finish(run(at))
    assert any("6 pictures read (6 with text), 0 machine captions written, 1 problems" in w.value  # bad.png again
               for w in at.warning), texts(at.warning)
    assert held.calls == 16 + 7


def test_the_read_text_at_ingest_setting_is_saved_and_an_admin_ingest_honours_it(news, engines, tmp_path):
    from imgsearch_core.ingest.enrich import ocr_at_ingest

    at = admin()
    assert at.toggle(key="adm_ocr_at_ingest_news").value is False
    at.toggle(key="adm_ocr_at_ingest_news").set_value(True)
    run(at)
    assert ocr_at_ingest(open_store().open("news"))
    folder = write_pictures(tmp_path / "more", {"late.png": picture(["Spät", "Abend"], "red")})
    folder_source(at, folder)
    start_ingest(at)
    late = [i for i in open_store().open("news").all_items() if i.metadata["file_name"] == "late.png"]
    assert late[0].metadata["ocr_text"] == "Spät Abend" and engines["reader"].calls == 1


def test_a_captioner_that_cannot_be_loaded_is_one_clear_error_and_the_page_goes_on(news, engines, monkeypatch):
    def missing(name_or_path=None):
        raise ValueError("No captioning model at 'nowhere': set IMGSEARCH_CAPTIONER to a model name or folder.")

    monkeypatch.setitem(sys.modules, "imgsearch_core.models.captioner", types.SimpleNamespace(load_captioner=missing))
    at = admin()
    button(at, "Write machine captions").click()
    run(at)
    assert texts(at.error) == ["The captioner cannot be loaded: No captioning model at 'nowhere': set "
                               "IMGSEARCH_CAPTIONER to a model name or folder."]
    assert at.button(key="adm_delete_collection") is not None and not at.button(key="adm_enrich_ocr").disabled
