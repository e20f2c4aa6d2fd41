"""One item's work in ingest: hash the file, then read, decode once, describe and pHash a new one.

Why apart from the scheduling (ingest.py): these run in worker threads and touch nothing shared, so
they can be reasoned about (and their failures turned into report lines) one item at a time.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgsearch_core.media.images import ImageError, check_file_size
from imgsearch_core.ingest.decode import MODEL_INPUT_SIDE, FrameBudget, decode_for_ingest
from imgsearch_core.ingest.engines import PictureText
from imgsearch_core.ingest.sources import Problem, SourceItem, describe_item
from imgsearch_core.media.perceptual import perceptual_hash
from imgsearch_core.media.picture_text import OCR_MAX_SIDE

@dataclass(frozen=True)
class Prepared:
    id: str
    caption: str
    metadata: dict[str, Any]
    media: bytes
    media_ext: str
    image: Any  # the PIL picture to embed (the model input, short side = the model's input size)
    metadata_problems: list[str]
    refused: list[str]  # caption-file columns reserved by the store (item_metadata.split_reserved)
    caption_input: Any = None  # the picture to caption (an uncaptioned item, when ingest writes machine captions)
    engine_problems: list[str] = field(default_factory=list)  # an OCR engine that failed on this picture


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_bytes: int
    read_metadata: bool
    model_side: int = MODEL_INPUT_SIDE


# Full-resolution pixels that concurrent decodes may hold at once: two 49 MP scans, or one 80 MP file
# (the max_pixels default) alone. A frame is 3-4 bytes a pixel, plus a copy while alpha is premultiplied.
FRAME_BUDGET_PIXELS = 100_000_000


class ReadError(Exception):
    """An item whose bytes cannot be read; `problem` is its report line."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


def model_side(embedder: Any) -> int:
    """The embedder's image input size if it says (`image_size`), else CLIP's 224."""
    value = getattr(embedder, "image_size", None)
    if isinstance(value, (tuple, list)) and value:
        value = min(value)
    try:
        side = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MODEL_INPUT_SIDE
    return side if side >= 1 else MODEL_INPUT_SIDE


def _read_problem(item: SourceItem, exc: BaseException) -> Problem:
    if isinstance(exc, ImageError):
        return Problem(item.name, exc.reason)
    return Problem(item.name, f"cannot be read ({getattr(exc, 'strerror', None) or exc})")


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def hash_item(item: SourceItem) -> tuple[str, tuple[int, int] | None]:
    """(SHA-256 hex digest, (size, mtime) for files on disk). Files are streamed, never held whole."""
    try:
        if item.path is not None:
            before = _stat(item.path)
            with open(item.path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            return digest, before
        return hashlib.sha256(item.read()).hexdigest(), None
    except (OSError, ImageError) as exc:
        raise ReadError(_read_problem(item, exc)) from exc


def _read_for_decoding(item: SourceItem, digest: str, stat: tuple[int, int] | None, limits: Limits) -> bytes:
    try:
        if item.path is not None:
            size, _ = _stat(item.path)
            check_file_size(size, name=item.name, max_bytes=limits.max_bytes)  # never read a huge file
        data = item.read()
        if item.path is not None and _stat(item.path) != stat and hashlib.sha256(data).hexdigest() != digest:
            raise ImageError("file changed while it was being ingested (run the ingest again)", item.name)
        return data
    except OSError as exc:
        raise ReadError(_read_problem(item, exc)) from exc


def prepare(item: SourceItem, digest: str, stat: tuple[int, int] | None, limits: Limits,
            budget: FrameBudget | None = None, engines: PictureText | None = None) -> Prepared:
    """Read, decode once, describe and hash one new item (runs in the decode pool); with `engines`, read the
    text in the working picture and keep a small copy of an uncaptioned one for the captioner. The text is read
    from a working picture of OCR_MAX_SIDE, not the 1024-px rendition, where small words would be lost."""
    data = _read_for_decoding(item, digest, stat, limits)
    reading = engines is not None and engines.reader is not None
    picture = decode_for_ingest(
        data, name=item.name, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes,
        model_side=limits.model_side, budget=budget, work_side=OCR_MAX_SIDE if reading else None,
    )
    described = describe_item(item, data, limits.read_metadata)
    metadata = {
        **described.metadata,
        "width": picture.decoded.width,
        "height": picture.decoded.height,
        "added_at": int(time.time()),
        "phash": perceptual_hash(picture.decoded.image),
    }
    problems, caption_input = [], None
    if reading:
        fields, problem = engines.read(picture.decoded.image)
        metadata.update(fields or {})
        problems += [problem] if problem else []
    if engines is not None and engines.captioner is not None and not described.caption.strip():
        caption_input = engines.caption_input(picture.decoded.image)
    return Prepared(digest, described.caption, metadata, picture.media, picture.media_ext, picture.model_input,
                    described.problems, described.refused, caption_input, problems)
