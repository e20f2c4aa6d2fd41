"""Input limits: one record per cap on a hostile input, with the one-line message that names its setting.

Why one place: every cap (sidecar, caption file, caption field, zip entries and size, uploads) must read
no more than its limit plus one byte, whatever a file's size or a zip header claims, and tell the user
which IMGSEARCH_* variable raises it.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO

from imgsearch_core.config import Settings
from imgsearch_core.media.errors import NamedInputError
from imgsearch_core.units import format_bytes


class LimitError(NamedInputError):
    """An input over one of the limits; the message names the input, the limit and its setting."""


def env_name(setting: str) -> str:
    """The environment variable of a Settings field (max_sidecar_bytes -> IMGSEARCH_MAX_SIDECAR_BYTES)."""
    return f"IMGSEARCH_{setting.upper()}"


@dataclass(frozen=True)
class Limit:
    setting: str  # the Settings field
    what: str  # how the message calls it: "sidecar", "caption-file"
    value: int
    unit: str = "bytes"

    @classmethod
    def of(cls, settings: Settings, setting: str, what: str, unit: str = "bytes") -> "Limit":
        return cls(setting, what, int(getattr(settings, setting)), unit)

    def show(self, amount: int) -> str:
        return format_bytes(amount) if self.unit == "bytes" else f"{amount:,} {self.unit}"

    def error(self, subject: str, amount: int | None = None) -> LimitError:
        """'captions.csv: 70.2 MB, over the caption-file limit of 64.0 MB (IMGSEARCH_MAX_CAPTION_FILE_BYTES)'."""
        found = f"{self.show(amount)}, " if amount is not None else ""
        return LimitError(f"{found}over the {self.what} limit of {self.show(self.value)} ({env_name(self.setting)})",
                          subject)

    def check(self, subject: str, amount: int) -> None:
        if amount > self.value:
            raise self.error(subject, amount)

    def read(self, subject: str, declared: int, open_stream: Callable[[], AbstractContextManager[IO[bytes]]]) -> bytes:
        """The stream's bytes: its declared size (a file's stat, a zip header) is checked first, then at most
        limit + 1 bytes are read, so a size that lies (or a file that grows) costs no more memory."""
        self.check(subject, declared)
        with open_stream() as stream:
            data = stream.read(self.value + 1)
        if len(data) > self.value:
            raise self.error(subject)
        return data


@dataclass(frozen=True)
class SourceLimits:
    """The limits `ingest_sources.collect` applies to a source, from Settings."""

    file: Limit
    sidecar: Limit
    caption_file: Limit
    field_chars: int
    zip_entries: Limit
    zip_total: Limit

    @classmethod
    def of(cls, settings: Settings) -> "SourceLimits":
        return cls(
            file=Limit.of(settings, "max_file_bytes", "file"),
            sidecar=Limit.of(settings, "max_sidecar_bytes", "sidecar"),
            caption_file=Limit.of(settings, "max_caption_file_bytes", "caption-file"),
            field_chars=settings.max_field_chars,
            zip_entries=Limit.of(settings, "max_zip_entries", "zip entry", "entries"),
            zip_total=Limit.of(settings, "max_zip_total_bytes", "zip size (declared, uncompressed)"),
        )
