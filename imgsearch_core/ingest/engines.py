"""An OCR engine and a captioner run on pictures for ingest and enrich, each failure a problem of its file.

Why apart: ingest (on new files) and enrich (on stored items) must bound the pictures the same way, record
the same fields and turn an engine's failure on one picture into a report line for that file, never an
abort and never a half-written item. The engines come in as collaborators (types.TextReader and
types.Captioner, built by the command line or the page): this layer never imports a model.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.media.images import fit
from imgsearch_core.media.picture_text import CAPTION_SIDE, OCR_MAX_SIDE, ocr_fields
from imgsearch_core.types import Captioner, TextReader


def _failure(what: str, exc: BaseException) -> str:
    return f"{what} failed on this picture ({type(exc).__name__}: {str(exc)[:200]}); stored without it"


@dataclass
class PictureText:
    """The engines of one run. `read` may be called from several decode threads: calls are serialised (an
    ONNX Runtime session spreads one call over the cores anyway), so a reader need not be thread-safe."""

    reader: TextReader | None = None
    captioner: Captioner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __bool__(self) -> bool:
        return self.reader is not None or self.captioner is not None

    def read(self, image: Any) -> tuple[dict[str, Any] | None, str | None]:
        """(the OCR fields of the picture, None) or (None, the reason it could not be read). The picture is
        shrunk to OCR_MAX_SIDE first, and the boxes are recorded with that size."""
        assert self.reader is not None
        picture = fit(image, OCR_MAX_SIDE)
        try:
            with self._lock:
                words = self.reader.read(picture)
        except Exception as exc:  # noqa: BLE001 - any engine failure on one picture is that file's problem
            return None, _failure(f"Reading the text ({self.reader.name})", exc)
        return ocr_fields(words, picture.size, self.reader.name), None

    @staticmethod
    def caption_input(image: Any) -> Any:
        """The picture a captioner gets (long side <= CAPTION_SIDE), small enough to hold for a whole batch."""
        return fit(image, CAPTION_SIDE)

    def describe(self, pictures: Sequence[Any]) -> list[tuple[str | None, str | None]]:
        """(machine caption, None) or (None, reason) for each picture. A batch the captioner rejects is tried
        one picture at a time, so one bad picture costs only its own caption."""
        if not pictures or self.captioner is None:
            return []
        try:
            texts = self.captioner.caption(list(pictures))
            if len(texts) == len(pictures):
                return [(str(t), None) for t in texts]
        except Exception:  # noqa: BLE001 - find the picture it failed on below
            pass
        results: list[tuple[str | None, str | None]] = []
        for picture in pictures:
            try:
                (text,) = self.captioner.caption([picture])
                results.append((str(text), None))
            except Exception as exc:  # noqa: BLE001 - that file's problem
                results.append((None, _failure(f"Captioning ({self.captioner.name})", exc)))
        return results
