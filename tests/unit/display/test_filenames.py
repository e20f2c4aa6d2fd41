"""Export file names: collection, query and day, and nothing a file system could read as a path."""
from __future__ import annotations

import re
from datetime import date

import pytest

from imgsearch_core.display.filenames import MAX_PART_CHARS, export_stem, slug

DAY = date(2026, 5, 17)


def test_names_say_collection_query_and_day():
    assert export_stem("photos", "a red Ship in the harbour!", DAY) == "photos-a-red-ship-in-the-harbour-2026-05-17"


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "a\\b:c*?\"<>|", "con.txt", " . ", "\x00\n\t"])
def test_no_path_or_forbidden_characters_survive(hostile):
    stem = export_stem(hostile, hostile, DAY)
    assert re.fullmatch(r"[a-z0-9-]+", stem), stem
    assert ".." not in stem and "/" not in stem and "\\" not in stem


def test_accents_fold_and_empty_parts_get_a_word():
    assert slug("Zürich Straße") == "zurich-strasse"
    assert export_stem("", "東京", DAY) == "collection-results-2026-05-17"


def test_long_queries_are_cut_without_a_trailing_hyphen():
    part = slug("word " * 50)
    assert len(part) <= MAX_PART_CHARS and not part.endswith("-")
