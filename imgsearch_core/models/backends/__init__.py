"""Inference backends for the Embedder's CLIP: torch (sentence-transformers) and ONNX Runtime (fp32, int8).

Module map (each one concept; nothing here imports torch at import time):
  device      choose_device(): cpu / cuda / mps and the ONNX Runtime providers, a pure function
  preprocess  CLIP image preprocessing with PIL + numpy, text tokenisation with `tokenizers`
  layout      where an export lives, its manifest, and whether it is still valid for the weights
  export      torch -> ONNX (both towers), dynamic int8 quantisation, the gate run (needs torch)
  onnx_clip   ONNX Runtime sessions that embed images and texts (no torch)
  gate        the int8-vs-fp32 fidelity gate and its calibration set
"""
