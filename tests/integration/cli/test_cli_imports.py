"""The read commands import only what they need (issue 12: a command-line search must start fast).

Each command runs in a fresh subprocess that reports, at exit, which of the heavy modules it imported.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import write_images

HEAVY = ("torch", "transformers", "sentence_transformers", "chromadb", "numpy", "onnxruntime", "spacy")
PROBE = f"""
import atexit, runpy, sys
atexit.register(lambda: print("LOADED=" + ",".join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr))
sys.argv = ["imgsearch_core", *sys.argv[1:]]
runpy.run_module("imgsearch_core", run_name="__main__")
"""


def run(*args: str, store: Path | None = None, backend: str | None = "onnx") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "IMGSEARCH_BACKEND"}
    env.update({"PYTHONPATH": str(Path.cwd())}, **({"IMGSEARCH_BACKEND": backend} if backend else {}))
    command = [sys.executable, "-c", PROBE, *args] + (["--store", str(store)] if store else [])
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def loaded(done: subprocess.CompletedProcess) -> set[str]:
    line = [text for text in done.stderr.splitlines() if text.startswith("LOADED=")][-1]
    return {name for name in line.removeprefix("LOADED=").split(",") if name}


def test_help_and_argument_errors_import_nothing_heavy():
    for args in (["--help"], ["search", "--help"], ["search"]):  # the last one: a missing argument
        done = run(*args)
        assert done.returncode in (0, 2), done.stderr
        assert loaded(done) == set(), (args, done.stderr[-500:])


def test_read_commands_on_the_onnx_path_import_no_torch_or_transformers(tmp_path, tiny_model_dir):
    write_images(tmp_path / "photos", 6)
    store = tmp_path / "store"
    done = run("ingest", str(tmp_path / "photos"), "--model", str(tiny_model_dir), "--json", store=store)
    assert done.returncode == 0, done.stderr  # the first use exports the model (torch is needed once)
    hits = json.loads(run("search", "red harbour", "--json", store=store).stdout)["hits"]
    assert hits
    commands = (["search", "red harbour", "--json"], ["search", "city", "--mode", "text"],
                ["search", "city", "--mode", "vector"], ["similar", "--id", hits[0]["id"]], ["stats", "--json"])
    for command in commands:
        done = run(*command, store=store)
        assert done.returncode == 0, (command, done.stderr[-500:])
        assert loaded(done).isdisjoint({"torch", "transformers", "sentence_transformers"}), (command, done.stderr[-500:])
    assert "onnxruntime" not in loaded(run("stats", store=store))  # no model is loaded to list collections
    for command in (["search", "city", "--mode", "vector"], ["similar", "--id", hits[0]["id"]]):
        assert "spacy" not in loaded(run(*command, store=store)), command  # no keyword side: no query analysis


def test_ingest_with_a_cached_export_imports_no_torch(tmp_path, tiny_model_dir):
    write_images(tmp_path / "first", 3)
    write_images(tmp_path / "second", 3, start=3)
    store = tmp_path / "store"
    assert run("ingest", str(tmp_path / "first"), "--model", str(tiny_model_dir), store=store).returncode == 0
    done = run("ingest", str(tmp_path / "second"), "--model", str(tiny_model_dir), "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 3
    assert "torch" not in loaded(done), done.stderr[-500:]


def test_search_embeds_with_the_collection_s_saved_backend(tmp_path, tiny_model_dir):
    from imgsearch_core.models.backend_choice import save_backend
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    write_images(tmp_path / "photos", 4)
    store = tmp_path / "store"
    done = run("ingest", str(tmp_path / "photos"), "--model", str(tiny_model_dir), "--collection", "pinned", store=store)
    assert done.returncode == 0, done.stderr
    assert "torch" not in loaded(run("search", "red", store=store, backend=None))  # auto: ONNX
    save_backend(Store(Settings.from_env(store_dir=store)).open("pinned"), "torch")
    done = run("search", "red", store=store, backend=None)
    assert done.returncode == 0, done.stderr
    assert "torch" in loaded(done)  # the collection's choice, with no IMGSEARCH_BACKEND to override it
