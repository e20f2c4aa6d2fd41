"""Numbers as the pages say them: sizes, durations, progress of an ingest or a training run, filter counts.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from imgsearch_core.media.dates import parse_taken, shown_taken
from imgsearch_core.units import format_bytes  # noqa: F401 - the pages format sizes through this module


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


def format_date_taken(value: Any) -> str:
    """A stored date taken as every page shows it: "2024-05-17", "2024-05-17 14:03" (no offset known) or
    "2024-05-17 14:03 +02:00"; text that is no ISO date (a caption-file cell) as it is."""
    parsed = parse_taken(str(value))
    return shown_taken(parsed) if parsed is not None else str(value)


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


def count_label(value: str, count: int) -> str:
    """A filter option with the number of pictures it selects: 'Reuters (1,204)'."""
    return f"{value} ({count:,})"


def copies_label(count: int) -> str:
    return f"+{count} copy" if count == 1 else f"+{count} copies"
