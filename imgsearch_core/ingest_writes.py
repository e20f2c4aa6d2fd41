"""Ingest's store writes: whole batches of the source, several in one write when they come fast.

Why several: a Chroma write holds the GIL for its whole duration, its I/O included, so while it runs
no decode or embedding thread can start its next step. Each `Collection.add` makes five Chroma
writes (the vectors, and four small ones for the write log) that cost about 0.2 s a call on this
machine whatever their size, against ~1 ms an item for the vectors themselves: one add per batch
of 32 at 25 images/s stalled the whole pipeline 15% of the time. Batches that are ready are
therefore held and written together, up to `WRITE_BATCHES` of them, `WRITE_BYTES` of media, or
until the oldest has waited `WRITE_AGE_S` (a slow source, such as large scans, still writes every
batch). The records, counts and problems are those of one write per batch; only fewer, larger
writes happen, and held batches are written before a stop, an error or the end of the source.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.collection import Collection, Record
from imgsearch_core.ingest_sources import Problem

WRITE_BATCHES = 4  # batches of the source written in one store write, at most
WRITE_BYTES = 64 * 2**20  # media held for one write, at most
WRITE_AGE_S = 4.0  # a batch end writes whatever has waited this long


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


@dataclass
class Batch:
    """One whole batch of the source, embedded: its records and what to report for all its items."""

    records: list[Record] = field(default_factory=list)
    consumed: int = 0
    already_stored: int = 0
    problems: list[Problem] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)  # when it began to be gathered


class Writer:
    """Holds whole batches and writes them to the collection (see the module docstring for when)."""

    def __init__(self, collection: Collection, report: IngestReport, started: float,
                 progress: Callable[[Progress], None] | None = None) -> None:
        self.collection, self.report, self.started, self.progress = collection, report, started, progress
        self.done = 0  # items of the source whose batch is written
        self._held: list[Batch] = []

    def hold(self, batch: Batch) -> None:
        """Take a whole batch; write what is held when it is due."""
        self._held.append(batch)
        records = [r for b in self._held for r in b.records]
        if (not records or len(self._held) >= WRITE_BATCHES or sum(len(r.media) for r in records) >= WRITE_BYTES
                or time.perf_counter() - self._held[0].started >= WRITE_AGE_S):
            self.flush()

    def flush(self) -> None:
        """Write every held batch (at once), then report them as one write per batch would."""
        held, self._held = self._held, []  # never written twice, even when the write fails
        if not held:
            return
        records = [r for b in held for r in b.records]
        added = self.collection.add(records) if records else 0
        for batch in held:
            self.report.problems.extend(batch.problems)
            self.report.already_stored += batch.already_stored
            self.done += batch.consumed
        self.report.added += added
        self.report.already_stored += len(records) - added  # stored meanwhile by another writer
        if self.progress is not None:
            elapsed = time.perf_counter() - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.report.total - self.done) / rate if rate > 0 else None
            self.progress(Progress(self.done, self.report.total, rate, eta))
