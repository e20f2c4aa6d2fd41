"""Ingestion: items of a folder, zip or upload (ingest_sources) into a collection, at archive speed.

Why batches keyed by content hash: ids are the SHA-256 of the image bytes, so a run that is killed and
started again skips what is stored and embeds only the rest (resumable, idempotent), and each write puts
media, Chroma and the write log (which BM25 catches up from) together. A bad file becomes a line in the
report, never an abort.

Why this pipeline, and its bounds: three kinds of work overlap so both cores stay busy.
* A hashing thread streams each file through SHA-256 (so an already stored file is never held in
  memory), two batches ahead of the lookups.
* The decode pool (`settings.decode_threads`) reads, decodes once, describes and pHashes new items
  (Pillow releases the GIL while it decodes, reduces and resizes). At most `window` new items are
  submitted and not yet embedded, each a small prepared item (model input + media rendition); the
  full-resolution frames live only inside a decode, bounded by a FrameBudget.
* An embedding thread embeds whatever is prepared, in source order, up to the end of the current
  batch: when decoding is the slower side it does not wait for a full batch (a folder of twelve scans
  is embedded while the rest decode), when embedding is, the chunks are whole batches.
* The calling thread writes (media files, Chroma, the write log) whole batches while the next
  chunks are embedded, several batches in one write when they come fast (ingest_writes: a Chroma
  write holds the GIL, so fewer writes stall the other threads less); at most `_WRITES_IN_FLIGHT`
  embedded chunks wait for it. It is the writer because it holds the store's write lock, which is
  exclusive across threads too.
Items are consumed in source order and stopped (`should_stop`) at the same batch boundaries as
before, so records, problems and counts come out exactly as from one sequential loop.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.store.collection import Collection
from imgsearch_core.store.records import Record
from imgsearch_core.models.embed import Embedder
from imgsearch_core.media.images import ImageError
from imgsearch_core.ingest.decode import FrameBudget
from imgsearch_core.ingest.engines import PictureText
from imgsearch_core.media.picture_text import machine_caption_fields
from imgsearch_core.ingest.prepare import FRAME_BUDGET_PIXELS, Limits, Prepared, ReadError, hash_item, model_side, prepare
# Re-exported: the app, the command line, reread, the demo and the tests import the source side from here.
from imgsearch_core.ingest.sources import (  # noqa: F401
    IngestError,
    Problem,
    SourceItem,
    collect,
    describe_item,
    metadata_problems,
)
from imgsearch_core.ingest.writes import Batch, Duplicate, IngestReport, Progress, Writer, stored_name  # noqa: F401  (re-exported)
from imgsearch_core.store.store import Store
from imgsearch_core.types import Captioner, TextReader


_WRITES_IN_FLIGHT = 2  # embedded chunks waiting for the writing thread
# An ingest this large first settles a pending int8 fidelity gate (Embedder.settle_int8): the gate embeds
# 2,000 pictures twice (~7.5 min for a ViT-B/32 on 2 cores), which int8's saving (~35 ms a picture against
# fp32 there, benchmarks/RESULTS.md) repays after ~12,000 pictures; smaller ingests embed with fp32.
INT8_WORTH_ITEMS = 10_000
_HASHED_BATCHES_AHEAD = 2


@dataclass
class _Entry:
    """One item of the source, looked up: "unreadable", "stored", "dup" (of an earlier item of this run)
    or "new" (its preparation submitted to the decode pool once the window allows)."""

    item: SourceItem
    kind: str
    digest: str = ""
    stat: tuple[int, int] | None = None
    problem: Problem | None = None
    future: Future | None = None


@dataclass
class _Chunk:
    """Consecutive items in source order: the prepared new ones and what to report for all of them."""

    prepared: list[Prepared] = field(default_factory=list)
    consumed: int = 0
    ends_batch: bool = False  # the last chunk of a batch of the source (writes and stops come at those)
    already_stored: int = 0
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


class _Feed:
    """The source as chunks of prepared items, in order; hashing and decoding run ahead in threads.

    Used from one thread (the embedding one). At most `window` new items are submitted to the decode
    pool and not yet handed out, so memory holds that many small prepared items, never more.
    """

    def __init__(self, items: Sequence[SourceItem], collection: Collection, limits: Limits, threads: int,
                 batch_size: int, window: int, engines: PictureText | None = None) -> None:
        self.collection, self.limits, self.batch_size, self.window = collection, limits, batch_size, window
        self.engines = engines
        self.budget = FrameBudget(FRAME_BUDGET_PIXELS)
        self._batches = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgsearch-hash")
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="imgsearch-decode")
        self._hashes: dict[int, list[Future]] = {}
        self._looked_up = 0  # batches looked up so far
        self._entries: deque[_Entry] = deque()  # looked up, not handed out yet
        self._waiting: deque[_Entry] = deque()  # new entries whose preparation is not submitted yet
        self._in_flight = 0  # new entries submitted and not handed out yet
        self._outcome: dict[str, bool] = {}  # digest -> stored in this run (True) or failed (False)
        self._stored_as: dict[str, str] = {}  # digest -> the stored item's (or this run's first file's) path
        self._total, self._position = len(items), 0  # items handed out so far
        for index in range(min(_HASHED_BATCHES_AHEAD, len(self._batches))):
            self._hash(index)

    def close(self) -> None:
        self._hasher.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _hash(self, index: int) -> None:
        self._hashes[index] = [self._hasher.submit(hash_item, item) for item in self._batches[index]]

    def _look_up(self) -> None:
        """Wait for the next batch's hashes, ask Chroma which are stored, queue its entries."""
        index = self._looked_up
        self._looked_up += 1
        if index + _HASHED_BATCHES_AHEAD < len(self._batches):
            self._hash(index + _HASHED_BATCHES_AHEAD)
        entries = []
        for item, future in zip(self._batches[index], self._hashes.pop(index)):
            try:
                digest, stat = future.result()
            except ReadError as exc:
                entries.append(_Entry(item, "unreadable", problem=exc.problem))
                continue
            entries.append(_Entry(item, "", digest, stat))
        stored = self.collection.existing_ids(sorted({e.digest for e in entries if e.digest}))
        for item in self.collection.get(sorted(stored - self._stored_as.keys())):
            self._stored_as[item.id] = stored_name(item.metadata, item.id)
        for entry in entries:
            if entry.kind:
                pass
            elif entry.digest in stored:
                entry.kind = "stored"
            elif entry.digest in self._outcome:
                entry.kind = "dup"
            else:
                entry.kind = "new"
                self._outcome[entry.digest] = False  # until it is stored
                self._stored_as[entry.digest] = entry.item.name
                self._waiting.append(entry)
            self._entries.append(entry)

    def _refill(self) -> None:
        """Look up batches and submit new items while the window has room (an already stored source
        is looked up a window at a time too, so progress comes while it is hashed)."""
        while (self._looked_up < len(self._batches) and len(self._entries) < self.window
               and len(self._waiting) + self._in_flight < self.window):
            self._look_up()
        while self._waiting and self._in_flight < self.window:
            entry = self._waiting.popleft()
            entry.future = self._pool.submit(prepare, entry.item, entry.digest, entry.stat, self.limits, self.budget,
                                             self.engines)
            self._in_flight += 1

    def next_chunk(self) -> _Chunk | None:
        """The next items up to the end of their batch: waits for the first new one, then takes only
        those ready (so the embedder never idles while there is work); None at the end of the source."""
        chunk = _Chunk()
        limit = self.batch_size - self._position % self.batch_size
        while chunk.consumed < limit:
            self._refill()
            if not self._entries:
                break
            entry = self._entries[0]
            if entry.kind == "new" and chunk.prepared and not (entry.future is not None and entry.future.done()):
                break
            self._entries.popleft()
            chunk.consumed += 1
            self._take(entry, chunk)
        self._position += chunk.consumed
        chunk.ends_batch = self._position % self.batch_size == 0 or self._position == self._total
        return chunk if chunk.consumed else None

    def _take(self, entry: _Entry, chunk: _Chunk) -> None:
        if entry.kind == "unreadable":
            chunk.problems.append(entry.problem)
            return
        if entry.kind == "stored" or (entry.kind == "dup" and self._outcome[entry.digest]):
            chunk.already_stored += 1
            chunk.duplicates.append(Duplicate(entry.item.name, self._stored_as[entry.digest], entry.digest))
            return
        try:
            if entry.kind == "new":
                self._in_flight -= 1
                result = entry.future.result()
                entry.future = None
            else:  # a copy of an item that failed is tried again itself (its own name in the message)
                result = prepare(entry.item, entry.digest, entry.stat, self.limits, self.budget, self.engines)
        except ReadError as exc:
            chunk.problems.append(exc.problem)
        except ImageError as exc:
            chunk.problems.append(Problem(entry.item.name, exc.reason))
        else:
            self._outcome[entry.digest] = True
            chunk.prepared.append(result)
            chunk.problems.extend(metadata_problems(entry.item.name, result.metadata_problems))
            chunk.problems.extend(Problem(entry.item.name, reason) for reason in result.refused + result.engine_problems)


class _Embedding:
    """Embeds the feed's chunks on its own thread, handing (records, chunk) to the writing thread."""

    def __init__(self, feed: _Feed, embedder: Embedder) -> None:
        self.feed, self.embedder = feed, embedder
        self.results: queue.Queue = queue.Queue(maxsize=_WRITES_IN_FLIGHT)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="imgsearch-embed", daemon=True)
        self.thread.start()

    def _hand_over(self, message: Any) -> None:
        while not self.stopping.is_set():
            try:
                self.results.put(message, timeout=0.1)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                chunk = self.feed.next_chunk()
                if chunk is None:
                    break
                prepared, chunk.prepared = chunk.prepared, []
                vectors = self.embedder.embed_images([p.image for p in prepared]) if prepared else []
                self._caption(prepared, chunk)
                records = [Record(p.id, v, p.caption, p.metadata, p.media, p.media_ext) for p, v in zip(prepared, vectors)]
                del prepared
                self._hand_over((records, chunk))
            self._hand_over(None)
        except BaseException as exc:  # noqa: BLE001 - raised again on the writing thread
            self._hand_over(exc)

    def _caption(self, prepared: list[Prepared], chunk: _Chunk) -> None:
        """Machine captions for the chunk's uncaptioned items (ingest --machine-captions), in one batch."""
        engines = self.feed.engines
        waiting = [p for p in prepared if p.caption_input is not None]
        if engines is None or engines.captioner is None or not waiting:
            return
        for p, (text, problem) in zip(waiting, engines.describe([p.caption_input for p in waiting])):
            if problem is not None:
                chunk.problems.append(Problem(str(p.metadata.get("source_path", p.id)), problem))
            else:
                p.metadata.update(machine_caption_fields(text or "", engines.captioner.name, p.caption))

    def __iter__(self) -> Iterator[tuple[list[Record], _Chunk]]:
        while True:
            message = self.results.get()
            if message is None:
                return
            if isinstance(message, BaseException):
                raise message
            yield message

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.feed.close()


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
    reader: TextReader | None = None,
    captioner: Captioner | None = None,
) -> IngestReport:
    """Embed and store `items` into the collection (created and pinned to the embedder's model).

    `read_metadata=False` skips the captions, credits and dates embedded in the files (IPTC, XMP, EXIF).
    With INT8_WORTH_ITEMS items or more, a pending int8 gate is settled first (minutes, once per model).
    Decoding runs in `settings.decode_threads` threads (env IMGSEARCH_DECODE_THREADS, default
    min(4, cores)), embedding on its own thread, writing on the calling one (see the module docstring).
    `reader` reads the text in each new picture (in the decode pool), `captioner` writes a machine caption for each
    new picture without an editorial one (on the embedding thread); a failure is a problem of that file.
    """
    settings = store.settings
    batch_size = batch_size or settings.embed_batch_size
    report = IngestReport(total=len(items), problems=list(problems))
    if len(items) >= INT8_WORTH_ITEMS and embedder.int8_pending:
        embedder.settle_int8()
    started = time.perf_counter()
    limits = Limits(settings.max_pixels, settings.max_file_bytes, read_metadata, model_side(embedder))
    with store.writing():
        collection: Collection = store.open_or_create(collection_name, embedder.identity)
        collection.recover()
        feed = _Feed(items, collection, limits, settings.decode_threads, batch_size, window=2 * batch_size,
                     engines=PictureText(reader, captioner))
        embedding = _Embedding(feed, embedder)
        writer = Writer(collection, report, started, progress)
        try:
            batch = Batch()
            for records, chunk in embedding:
                batch.records.extend(records)
                del records
                batch.consumed += chunk.consumed
                batch.already_stored += chunk.already_stored
                batch.problems.extend(chunk.problems)
                batch.duplicates.extend(chunk.duplicates)
                if not chunk.ends_batch:
                    continue
                if should_stop is not None and should_stop():
                    writer.flush()
                    report.problems.append(Problem("(run)", f"stopped by the user after {writer.done} of {len(items)} items"))
                    break
                writer.hold(batch)
                batch = Batch()
            writer.flush()
        except BaseException:
            writer.flush()  # the whole batches embedded before the failure are stored, as they were
            raise
        finally:
            embedding.close()
    report.seconds = time.perf_counter() - started
    return report
