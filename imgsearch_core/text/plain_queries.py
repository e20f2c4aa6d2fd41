"""Plain queries analysed without spaCy: the same tokens, 0.75 s sooner in a fresh process.

Why: a command-line keyword or hybrid search spends ~0.75 s importing spaCy and building its tokenizer to
analyse a query that is usually a few plain words. spaCy's rule-based tokenizer leaves a run of letters
between spaces whole (its prefix, suffix and infix rules all need punctuation, digits or symbols) unless
the run is one of the language's tokenizer exceptions ("cannot" -> "can", "not"). So a lower-cased query
whose every space-separated word is letters only and no exception key is analysed here word by word with
the analyser's own rule (text_analysis.normalise) and lemma table. The stop words and exception keys come
from a small file the analyser writes the first time it is built on this machine (beside the lemma
tables, named by spaCy's version); before that, or for any other query, spaCy analyses it as always.
tests/unit/text/test_plain_queries.py compares both paths word by word in every language.
"""
from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NamedTuple

from imgsearch_core.text.lemma_tables import cache_dir

WORDS_FORMAT = 1


class QueryWords(NamedTuple):
    """What a language's plain query needs from spaCy: its stop words and its tokenizer exception keys."""

    stop_words: frozenset[str]
    exceptions: frozenset[str]


def words_path(language: str) -> Path | None:
    """The file of `language`'s words for the installed spaCy, or None when spaCy is not installed."""
    try:
        spacy_version = version("spacy")
    except PackageNotFoundError:
        return None
    return cache_dir() / f"query-words-{language}-spacy{spacy_version}-v{WORDS_FORMAT}.json"


def save_words(language: str, words: QueryWords) -> None:
    """Written atomically once per language and spaCy version; an unwritable cache only loses the shortcut."""
    path = words_path(language)
    if path is None or path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".query-words-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"stop_words": sorted(words.stop_words), "exceptions": sorted(words.exceptions)}, handle)
        os.replace(tmp, path)
    except OSError:
        return


@lru_cache(maxsize=8)
def load_words(language: str) -> QueryWords | None:
    path = words_path(language)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return QueryWords(frozenset(data.get("stop_words", ())), frozenset(data.get("exceptions", ())))


def plain_words(text: str, exceptions: frozenset[str]) -> list[str] | None:
    """The lower-cased words of `text` if spaCy would keep each one whole, else None."""
    lowered = text.lower()
    if any(ch.isspace() and ch != " " for ch in lowered):  # spaCy splits only at " "; other spaces are tokens
        return None
    words = lowered.split(" ")
    words = [word for word in words if word]
    if all(word.isalpha() and word not in exceptions for word in words):
        return words
    return None
