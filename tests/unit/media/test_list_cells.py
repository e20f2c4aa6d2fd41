"""List cells of caption files ("a; b | c, d"): the same words as the former regex, in linear time."""
from __future__ import annotations

import random
import re
import time

from imgsearch_core.media.item_metadata import normalise_extra, split_list_cell

# The splitter caption files used before: right on ordinary cells, quadratic on a run of whitespace.
FORMER = re.compile(r"\s*[;|]\s*|\s*,\s*")
ALPHABET = ["a", "b", "Zürich", "x y", " ", "  ", "\t", "\n", "\u00a0", "\u3000", ";", "|", ",", " ; ", " , ", "-", "é"]


def former_split(text: str) -> list[str]:
    return [w for w in FORMER.split(text.strip()) if w]


def test_the_same_words_as_the_former_splitter_on_many_generated_cells():
    rng = random.Random(19)
    cells = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    cells += ["harbour; ships | gulls, fog", " a ,b;;c || d ", ",,,", "", "   ", "one"]
    for cell in cells:
        assert split_list_cell(cell) == former_split(cell), repr(cell)


def test_a_hostile_whitespace_cell_is_split_in_linear_time():
    hostile = "a" + " " * 200_000 + "b"  # whitespace that no separator ends: the former regex backtracked
    for cell in (hostile, " " * 200_000, "\t ; " * 50_000):
        started = time.perf_counter()
        words = split_list_cell(cell)
        normalise_extra({"keywords": cell})
        seconds = time.perf_counter() - started
        print(f"{len(cell):,}-character cell split in {seconds * 1000:.1f} ms")
        assert seconds < 2.0
        assert words == ([cell.strip()] if cell is hostile else [])
