"""Saved optimised ONNX graphs (backends/saved_graph.py) on a real export of a small random CLIP."""
from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.models.backends import layout
from imgsearch_core.models.backends.onnx_clip import OnnxClip
from imgsearch_core.models.backends.saved_graph import saved_path
from tests.helpers import image_bytes

pytestmark = pytest.mark.timeout(300)
TEXTS = ["a red harbour", "the blue mountain at night", "street"]


def _copy(export: layout.Export, target: Path) -> layout.Export:
    """The export in a folder of its own (file times kept), without any graph saved so far."""
    shutil.copytree(export.directory, target, ignore=shutil.ignore_patterns(layout.SAVED_GRAPHS))
    return layout.Export(target, layout.read_manifest(target))


@pytest.fixture
def export(tiny_embedder, tmp_path) -> layout.Export:
    return _copy(tiny_embedder.export, tmp_path / "export")


def _images() -> list[Image.Image]:
    return [Image.open(io.BytesIO(image_bytes(i))).convert("RGB") for i in range(3)]


def test_a_session_loads_the_saved_graph_made_on_first_use(export):
    source = export.files("fp32")[1]
    first = OnnxClip(export, "fp32").embed_texts(TEXTS)
    saved = saved_path(source)
    assert saved.is_file() and saved.with_suffix(".data").is_file()
    made = saved.stat().st_mtime_ns
    stat = source.stat()
    source.write_bytes(b"\0" * stat.st_size)  # same size and time: only the saved graph can still load
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = OnnxClip(export, "fp32").embed_texts(TEXTS)
    assert np.array_equal(first, again)
    assert saved.stat().st_mtime_ns == made  # reused, not saved again
    assert not list(saved.parent.glob(".tmp-*"))


def test_the_saved_graphs_give_the_vectors_of_the_exported_ones(export, tmp_path, caplog):
    as_exported = _copy(export, tmp_path / "as-exported")
    (as_exported.directory / layout.SAVED_GRAPHS).write_text("")  # not a folder: nothing can be saved there
    images = _images()
    for variant in ("fp32", "int8"):
        saved, plain = OnnxClip(export, variant), OnnxClip(as_exported, variant)
        with caplog.at_level(logging.WARNING, logger="imgsearch_core.models.backends.saved_graph"):
            expected_texts, expected_images = plain.embed_texts(TEXTS), plain.embed_images(images)
        assert "loading it as exported" in caplog.text  # the fallback: the exported graph, optimised at load
        texts, pictures = saved.embed_texts(TEXTS), saved.embed_images(images)
        assert all(saved_path(path).is_file() for path in export.files(variant))
        for got, want in ((texts, expected_texts), (pictures, expected_images)):
            assert np.abs(got - want).max() <= 1e-6
            assert np.min(np.sum(got * want, axis=1)) >= 1 - 1e-6


def test_a_rewritten_export_gets_a_new_saved_graph_and_the_old_one_goes(export):
    source = export.files("fp32")[1]
    OnnxClip(export, "fp32").embed_texts(TEXTS)
    old = saved_path(source)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # as a new export of the same file name
    new = saved_path(source)
    assert new != old
    (old.parent / ".tmp-dead").mkdir()  # as a writer killed halfway leaves it
    OnnxClip(export, "fp32").embed_texts(TEXTS)
    assert new.is_file() and new.with_suffix(".data").is_file()
    assert not old.exists() and not old.with_suffix(".data").exists()
    assert not (old.parent / ".tmp-dead").exists()


def test_processes_starting_together_save_one_graph(export):
    probe = ("import sys; from pathlib import Path; from imgsearch_core.models.backends import layout; "
             "from imgsearch_core.models.backends.onnx_clip import OnnxClip; d = Path(sys.argv[1]); "
             "print(OnnxClip(layout.Export(d, layout.read_manifest(d)), 'fp32').embed_texts(['a red harbour'])[0].tolist())")
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    runs = [subprocess.Popen([sys.executable, "-c", probe, str(export.directory)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    outputs = [run.communicate(timeout=240) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-500:] for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    folder = export.directory / layout.SAVED_GRAPHS
    assert sorted(p.suffix for p in folder.iterdir() if not p.name.startswith(".")) == [".data", ".onnx"]
    assert not list(folder.glob(".tmp-*"))
