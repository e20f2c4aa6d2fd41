"""CLIP preprocessing without torch: images with PIL + numpy, texts with the `tokenizers` library.

Why: the ONNX path must not import torch (start-up time, memory, a torch-free deployment later). The
steps and their arithmetic follow transformers' PIL backend of CLIPImageProcessor (5.x) exactly:
convert to RGB (transparency composited onto white), resize so the shortest side is `shortest_edge`
(the long side `int(size * long / short)`) with the configured PIL filter (bicubic for CLIP), centre crop
(top = (h - ch) // 2, zero padding when the image is smaller), rescale in float64 then cast to float32,
normalise in float32. Tokens: the model's own tokenizer.json (its post-processor adds BOS/EOS), truncated
to the model's max length, padded to the longest text of the batch with the pad id, mask 1/0.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def _size_dict(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, int):
        return {"height": value, "width": value}
    items = value.items() if hasattr(value, "items") else vars(value).items()
    return {k: int(v) for k, v in items if v is not None and k in {"shortest_edge", "height", "width", "longest_edge"}}


def image_config_from_processor(image_processor: Any) -> dict[str, Any]:
    """The settings of a transformers CLIP image processor as plain JSON (written into the export's manifest)."""
    get = lambda name, default=None: getattr(image_processor, name, default)  # noqa: E731
    config = {
        "do_convert_rgb": bool(get("do_convert_rgb", True)),
        "do_resize": bool(get("do_resize", True)),
        "size": _size_dict(get("size")),
        "resample": int(get("resample", 3)),
        "do_center_crop": bool(get("do_center_crop", True)),
        "crop_size": _size_dict(get("crop_size")),
        "do_rescale": bool(get("do_rescale", True)),
        "rescale_factor": float(get("rescale_factor", 1 / 255)),
        "do_normalize": bool(get("do_normalize", True)),
        "image_mean": [float(x) for x in np.atleast_1d(get("image_mean", [0.0]))],
        "image_std": [float(x) for x in np.atleast_1d(get("image_std", [1.0]))],
    }
    if config["do_resize"] and not ({"shortest_edge"} <= config["size"].keys() or {"height", "width"} <= config["size"].keys()):
        raise ValueError(f"Unsupported image processor size {config['size']!r}")
    if config["size"].get("longest_edge") is not None and "shortest_edge" in config["size"]:
        raise ValueError("Resizing with both shortest_edge and longest_edge is not supported on the ONNX path")
    return config


def _to_rgb(image: Image.Image) -> Image.Image:
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


class ImagePreprocessor:
    """PIL images -> float32 (n, 3, H, W) pixel values, as CLIPImageProcessor would give them."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.mean = np.asarray(config["image_mean"], dtype=np.float32)
        self.std = np.asarray(config["image_std"], dtype=np.float32)
        self._tables: dict[int, np.ndarray] = {}  # input channels -> _table

    @property
    def input_side(self) -> int:
        """The height in pixels of what the model is given (the crop, else the resize target)."""
        if self.config["do_center_crop"]:
            return int(self.config["crop_size"]["height"])
        size = self.config["size"]
        return int(size.get("height", size.get("shortest_edge", 0)))

    def _resize(self, image: Image.Image) -> Image.Image:
        size = self.config["size"]
        if "shortest_edge" in size:
            target = size["shortest_edge"]
            width, height = image.size
            short, long = (width, height) if width <= height else (height, width)
            new_long = int(target * long / short)
            new_w, new_h = (target, new_long) if width <= height else (new_long, target)
        else:
            new_w, new_h = size["width"], size["height"]
        return image.resize((new_w, new_h), resample=Image.Resampling(self.config["resample"]))

    def _crop(self, array: np.ndarray) -> np.ndarray:
        crop_h, crop_w = self.config["crop_size"]["height"], self.config["crop_size"]["width"]
        h, w = array.shape[:2]
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        if top >= 0 and left >= 0 and top + crop_h <= h and left + crop_w <= w:
            return array[top:top + crop_h, left:left + crop_w]
        new_h, new_w = max(crop_h, h), max(crop_w, w)
        padded = np.zeros((new_h, new_w) + array.shape[2:], dtype=array.dtype)
        top_pad, left_pad = math.ceil((new_h - h) / 2), math.ceil((new_w - w) / 2)
        padded[top_pad:top_pad + h, left_pad:left_pad + w] = array
        top, left = top + top_pad, left + left_pad
        return padded[max(0, top):min(new_h, top + crop_h), max(0, left):min(new_w, left + crop_w)]

    def _values(self, array: np.ndarray) -> np.ndarray:
        """Rescale and normalise (H, W, C) pixels, in the processor's own float64/float32 steps."""
        cfg = self.config
        if cfg["do_rescale"]:
            array = (array.astype(np.float64) * cfg["rescale_factor"]).astype(np.float32)
        if cfg["do_normalize"]:
            array = (array.astype(np.float32, copy=False) - self.mean) / self.std
        return array

    def _table(self, channels: int) -> np.ndarray:
        """(out channels, 256): `_values` of every 8-bit value, so a picture's pixels are looked up, not
        computed (the float math on 224 x 224 x 3 values cost ~2 ms an image, the look-up ~0.3 ms).
        The same elementwise operations on the same inputs give the same floats, bit for bit."""
        table = self._tables.get(channels)
        if table is None:
            ramp = np.repeat(np.arange(256, dtype=np.uint8).reshape(256, 1, 1), channels, axis=2)
            table = np.ascontiguousarray(np.moveaxis(np.asarray(self._values(ramp), dtype=np.float32)[:, 0], -1, 0))
            self._tables[channels] = table
        return table

    def one(self, image: Image.Image) -> np.ndarray:
        """(3, H, W) float32."""
        cfg = self.config
        image = _to_rgb(image) if cfg["do_convert_rgb"] else image
        if cfg["do_resize"]:
            image = self._resize(image)
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if cfg["do_center_crop"]:
            array = self._crop(array)
        if array.dtype != np.uint8:  # 16-bit or float pictures (do_convert_rgb off): computed
            return np.ascontiguousarray(np.moveaxis(self._values(array), -1, 0), dtype=np.float32)
        table = self._table(array.shape[2])
        out = np.empty((table.shape[0],) + array.shape[:2], dtype=np.float32)
        for channel, row in enumerate(table):
            np.take(row, array[:, :, channel if array.shape[2] > 1 else 0], out=out[channel], mode="clip")
        return out

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        return np.stack([self.one(image) for image in images])


class TextTokenizer:
    """Texts -> (input_ids, attention_mask) int64, as the CLIP processor gives them (padding=longest, truncation)."""

    def __init__(self, tokenizer_json: str | Path, *, max_length: int, pad_id: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.max_length, self.pad_id = max_length, pad_id

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        return ids, mask
