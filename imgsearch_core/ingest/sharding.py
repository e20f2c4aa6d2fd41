"""Splitting one ingest across processes or machines: `--shard i/N` and `--workers N`.

Why by a hash of the item's name: every process lists the same source and keeps its own share
without talking to the others, and a re-run gives each process the same share again. An image listed
under two names (a copy, overlapping folders) may land in two shards; ids are content hashes, so it is
still stored once, and the shard that finds it stored names the copy it matched (ingest_writes.Writer)
as one process does (two shards writing it in the same instant both count it as added). The shards'
reports add up to one (`merge_reports`).
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import TypeVar

from imgsearch_core.ingest.writes import IngestReport

T = TypeVar("T")
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4): this process takes share 2 of 4 (shares count from 0)."""
    match = _SHARD.match(text or "")
    if not match:
        raise ValueError(f"--shard must look like i/N (for example 0/4), got {text!r}.")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text}: i must be 0 to N-1 and N at least 1.")
    return index, count


def shard_of(name: str, count: int) -> int:
    return zlib.crc32(name.encode("utf-8")) % count


def take_shard(items: Sequence[T], index: int, count: int, name_of=lambda item: item.name) -> list[T]:
    """The items of share `index` of `count`."""
    return [item for item in items if shard_of(name_of(item), count) == index]


def merge_reports(reports: Sequence[IngestReport]) -> IngestReport:
    """One report for the shards of one ingest: counts, duplicates and problems added up; the time is the
    slowest shard's (they ran at once)."""
    merged = IngestReport(seconds=max((r.seconds for r in reports), default=0.0))
    for report in reports:
        merged.total += report.total
        merged.added += report.added
        merged.already_stored += report.already_stored
        merged.duplicates.extend(report.duplicates)
        merged.problems.extend(report.problems)
    return merged
