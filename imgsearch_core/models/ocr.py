"""The words inside a picture: RapidOCR (PP-OCRv4 detection and recognition on ONNX Runtime) as a TextReader.

Why this engine (benchmarks/bench_ocr.py, RESULTS.md "OCR engines"): on words rendered with real fonts over
photo-like backgrounds, RapidOCR finds 94 % of the words at every size, angle and contrast (precision 0.99),
Tesseract (Debian's de/fr/nl/es/it data) 29 %: it is built for scanned pages and loses words on textured or
coloured backgrounds and on turned text. RapidOCR's recognition dictionary (Chinese + Latin) lacks ß, ñ, ö,
ë, ç and the model rarely emits the accents it has, so "Zürich" is read "Zurich". Search does not suffer from
that: BM25 folds accents on the index and the query side alike (text.folding), so "Zürich" finds "Zurich";
ß is the exception (it folds to "ss", while the model reads it as "B"), hence `_restore_eszett`.

Why the details:
  * the picture is shrunk to MAX_SIDE on its long side first, so the engine never copies a 49-MP scan (its
    peak, ~0.7-0.8 GB over the loaded process, is set by this working size), and every box is scaled back to
    the pixels of the picture as given; words under ~0.7 % of a photo's height are lost at this size;
  * the recogniser often decodes the gap between two words as "blank" rather than "space" ("HotelPOLICE");
    `_SpacedDecode` takes a space wherever its probability reaches SPACE_PROB while nothing else is read there;
  * the engine reads lines; its per-character boxes are grouped into words at the spaces;
  * words whose mean character confidence is under CONFIDENCE_FLOOR are dropped (measured: precision stops
    rising at 0.5, recall starts falling at 0.9; the floor sits between);
  * ONNX Runtime and OpenCV run on THREADS threads (the app shares the cores with Streamlit and the embedder);
  * a strip longer than MAX_ASPECT : 1 is padded first (`downscale`), or the detector's input explodes.
The engine is built once (about half a second); the caller caches the reader. Cost: ~0.6 s CPU for an 800 x 600
picture, ~4 s for a 12-MP photo.
"""
from __future__ import annotations

import re
import threading
from importlib import metadata
from typing import Any

import numpy as np
from PIL import Image, ImageStat

from imgsearch_core.errors import StoreError
from imgsearch_core.media.picture_text import OCR_MAX_SIDE
from imgsearch_core.types import TextReader, WordBox

ENGINE = "rapidocr-onnxruntime {version} (PP-OCRv4 det + rec, ch)"  # `name`, recorded with the words read
MAX_SIDE = OCR_MAX_SIDE  # px, the long side the engine sees (RapidOCR's own max_side_len)
CONFIDENCE_FLOOR = 0.7  # mean character confidence of a kept word (RESULTS.md "OCR engines")
SPACE_PROB = 0.1  # a space is read where its probability reaches this and no character wins
THREADS = 2
MAX_ASPECT = 4  # long side : short side the engine gets at most (see `downscale`)
_ESZETT = re.compile(r"(?<=[a-zäöü])B(?=(?:e|en|er|es|t)?$)")  # "StraBe", "GroBe", "heiBt", "groB"


class TextReaderUnavailableError(StoreError):
    """The OCR engine is not installed or cannot be built; the message names the fix."""


class _SpacedDecode:
    """CTC decoding that keeps the spaces the model hesitates over (see the module docstring)."""

    def __init__(self, inner: Any, space_prob: float) -> None:
        self.inner = inner
        self.space = len(inner.character) - 1  # RapidOCR appends " " to the dictionary
        if inner.character[self.space] != " ":
            raise TextReaderUnavailableError("Unexpected RapidOCR dictionary: reinstall rapidocr-onnxruntime==1.4.4.")
        self.space_prob = space_prob

    def __call__(self, preds: np.ndarray, return_word_box: bool = False, **kwargs: Any) -> Any:
        preds = np.array(preds, copy=True)
        hesitant = (preds.argmax(axis=2) == 0) & (preds[..., self.space] >= self.space_prob)
        preds[..., self.space] = np.where(hesitant, preds.max(axis=2) + 1e-6, preds[..., self.space])
        return self.inner(preds, return_word_box, **kwargs)


def _restore_eszett(word: str) -> str:
    """ß is not in the model's dictionary and comes out as "B" inside a lower-case word; put it back."""
    return _ESZETT.sub("ß", word)


def downscale(image: Image.Image, max_side: int = MAX_SIDE) -> tuple[Image.Image, float, float]:
    """The picture within `max_side` on its long side, in a mode the engine reads, and the factors (x, y)
    that map its pixels back to the given picture's.

    A strip longer than MAX_ASPECT times its width is padded (right or bottom, in its mean colour) up to that
    ratio: the detector scales the short side up to 736 px, so a 10 x 9000 strip would become a detector
    input of hundreds of megapixels and exhaust memory."""
    if image.mode not in ("RGB", "L", "RGBA", "LA"):
        image = image.convert("RGBA" if image.mode in ("P", "PA") and "transparency" in image.info else "RGB")
    width, height = image.size
    scale = min(1.0, max_side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    sx, sy = width / image.width, height / image.height
    padded = (max(image.width, -(-image.height // MAX_ASPECT)), max(image.height, -(-image.width // MAX_ASPECT)))
    if padded != image.size:
        mean = tuple(round(v) for v in ImageStat.Stat(image).mean)
        canvas = Image.new(image.mode, padded, mean if len(mean) > 1 else mean[0])
        canvas.paste(image, (0, 0))
        image = canvas
    return image, sx, sy


def _word_boxes(chars: list[str], quads: list[Any], confs: list[float]) -> list[tuple[str, float, np.ndarray]]:
    """Group a line's characters into words at its spaces: (text, mean confidence, corner points)."""
    words, current = [], []
    for char, quad, conf in [*zip(chars, quads, confs), (" ", None, 0.0)]:
        if char.strip():
            current.append((char, quad, conf))
        elif current:
            points = np.concatenate([np.asarray(q, dtype=np.float32).reshape(-1, 2) for _, q, _ in current])
            words.append(("".join(c for c, _, _ in current), float(np.mean([p for _, _, p in current])), points))
            current = []
    return words


class RapidTextReader:
    """TextReader over one RapidOCR engine; `read` is thread-safe (the engine keeps per-call state)."""

    def __init__(self, engine: Any, *, name: str, max_side: int = MAX_SIDE, floor: float = CONFIDENCE_FLOOR) -> None:
        self.name = name
        self._engine = engine
        self._max_side = max_side
        self._floor = floor
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> list[WordBox]:
        """The words in `image` at or above the confidence floor, boxes in the given picture's pixels;
        [] for a picture without text."""
        small, sx, sy = downscale(image, self._max_side)
        with self._lock:  # any keyword resets RapidOCR's text_score, box_thresh and unclip_ratio: all three given
            lines, _ = self._engine(small, return_word_box=True, text_score=0.0, box_thresh=0.5, unclip_ratio=1.6)
        words = []
        for line in lines or []:
            _, _, _, quads, chars, confs = line
            for text, conf, points in _word_boxes(chars, quads, confs):
                if conf < self._floor:
                    continue
                x0, y0 = points.min(axis=0)
                x1, y1 = points.max(axis=0)
                box = (
                    max(0, int(np.floor(x0 * sx))), max(0, int(np.floor(y0 * sy))),
                    min(image.width, int(np.ceil(x1 * sx))), min(image.height, int(np.ceil(y1 * sy))),
                )
                words.append(WordBox(_restore_eszett(text), round(conf, 4), box))
        return words


def load_text_reader(
    *, threads: int = THREADS, floor: float = CONFIDENCE_FLOOR, max_side: int = MAX_SIDE
) -> TextReader:
    """Build the product's OCR engine once (the caller caches it); a clear error naming the fix if it is
    not installed."""
    try:
        import cv2  # RapidOCR's image library (its crops and resizes)
        from rapidocr_onnxruntime import RapidOCR  # heavy (OpenCV, ONNX Runtime) and optional: load on demand
    except ImportError as exc:
        raise TextReaderUnavailableError(
            f"OCR needs rapidocr-onnxruntime ({exc}). Install it with: pip install -r requirements.txt "
            "(rapidocr-onnxruntime==1.4.4 and OpenCV; on Debian also `apt-get install libgl1 libglib2.0-0`)."
        ) from exc
    try:
        engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
    except Exception as exc:  # a broken install shows up here (missing model files, ONNX Runtime errors)
        raise TextReaderUnavailableError(
            f"The OCR engine could not be built ({type(exc).__name__}: {exc}). "
            "Reinstall it with: pip install --force-reinstall rapidocr-onnxruntime==1.4.4"
        ) from exc
    cv2.setNumThreads(threads)  # OpenCV's own pool would otherwise take every core
    engine.text_rec.postprocess_op = _SpacedDecode(engine.text_rec.postprocess_op, SPACE_PROB)
    name = ENGINE.format(version=metadata.version("rapidocr-onnxruntime"))
    return RapidTextReader(engine, name=name, max_side=max_side, floor=floor)
