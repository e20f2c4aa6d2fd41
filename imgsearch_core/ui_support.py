"""Pure helpers behind the Streamlit pages: URL parameters, highlighting, paging, formatting.

Why a separate module: the pages stay thin and everything that can be wrong in them (parsing a shared
link, which caption words to highlight, which hits a page shows) is testable without Streamlit.
Nothing here imports Streamlit. The metadata filter language lives in imgsearch_core.filters.
"""
from __future__ import annotations

import hmac
import io
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

MODES: tuple[str, ...] = ("text", "vector", "hybrid")
MODE_LABELS = {"text": "Text", "vector": "Vector", "hybrid": "Hybrid"}
K_CHOICES: tuple[int, ...] = (12, 24, 48, 100)
ALPHA_STEPS: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))  # 0.00, 0.05 ... 1.00
PER_PAGE = 12
THUMB_BACKGROUND = (240, 242, 246)
MAX_QUERY_CHARS = 500


# ----- URL parameters ---------------------------------------------------------------------------
def _first(value: Any) -> str | None:
    """st.query_params gives str; AppTest and hand-made dicts may give lists."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def snap_alpha(value: float) -> float:
    """The nearest slider step (0.05 apart), so any alpha from a link can be shown on the slider."""
    return min(ALPHA_STEPS, key=lambda step: abs(step - value))


def alpha_label(alpha: float) -> str:
    """Slider tick text: the ends are named, the middle shows the weight."""
    if alpha <= 0:
        return "0 · keyword"
    if alpha >= 1:
        return "1 · semantic"
    return f"{alpha:.2f}"


def _parse_alpha(raw: str | None, default: float, errors: list[str]) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        errors.append(f"The link's alpha {raw!r} is not a number from 0 (keyword) to 1 (semantic); using {default}.")
        return default
    return snap_alpha(value)


def _parse_k(raw: str | None, default: int, errors: list[str]) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value not in K_CHOICES:
        errors.append(f"The link's number of results {raw!r} is not one of {', '.join(map(str, K_CHOICES))}; using {default}.")
        return default
    return value


def _parse_page(raw: str | None) -> int:
    try:
        return max(1, int(raw)) if raw else 1
    except ValueError:
        return 1


@dataclass(frozen=True)
class TextSearchParams:
    """What a text search link holds: ?q=red+circle&mode=hybrid&alpha=0.3&k=24&where=...&page=2."""

    q: str = ""
    mode: str = "hybrid"
    alpha: float = 0.5
    k: int = 24
    where: str = ""
    page: int = 1
    collection: str = ""
    default_alpha: float = 0.5  # the collection's saved slider value: a link leaves it out

    @classmethod
    def from_query(cls, params: Mapping[str, Any], default_alpha: float = 0.5) -> tuple["TextSearchParams", list[str]]:
        """Parse URL parameters; bad values fall back to defaults and are reported in `errors`."""
        errors: list[str] = []
        default = cls(alpha=default_alpha, default_alpha=default_alpha)
        mode = (_first(params.get("mode")) or default.mode).lower()
        if mode not in MODES:
            errors.append(f"The link's search mode {mode!r} is not one of {', '.join(MODES)}; using {default.mode}.")
            mode = default.mode
        parsed = cls(
            q=(_first(params.get("q")) or "")[:MAX_QUERY_CHARS],
            mode=mode,
            alpha=_parse_alpha(_first(params.get("alpha")), default.alpha, errors),
            k=_parse_k(_first(params.get("k")), default.k, errors),
            where=_first(params.get("where")) or "",
            page=_parse_page(_first(params.get("page"))),
            collection=_first(params.get("c")) or "",
            default_alpha=default_alpha,
        )
        return parsed, errors

    def to_query(self) -> dict[str, str]:
        """URL parameters, leaving out defaults so shared links stay short."""
        out: dict[str, str] = {}
        if self.collection:
            out["c"] = self.collection
        if self.q:
            out["q"] = self.q
        if self.mode != "hybrid":
            out["mode"] = self.mode
        if self.mode == "hybrid" and self.alpha != self.default_alpha:
            out["alpha"] = f"{self.alpha:g}"
        if self.k != 24:
            out["k"] = str(self.k)
        if self.where:
            out["where"] = self.where
        if self.page > 1:
            out["page"] = str(self.page)
        return out


@dataclass(frozen=True)
class ImageSearchParams:
    """What an image search link holds: ?item=<id>&text=...&alpha=0.7&k=24 (uploads cannot be linked)."""

    item: str = ""
    text: str = ""
    alpha: float = 1.0
    k: int = 24
    page: int = 1
    collection: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple["ImageSearchParams", list[str]]:
        errors: list[str] = []
        default = cls()
        item = _first(params.get("item")) or ""
        if item and not re.fullmatch(r"[0-9a-fA-F]{8,128}", item):
            errors.append(f"The link's item id {item[:80]!r} is not a valid id.")
            item = ""
        parsed = cls(
            item=item,
            text=(_first(params.get("text")) or "")[:MAX_QUERY_CHARS],
            alpha=_parse_alpha(_first(params.get("alpha")), default.alpha, errors),
            k=_parse_k(_first(params.get("k")), default.k, errors),
            page=_parse_page(_first(params.get("page"))),
            collection=_first(params.get("c")) or "",
        )
        return parsed, errors

    def to_query(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.collection:
            out["c"] = self.collection
        if self.item:
            out["item"] = self.item
        if self.text:
            out["text"] = self.text
        if self.alpha != 1.0:
            out["alpha"] = f"{self.alpha:g}"
        if self.k != 24:
            out["k"] = str(self.k)
        if self.page > 1:
            out["page"] = str(self.page)
        return out


def with_page(params: TextSearchParams | ImageSearchParams, page: int):
    return replace(params, page=page)


# ----- captions ---------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:^=])")


def escape_markdown(text: str) -> str:
    """Backslash-escape everything Streamlit's markdown would interpret (incl. :color[...] and $math$)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def highlight_segments(
    caption: str, query_tokens: Sequence[str], analyzer: Callable[[Sequence[str]], list[list[str]]] | None = None
) -> list[tuple[str, bool]]:
    """Split a caption into (text, matches_query) pieces.

    A word matches when it normalises (same analyzer as the BM25 index: lemma, lower case) to one of
    the query's tokens, so "circles" is highlighted for a query "circle".
    """
    if not caption:
        return []
    wanted = {t for t in query_tokens if t}
    if not wanted:
        return [(caption, False)]
    if analyzer is None:
        from imgsearch_core.text_analysis import analyze as analyzer  # noqa: PLC0415 - spaCy only when needed
    words = list(_WORD.finditer(caption))
    normalised = analyzer([w.group(0) for w in words]) if words else []
    segments: list[tuple[str, bool]] = []
    position = 0
    for word, tokens in zip(words, normalised):
        if not any(t in wanted for t in tokens):
            continue
        if word.start() > position:
            segments.append((caption[position : word.start()], False))
        segments.append((word.group(0), True))
        position = word.end()
    if position < len(caption):
        segments.append((caption[position:], False))
    return segments


def caption_markdown(
    caption: str,
    query_tokens: Sequence[str] = (),
    analyzer: Callable[[Sequence[str]], list[list[str]]] | None = None,
    max_chars: int | None = None,
) -> str:
    """Markdown for a caption with query terms highlighted; '(no caption)' when empty."""
    if not caption.strip():
        return ":gray[*(no caption)*]"
    if max_chars is not None and len(caption) > max_chars:
        caption = caption[: max_chars - 1].rstrip() + "…"
    return "".join(
        f":orange-background[**{escape_markdown(text)}**]" if hit else escape_markdown(text)
        for text, hit in highlight_segments(caption, query_tokens, analyzer)
    )


# ----- paging and caching -------------------------------------------------------------------------
@dataclass(frozen=True)
class PageSlice:
    page: int  # 1-based, clamped
    pages: int
    start: int  # index of the first item shown
    end: int  # one past the last item shown


def page_slice(total: int, page: int, per_page: int = PER_PAGE) -> PageSlice:
    pages = max(1, math.ceil(total / per_page)) if per_page > 0 else 1
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return PageSlice(page, pages, min(start, total), min(start + per_page, total))


def rows_of(items: Sequence[Any], columns: int) -> list[list[Any]]:
    return [list(items[i : i + columns]) for i in range(0, len(items), columns)]


class LRU:
    """A tiny least-recently-used map kept in a session (query candidates, query thumbnails)."""

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class BackgroundJob:
    """Long work (fine-tuning) in a daemon thread, so the page that started it stays responsive.

    `work(report, stop)` gets a callback for progress updates and an Event asking it to stop cleanly;
    the job keeps every update, then the result or the exception, for the page to show.
    """

    def __init__(self, work: Callable[[Callable[[Any], None], threading.Event], Any]) -> None:
        self.stop = threading.Event()
        self.updates: list[Any] = []
        self.result: Any = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="imgsearch-job", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Callable[[Any], None], threading.Event], Any]) -> None:
        try:
            self.result = work(self.updates.append, self.stop)
        except Exception as exc:  # noqa: BLE001 - the page shows it; nothing else would see it
            logging.getLogger("imgsearch.jobs").warning("Background job failed", exc_info=True)
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def with_text_side(image: Any, text: Any, exclude: Iterable[str] = ()) -> Any:
    """An uploaded image's candidates plus the keyword side of a text query (image + text search).

    Gives what Searcher.image_candidates(image, text=...) gives, from two cached halves, so typing a
    different text never embeds the uploaded image again. `exclude`: the upload's own id.
    """
    drop = set(exclude)
    return replace(
        image,
        bm25=[(i, s) for i, s in text.bm25 if i not in drop],
        query_tokens=list(text.query_tokens),
        has_text=True,
        notice=text.notice,
        timings_ms={**image.timings_ms, "bm25": text.timings_ms.get("bm25", 0.0)},
    )


# ----- formatting -------------------------------------------------------------------------------
def format_bytes(count: int | float) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def format_duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def progress_text(done: int, total: int, rate: float, eta_seconds: float | None) -> str:
    """'120 of 400 images · 35.2 images/s · about 8 s left'."""
    parts = [f"{done:,} of {total:,} images"]
    if rate > 0:
        parts.append(f"{rate:.1f} images/s")
    if done < total:
        parts.append(f"about {format_duration(eta_seconds)} left" if eta_seconds is not None else "estimating time left")
    return " · ".join(parts)


def progress_fraction(done: int, total: int) -> float:
    return 1.0 if total <= 0 else min(1.0, max(0.0, done / total))


def training_progress_text(updates: Sequence[Any]) -> str:
    """'step 40 of 120 · loss 2.310 · 85 images/s · about 1 min 20 s left · validation MRR@5 0.412'.

    `updates`: train.Progress reports so far; the validation metric is the latest one measured.
    """
    last = updates[-1]
    parts = [f"step {last.step:,} of {last.steps:,}"]
    if math.isfinite(last.loss):
        parts.append(f"loss {last.loss:.3f}")
    if last.images_per_s > 0:
        parts.append(f"{last.images_per_s:.0f} images/s")
    if last.step < last.steps and math.isfinite(last.eta):
        parts.append(f"about {format_duration(last.eta)} left")
    measured = [u.val_metric for u in updates if u.val_metric is not None]
    if measured:
        parts.append(f"validation MRR@5 {measured[-1]:.3f}")
    return " · ".join(parts)


STOP_REASONS = {  # train.TrainResult.stopped, as a person says it
    "completed": "completed",
    "data_exhausted": "completed",
    "early_stopping": "stopped early (validation MRR@5 stopped improving)",
    "stop_flag": "stopped",
    "time_limit": "stopped at the time limit",
}


def score_rows(hit: Any, mode: str, alpha: float) -> list[dict[str, str]]:
    """The score breakdown of one hit as table rows (raw score, its rank for RRF, normalised part, weight)."""
    method = getattr(hit, "method", "linear-minmax")

    def raw(value: float | None, rank: int | None) -> str:
        if value is None:
            return "—"
        return f"{value:.4f} (#{rank})" if method == "rrf" and rank else f"{value:.4f}"

    digits = 5 if method == "rrf" else 3
    rows = []
    if mode != "vector":
        rows.append({"part": "BM25 (keyword)", "raw": raw(hit.bm25, getattr(hit, "bm25_rank", None)),
                     "normalised": f"{hit.bm25_norm:.{digits}f}", "weight": f"{1 - alpha:.2f}"})
    if mode != "text":
        rows.append({"part": "cosine (semantic)", "raw": raw(hit.cosine, getattr(hit, "vector_rank", None)),
                     "normalised": f"{hit.cosine_norm:.{digits}f}", "weight": f"{alpha:.2f}"})
    rows.append({"part": "fused score", "raw": "", "normalised": f"{hit.score:.{digits + 1}f}", "weight": ""})
    return rows


SCORE_NOTES = {
    "linear-minmax": "Normalised = min-max over each side's top candidates; a side that did not find the image counts 0.",
    "linear-relative": "Normalised = relative to each side's best candidate (BM25 / best BM25, cosine / best cosine); "
                       "a side that did not find the image counts 0, every found image more.",
    "rrf": "Reciprocal rank fusion: each side gives 1 / (60 + the image's rank there, #); a side that did not find "
           "the image gives 0.",
}


def score_markdown(hit: Any, mode: str, alpha: float) -> str:
    """The breakdown as a small markdown table plus the formula that produced the fused score."""
    method = getattr(hit, "method", "linear-minmax")
    header = "rank part" if method == "rrf" else "normalised"
    lines = [f"| | raw | {header} | weight |", "|---|---:|---:|---:|"]
    for row in score_rows(hit, mode, alpha):
        name = f"**{row['part']}**" if row["part"] == "fused score" else row["part"]
        lines.append(f"| {name} | {row['raw']} | {row['normalised']} | {row['weight']} |")
    if mode == "hybrid" and method == "rrf":
        def part(rank: int | None) -> str:
            return "0" if rank is None else f"1/(60+{rank})"

        formula = (f"{alpha:.2f} × {part(getattr(hit, 'vector_rank', None))} + {1 - alpha:.2f} × "
                   f"{part(getattr(hit, 'bm25_rank', None))} = **{hit.score:.6f}**")
    elif mode == "hybrid":
        formula = (
            f"{alpha:.2f} × {hit.cosine_norm:.3f} + {1 - alpha:.2f} × {hit.bm25_norm:.3f} = **{hit.score:.4f}**"
        )
    elif mode == "text":
        formula = "Text mode ranks by BM25 alone."
    else:
        formula = "Vector mode ranks by cosine alone."
    note = SCORE_NOTES.get(method, SCORE_NOTES["linear-minmax"])
    return "\n".join(lines) + f"\n\n{formula}\n\n:gray[{note}]"


_CONTAINERS = {"iptc": "IPTC", "xmp": "XMP", "exif": "EXIF"}


def metadata_sources(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Which container gave each embedded field ({"credit": "IPTC", ...}) from the `metadata_from` JSON;
    empty when the item has none or it cannot be read."""
    import json

    raw = metadata.get("metadata_from")
    try:
        origin = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    if not isinstance(origin, dict):
        return {}
    return {str(k): _CONTAINERS.get(str(v).lower(), str(v)) for k, v in origin.items()}


def shown_value(key: str, value: Any) -> str:
    """A metadata value as a person reads it: lists `; `-joined, `added_at` (epoch seconds) as a local time."""
    if key == "added_at" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def metadata_rows(metadata: Mapping[str, Any]) -> list[dict[str, str]]:
    """The metadata table of the detail view: every field sorted by name, with the container it came from.

    Bookkeeping fields (fields.py `hidden=True`: media path, pHash, metadata_from) and the `_lc`/`_ts`
    twins that filters use are left out.
    """
    from imgsearch_core.fields import BY_NAME, is_twin

    present = set(metadata)
    sources = metadata_sources(metadata)
    return [
        {"field": str(k), "value": shown_value(k, v), "from": sources.get(k, "")}
        for k, v in sorted(metadata.items())
        if not (k in BY_NAME and BY_NAME[k].hidden) and not is_twin(k, present)
    ]


@dataclass(frozen=True)
class Fact:
    """One prominent line of the detail view: label, value and the container it came from ('' if unknown)."""

    label: str
    value: str
    source: str = ""


# What an editor looks for first, in this order; a tuple joins fields into one line (city, country).
PROMINENT_FIELDS: tuple[str | tuple[str, ...], ...] = (
    "credit", "creator", "copyright", "date_taken", "keywords", "headline", ("city", "country"),
    ("camera_make", "camera_model"),
)


def _camera(make: str, model: str) -> str:
    if make and model.casefold().startswith(make.casefold()):
        return model
    return " ".join(part for part in (make, model) if part)


def detail_facts(metadata: Mapping[str, Any]) -> list[Fact]:
    """The prominent fields an item carries (PROMINENT_FIELDS), labelled from the field catalogue."""
    from imgsearch_core.fields import BY_NAME

    sources = metadata_sources(metadata)
    facts: list[Fact] = []
    for entry in PROMINENT_FIELDS:
        names = (entry,) if isinstance(entry, str) else entry
        values = {n: shown_value(n, metadata[n]).strip() for n in names if metadata.get(n) not in (None, "", [])}
        values = {n: v for n, v in values.items() if v}
        if not values:
            continue
        if names == ("camera_make", "camera_model"):
            label, value = "Camera", _camera(values.get("camera_make", ""), values.get("camera_model", ""))
        else:
            label = " / ".join(BY_NAME[n].label for n in names if n in values)
            value = ", ".join(values.values())
        source = next((sources[n] for n in names if n in values and n in sources), "")
        facts.append(Fact(label, value, source))
    return facts


def facts_markdown(facts: Sequence[Fact]) -> str:
    """The facts as a markdown list: '**Credit:** Reuters :gray[· from IPTC]'."""
    lines = []
    for fact in facts:
        note = f" :gray[· from {escape_markdown(fact.source)}]" if fact.source else ""
        lines.append(f"- **{escape_markdown(fact.label)}:** {escape_markdown(fact.value)}{note}")
    return "\n".join(lines)


def count_label(value: str, count: int) -> str:
    """A filter option with the number of pictures it selects: 'Reuters (1,204)'."""
    return f"{value} ({count:,})"


def copies_label(count: int) -> str:
    return f"+{count} copy" if count == 1 else f"+{count} copies"


def password_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an unset password never matches."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# ----- thumbnails ---------------------------------------------------------------------------------
def thumbnail_jpeg(path: str | Path, size: int, square: bool = False, quality: int = 85) -> bytes:
    """A JPEG thumbnail (longest side `size`) of a stored media file, via imgsearch_core.images.thumbnail.

    `square` centres it on a light `size` x `size` canvas so a grid of mixed shapes lines up. Stored
    media were decoded and checked at ingest; a missing or unreadable file raises OSError.
    """
    from PIL import Image

    from imgsearch_core.images import thumbnail

    image = thumbnail(Path(path), size)  # RGB, upright
    if square:
        canvas = Image.new("RGB", (size, size), THUMB_BACKGROUND)
        if max(image.size) < size:  # small pictures are scaled up to fill the cell like the others
            scale = size / max(image.size)
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
        canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
        image = canvas
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
