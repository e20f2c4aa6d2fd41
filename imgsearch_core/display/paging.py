"""Which hits a results page shows, and the grid rows they fall into.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


PER_PAGE = 12


@dataclass(frozen=True)
class PageSlice:
    page: int  # 1-based, clamped
    pages: int
    start: int  # index of the first item shown
    end: int  # one past the last item shown


def page_slice(total: int, page: int, per_page: int = PER_PAGE) -> PageSlice:
    pages = max(1, math.ceil(total / per_page)) if per_page > 0 else 1
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return PageSlice(page, pages, min(start, total), min(start + per_page, total))


def rows_of(items: Sequence[Any], columns: int) -> list[list[Any]]:
    return [list(items[i : i + columns]) for i in range(0, len(items), columns)]
