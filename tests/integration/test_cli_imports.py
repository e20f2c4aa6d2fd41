"""A command-line search on the ONNX path never imports torch (issue: a search must start fast)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import write_images

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("TORCH_LOADED=" + str("torch" in sys.modules), file=sys.stderr))
sys.argv = ["imgsearch_core", *sys.argv[1:]]
runpy.run_module("imgsearch_core", run_name="__main__")
"""


def run(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "IMGSEARCH_BACKEND": "onnx"}
    return subprocess.run([sys.executable, "-c", PROBE, *args, "--store", str(store)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_search_and_stats_on_the_onnx_path_do_not_import_torch(tmp_path, tiny_model_dir):
    write_images(tmp_path / "photos", 6)
    store = tmp_path / "store"
    done = run("ingest", str(tmp_path / "photos"), "--model", str(tiny_model_dir), "--json", store=store)
    assert done.returncode == 0, done.stderr  # the first use exports the model (torch is needed once)
    for command in (["search", "red harbour", "--json"], ["stats", "--json"], ["search", "city", "--mode", "text"]):
        done = run(*command, store=store)
        assert done.returncode == 0, done.stderr
        assert "TORCH_LOADED=False" in done.stderr, (command, done.stderr[-500:])
    hits = json.loads(run("search", "red harbour", "--json", store=store).stdout)["hits"]
    assert hits
