"""Which device an Embedder runs on: IMGSEARCH_DEVICE=auto|cpu|cuda|mps.

`choose_device` is a pure function of what was asked and what the machine has, so every branch is tested
on a CPU-only machine; `detect_device` gathers the facts (importing torch only when the caller uses torch).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

DEVICES = ("auto", "cpu", "cuda", "mps")
CPU_BATCH, GPU_BATCH = 32, 128
CUDA_EP, COREML_EP, CPU_EP = "CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider"


class DeviceError(RuntimeError):
    """The requested device is not there (e.g. IMGSEARCH_DEVICE=cuda on a machine without CUDA)."""


@dataclass(frozen=True)
class DeviceChoice:
    device: str                       # what the run is said to use: 'cpu' | 'cuda' | 'mps'
    torch_device: str                 # where the torch backend runs
    torch_fp16: bool                  # half precision for torch on a GPU
    ort_providers: tuple[str, ...]    # ONNX Runtime providers, best first (always ends with CPU)
    batch_size: int                   # default embedding batch size for this device
    reason: str

    @property
    def ort_device(self) -> str:
        return "cuda" if CUDA_EP in self.ort_providers else ("mps" if COREML_EP in self.ort_providers else "cpu")


def normalise_device(requested: str | None) -> str:
    value = (requested or "auto").strip().lower()
    if value not in DEVICES:
        raise DeviceError(f"Unknown device {requested!r}: use one of {', '.join(DEVICES)} (IMGSEARCH_DEVICE).")
    return value


def choose_device(requested: str | None, cuda_available: bool, mps_available: bool,
                  ort_providers: Sequence[str]) -> DeviceChoice:
    """The device for `requested` given torch's CUDA/MPS availability and ONNX Runtime's providers."""
    wanted = normalise_device(requested)
    providers = tuple(ort_providers)
    ort_cuda = CUDA_EP in providers
    cpu = DeviceChoice("cpu", "cpu", False, (CPU_EP,), CPU_BATCH, "")
    if wanted == "cpu":
        return _with(cpu, "IMGSEARCH_DEVICE=cpu")
    if wanted == "cuda" or (wanted == "auto" and (cuda_available or ort_cuda)):
        if not (cuda_available or ort_cuda):
            raise DeviceError(
                "IMGSEARCH_DEVICE=cuda, but no CUDA device is usable: torch.cuda.is_available() is False and "
                f"onnxruntime offers only {', '.join(providers) or 'no providers'}. Install a CUDA build of torch "
                "or onnxruntime-gpu, or use IMGSEARCH_DEVICE=auto|cpu."
            )
        why = ", ".join(n for n, ok in (("torch CUDA", cuda_available), ("onnxruntime CUDA", ort_cuda)) if ok)
        return DeviceChoice(
            "cuda", "cuda" if cuda_available else "cpu", cuda_available,
            (CUDA_EP, CPU_EP) if ort_cuda else (CPU_EP,), GPU_BATCH, f"{wanted}: {why}",
        )
    if wanted == "mps" or (wanted == "auto" and mps_available):
        if not mps_available:
            raise DeviceError("IMGSEARCH_DEVICE=mps, but torch.backends.mps.is_available() is False on this machine.")
        ort = (COREML_EP, CPU_EP) if COREML_EP in providers else (CPU_EP,)
        return DeviceChoice("mps", "mps", False, ort, GPU_BATCH, f"{wanted}: torch MPS")
    return _with(cpu, "auto: no CUDA or MPS")


def _with(choice: DeviceChoice, reason: str) -> DeviceChoice:
    return DeviceChoice(choice.device, choice.torch_device, choice.torch_fp16, choice.ort_providers,
                        choice.batch_size, reason)


def ort_available_providers() -> tuple[str, ...]:
    try:
        import onnxruntime
    except ImportError:
        return ()
    return tuple(onnxruntime.get_available_providers())


def detect_device(requested: str | None = None, *, use_torch: bool) -> DeviceChoice:
    """Facts of this machine fed to `choose_device`. torch is asked only when `use_torch` (or already imported),
    so the ONNX path never imports it; ONNX Runtime cannot use torch's devices anyway."""
    requested = normalise_device(requested if requested is not None else os.environ.get("IMGSEARCH_DEVICE"))
    providers = ort_available_providers()
    cuda = mps = False
    explicit_needs_torch = requested == "mps" or (requested == "cuda" and CUDA_EP not in providers)
    if use_torch or explicit_needs_torch or "torch" in sys.modules:
        import torch

        cuda = bool(torch.cuda.is_available())
        mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return choose_device(requested, cuda, mps, providers)
