"""Ingest's store writes: whole batches of the source, several in one write when they come fast.

Why several: a Chroma write holds the GIL for its whole duration, its I/O included, so while it runs
no decode or embedding thread can take its next step. One `Collection.add` of 32 records makes five
Chroma writes (the vectors, ~65 ms, and four small write-log calls, ~130 ms, whatever the batch size)
plus the media files: ~0.22 s of wall time with the whole pipeline stalled, 0.4-0.55 s on a loaded
machine (measured: 10 adds took 4.3-5.5 s of a 61-68 s ingest of 300 images). At 25 images/s an add
per batch of 32 would stall ~17% of the time. So batches are held and written together, up to
`WRITE_BATCHES` of them or `WRITE_BYTES` of media, or once the oldest has waited `WRITE_AGE_S` (the
most a crash costs; the run resumes from the content hashes anyway). Progress is reported at every
batch end as before. The records, counts and problems are those of one write per batch; held batches
are written before a stop, an error and the end of the source.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.store.collection import Collection
from imgsearch_core.store.records import Record
from imgsearch_core.ingest.sources import Problem

WRITE_BATCHES = 4  # batches of the source written in one store write, at most
WRITE_BYTES = 64 * 2**20  # media held for one write, at most
WRITE_AGE_S = 15.0  # a batch end writes whatever has waited this long (what a crash may cost)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    rate: float  # items per second
    eta_seconds: float | None


def stored_name(metadata: Mapping[str, Any], item_id: str) -> str:
    """What a report calls an item: its source path, its file name when that is all it has, else its id."""
    return str(metadata.get("source_path") or metadata.get("file_name") or item_id)


@dataclass(frozen=True)
class Duplicate:
    """A file of the source whose content is stored already: which stored item (or earlier file of the
    same run) it matched, so "already stored" says what it is a copy of."""

    name: str  # the file of this run
    stored_as: str  # the matched item's source path (its file name when that is all it has)
    item_id: str  # the matched item's id (its content hash)

    @property
    def matched(self) -> str:
        """'img_0000.png (id 54854c6e91b1)': the stored item, short enough for a report line."""
        return f"{self.stored_as} (id {self.item_id[:12]})"


@dataclass
class IngestReport:
    total: int = 0
    added: int = 0
    already_stored: int = 0  # duplicates + items another writer stored meanwhile (only counted)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Images embedded per second; None when nothing was embedded (a re-ingest of stored files has no
        embedding rate: "0.0 images/s" would read as a stalled model)."""
        return self.added / self.seconds if self.added and self.seconds > 0 else None

    def summary(self) -> str:
        """'4 added, 1 already stored, 2 problems in 0.3 s (12.1 images/s)': the rate only when something
        was embedded."""
        rate = f" ({self.rate:.1f} images/s)" if self.rate is not None else ""
        return (f"{self.added:,} added, {self.already_stored:,} already stored, {len(self.problems):,} problems "
                f"in {self.seconds:.1f} s{rate}")

    def detail_lines(self) -> list[str]:
        """One line per duplicate (what it copies) and per problem, for a command line's report."""
        return [*(f"  {d.name}: already stored as {d.matched}" for d in self.duplicates),
                *(f"  {p.name}: {p.reason}" for p in self.problems)]

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> "IngestReport":
        """The report `to_dict` wrote (an ingest worker's --json output)."""
        return cls(total=document["total"], added=document["added"], already_stored=document["already_stored"],
                   problems=[Problem(p["name"], p["reason"]) for p in document["problems"]],
                   seconds=document["seconds"],
                   duplicates=[Duplicate(d["name"], d["stored_as"], d["id"]) for d in document["duplicates"]])

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "added": self.added,
            "already_stored": self.already_stored,
            "duplicates": [{"name": d.name, "stored_as": d.stored_as, "id": d.item_id} for d in self.duplicates],
            "problems": [{"name": p.name, "reason": p.reason} for p in self.problems],
            "seconds": round(self.seconds, 3),
            "rate": None if self.rate is None else round(self.rate, 2),
        }


@dataclass
class Batch:
    """One whole batch of the source, embedded: its records and what to report for all its items."""

    records: list[Record] = field(default_factory=list)
    consumed: int = 0
    already_stored: int = 0
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)  # when it began to be gathered


class Writer:
    """Holds whole batches and writes them to the collection (see the module docstring for when)."""

    def __init__(self, collection: Collection, report: IngestReport, started: float,
                 progress: Callable[[Progress], None] | None = None) -> None:
        self.collection, self.report, self.started, self.progress = collection, report, started, progress
        self.done = 0  # items of the source whose batch was handed over
        self._held: list[Batch] = []

    def hold(self, batch: Batch) -> None:
        """Take a whole batch, report progress (its items are done: stored now or by a later flush,
        which a stop, an error and the end of the source all make), and write what is held when due."""
        self._held.append(batch)
        self.done += batch.consumed
        records = [r for b in self._held for r in b.records]
        if (not records or len(self._held) >= WRITE_BATCHES or sum(len(r.media) for r in records) >= WRITE_BYTES
                or time.perf_counter() - self._held[0].started >= WRITE_AGE_S):
            self.flush()
        if self.progress is not None:
            elapsed = time.perf_counter() - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.report.total - self.done) / rate if rate > 0 else None
            self.progress(Progress(self.done, self.report.total, rate, eta))

    def flush(self) -> None:
        """Write every held batch (at once) and count them as one write per batch would."""
        held, self._held = self._held, []  # never written twice, even when the write fails
        records = [r for b in held for r in b.records]
        meanwhile = self._stored_meanwhile(records)
        added = self.collection.add(records) if records else 0
        for batch in held:
            self.report.problems.extend(batch.problems)
            self.report.already_stored += batch.already_stored
            self.report.duplicates.extend(batch.duplicates)
        self.report.added += added
        self.report.already_stored += len(records) - added
        self.report.duplicates.extend(meanwhile)

    def _stored_meanwhile(self, records: Sequence[Record]) -> list[Duplicate]:
        """The records another writer stored since they were looked up (another shard of `ingest --workers`
        holding a copy under another name), named with what they matched, as a duplicate of this run is."""
        present = self.collection.existing_ids([r.id for r in records]) if records else set()
        stored = {item.id: item for item in self.collection.get(sorted(present))} if present else {}
        return [Duplicate(stored_name(r.metadata, r.id), stored_name(stored[r.id].metadata, r.id), r.id)
                for r in records if r.id in stored]
