"""When a photo was taken, exactly as precise as its file said: a date, a wall-clock time without an
offset, or a time with an offset.

Stored (`date_taken`) as ISO 8601 text of that precision: "2024-05-17", "2024-05-17T14:03:00" or
"2024-05-17T14:03:00+02:00". A time without an offset (EXIF DateTimeOriginal without OffsetTimeOriginal,
IPTC 2:60 without a zone, an XMP time without one) is the camera's local clock in an unknown zone, so
it is kept without one: giving it "+00:00" would claim a zone the file never stated.

The filter and sort twin (`date_taken_ts`) needs one instant. A time with an offset is its true instant;
an offset-less time is its wall clock read as UTC, and a date its UTC midnight: the clock in which the
date filter takes its bounds (search.filters.where.day_start), so "taken on 2024-05-17" holds a photo of
23:30 that day, whatever zone the camera was in. Stores written before this module hold offset-less
times as "+00:00" text; those parse and show as the UTC times they became.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

Taken = date | datetime  # a datetime is naive (wall clock) or aware (with its offset)

_PARTIAL = ("%Y", "%Y-%m")  # XMP allows a year, or a year and month: their first day


def parse_taken(text: str) -> Taken | None:
    """A date, or a date-time with or without an offset ("Z" is +00:00), from ISO 8601 text; None when
    the text is none of these."""
    text = str(text).strip()
    for pattern in _PARTIAL:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            pass
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def taken_text(value: Taken) -> str:
    """The stored text: "2024-05-17", "2024-05-17T14:03:00" or "2024-05-17T14:03:00+02:00"."""
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()


def taken_epoch(value: Taken) -> int:
    """Seconds since the epoch for filters and sorting (see the module docstring for which clock)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return int((value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp())


def shown_taken(value: Taken) -> str:
    """One display format everywhere: "2024-05-17", "2024-05-17 14:03" or "2024-05-17 14:03 +02:00"."""
    if not isinstance(value, datetime):
        return value.isoformat()
    shown = value.strftime("%Y-%m-%d %H:%M")
    offset = value.strftime("%z")
    return f"{shown} {offset[:3]}:{offset[3:5]}" if offset else shown
