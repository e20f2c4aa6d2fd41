"""Export a sentence-transformers CLIP to ONNX (fp32 + dynamic int8) once per fingerprint. Needs torch.

The graphs are transformers' own `get_image_features` / `get_text_features` (in 5.x an output object whose
`pooler_output` is the projected embedding; the text graph includes CLIP's EOS pooling, which in 5.23 takes
the first position of `eos_token_id`, or argmax of the ids for old configs with eos_token_id == 2). The
exporter is torch's classic TorchScript one (`dynamo=False`): it needs no onnxscript and handles both towers.
While tracing, the visual tower's patch embedding (a Conv whose stride is its kernel) is swapped for the same
reshape + MatMul, so that int8 quantises it like every other projection.
L2 normalisation is done outside the graph, in float32.

int8: `onnxruntime.quantization.quantize_dynamic`, weights of MatMul nodes only (settings in QUANTIZATION,
chosen by benchmarks/bench_backends.py; see benchmarks/RESULTS.md). The export is written to a temporary
folder and renamed into place, under a file lock, so concurrent start-ups never see half an export.
"""
from __future__ import annotations

import logging
import shutil
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from imgsearch_core.models.backends import layout
from imgsearch_core.models.backends.preprocess import image_config_from_processor

log = logging.getLogger(__name__)

OPSET = 17
# Chosen by benchmarks/bench_backends.py --variants (figures in benchmarks/RESULTS.md): on AVX2 CPUs without
# VNNI, ORT's u8s8 MatMulInteger kernel multiplies pairs with 16-bit saturation, so full-range 8-bit weights
# can overflow; 7-bit weights (reduce_range) avoid that, and per-channel scales give each output column its own
# range. Together: the best top-10 overlap on both measured models, 10x less error than full-range per-channel
# weights on the trained imgsearch-mini, and the fastest of the four settings. Only MatMul weights
# are quantised (MatMulConstBOnly): activation x activation products (attention) stay fp32.
QUANTIZATION: dict[str, Any] = {
    "op_types": ["MatMul"], "per_channel": True, "reduce_range": True, "weight_type": "QInt8",
    "extra_options": {"MatMulConstBOnly": True},
}


class ExportError(RuntimeError):
    """The model cannot be exported (not a CLIP, unsupported preprocessing, exporter failure)."""


def clip_modules(st_model) -> tuple[Any, Any]:
    first = st_model[0]
    clip, processor = getattr(first, "model", None), getattr(first, "processor", None)
    if clip is None or processor is None or not hasattr(clip, "get_image_features"):
        raise ExportError("the model is not a transformers CLIPModel with a processor")
    if getattr(processor, "image_processor", None) is None or getattr(processor, "tokenizer", None) is None:
        raise ExportError("the model's processor has no image processor or tokenizer")
    return clip, processor


def _patches_as_matmul(conv):
    """CLIP's patch embedding (a Conv2d whose stride is its kernel) as reshape + MatMul, or None if it is not one.

    Why: quantize_dynamic turns MatMul weights into int8 but leaves the Conv in fp32, where ORT's NCHWc Conv
    took 6% of an int8 ViT-B/32 row; as a MatMul it is quantised with the others (benchmarks/RESULTS.md).
    """
    import torch

    plain = (conv.kernel_size == conv.stride and conv.padding in ((0, 0), 0) and conv.dilation == (1, 1)
             and conv.groups == 1 and conv.kernel_size[0] == conv.kernel_size[1])
    if not plain:
        return None

    class PatchMatMul(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patch, self.channels = conv.kernel_size[0], conv.out_channels
            self.weight = torch.nn.Parameter(conv.weight.detach().reshape(conv.out_channels, -1).t().contiguous())
            self.bias = None if conv.bias is None else torch.nn.Parameter(conv.bias.detach().clone())

        def forward(self, pixels):
            batch, colours, height, width = pixels.shape
            rows, cols, p = height // self.patch, width // self.patch, self.patch
            patches = pixels.reshape(batch, colours, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5)
            out = patches.reshape(batch, rows * cols, colours * p * p) @ self.weight
            if self.bias is not None:
                out = out + self.bias
            return out.transpose(1, 2).reshape(batch, self.channels, rows, cols)  # the Conv's NCHW output

    return PatchMatMul().eval()


@contextmanager
def _exportable(clip):
    """The model with its patch embedding as a MatMul while it is traced; restored afterwards."""
    embeddings = getattr(getattr(clip, "vision_model", None), "embeddings", None)
    conv = getattr(embeddings, "patch_embedding", None)
    replacement = _patches_as_matmul(conv) if conv is not None else None
    if replacement is None:
        yield clip
        return
    embeddings.patch_embedding = replacement
    try:
        yield clip
    finally:
        embeddings.patch_embedding = conv


def _towers(clip):
    import torch

    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values):
            return self.clip.get_image_features(pixel_values=pixel_values).pooler_output

    class Text(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, input_ids, attention_mask):
            return self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output

    return Visual().eval(), Text().eval()


def text_settings(st_model, clip, tokenizer) -> dict[str, int]:
    limits = [int(getattr(tokenizer, "model_max_length", 10**6) or 10**6),
              int(clip.config.text_config.max_position_embeddings)]
    st_limit = getattr(st_model, "max_seq_length", None)
    if isinstance(st_limit, int) and st_limit > 0:
        limits.append(st_limit)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return {"max_length": min(limits), "pad_id": int(pad_id)}


def _export_fp32(clip, processor, directory: Path, max_length: int) -> None:
    import torch

    size = processor.image_processor.crop_size
    height, width = (size["height"], size["width"]) if isinstance(size, dict) else (size.height, size.width)
    tokens = processor.tokenizer(["a photo", "a red circle near the harbour at night"], padding=True,
                                 truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad(), warnings.catch_warnings(), _exportable(clip):
        warnings.simplefilter("ignore")
        visual, text = _towers(clip)
        torch.onnx.export(
            visual, (torch.randn(2, 3, height, width),), str(directory / "visual.onnx"),
            input_names=["pixel_values"], output_names=["image_embeds"],
            dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )
        torch.onnx.export(
            text, (tokens["input_ids"], tokens["attention_mask"]), str(directory / "text.onnx"),
            input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "text_embeds": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )


def quantize_int8(source: Path, target: Path, settings: dict[str, Any] = QUANTIZATION) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing advice to the root logger each call
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                str(source), str(target), op_types_to_quantize=list(settings["op_types"]),
                per_channel=bool(settings["per_channel"]), reduce_range=bool(settings["reduce_range"]),
                weight_type=getattr(QuantType, settings["weight_type"]),
                extra_options=dict(settings.get("extra_options") or {}),
            )
    finally:
        root.setLevel(level)


def _check_against_torch(clip, processor, onnx) -> None:
    """The fp32 graph (an OnnxClip) must give transformers' own projected embeddings (cosine > 1 - 1e-4)."""
    import torch

    from imgsearch_core.models.backends.gate import calibration_set
    from imgsearch_core.models.backends.onnx_clip import normalise_rows

    images, texts = calibration_set(4, 4)
    tokens = processor.tokenizer(texts, padding=True, truncation=True,
                                 max_length=onnx.export.manifest["text"]["max_length"], return_tensors="pt")
    pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        ref_i = normalise_rows(clip.get_image_features(pixel_values=pixels).pooler_output.numpy())
        ref_t = normalise_rows(clip.get_text_features(**tokens).pooler_output.numpy())
    worst = min(float(np.min(np.sum(ref_i * onnx.embed_images(images), 1))),
                float(np.min(np.sum(ref_t * onnx.embed_texts(texts), 1))))
    if worst < 1 - 1e-4:
        raise ExportError(f"the exported graph disagrees with torch (worst cosine {worst:.6f})")


def _is_clip_export(folder: Path) -> bool:
    return len(folder.name) == 16 and not folder.name.startswith(".") and (folder / layout.MANIFEST).exists()


def export_model(st_model, model_dir: Path | None, fingerprint: str, *, gate_inputs=None,
                 quantization: dict[str, Any] = QUANTIZATION) -> layout.Export:
    """Export (or find, if another process just did) the ONNX models for this fingerprint.

    The calibration gate runs here (`gate_inputs`, default 48 images and 40 texts); the collection-sized one
    later, when an ingest needs int8's speed (backends/collection_gate.py `settle`).
    """
    from filelock import FileLock

    from imgsearch_core.models.backends.gate import calibration_set, fidelity_gate
    from imgsearch_core.models.backends.onnx_clip import OnnxClip

    import onnxruntime
    import torch
    import transformers

    clip, processor = clip_modules(st_model)
    final = layout.writable_dir(model_dir, fingerprint)
    with FileLock(str(final) + ".lock", timeout=1800):
        existing = layout.find_export(model_dir, fingerprint)
        if existing is not None:
            return existing
        tmp = layout.temporary_dir(final)
        try:
            clip = clip.float().eval()
            tokens = text_settings(st_model, clip, processor.tokenizer)
            manifest: dict[str, Any] = {
                "format": layout.FORMAT, "fingerprint": fingerprint, "exported_from": str(model_dir) if model_dir else None,
                "dim": int(clip.config.projection_dim), "opset": OPSET, "image": image_config_from_processor(
                    processor.image_processor), "text": tokens, "quantization": quantization,
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                             "onnxruntime": onnxruntime.__version__},
            }
            started = time.perf_counter()
            _export_fp32(clip, processor, tmp, tokens["max_length"])
            manifest["export_seconds"] = round(time.perf_counter() - started, 2)
            processor.tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
            layout.write_manifest(tmp, manifest)
            fp32 = OnnxClip(layout.Export(tmp, manifest), "fp32")
            _check_against_torch(clip, processor, fp32)
            started = time.perf_counter()
            for source, target in zip(layout.VARIANTS["fp32"], layout.VARIANTS["int8"]):
                quantize_int8(tmp / source, tmp / target, quantization)
            manifest["quantize_seconds"] = round(time.perf_counter() - started, 2)
            manifest["bytes"] = {p.name: p.stat().st_size for p in sorted(tmp.glob("*.onnx"))}
            images, texts = gate_inputs if gate_inputs is not None else calibration_set()
            int8 = OnnxClip(layout.Export(tmp, manifest), "int8")
            gate = fidelity_gate(fp32, int8, images, texts)
            manifest["gate"] = gate.as_dict()
            layout.write_manifest(tmp, manifest)
            layout.publish(tmp, final, model_dir, _is_clip_export)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log.info("Exported %s to ONNX in %s (gate %s)", model_dir or fingerprint[:16], final, manifest["gate"])
    return layout.Export(final, manifest)
