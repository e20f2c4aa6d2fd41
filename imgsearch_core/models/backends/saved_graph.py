"""Each exported graph optimised once and saved beside the export, so a session loads in a fraction of the time.

Why: creating a ViT-B/32 text session from text.onnx took ~1.3 s of a command-line search, nearly all of it
loading the 250 MB protobuf with its weights, not optimising it. ONNX Runtime saves the graph it optimised
with the weights in an external data file, which it memory-maps when loading: the same session is then made
in ~0.5 s.

The saved graph is optimised at ORT_ENABLE_EXTENDED, the highest level whose saved graph is not specific to
this machine's CPU (ORT_ENABLE_ALL adds layout-specific NCHWc nodes); sessions load it at ORT_ENABLE_ALL, which
applies those remaining layout passes, so they run the graph an ENABLE_ALL session of the original runs
(tests/integration/models/test_onnx_saved_graph.py compares the vectors). It is keyed by the source file (size and
mtime, so a rewritten export is never matched with an old graph) and the ONNX Runtime version; a new key
removes the source's older graphs. CPU only: the fused nodes of a saved graph belong to the provider that
made them. Anything that goes wrong (a read-only export, a full disk) falls back to the original file.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from imgsearch_core.models.backends.layout import SAVED_GRAPHS

log = logging.getLogger(__name__)
DATA_SUFFIX = ".data"


def _key(source: Path) -> str:
    import onnxruntime as ort

    stat = source.stat()
    return hashlib.sha256(f"{ort.__version__}|extended|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def saved_path(source: Path) -> Path:
    """Where the optimised graph of `source` (an export's .onnx file) is saved; its weights are beside it."""
    return source.parent / SAVED_GRAPHS / f"{source.stem}.{_key(source)}.onnx"


def _save(source: Path, target: Path) -> None:
    """Optimise `source` into a temporary folder, then move the weights, then the graph into place: a graph
    that is present always finds its whole weights file."""
    import onnxruntime as ort

    data = target.with_suffix(DATA_SUFFIX)
    for dead in target.parent.glob(".tmp-*"):  # left by a writer that was killed (writers hold the lock)
        shutil.rmtree(dead, ignore_errors=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.log_severity_level = 3
        options.optimized_model_filepath = str(work / target.name)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", data.name)
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        os.replace(work / data.name, data)
        os.replace(work / target.name, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for stale in target.parent.glob(f"{source.stem}.*"):
        if stale.name not in (target.name, data.name):
            stale.unlink(missing_ok=True)


def saved_graph(source: Path) -> Path:
    """The saved optimised graph of `source`, made on first use (under a lock: one process saves, the others
    wait and load it); `source` itself when it cannot be saved."""
    try:
        target = saved_path(source)
        if not target.is_file():
            from filelock import FileLock

            target.parent.mkdir(exist_ok=True)
            with FileLock(str(target.parent / ".lock"), timeout=600):
                if not target.is_file():
                    _save(source, target)
        return target
    except Exception as exc:  # noqa: BLE001 - a graph that cannot be saved is loaded as exported
        log.warning("Could not save the optimised graph of %s (%s); loading it as exported.", source, exc)
        return source
