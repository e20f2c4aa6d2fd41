"""Every Pillow mode to 8-bit RGB, never by clipping: alpha on white, 16-bit grey scaled, deep modes by range.

Why its own module: which conversion is right for which mode (and which can run after a reduce, on a
fraction of a scan's pixels) is one concern, apart from opening and decoding files (images.py).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

WHITE = (255, 255, 255)


def reduced_rgb(source: Image.Image, factor: int) -> Image.Image:
    """`to_rgb(source)` reduced `factor` times (box average), converting as little as possible at full
    resolution: RGB, L, RGBA and LA are reduced first (Pillow premultiplies alpha, so reducing then
    flattening on white equals flattening then reducing), 16-bit grey is scaled to 8 bits first, 1-bit
    goes through L; palettes, tRNS transparency, CMYK, YCbCr, LAB and other deep modes are converted
    at full size as before, then reduced."""
    mode = source.mode
    if "transparency" not in source.info:
        if mode in ("RGB", "L", "RGBA", "LA"):
            return to_rgb(source.reduce(factor))
        if mode == "1":
            return source.convert("L").reduce(factor).convert("RGB")
        if mode.startswith("I;16"):
            return _grey16_to_l(source).reduce(factor).convert("RGB")
    return to_rgb(source).reduce(factor)


def _grey16_to_l(image: Image.Image) -> Image.Image:
    """16-bit grey scaled 65535 -> 255 as `_deep_to_rgb` does, in place to keep a scan's peak low."""
    values = np.asarray(image).astype(np.uint32)
    values *= 255
    values += 32767
    values //= 65535
    return Image.fromarray(values.astype(np.uint8))



def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of a loaded image (may return `image` itself when it is RGB already)."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return _deep_to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("1", "L", "P", "RGB") and "transparency" in image.info):
        return _flatten(image.convert("RGBA"))
    if mode == "RGB":
        return image
    # 1, L, P, CMYK (the JPEG plugin already un-inverts Adobe files), YCbCr, HSV, LAB (Pillow uses LittleCMS)
    return image.convert("RGB")


def _flatten(rgba: Image.Image) -> Image.Image:
    """Composite straight (non-premultiplied) alpha over white."""
    out = Image.new("RGB", rgba.size, WHITE)
    out.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return out


def _deep_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit grey (0..65535), 32-bit integer and float grey to 8 bits by scaling, never by clipping.

    32-bit integers (and signed 16-bit TIFFs, which Pillow widens to "I") have no natural white, so
    their value range is mapped onto 0..255; so are floats, unless they already lie in 0..1.
    """
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        grey = ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif image.mode == "F":
        finite = np.isfinite(values)
        if finite.any() and values[finite].min() >= 0.0 and values[finite].max() <= 1.0:
            grey = np.rint(np.where(finite, values, 0.0) * 255.0).astype(np.uint8)
        else:
            grey = _stretch(values, finite)
    else:
        grey = _stretch(values, np.ones(values.shape, dtype=bool))
    rgb = Image.fromarray(grey).convert("RGB")
    transparent = image.info.get("transparency")
    if isinstance(transparent, int) and image.mode != "F":  # PNG tRNS on 16-bit grey
        alpha = Image.fromarray(np.where(values == transparent, 0, 255).astype(np.uint8))
        out = Image.new("RGB", rgb.size, WHITE)
        out.paste(rgb, mask=alpha)
        return out
    return rgb


def _stretch(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Map the range of the valid values onto 0..255 (non-finite values become 0)."""
    if not valid.any():
        return np.zeros(values.shape, dtype=np.uint8)
    data = values.astype(np.float64)
    low, high = data[valid].min(), data[valid].max()
    if high == low:
        return np.full(values.shape, int(np.clip(low, 0, 255)), dtype=np.uint8)
    scaled = np.rint((data - low) * (255.0 / (high - low)))
    return np.where(valid, np.clip(scaled, 0, 255), 0).astype(np.uint8)

