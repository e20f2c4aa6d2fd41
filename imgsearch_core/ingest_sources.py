"""What ingest reads: folders, zips and uploads (with caption files or sidecars) as items to ingest.

Why separate from the pipeline (ingest.py): listing a source, matching caption files and sidecars and
refusing unsafe zip entries happen once, before anything is decoded, and `reread` uses them as well.
"""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from imgsearch_core.captions import CAPTION_FILE_NAMES, CaptionFileError, CaptionTable, parse_caption_file
from imgsearch_core.images import SUPPORTED_EXTENSIONS, ImageError
from imgsearch_core.item_metadata import Described, describe

SIDECAR_EXTENSION = ".txt"
_IGNORED_EXTENSIONS = {".txt", ".csv", ".tsv", ".json", ".jsonl", ".md"}


def metadata_problems(name: str, problems: Sequence[str]) -> list["Problem"]:
    """Report lines for metadata that could not be read; the image itself was stored."""
    return [Problem(name, f"embedded metadata: {p} (the image was stored)") for p in problems]


class IngestError(ValueError):
    """The source as a whole cannot be ingested (missing folder, broken zip, bad caption file)."""


@dataclass(frozen=True)
class SourceItem:
    """One image to ingest; `read` defers reading the bytes until its batch is processed."""

    name: str  # path relative to the source root, POSIX style
    source: str
    read: Callable[[], bytes]
    caption: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    caption_from: str = ""  # "sidecar" or "caption file" when `caption` came from one
    path: Path | None = None  # the file on disk, when there is one: hashed by streaming it


@dataclass(frozen=True)
class Problem:
    name: str
    reason: str



def describe_item(item: SourceItem, data: bytes, read_metadata: bool = True) -> Described:
    """The item's caption and metadata: its caption file or sidecar first, then what the file carries."""
    return describe(
        item.name, item.source, data,
        caption=item.caption, caption_from=item.caption_from, extra=item.extra, read_metadata=read_metadata,
    )



def _is_image_name(name: str) -> bool:
    return PurePosixPath(name.lower()).suffix in SUPPORTED_EXTENSIONS


def _is_hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)


def folder_items(folder: Path, problems: list[Problem]) -> tuple[list[SourceItem], CaptionTable | None]:
    """Images under `folder` (recursive), with sidecar captions and a root captions file if present."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise IngestError(f"Folder {str(folder)!r} does not exist or is not a directory.")
    items: list[SourceItem] = []
    captions = None
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if _is_hidden(relative):
            continue
        if relative.lower() in CAPTION_FILE_NAMES and captions is None:
            captions = parse_caption_file(path.read_bytes(), relative)
        elif _is_image_name(relative):
            sidecar = path.with_suffix(SIDECAR_EXTENSION)
            caption = sidecar.read_text(encoding="utf-8", errors="replace").strip() if sidecar.is_file() else ""
            items.append(SourceItem(relative, str(folder), path.read_bytes, caption, caption_from=_from_sidecar(caption),
                                    path=path))
        elif path.suffix.lower() not in _IGNORED_EXTENSIONS:
            problems.append(Problem(relative, "not a supported image type (skipped)"))
    return items, captions


def zip_items(archive: Path | bytes, name: str, problems: list[Problem], max_file_bytes: int) -> tuple[list[SourceItem], CaptionTable | None]:
    """Images in a zip. Entries that would escape the archive folder (absolute, '..') are refused."""
    try:
        handle = zipfile.ZipFile(archive if isinstance(archive, Path) else io.BytesIO(archive))
        entries = handle.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"{name}: not a readable zip archive ({exc}).") from exc
    names = {e.filename for e in entries}
    items: list[SourceItem] = []
    captions = None
    for entry in entries:
        entry_name = entry.filename
        parts = PurePosixPath(entry_name.replace("\\", "/")).parts
        if entry_name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            problems.append(Problem(entry_name, "zip entry escapes the archive folder (refused)"))
            continue
        if entry.is_dir() or _is_hidden(entry_name):
            continue
        if entry.file_size > max_file_bytes:
            problems.append(Problem(entry_name, f"file of {entry.file_size:,} bytes is over the limit of {max_file_bytes:,}"))
            continue
        if entry_name.lower() in CAPTION_FILE_NAMES and captions is None:
            captions = parse_caption_file(handle.read(entry), entry_name)
        elif _is_image_name(entry_name):
            sidecar = str(PurePosixPath(entry_name).with_suffix(SIDECAR_EXTENSION))
            caption = handle.read(sidecar).decode("utf-8", "replace").strip() if sidecar in names else ""
            items.append(SourceItem(entry_name, name, _zip_reader(handle, entry), caption, caption_from=_from_sidecar(caption)))
        elif PurePosixPath(entry_name.lower()).suffix not in _IGNORED_EXTENSIONS:
            problems.append(Problem(entry_name, "not a supported image type (skipped)"))
    return items, captions


def _from_sidecar(caption: str) -> str:
    return "sidecar" if caption else ""


def _zip_reader(handle: zipfile.ZipFile, entry: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return handle.read(entry)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ImageError(f"{entry.filename}: cannot be read from the zip ({exc}).") from exc

    return read


def upload_items(files: Iterable[tuple[str, bytes]], source: str = "upload") -> list[SourceItem]:
    """Uploaded files (name, bytes); non-image names still go through decoding and get reported."""
    return [SourceItem(os.path.basename(n) or "upload", source, (lambda d=data: d)) for n, data in files]


def apply_captions(items: Sequence[SourceItem], captions: CaptionTable | None, problems: list[Problem]) -> list[SourceItem]:
    """Attach caption-file rows (they win over sidecars); rows naming no image become problems."""
    if not captions:
        return list(items)
    result = []
    for item in items:
        row = captions.lookup(item.name)
        if row is None:
            result.append(item)
        else:
            caption, extra = row
            origin = "caption file" if caption else item.caption_from
            result.append(SourceItem(item.name, item.source, item.read, caption or item.caption, dict(extra), origin,
                                     item.path))
    problems.extend(Problem(name, "caption row matches no image") for name in captions.unused())
    return result


def collect(
    source: Path | str | None = None,
    *,
    uploads: Iterable[tuple[str, bytes]] = (),
    zip_bytes: tuple[str, bytes] | None = None,
    captions_file: tuple[str, bytes] | Path | None = None,
    max_file_bytes: int = 64 * 2**20,
) -> tuple[list[SourceItem], list[Problem]]:
    """Turn a folder or zip path, an uploaded zip or uploaded files into items with captions."""
    try:
        return _collect(source, uploads, zip_bytes, captions_file, max_file_bytes)
    except CaptionFileError as exc:
        raise IngestError(str(exc)) from exc


def _collect(
    source: Path | str | None,
    uploads: Iterable[tuple[str, bytes]],
    zip_bytes: tuple[str, bytes] | None,
    captions_file: tuple[str, bytes] | Path | None,
    max_file_bytes: int,
) -> tuple[list[SourceItem], list[Problem]]:
    problems: list[Problem] = []
    items: list[SourceItem] = []
    found_captions: CaptionTable | None = None
    if source is not None:
        path = Path(source).expanduser()
        if path.is_file() and path.suffix.lower() == ".zip":
            items, found_captions = zip_items(path, path.name, problems, max_file_bytes)
        elif path.is_file() and _is_image_name(path.name):
            items = [SourceItem(path.name, str(path.parent), path.read_bytes, path=path)]
        elif path.is_dir():
            items, found_captions = folder_items(path, problems)
        else:
            raise IngestError(f"{str(source)!r} is not a folder, a zip file or an image file.")
    if zip_bytes is not None:
        zipped, zipped_captions = zip_items(zip_bytes[1], zip_bytes[0], problems, max_file_bytes)
        items.extend(zipped)
        found_captions = found_captions or zipped_captions
    items.extend(upload_items(uploads))
    if captions_file is not None:
        try:
            if isinstance(captions_file, Path):
                found_captions = parse_caption_file(captions_file.read_bytes(), captions_file.name)
            else:
                found_captions = parse_caption_file(captions_file[1], captions_file[0])
        except OSError as exc:
            raise IngestError(f"Cannot read caption file {captions_file}: {exc.strerror}") from exc
    return apply_captions(items, found_captions, problems), problems

