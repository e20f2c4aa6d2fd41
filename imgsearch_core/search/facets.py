"""What a collection's items actually carry, for filter controls: values with counts, date span.

Why counted from the items rather than from the catalogue: an archive has a few dozen credits and
thousands of keywords, and a filter control should only offer values that select something, with
the number of pictures each selects ("Reuters (1,204)").
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imgsearch_core.fields import BY_NAME, is_twin

FACET_FIELDS = ("credit", "creator", "keywords")


@dataclass(frozen=True)
class Facets:
    total: int = 0
    uncaptioned: int = 0
    values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # most frequent first
    date_span: tuple[int, int] | None = None  # date_taken_ts min and max (epoch seconds, UTC)
    dated: int = 0
    fields: list[str] = field(default_factory=list)  # every filterable field name present

    def options(self, name: str) -> list[str]:
        return [value for value, _ in self.values.get(name, [])]

    def count(self, name: str, value: str) -> int:
        return dict(self.values.get(name, [])).get(value, 0)


def facets_of(metadatas: Iterable[Mapping[str, Any]], facet_fields: tuple[str, ...] = FACET_FIELDS) -> Facets:
    """Count each facet field's values (list fields count every element) over the items."""
    counters = {name: Counter() for name in facet_fields}
    present: set[str] = set()
    total = uncaptioned = dated = 0
    low = high = None
    for metadata in metadatas:
        total += 1
        present.update(metadata)
        uncaptioned += not metadata.get("captioned", False)
        for name in facet_fields:
            value = metadata.get(name)
            if isinstance(value, list):
                counters[name].update(str(v) for v in value)
            elif value not in (None, ""):
                counters[name][str(value)] += 1
        stamp = metadata.get("date_taken_ts")
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            dated += 1
            low = stamp if low is None else min(low, stamp)
            high = stamp if high is None else max(high, stamp)
    values = {n: sorted(c.items(), key=lambda kv: (-kv[1], kv[0].casefold())) for n, c in counters.items() if c}
    shown = sorted(k for k in present if not is_twin(k, present) and not (k in BY_NAME and BY_NAME[k].hidden))
    span = (int(low), int(high)) if low is not None else None
    return Facets(total, uncaptioned, values, span, dated, shown)
