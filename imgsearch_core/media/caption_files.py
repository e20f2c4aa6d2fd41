"""Caption files: CSV (file-name column, caption column, extra columns as metadata), JSON and JSONL.

Why lenient column detection: editorial spreadsheets name columns "filename", "image", "file" or
"path"; guessing the common names saves users a mapping step, while anything unrecognised is an
explicit error naming the columns found.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from imgsearch_core.config import Settings
from imgsearch_core.media.limits import Limit

FILE_COLUMNS = ("file_name", "filename", "file", "image", "image_path", "path", "name", "id")
CAPTION_COLUMNS = ("caption", "text", "description", "alt", "title")
CAPTION_FILE_NAMES = ("captions.csv", "captions.jsonl", "captions.json")
ALT_CAPTIONS_KEY = "alt_captions"
ALT_CAPTIONS_SEPARATOR = "\n"


class CaptionFileError(ValueError):
    """The caption file as a whole cannot be used; the message says why."""


@dataclass
class CaptionTable:
    """Captions keyed by normalised file path; look-ups fall back to the bare file name."""

    rows: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @staticmethod
    def key(name: str) -> str:
        return PurePosixPath(name.replace("\\", "/").lstrip("./")).as_posix().lower()

    def add(self, name: str, caption: str, extra: dict[str, Any]) -> None:
        """The first row of a file gives its caption; further rows become alternative captions,
        which evaluation holds out as queries (they are never indexed)."""
        key, caption = self.key(name), caption.strip()
        if key not in self.rows:
            self.rows[key] = (caption, extra)
            return
        first, first_extra = self.rows[key]
        if caption and caption != first:
            alternatives = [a for a in str(first_extra.get(ALT_CAPTIONS_KEY, "")).split(ALT_CAPTIONS_SEPARATOR) if a]
            if caption not in alternatives:
                alternatives.append(caption)
            first_extra = {**first_extra, ALT_CAPTIONS_KEY: ALT_CAPTIONS_SEPARATOR.join(alternatives)}
            self.rows[key] = (first, first_extra)

    def lookup(self, relative_path: str) -> tuple[str, dict[str, Any]] | None:
        """Match by relative path first, then by the bare file name."""
        for candidate in (self.key(relative_path), self.key(PurePosixPath(relative_path).name)):
            if candidate in self.rows:
                self.used.add(candidate)
                return self.rows[candidate]
        return None

    def unused(self) -> list[str]:
        """Caption rows that matched no image (reported as problems after an ingest)."""
        return sorted(set(self.rows) - self.used)

    def __len__(self) -> int:
        return len(self.rows)


def _pick(columns: list[str], wanted: tuple[str, ...], what: str) -> str:
    lowered = {c.strip().lower(): c for c in columns}
    for name in wanted:
        if name in lowered:
            return lowered[name]
    raise CaptionFileError(
        f"No {what} column found; expected one of {', '.join(wanted)}, got {', '.join(columns) or 'none'}."
    )


def _check_fields(records: list[dict[str, Any]], max_chars: int) -> None:
    """Refuse a file with a name or value longer than the field limit, before anything splits or stores it.
    A value that is not text (a JSON list or number) counts by its printed form."""
    limit = Limit("max_field_chars", "field", max_chars, "characters")
    for number, record in enumerate(records, start=1):
        for key, value in record.items():
            for text in (str(key), value if isinstance(value, str) else str(value)):
                if len(text) > max_chars:
                    raise CaptionFileError(str(limit.error(f"row {number}, field {str(key)[:40]!r}", len(text))))


def _from_records(records: list[dict[str, Any]]) -> CaptionTable:
    if not records:
        raise CaptionFileError("The caption file has no rows.")
    columns = list(dict.fromkeys(k for r in records for k in r))
    file_col = _pick(columns, FILE_COLUMNS, "file-name")
    caption_col = _pick(columns, CAPTION_COLUMNS, "caption")
    table = CaptionTable()
    for record in records:
        name = str(record.get(file_col) or "").strip()
        if not name:
            continue
        extra = {k: v for k, v in record.items() if k not in (file_col, caption_col) and v not in (None, "")}
        table.add(name, str(record.get(caption_col) or ""), extra)
    return table


def _checked(records: list[Any], max_chars: int) -> CaptionTable:
    if not all(isinstance(r, dict) for r in records):
        raise CaptionFileError("every row must be an object of fields.")
    _check_fields(records, max_chars)
    return _from_records(records)


def parse_caption_file(data: bytes, file_name: str, max_field_chars: int = Settings.max_field_chars) -> CaptionTable:
    """Parse CSV, JSON (a list of objects or a {file: caption} object) or JSONL by file extension; every
    name and value is at most `max_field_chars` long (IMGSEARCH_MAX_FIELD_CHARS)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaptionFileError(f"{file_name}: not UTF-8 text ({exc.reason}).") from exc
    suffix = PurePosixPath(file_name.lower()).suffix
    try:
        if suffix in (".csv", ".tsv"):
            dialect = "excel-tab" if suffix == ".tsv" else "excel"
            return _checked(list(csv.DictReader(io.StringIO(text), dialect=dialect)), max_field_chars)
        if suffix == ".jsonl":
            return _checked([json.loads(line) for line in text.splitlines() if line.strip()], max_field_chars)
        if suffix == ".json":
            loaded = json.loads(text)
            if isinstance(loaded, dict):
                _check_fields([loaded], max_field_chars)
                table = CaptionTable()
                for name, caption in loaded.items():
                    table.add(str(name), str(caption or ""), {})
                return table
            if isinstance(loaded, list) and all(isinstance(r, dict) for r in loaded):
                return _checked(loaded, max_field_chars)
            raise CaptionFileError("JSON must be a list of objects or a {file: caption} object.")
    except (json.JSONDecodeError, csv.Error) as exc:
        raise CaptionFileError(f"{file_name}: cannot parse ({exc}).") from exc
    except CaptionFileError as exc:
        raise CaptionFileError(f"{file_name}: {exc}") from None
    raise CaptionFileError(f"{file_name}: unsupported caption file type; use .csv, .tsv, .json or .jsonl.")
