"""Sizes in words for messages at every layer (an input limit's refusal, the Admin page's disk use)."""
from __future__ import annotations


def format_bytes(count: int | float) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
