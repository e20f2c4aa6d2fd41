"""Ingestion: folders, zips and uploads (with caption files or sidecars) into a collection.

Why batches keyed by content hash: ids are the SHA-256 of the image bytes, so a run that is killed and
started again skips what is stored and embeds only the rest (resumable, idempotent), and each batch
is written to media, Chroma and BM25 together. A bad file becomes a line in the report, never an abort.

Why a pipeline: decoding, metadata and pHash run in a thread pool (Pillow releases the GIL while it
decodes and resizes) while the previous batch is embedded, so at most two batches of small prepared
items (model input + media rendition) are in memory; full-resolution frames live only inside a
decode (ingest_decode.decode_for_ingest, bounded by a FrameBudget). Files of a folder are hashed by
streaming them from disk, so an already stored file is never held in memory; results are consumed
in source order, so records, problems and counts come out exactly as from one sequential loop.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from imgsearch_core.captions import CAPTION_FILE_NAMES, CaptionFileError, CaptionTable, parse_caption_file
from imgsearch_core.embed import Embedder
from imgsearch_core.images import SUPPORTED_EXTENSIONS, ImageError, check_file_size
from imgsearch_core.ingest_decode import MODEL_INPUT_SIDE, FrameBudget, decode_for_ingest
from imgsearch_core.item_metadata import Described, describe
from imgsearch_core.perceptual import perceptual_hash
from imgsearch_core.collection import Collection, Record
from imgsearch_core.store import Store

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


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    rate: float  # items per second
    eta_seconds: float | None


@dataclass
class IngestReport:
    total: int = 0
    added: int = 0
    already_stored: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.added / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "added": self.added,
            "already_stored": self.already_stored,
            "problems": [{"name": p.name, "reason": p.reason} for p in self.problems],
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 2),
        }


# ----- sources ------------------------------------------------------------------------------
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


# ----- the ingest loop -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    id: str
    caption: str
    metadata: dict[str, Any]
    media: bytes
    media_ext: str
    image: Any  # the PIL picture to embed (the model input, short side = the model's input size)
    metadata_problems: list[str]


@dataclass(frozen=True)
class _Limits:
    max_pixels: int
    max_bytes: int
    read_metadata: bool
    model_side: int = MODEL_INPUT_SIDE


# Full-resolution pixels that concurrent decodes may hold at once: two 49 MP scans, or one 80 MP file
# (the max_pixels default) alone. A frame is 3-4 bytes a pixel, plus a copy while alpha is premultiplied.
FRAME_BUDGET_PIXELS = 100_000_000
_HASH_CHUNK = 1 << 20


class _ReadError(Exception):
    """An item whose bytes cannot be read; `problem` is its report line."""

    def __init__(self, problem: "Problem") -> None:
        super().__init__(problem.reason)
        self.problem = problem


def describe_item(item: SourceItem, data: bytes, read_metadata: bool = True) -> Described:
    """The item's caption and metadata: its caption file or sidecar first, then what the file carries."""
    return describe(
        item.name, item.source, data,
        caption=item.caption, caption_from=item.caption_from, extra=item.extra, read_metadata=read_metadata,
    )


def _model_side(embedder: Any) -> int:
    """The embedder's image input size if it says (`image_size`), else CLIP's 224."""
    value = getattr(embedder, "image_size", None)
    if isinstance(value, (tuple, list)) and value:
        value = min(value)
    try:
        side = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MODEL_INPUT_SIDE
    return side if side >= 1 else MODEL_INPUT_SIDE


def _read_problem(item: SourceItem, exc: BaseException) -> Problem:
    if isinstance(exc, ImageError):
        return Problem(item.name, str(exc))
    return Problem(item.name, f"cannot be read ({getattr(exc, 'strerror', None) or exc})")


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _hash_item(item: SourceItem) -> tuple[str, tuple[int, int] | None]:
    """(SHA-256 hex digest, (size, mtime) for files on disk). Files are streamed, never held whole."""
    try:
        if item.path is not None:
            before = _stat(item.path)
            with open(item.path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            return digest, before
        return hashlib.sha256(item.read()).hexdigest(), None
    except (OSError, ImageError) as exc:
        raise _ReadError(_read_problem(item, exc)) from exc


def _read_for_decoding(item: SourceItem, digest: str, stat: tuple[int, int] | None, limits: _Limits) -> bytes:
    try:
        if item.path is not None:
            size, _ = _stat(item.path)
            check_file_size(size, name=item.name, max_bytes=limits.max_bytes)  # never read a huge file
        data = item.read()
        if item.path is not None and _stat(item.path) != stat and hashlib.sha256(data).hexdigest() != digest:
            raise ImageError(f"{item.name}: file changed while it was being ingested (run the ingest again)")
        return data
    except OSError as exc:
        raise _ReadError(_read_problem(item, exc)) from exc


def _prepare(item: SourceItem, digest: str, stat: tuple[int, int] | None, limits: _Limits,
             budget: FrameBudget | None = None) -> _Prepared:
    """Read, decode once, describe and hash one new item (runs in the decode pool)."""
    data = _read_for_decoding(item, digest, stat, limits)
    picture = decode_for_ingest(
        data, name=item.name, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes,
        model_side=limits.model_side, budget=budget,
    )
    described = describe_item(item, data, limits.read_metadata)
    metadata = {
        **described.metadata,
        "width": picture.decoded.width,
        "height": picture.decoded.height,
        "added_at": int(time.time()),
        "phash": perceptual_hash(picture.decoded.image),
    }
    return _Prepared(digest, described.caption, metadata, picture.media, picture.media_ext, picture.model_input,
                     described.problems)


def _batches(items: Sequence[SourceItem], size: int) -> Iterator[Sequence[SourceItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Pending:
    """A batch whose new items are being prepared; what to report is kept until it is consumed."""

    items: Sequence[SourceItem]
    read_problems: list[Problem]
    # per readable item, in order: ("stored", None) | ("dup", index of the first copy in this batch)
    # | ("new", future of _Prepared)
    entries: list[tuple[SourceItem, str, tuple[int, int] | None, str, Any]]


class _Pipeline:
    """Hashing and preparation in a thread pool, consumed in order by the embedding loop."""

    def __init__(self, pool: ThreadPoolExecutor, collection: Collection, limits: _Limits, budget: FrameBudget) -> None:
        self.pool, self.collection, self.limits, self.budget = pool, collection, limits, budget
        self.seen: set[str] = set()  # ids prepared in this run (stored or about to be)

    def hash(self, batch: Sequence[SourceItem]) -> list[Future]:
        return [self.pool.submit(_hash_item, item) for item in batch]

    def start(self, batch: Sequence[SourceItem], hashes: list[Future]) -> _Pending:
        """Wait for the batch's hashes, look them up and submit the new items for preparation."""
        read_problems: list[Problem] = []
        hashed = []
        for item, future in zip(batch, hashes):
            try:
                digest, stat = future.result()
            except _ReadError as exc:
                read_problems.append(exc.problem)
                continue
            hashed.append((item, digest, stat))
        stored = self.collection.existing_ids(sorted({digest for _, digest, _ in hashed}))
        first: dict[str, int] = {}
        entries: list[tuple[SourceItem, str, tuple[int, int] | None, str, Any]] = []
        for item, digest, stat in hashed:
            if digest in stored or digest in self.seen:
                entries.append((item, digest, stat, "stored", None))
            elif digest in first:
                entries.append((item, digest, stat, "dup", first[digest]))
            else:
                first[digest] = len(entries)
                entries.append((item, digest, stat, "new", self.pool.submit(_prepare, item, digest, stat, self.limits, self.budget)))
        return _Pending(batch, read_problems, entries)

    def finish(self, pending: _Pending, report: IngestReport) -> list[_Prepared]:
        """Wait for the batch's items and report them in source order, as one sequential loop would."""
        report.problems.extend(pending.read_problems)
        prepared: list[_Prepared] = []
        outcome: list[_Prepared | None] = []  # per entry: what it became
        for item, digest, stat, kind, value in pending.entries:
            result: _Prepared | None = None
            if kind == "stored" or (kind == "dup" and outcome[value] is not None):
                report.already_stored += 1
            else:
                try:
                    # A copy of an item that failed is tried again itself (its own name in the message).
                    result = value.result() if kind == "new" else _prepare(item, digest, stat, self.limits, self.budget)
                except _ReadError as exc:
                    report.problems.append(exc.problem)
                except ImageError as exc:
                    report.problems.append(Problem(item.name, str(exc)))
                else:
                    self.seen.add(digest)
                    prepared.append(result)
                    report.problems.extend(metadata_problems(item.name, result.metadata_problems))
            outcome.append(result)
        return prepared


def ingest(
    store: Store,
    collection_name: str,
    embedder: Embedder,
    items: Sequence[SourceItem],
    *,
    problems: Sequence[Problem] = (),
    progress: Callable[[Progress], None] | None = None,
    batch_size: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    read_metadata: bool = True,
) -> IngestReport:
    """Embed and store `items` into the collection (created and pinned to the embedder's model).

    `read_metadata=False` skips the captions, credits and dates embedded in the files (IPTC, XMP, EXIF).
    While batch N is embedded, batch N+1 is decoded in `settings.decode_threads` threads
    (env IMGSEARCH_DECODE_THREADS, default min(4, cores)).
    """
    settings = store.settings
    batch_size = batch_size or settings.embed_batch_size
    report = IngestReport(total=len(items), problems=list(problems))
    started = time.perf_counter()
    done = 0
    limits = _Limits(settings.max_pixels, settings.max_file_bytes, read_metadata, _model_side(embedder))
    batches = list(_batches(items, batch_size))
    with store.writing():
        collection: Collection = store.open_or_create(collection_name, embedder.identity)
        collection.recover()
        pool = ThreadPoolExecutor(max_workers=max(1, settings.decode_threads), thread_name_prefix="imgsearch-decode")
        try:
            pipeline = _Pipeline(pool, collection, limits, FrameBudget(FRAME_BUDGET_PIXELS))
            hashes = {i: pipeline.hash(batches[i]) for i in range(min(2, len(batches)))}
            pending = pipeline.start(batches[0], hashes.pop(0)) if batches else None
            for index, batch in enumerate(batches):
                if should_stop is not None and should_stop():
                    report.problems.append(Problem("(run)", f"stopped by the user after {done} of {len(items)} items"))
                    break
                assert pending is not None
                prepared = pipeline.finish(pending, report)
                # Queue the hashes of batch N+2 ahead of the preparation of batch N+1, which then runs
                # in the pool while batch N is embedded and written below.
                if index + 2 < len(batches):
                    hashes[index + 2] = pipeline.hash(batches[index + 2])
                pending = pipeline.start(batches[index + 1], hashes.pop(index + 1)) if index + 1 < len(batches) else None
                if prepared:
                    vectors = embedder.embed_images([p.image for p in prepared])
                    records = [Record(p.id, v, p.caption, p.metadata, p.media, p.media_ext) for p, v in zip(prepared, vectors)]
                    del prepared
                    added = collection.add(records)
                    report.added += added
                    report.already_stored += len(records) - added  # stored meanwhile by another writer
                    del records
                done += len(batch)
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    rate = done / elapsed if elapsed > 0 else 0.0
                    eta = (len(items) - done) / rate if rate > 0 else None
                    progress(Progress(done, len(items), rate, eta))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    report.seconds = time.perf_counter() - started
    return report
