"""Machine captions: any transformers image-to-text model (BLIP, GIT, VisionEncoderDecoder, ...) behind the
`types.Captioner` protocol, loaded by hub name or local directory.

Why one loader for every captioner: the bundled demo captioner (`data/models/imgsearch-captioner`, trained on the
generated scenes) and a real one such as `Salesforce/blip-image-captioning-base` go through the same code, so the
offline demo exercises exactly the path a newsroom's model takes. Generation is bounded (greedy or a small beam,
a fixed maximum length, a bounded number of torch threads): captioning runs inside ingest on shared CPUs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from imgsearch_core.config import BUNDLED_MODELS_DIR, DEMO_CAPTIONER
from imgsearch_core.errors import CaptionerError
from imgsearch_core.models.model_sources import hub_reachable, local_model, looks_like_path

ENV_CAPTIONER = "IMGSEARCH_CAPTIONER"
MAX_NEW_TOKENS = 40  # a caption, not a paragraph: bounds the time per picture
MAX_BEAMS = 4
DEFAULT_BATCH = 8
FIX = (f"Set {ENV_CAPTIONER} to a transformers image-to-text model: a local directory holding config.json "
       f"(e.g. data/models/{DEMO_CAPTIONER}) or a hub name already in the local Hugging Face cache "
       f"(e.g. Salesforce/blip-image-captioning-base).")


def resolve_captioner(name_or_path: str | None = None) -> tuple[str, str]:
    """(name recorded with each caption, what `from_pretrained` loads): a bundled short name, a directory or a
    hub name. None reads `IMGSEARCH_CAPTIONER`, else the bundled demo captioner."""
    text = (name_or_path if name_or_path is not None else os.environ.get(ENV_CAPTIONER) or DEMO_CAPTIONER).strip()
    if not text:
        raise CaptionerError(f"No captioner given. {FIX}")
    found = local_model(text)
    if found is not None:
        return found
    path = Path(text).expanduser()
    if path.exists():
        raise CaptionerError(f"Captioner path {text!r} is a file; give the directory that holds config.json. {FIX}")
    if text == DEMO_CAPTIONER:
        raise CaptionerError(f"The bundled captioner {text!r} is missing from {BUNDLED_MODELS_DIR}. Restore it "
                             f"(git checkout data/models/{text}) or retrain it: python -m "
                             f"imgsearch_core.demo.captioner --out data/models/{text}. {FIX}")
    if looks_like_path(text):
        raise CaptionerError(f"Captioner directory {text!r} does not exist. {FIX}")
    return text, text


class TransformersCaptioner:
    """A loaded image-to-text model and its processor; `caption` describes pictures in batches."""

    def __init__(self, name: str, model: Any, processor: Any, *, batch_size: int = DEFAULT_BATCH,
                 num_beams: int = 1, max_new_tokens: int = MAX_NEW_TOKENS) -> None:
        if not 1 <= num_beams <= MAX_BEAMS:
            raise CaptionerError(f"num_beams must be 1 to {MAX_BEAMS}, got {num_beams}.")
        self.name, self.model, self.processor = name, model.eval(), processor
        self.batch_size, self.num_beams = max(1, batch_size), num_beams
        positions = getattr(model.config.get_text_config(decoder=True), "max_position_embeddings", None)
        bound = min(MAX_NEW_TOKENS, positions - 2) if positions else MAX_NEW_TOKENS  # the start token needs one
        self.max_new_tokens = max(1, min(max_new_tokens, bound))

    def caption(self, images: list[Any]) -> list[str]:
        """One caption per picture (RGB), whitespace-normalised; an empty list gives an empty list."""
        import torch

        captions: list[str] = []
        for start in range(0, len(images), self.batch_size):
            batch = [image.convert("RGB") for image in images[start:start + self.batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt")
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                                          do_sample=False)
            texts = self.processor.batch_decode(out, skip_special_tokens=True)
            captions += [" ".join(text.split()) for text in texts]
        return captions


def bound_threads(threads: int | None = None) -> int:
    """Cap torch's intra-op threads (default: 4 or the core count, whichever is fewer); never raise them."""
    import torch

    limit = threads or min(4, os.cpu_count() or 1)
    if torch.get_num_threads() > limit:
        torch.set_num_threads(limit)
    return torch.get_num_threads()


def load_captioner(name_or_path: str | None = None) -> TransformersCaptioner:
    """Load a captioner by bundled name, directory or cached hub name (None: `IMGSEARCH_CAPTIONER`, else the
    bundled demo captioner); anything missing or unloadable is one `CaptionerError` that names the fix."""
    name, source = resolve_captioner(name_or_path)
    bound_threads()
    offline = not Path(source).is_dir() and not hub_reachable()  # a hub name: the local cache only, no retries
    try:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(source, local_files_only=offline)
        model = AutoModelForImageTextToText.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        raise CaptionerError(f"Could not load captioner {name!r}: {exc}. {FIX}") from exc
    if not callable(getattr(processor, "batch_decode", None)) or getattr(processor, "image_processor", None) is None:
        raise CaptionerError(f"{name!r} has no image processor and tokenizer, so it is not an image-to-text model. "
                             f"{FIX}")
    return TransformersCaptioner(name, model, processor)
