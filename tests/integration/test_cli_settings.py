"""Collection settings from the command line: `ingest --language`, `language` (show, set, detect) and `backend`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write_images
from tests.integration.test_cli import cli
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
