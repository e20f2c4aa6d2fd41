"""Device choice: every branch of the pure function, on a CPU-only machine."""
import pytest

from imgsearch_core.models.backends.device import (CPU_BATCH, CPU_EP, CUDA_EP, GPU_BATCH, DeviceError, choose_device,
                                            detect_device)

CPU_ONLY = [CPU_EP]
ORT_CUDA = [CUDA_EP, CPU_EP]


@pytest.mark.parametrize("requested", [None, "auto", " AUTO "])
def test_auto_without_accelerators_is_cpu(requested):
    choice = choose_device(requested, False, False, CPU_ONLY)
    assert (choice.device, choice.torch_device, choice.ort_providers) == ("cpu", "cpu", (CPU_EP,))
    assert choice.batch_size == CPU_BATCH and not choice.torch_fp16 and choice.ort_device == "cpu"


def test_auto_with_torch_cuda_uses_fp16_torch_and_a_larger_batch():
    choice = choose_device("auto", True, False, CPU_ONLY)
    assert (choice.device, choice.torch_device, choice.torch_fp16) == ("cuda", "cuda", True)
    assert choice.ort_providers == (CPU_EP,) and choice.ort_device == "cpu"  # no CUDA EP: ONNX stays on CPU
    assert choice.batch_size == GPU_BATCH > CPU_BATCH


def test_auto_with_onnxruntime_cuda_only():
    choice = choose_device("auto", False, False, ORT_CUDA)
    assert choice.device == "cuda" and choice.ort_providers == (CUDA_EP, CPU_EP) and choice.ort_device == "cuda"
    assert choice.torch_device == "cpu" and not choice.torch_fp16


def test_cuda_wins_over_mps_under_auto_and_mps_is_next():
    assert choose_device("auto", True, True, ORT_CUDA).device == "cuda"
    mps = choose_device("auto", False, True, CPU_ONLY)
    assert (mps.device, mps.torch_device, mps.ort_providers, mps.batch_size) == ("mps", "mps", (CPU_EP,), GPU_BATCH)
    assert choose_device("mps", False, True, ["CoreMLExecutionProvider", CPU_EP]).ort_device == "mps"


def test_explicit_cpu_ignores_accelerators():
    choice = choose_device("cpu", True, True, ORT_CUDA)
    assert (choice.device, choice.torch_device, choice.ort_providers) == ("cpu", "cpu", (CPU_EP,))


def test_explicit_cuda_with_cuda():
    assert choose_device("cuda", True, False, ORT_CUDA).ort_providers == (CUDA_EP, CPU_EP)


def test_explicit_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(DeviceError, match="IMGSEARCH_DEVICE=cuda.*onnxruntime-gpu"):
        choose_device("cuda", False, True, CPU_ONLY)


def test_explicit_mps_without_mps_is_a_clear_error():
    with pytest.raises(DeviceError, match="mps"):
        choose_device("mps", True, False, ORT_CUDA)


def test_unknown_device_is_rejected():
    with pytest.raises(DeviceError, match="auto, cpu, cuda, mps"):
        choose_device("tpu", False, False, CPU_ONLY)


def test_detect_on_this_machine_reads_the_environment(monkeypatch):
    monkeypatch.setenv("IMGSEARCH_DEVICE", "cpu")
    assert detect_device(use_torch=False).device == "cpu"
    monkeypatch.setenv("IMGSEARCH_DEVICE", "bogus")
    with pytest.raises(DeviceError):
        detect_device(use_torch=False)
