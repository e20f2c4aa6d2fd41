"""Export a text tower to ONNX once per tower fingerprint, checked against sentence-transformers. Needs torch.

The graph is the sentence-transformers model itself (transformer -> pooling over the attention mask -> Dense,
whatever the tower's modules are) from (input_ids, attention_mask) to its output vector, exported with
torch's classic TorchScript exporter (`dynamo=False`, opset 17) as the CLIP towers are; L2 normalisation
is done outside the graph, in float32. Beside it: the tower's own fast tokenizer (tokenizer.json) with the
truncation length (the model's max_seq_length) and pad id in the manifest.

Where and how it is written follows the CLIP exports (backends/layout.py): `<tower_dir>/.onnx/<fp16>/`, or the
shared ONNX cache when the tower's folder is not writable (a hub snapshot), into a temporary folder renamed
into place under a file lock, so concurrent start-ups never see half an export. The manifest says what the
checks found (text_towers/onnx_checks.py): a tower whose fp32 graph or tokens disagree with
sentence-transformers keeps a manifest with the refusal and no graph, so later processes go to torch at once
instead of exporting again; int8 is kept only when the export measured it faster and faithful.
"""
from __future__ import annotations

import logging
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from imgsearch_core.models.backends import layout
from imgsearch_core.models.backends.export import OPSET, QUANTIZATION, quantize_int8
from imgsearch_core.models.embed import resolve_model
from imgsearch_core.models.text_towers.onnx_checks import check_against_sentence_transformers, int8_verdict
from imgsearch_core.models.text_towers.onnx_layout import FORMAT, GRAPHS, KIND, TOKENIZER, TowerExport, find_tower_export
from imgsearch_core.models.text_towers.onnx_tower import INT8_BACKENDS, OnnxTower, TowerGraph
from imgsearch_core.models.text_towers.tower import current_fingerprint, load_sentence_transformer, tower_files

log = logging.getLogger(__name__)
INT8_SIZES = (150, 40)  # generated documents and queries of the int8 fidelity check (~1 min of a first export)


def text_settings(st_model) -> dict[str, int]:
    """Truncation length and pad id as sentence-transformers tokenises: its max_seq_length, the tokenizer's pad."""
    tokenizer = st_model.tokenizer
    limits = [int(getattr(tokenizer, "model_max_length", 10**6) or 10**6)]
    if isinstance(st_model.max_seq_length, int) and st_model.max_seq_length > 0:
        limits.append(st_model.max_seq_length)
    return {"max_length": min(limits), "pad_id": int(tokenizer.pad_token_id or 0)}


def _export_graph(st_model, target: Path) -> None:
    import torch

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = st_model

        def forward(self, input_ids, attention_mask):
            return self.model({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    tokens = st_model.tokenizer(["a photo", "ein rotes Boot im Hafen bei Nacht"], padding=True, return_tensors="pt")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Tower().eval(), (tokens["input_ids"], tokens["attention_mask"]), str(target),
            input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "text_embeds": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )


def _is_tower_export(folder: Path) -> bool:
    manifest = layout.read_manifest(folder)
    return bool(manifest) and manifest.get("kind") == KIND


def _build(st_model, tmp: Path, manifest: dict[str, Any], int8_sizes: tuple[int, int]) -> None:
    """Graph, tokenizer and checks into `tmp`; the manifest records what the checks found."""
    started = time.perf_counter()
    _export_graph(st_model, tmp / GRAPHS["fp32"])
    manifest["export_seconds"] = round(time.perf_counter() - started, 2)
    st_model.tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER))
    layout.write_manifest(tmp, manifest)
    export = TowerExport(tmp, manifest)
    fp32 = TowerGraph(export, "fp32")
    manifest["check"] = check_against_sentence_transformers(st_model, fp32)
    if not manifest["check"]["passed"]:
        for path in tmp.iterdir():  # keep only the manifest: the refusal is remembered, the graph is not kept
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return
    decide_int8(export, int8_sizes)


def decide_int8(export: TowerExport, int8_sizes: tuple[int, int] | None = None, **verdict_options: Any) -> TowerExport:
    """Quantise the fp32 graph (unless an int8 graph is there), measure it (onnx_checks.int8_verdict, which takes
    `verdict_options`: floors, timing) and keep the int8 graph only when approved; the verdict and the graphs'
    sizes go into the export's manifest, on disk too. The export makes this decision once; tests make it again
    on a copy of that one export to force each verdict."""
    manifest = export.manifest
    if not export.graph("int8").is_file():
        started = time.perf_counter()
        quantize_int8(export.graph("fp32"), export.graph("int8"), QUANTIZATION)
        manifest["quantize_seconds"] = round(time.perf_counter() - started, 2)
    manifest["int8"] = int8_verdict(TowerGraph(export, "fp32"), TowerGraph(export, "int8"),
                                    *(int8_sizes or INT8_SIZES), **verdict_options)
    if not manifest["int8"]["approved"]:
        export.graph("int8").unlink()
    manifest["bytes"] = {path.name: path.stat().st_size for path in sorted(export.directory.glob("*.onnx"))}
    layout.write_manifest(export.directory, manifest)
    return export


def export_tower(st_model, owner: Path | None, fingerprint: str, *,
                 int8_sizes: tuple[int, int] | None = None) -> TowerExport:
    """Export (or find, if another process just did) this tower's ONNX graph and checks for `fingerprint`.

    `owner` is the tower's own folder when it is a local tower (None: the shared cache); `int8_sizes` the
    number of generated documents and queries of the int8 fidelity check (default INT8_SIZES).
    """
    from filelock import FileLock

    import onnxruntime
    import torch
    import transformers

    final = layout.writable_dir(owner, fingerprint)
    with FileLock(str(final) + ".lock", timeout=1800):
        existing = find_tower_export(owner, fingerprint)
        if existing is not None:
            return existing
        tmp = layout.temporary_dir(final)
        try:
            st_model = st_model.float().eval().to("cpu")
            manifest: dict[str, Any] = {
                "kind": KIND, "format": FORMAT, "fingerprint": fingerprint, "opset": OPSET,
                "exported_from": str(owner) if owner else None, "text": text_settings(st_model),
                "dim": int(st_model.get_embedding_dimension()), "quantization": QUANTIZATION,
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                             "onnxruntime": onnxruntime.__version__},
            }
            _build(st_model, tmp, manifest, int8_sizes or INT8_SIZES)
            layout.write_manifest(tmp, manifest)
            layout.publish(tmp, final, owner, _is_tower_export)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return TowerExport(final, manifest)


def _export_of(name: str, files_dir: Path, owner: Path | None, fingerprint: str) -> TowerExport | None:
    """The tower's export, made now if there is none; None (after a warning) when it cannot be made."""
    export = find_tower_export(owner, fingerprint)
    if export is not None:
        return export
    st_model = load_sentence_transformer(name, files_dir)  # a ModelLoadError here is the tower's, not ONNX's
    try:
        return export_tower(st_model, owner, fingerprint)
    except Exception as exc:  # noqa: BLE001 - an exporter or runtime failure: torch still embeds the queries
        log.warning("Text tower %s cannot be exported to ONNX (%s); its queries run on torch.", name, exc)
        return None


def onnx_tower(name_or_path: str, backend: str) -> OnnxTower | None:
    """The tower on ONNX Runtime for `backend` ('auto', 'onnx' or 'onnx-int8'), exported on first use; None
    when it must run on torch (its export failed the check against sentence-transformers, or cannot be made)."""
    name, files_dir = tower_files(name_or_path)
    fingerprint = current_fingerprint(files_dir)
    owner = files_dir if resolve_model(name_or_path)[1] is not None else None  # a hub cache is not ours to write
    export = _export_of(name, files_dir, owner, fingerprint)
    if export is None:
        return None
    if not export.usable:
        log.warning("Text tower %s: its ONNX export disagrees with sentence-transformers (%s); its queries run on "
                    "torch.", name, export.manifest.get("check"))
        return None
    variant = "int8" if backend in INT8_BACKENDS and export.int8_approved else "fp32"
    try:
        return OnnxTower(name, files_dir, fingerprint, export, variant)
    except Exception as exc:  # noqa: BLE001 - e.g. ONNX Runtime missing: torch still embeds the queries
        log.warning("Text tower %s: the ONNX session cannot be made (%s); its queries run on torch.", name, exc)
        return None
