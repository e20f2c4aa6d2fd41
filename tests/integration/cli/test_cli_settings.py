"""Collection settings from the command line: `ingest --language`, `language` (show, set, detect) and `backend`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write_images
from tests.integration.cli.test_cli import cli
from tests.language_samples import CAPTIONS


@pytest.fixture(scope="module")
def german(tmp_path_factory, tiny_model_dir) -> Path:
    """Collection 'fotos': German captions, ingested with --language nl (deliberately wrong, set by hand)."""
    root = tmp_path_factory.mktemp("settings")
    for path, caption in zip(write_images(root / "fotos", len(CAPTIONS["de"]), sidecars=False), CAPTIONS["de"]):
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    store = root / "store"
    done = cli("ingest", str(root / "fotos"), "--collection", "fotos", "--model", str(tiny_model_dir),
               "--language", "nl", "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["caption_language"] == {"language": "nl", "source": "set", "label": "Dutch (set)"}
    return store


def run_json(*args: str, store: Path) -> dict:
    done = cli(*args, "--json", store=store)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_language_is_shown_detected_again_and_set(german):
    assert run_json("language", "--collection", "fotos", store=german)["language"] == "nl"
    detected = run_json("language", "--detect", "--collection", "fotos", store=german)
    assert (detected["language"], detected["source"], detected["indexed"]) == ("de", "detected", len(CAPTIONS["de"]))
    hits = run_json("search", "Brücken", "--mode", "text", "--collection", "fotos", store=german)["hits"]
    assert any("Brücke" in h["caption"] for h in hits)  # German lemmas now: "Brücken" finds "Brücke"
    english = run_json("language", "--set", "en", "--collection", "fotos", store=german)
    assert (english["language"], english["source"]) == ("en", "set")


def test_an_unsupported_language_is_refused_by_the_parser(german):
    done = cli("language", "--set", "pt", "--collection", "fotos", store=german)
    assert done.returncode == 2 and "invalid choice: 'pt'" in done.stderr


def test_backend_is_saved_shown_and_checked(german, monkeypatch):
    monkeypatch.delenv("IMGSEARCH_BACKEND", raising=False)
    assert run_json("backend", "--collection", "fotos", store=german) == {
        "collection": "fotos", "backend": "auto", "in_use": "auto"}
    assert run_json("backend", "torch", "--collection", "fotos", store=german)["backend"] == "torch"
    wrong = cli("backend", "tensorrt", "--collection", "fotos", store=german)
    assert wrong.returncode == 2 and "Unknown backend 'tensorrt'" in wrong.stderr
    assert run_json("backend", "--collection", "fotos", store=german)["backend"] == "torch"


def test_check_int8_runs_the_pending_collection_gate_once(tmp_path):
    """`backend --check-int8` settles the gate an ingest below 10,000 files left pending, and shows the figures.
    On a copy of the bundled model: trained and fixed, so its calibration gate passes every run (the tiny
    random model is drawn anew each session and may fail it)."""
    import shutil

    from imgsearch_core.models.backends import layout
    from imgsearch_core.config import BUNDLED_MODELS_DIR
    from imgsearch_core.models.embed import Embedder

    model = tmp_path / "model"
    shutil.copytree(BUNDLED_MODELS_DIR / "imgsearch-mini", model, ignore=shutil.ignore_patterns(".onnx"))
    write_images(tmp_path / "photos", 3)
    store = tmp_path / "store"
    done = cli("ingest", str(tmp_path / "photos"), "--model", str(model), "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert Embedder(str(model)).int8_pending
    first = run_json("backend", "--check-int8", store=store)["int8"]
    collection = first["collection"]
    assert first["calibration"]["passed"] and collection["n_images"] == 2000
    assert first["approved"] and collection["passed"]  # the fixed model's top-10 overlap: 0.961 (floor 0.95)
    assert run_json("backend", "--check-int8", store=store)["int8"] == first  # cached: not run a second time
    assert Embedder(str(model)).backend == "onnx-int8"
    text = cli("backend", "--check-int8", store=store)
    assert text.returncode == 0 and "approved: auto embeds with int8" in text.stdout
    export = Embedder(str(model)).export  # a cached failed verdict is shown as one, and auto stays on fp32
    layout.write_manifest(export.directory, {**export.manifest, "collection_gate": {**collection, "passed": False}})
    text = cli("backend", "--check-int8", store=store)
    assert text.returncode == 0 and "not approved: auto stays on fp32" in text.stdout
    assert Embedder(str(model)).backend == "onnx"
