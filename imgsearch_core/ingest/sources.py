"""What ingest reads: folders, zips and uploads (with caption files or sidecars) as items to ingest.

Why separate from the pipeline (ingest.py): listing a source, matching caption files and sidecars and
refusing unsafe zip entries happen once, before anything is decoded, and `reread` uses them as well.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from imgsearch_core.media.caption_files import CAPTION_FILE_NAMES, CaptionFileError, CaptionTable, parse_caption_file
from imgsearch_core.config import Settings
from imgsearch_core.media.images import SUPPORTED_EXTENSIONS, ImageError, check_file_size
from imgsearch_core.media.limits import Limit, LimitError, SourceLimits, env_name
from imgsearch_core.media.item_metadata import Described, describe

SIDECAR_EXTENSION = ".txt"
_IGNORED_EXTENSIONS = {".txt", ".csv", ".tsv", ".json", ".jsonl", ".md"}
LINK_REFUSED = "symbolic link leaving the source (refused)"
SKIPPED_NAME = "(other files)"  # the report line that counts the files that are not images
# A central directory record: 46 bytes, of which the name, extra field and comment lengths say how far the next is.
_CENTRAL_HEADER = struct.Struct("<28xHHH12x")


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
    """What went wrong with one file. Reports show the name in its own column, so the reason leaves it out
    (an input error's `reason`, not its message)."""

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


def _file_reader(path: Path, name: str, max_bytes: int) -> Callable[[], bytes]:
    """Reads at most max_bytes + 1 bytes of an image file (ingest and reread alike), after a look at its size."""
    def read() -> bytes:
        check_file_size(path.stat().st_size, name=name, max_bytes=max_bytes)
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
        check_file_size(len(data), name=name, max_bytes=max_bytes)  # it grew since the look
        return data

    return read


def _leaves(path: Path, root: Path) -> bool:
    """True for a symbolic link whose target (after every link and '..') is outside `root`."""
    return path.is_symlink() and not path.resolve().is_relative_to(root)


def _walk(folder: Path, problems: list[Problem]) -> dict[str, Path]:
    """The regular files under `folder` by relative POSIX path, hidden ones left out. A symbolic link whose
    target leaves the folder is reported and never opened; a linked folder is not descended (a link inside
    the source points at files listed under their own path)."""
    root = folder.resolve()
    files: dict[str, Path] = {}
    for directory, subdirs, names in os.walk(folder):  # links to folders are listed, never walked into
        subdirs[:] = [d for d in subdirs if not _is_hidden(d)]
        base = Path(directory)
        linked_folders = [base / d for d in subdirs if (base / d).is_symlink()]
        for path in [*linked_folders, *(base / n for n in names if not _is_hidden(n))]:
            relative = path.relative_to(folder).as_posix()
            if _leaves(path, root):
                problems.append(Problem(relative, LINK_REFUSED))
            elif path.is_file():
                files[relative] = path
    return dict(sorted(files.items(), key=lambda pair: PurePosixPath(pair[0])))


def _read_sidecar(name: str, size: int, open_stream: Callable[[], Any], limit: Limit,
                  problems: list[Problem]) -> str:
    """A sidecar's caption, or "" with a problem when it is over the sidecar limit or unreadable."""
    try:
        return limit.read(name, size, open_stream).decode("utf-8", "replace").strip()
    except LimitError as exc:
        problems.append(Problem(name, f"{exc.reason} (caption not used)"))
    except OSError as exc:
        problems.append(Problem(name, f"cannot be read ({exc.strerror or exc}); caption not used"))
    return ""


def _skipped(count: int) -> list[Problem]:
    """One line for the files that are not images: a count, never their names (a folder on the server)."""
    if not count:
        return []
    what = "file that is not an image was" if count == 1 else "files that are not images were"
    return [Problem(SKIPPED_NAME, f"{count:,} {what} skipped")]


def folder_items(folder: Path, problems: list[Problem], limits: SourceLimits) -> tuple[list[SourceItem], CaptionTable | None]:
    """Images under `folder` (recursive), with sidecar captions and a root captions file if present."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise IngestError(f"Folder {str(folder)!r} does not exist or is not a directory.")
    files = _walk(folder, problems)
    items: list[SourceItem] = []
    captions = None
    others = 0
    for relative, path in files.items():
        if relative.lower() in CAPTION_FILE_NAMES and captions is None:
            data = limits.caption_file.read(relative, path.stat().st_size, lambda p=path: open(p, "rb"))
            captions = parse_caption_file(data, relative, limits.field_chars)
        elif _is_image_name(relative):
            sidecar = str(PurePosixPath(relative).with_suffix(SIDECAR_EXTENSION))
            caption = ""
            if sidecar in files:
                side = files[sidecar]
                caption = _read_sidecar(sidecar, side.stat().st_size, lambda: open(side, "rb"), limits.sidecar, problems)
            items.append(SourceItem(relative, str(folder), _file_reader(path, relative, limits.file.value), caption,
                                    caption_from=_from_sidecar(caption), path=path))
        elif path.suffix.lower() not in _IGNORED_EXTENSIONS:
            others += 1
    problems.extend(_skipped(others))
    return items, captions


def _count_entries(archive: IO[bytes], stop_after: int) -> int:
    """Entries in a zip's central directory, counted up to stop_after + 1 from their 46-byte headers alone.

    Why not ZipFile.infolist(): it builds a ~540-byte ZipInfo for every ~50-byte record, so a zip of
    millions of empty entries would cost gigabytes before any count could be checked. The directory is
    found as zipfile finds it (its end record, zip64 included), through zipfile's own helpers.
    """
    end = zipfile._EndRecData(archive)  # noqa: SLF001  the stdlib's end-record reader, zip64 included
    if end is None:
        return 0  # not a zip: ZipFile says so in its own words
    start = end[zipfile._ECD_LOCATION] - end[zipfile._ECD_SIZE]  # noqa: SLF001
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:  # noqa: SLF001
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    archive.seek(max(0, start))
    count = 0
    while count <= stop_after:
        header = archive.read(_CENTRAL_HEADER.size)
        if len(header) < _CENTRAL_HEADER.size or not header.startswith(zipfile.stringCentralDir):
            break
        name, extra, comment = _CENTRAL_HEADER.unpack(header)
        archive.seek(name + extra + comment, os.SEEK_CUR)
        count += 1
    return count


def _open_zip(archive: Path | bytes, name: str, limits: SourceLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The zip and its entries; LimitError when it has too many entries or declares too many bytes."""
    try:
        with open(archive, "rb") if isinstance(archive, Path) else io.BytesIO(archive) as stream:
            counted = _count_entries(stream, limits.zip_entries.value)
    except OSError as exc:
        raise IngestError(f"{name}: not a readable zip archive ({exc}).") from exc
    limits.zip_entries.check(name, counted)  # before ZipFile builds an object per entry
    try:
        handle = zipfile.ZipFile(archive if isinstance(archive, Path) else io.BytesIO(archive))
        entries = handle.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"{name}: not a readable zip archive ({exc}).") from exc
    limits.zip_entries.check(name, len(entries))
    limits.zip_total.check(name, sum(entry.file_size for entry in entries))
    return handle, entries


def zip_items(archive: Path | bytes, name: str, problems: list[Problem], limits: SourceLimits) -> tuple[list[SourceItem], CaptionTable | None]:
    """Images in a zip. Entries that would escape the archive folder (absolute, '..') are refused."""
    handle, entries = _open_zip(archive, name, limits)
    by_name = {e.filename: e for e in entries}
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
        if entry_name.lower() in CAPTION_FILE_NAMES and captions is None:
            data = limits.caption_file.read(entry_name, entry.file_size, lambda e=entry: handle.open(e))
            captions = parse_caption_file(data, entry_name, limits.field_chars)
        elif _is_image_name(entry_name):
            if entry.file_size > limits.file.value:
                problems.append(Problem(entry_name, limits.file.error(entry_name, entry.file_size).reason))
                continue
            sidecar = by_name.get(str(PurePosixPath(entry_name).with_suffix(SIDECAR_EXTENSION)))
            caption = "" if sidecar is None else _read_sidecar(
                sidecar.filename, sidecar.file_size, lambda: handle.open(sidecar), limits.sidecar, problems)
            items.append(SourceItem(entry_name, name, _zip_reader(handle, entry, limits.file.value), caption,
                                    caption_from=_from_sidecar(caption)))
        elif PurePosixPath(entry_name.lower()).suffix not in _IGNORED_EXTENSIONS:
            problems.append(Problem(entry_name, "not a supported image type (skipped)"))
    return items, captions


def _from_sidecar(caption: str) -> str:
    return "sidecar" if caption else ""


def _zip_reader(handle: zipfile.ZipFile, entry: zipfile.ZipInfo, max_bytes: int) -> Callable[[], bytes]:
    """Reads at most max_bytes + 1 bytes of the entry: its header's size may lie."""
    def read() -> bytes:
        try:
            with handle.open(entry) as stream:
                data = stream.read(max_bytes + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ImageError(f"cannot be read from the zip ({exc}).", entry.filename) from exc
        check_file_size(len(data), name=entry.filename, max_bytes=max_bytes)
        return data

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
    settings: Settings | None = None,
) -> tuple[list[SourceItem], list[Problem]]:
    """Turn a folder or zip path, an uploaded zip or uploaded files into items with captions, within the
    input limits of `settings` (the defaults without)."""
    limits = SourceLimits.of(settings or Settings())
    try:
        return _collect(source, uploads, zip_bytes, captions_file, limits)
    except (CaptionFileError, LimitError) as exc:
        raise IngestError(str(exc)) from exc


def _caption_file(captions_file: tuple[str, bytes] | Path, limits: SourceLimits) -> CaptionTable:
    """A caption file given besides the source (--captions, an upload), within the caption-file limit."""
    if isinstance(captions_file, Path):
        try:
            data = limits.caption_file.read(captions_file.name, captions_file.stat().st_size,
                                            lambda: open(captions_file, "rb"))
        except OSError as exc:
            raise IngestError(f"Cannot read caption file {captions_file}: {exc.strerror}") from exc
        return parse_caption_file(data, captions_file.name, limits.field_chars)
    name, data = captions_file
    limits.caption_file.check(name, len(data))
    return parse_caption_file(data, name, limits.field_chars)


def _collect(
    source: Path | str | None,
    uploads: Iterable[tuple[str, bytes]],
    zip_bytes: tuple[str, bytes] | None,
    captions_file: tuple[str, bytes] | Path | None,
    limits: SourceLimits,
) -> tuple[list[SourceItem], list[Problem]]:
    problems: list[Problem] = []
    items: list[SourceItem] = []
    found_captions: CaptionTable | None = None
    if source is not None:
        path = Path(source).expanduser()
        if path.is_file() and path.suffix.lower() == ".zip":
            items, found_captions = zip_items(path, path.name, problems, limits)
        elif path.is_file() and _is_image_name(path.name):
            items = [SourceItem(path.name, str(path.parent), _file_reader(path, path.name, limits.file.value), path=path)]
        elif path.is_dir():
            items, found_captions = folder_items(path, problems, limits)
        else:
            raise IngestError(f"{str(source)!r} is not a folder, a zip file or an image file.")
    if zip_bytes is not None:
        zipped, zipped_captions = zip_items(zip_bytes[1], zip_bytes[0], problems, limits)
        items.extend(zipped)
        found_captions = found_captions or zipped_captions
    items.extend(upload_items(uploads))
    if captions_file is not None:
        found_captions = _caption_file(captions_file, limits)
    return apply_captions(items, found_captions, problems), problems


def check_uploads(sizes: Sequence[int], settings: Settings) -> None:
    """Refuse an Admin upload over the file-count or total-bytes limit before any of its files is read."""
    try:
        Limit.of(settings, "max_upload_files", "upload", "files").check("The upload", len(sizes))
        Limit.of(settings, "max_upload_bytes", "upload size").check("The upload", sum(sizes))
    except LimitError as exc:
        raise IngestError(str(exc)) from exc


def import_folder(text: str | Path, roots: Sequence[Path]) -> Path:
    """The folder the Admin page may import from: resolved (every link and '..' followed) and inside one of
    `roots` (Settings.import_roots), else IngestError naming them. The command line is not limited."""
    folder = Path(text).expanduser().resolve()
    if any(folder.is_relative_to(Path(root).expanduser().resolve()) for root in roots):
        return folder
    allowed = ", ".join(str(root) for root in roots) or "none"
    raise IngestError(f"{str(text)!r} is outside the folders the Admin page imports from: {allowed} "
                      f"({env_name('import_roots')}).")
