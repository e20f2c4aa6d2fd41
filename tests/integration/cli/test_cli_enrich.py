"""`enrich` and `ingest --ocr --machine-captions` on a real store, with the engine factories given small real engines
(tests/picture_text_fixtures.py): the command line's wiring, options, output and errors are under test."""
from __future__ import annotations

import json
import sys
import types

import pytest

from imgsearch_core.cli.main import main
from imgsearch_core.config import Settings
from imgsearch_core.ingest.enrich import set_ocr_at_ingest
from imgsearch_core.store.store import Store
from tests.picture_text_fixtures import HueCaptioner, PixelReader, picture, write_pictures


@pytest.fixture
def engines(monkeypatch):
    """The factories the command line calls, returning the test engines (counted)."""
    made = {"reader": 0, "captioner": 0}
    monkeypatch.setenv("IMGSEARCH_BACKEND", "torch")  # no ONNX export of the tiny model: not what is under test

    def reader():
        made["reader"] += 1
        return PixelReader()

    def captioner(name_or_path=None):
        made["captioner"] += 1
        return HueCaptioner()

    monkeypatch.setitem(sys.modules, "imgsearch_core.models.ocr", types.SimpleNamespace(load_text_reader=reader))
    monkeypatch.setitem(sys.modules, "imgsearch_core.models.captioner", types.SimpleNamespace(load_captioner=captioner))
    return made


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_with_ocr_and_machine_captions_then_enrich_what_is_left(tmp_path, capsys, engines, tiny_model_dir):
    store = str(tmp_path / "store")
    first = write_pictures(tmp_path / "a", {"sign.png": picture(["Rathaus"], "green")})
    code, out, err = run(capsys, "ingest", str(first), "--collection", "news", "--model", str(tiny_model_dir),
                         "--ocr", "--machine-captions", "--json", "--store", store)
    assert code == 0, err
    assert json.loads(out)["added"] == 1 and engines == {"reader": 1, "captioner": 1}
    (item,) = Store(Settings.from_env(store_dir=tmp_path / "store")).open("news").all_items()
    assert (item.metadata["ocr_text"], item.metadata["machine_caption"]) == ("Rathaus", "a green picture")

    second = write_pictures(tmp_path / "b", {"plain.png": picture(["Markt"], "blue")})
    assert run(capsys, "ingest", str(second), "--collection", "news", "--json", "--store", store)[0] == 0
    code, out, err = run(capsys, "enrich", "--ocr", "--machine-captions", "--collection", "news", "--json", "--store", store)
    assert code == 0, err
    document = json.loads(out)
    assert (document["collection"], document["total"], document["read"], document["captioned"]) == ("news", 1, 1, 1)
    code, out, _ = run(capsys, "enrich", "--ocr", "--collection", "news", "--store", store)
    assert code == 0 and out.startswith("0 pictures read (0 with text), 0 machine captions written, 0 problems")


def test_the_collection_setting_reads_text_at_ingest_without_the_option(tmp_path, capsys, engines, tiny_model_dir):
    store_dir = tmp_path / "store"
    first = write_pictures(tmp_path / "a", {"one.png": picture(["Eins"], seed=1)})
    assert run(capsys, "ingest", str(first), "--collection", "news", "--model", str(tiny_model_dir),
               "--store", str(store_dir))[0] == 0
    assert engines["reader"] == 0
    set_ocr_at_ingest(Store(Settings.from_env(store_dir=store_dir)).open("news"), True)
    second = write_pictures(tmp_path / "b", {"two.png": picture(["Zwei"], seed=2)})
    assert run(capsys, "ingest", str(second), "--collection", "news", "--store", str(store_dir))[0] == 0
    texts = {i.metadata["file_name"]: i.metadata.get("ocr_text") for i in
             Store(Settings.from_env(store_dir=store_dir)).open("news").all_items()}
    assert texts == {"one.png": None, "two.png": "Zwei"} and engines["reader"] == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, engines, monkeypatch):
    store = str(tmp_path / "store")
    code, _, err = run(capsys, "enrich", "--collection", "news", "--store", store)
    assert code == 2 and err.strip().splitlines() == [
        "error: Nothing to do: give --ocr (read the text in the pictures), --machine-captions, or both."]
    code, _, err = run(capsys, "enrich", "--ocr", "--store", store)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "The store is empty" in err
    Store(Settings.from_env(store_dir=tmp_path / "store")).open_or_create("news", _identity())
    code, _, err = run(capsys, "enrich", "--ocr", "--collection", "other", "--store", store)
    assert code == 2 and "No collection 'other'" in err and "news" in err

    def missing():
        raise ImportError("No module named 'rapidocr_onnxruntime' (pip install -r requirements.txt)")

    monkeypatch.setitem(sys.modules, "imgsearch_core.models.ocr", types.SimpleNamespace(load_text_reader=missing))
    code, _, err = run(capsys, "enrich", "--ocr", "--collection", "news", "--store", store)
    assert code == 2 and err.strip() == ("error: The OCR engine cannot be loaded: No module named 'rapidocr_onnxruntime' "
                                         "(pip install -r requirements.txt)")


def _identity():
    from imgsearch_core.types import ModelIdentity

    return ModelIdentity("planted", 4, "f" * 64)
