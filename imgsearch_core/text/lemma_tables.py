"""spaCy's lookup lemma tables (spacy-lookups-data) as compact sorted files that load in milliseconds.

Why: spaCy loads a `<lang>_lemma_lookup.json.gz` into a dict of every form (355k German, 492k
Spanish), 0.4-1 s of a command-line search that looks up three words. Here each table is converted
once into a sorted blob of UTF-8 keys and values with offsets (an uncompressed .npz of plain arrays),
cached per source file, and a look-up is a binary search in it.

A look-up gives the table's value as spaCy's lookup lemmatizer reads it (`Lemmatizer.lookup_lemmatize`):
the value for the exact form, its first entry when the value is a list.

The folded table (`load_folded_table`) answers for a word typed without its accents: it maps the fold
(imgsearch_core.text.folding) of every accented form and lemma ("élèves", "élevés", "Häfen", "montaña")
to all their lemmas, sorted and joined by FOLDED_SEPARATOR, since one unaccented word can stand for
several ("eleves": élève or élever; "montana": montaña, besides the table's own montano).
"""
from __future__ import annotations

import bisect
import gzip
import importlib.util
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from imgsearch_core.text.folding import FOLD_VERSION, fold

CACHE_ENV = "IMGSEARCH_LEMMA_CACHE"
CACHE_FORMAT = 1
FOLDED_SEPARATOR = "\x00"


def lookups_data_dir() -> Path:
    """The data folder of the installed spacy-lookups-data, found without importing it."""
    spec = importlib.util.find_spec("spacy_lookups_data")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("spaCy's lemma tables are missing: install spacy-lookups-data")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def source_file(language: str) -> Path:
    """spacy-lookups-data's lookup table of `language` (the one spaCy's lookup mode loads)."""
    path = lookups_data_dir() / f"{language}_lemma_lookup.json.gz"
    if not path.is_file():
        raise RuntimeError(f"spacy-lookups-data has no lookup lemma table for {language!r} ({path})")
    return path


def cache_dir() -> Path:
    """IMGSEARCH_LEMMA_CACHE, else $XDG_CACHE_HOME/imgsearch/lemmas (~/.cache by default)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imgsearch" / "lemmas"


class LemmaTable:
    """One language's lookup table: `get(form)` is the lemma, or `default` when the table has none."""

    def __init__(self, keys: bytes, key_offsets: np.ndarray, values: bytes, value_offsets: np.ndarray) -> None:
        self._keys = keys
        # memoryviews index as Python ints without converting every offset up front (that alone
        # costs 0.1 s for the larger tables)
        self._key_bounds = memoryview(np.ascontiguousarray(key_offsets, np.int64))
        self._values = values
        self._value_bounds = memoryview(np.ascontiguousarray(value_offsets, np.int64))

    def __len__(self) -> int:
        return len(self._key_bounds) - 1

    def __getitem__(self, position: int) -> bytes:
        """The key at `position` in sorted order (what bisect searches)."""
        return self._keys[self._key_bounds[position] : self._key_bounds[position + 1]]

    def get(self, form: str, default: str | None = None) -> str | None:
        wanted = form.encode("utf-8", "surrogatepass")
        position = bisect.bisect_left(self, wanted)
        if position == len(self) or self[position] != wanted:
            return default
        start, end = self._value_bounds[position], self._value_bounds[position + 1]
        return self._values[start:end].decode("utf-8", "surrogatepass")

    # ----- building and caching -----------------------------------------------------------------
    @classmethod
    def from_mapping(cls, table: Mapping[str, str | list[str]]) -> "LemmaTable":
        """From spaCy's JSON table (form -> lemma, or a list of lemmas whose first one spaCy uses)."""
        pairs = sorted(
            (key.encode("utf-8", "surrogatepass"), (value if isinstance(value, str) else value[0]).encode("utf-8", "surrogatepass"))
            for key, value in table.items()
        )
        keys, key_offsets = _pack([k for k, _ in pairs])
        values, value_offsets = _pack([v for _, v in pairs])
        return cls(keys, key_offsets, values, value_offsets)

    def save(self, path: Path) -> None:
        """Write atomically (temporary file, then rename): concurrent processes may build the same cache."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lemmas-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o644)
                np.savez(handle, allow_pickle=False, keys=np.frombuffer(self._keys, np.uint8),
                         key_offsets=np.asarray(self._key_bounds),
                         values=np.frombuffer(self._values, np.uint8),
                         value_offsets=np.asarray(self._value_bounds))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> "LemmaTable":
        with np.load(path, allow_pickle=False) as npz:
            return cls(npz["keys"].tobytes(), npz["key_offsets"], npz["values"].tobytes(), npz["value_offsets"])


def _pack(strings: list[bytes]) -> tuple[bytes, np.ndarray]:
    offsets = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)), out=offsets[1:])
    return b"".join(strings), offsets


def read_source(language: str) -> dict[str, str | list[str]]:
    """spacy-lookups-data's JSON table as spaCy reads it."""
    with gzip.open(source_file(language), "rb") as handle:
        return json.loads(handle.read())


def cache_path(language: str, kind: str = "") -> Path:
    """Named by the source file's size and modification time: another spacy-lookups-data gets a new file."""
    stat = source_file(language).stat()
    return cache_dir() / f"{language}-{stat.st_size}-{stat.st_mtime_ns}{kind}-v{CACHE_FORMAT}.npz"


def folded_mapping(table: Mapping[str, str | list[str]]) -> dict[str, str]:
    """fold(spelling) -> what its accented spellings mean: the lemmas of the forms and the lemmas themselves
    that fold to it while not being folded already ("élèves", "élevés" → "eleves": élève, élever), plus the
    fold itself when it is a lemma the table has no key for (tables leave out forms that are their own
    lemma: "schlagen" is the verb as well as "Schlägen" without its umlaut). Sorted, FOLDED_SEPARATOR-joined."""
    groups: dict[str, set[str]] = {}
    folded_lemmas: set[str] = set()
    for form, value in table.items():
        lemma = value if isinstance(value, str) else value[0]
        folded_lemmas.add(fold(lemma))
        for spelling, meaning in ((form, lemma), (lemma, lemma)):
            folded = fold(spelling)
            if folded != spelling.lower():
                groups.setdefault(folded, set()).add(meaning)
    for folded, meanings in groups.items():
        if folded in folded_lemmas and folded not in table and folded[:1].upper() + folded[1:] not in table:
            meanings.add(folded)
    return {folded: FOLDED_SEPARATOR.join(sorted(meanings)) for folded, meanings in groups.items()}


def load_table(language: str) -> LemmaTable:
    """The cached compact table, built from spacy-lookups-data on first use (kept in memory only
    when the cache folder cannot be written)."""
    return _cached(cache_path(language), lambda: read_source(language))


def load_folded_table(language: str) -> LemmaTable:
    """The cached folded table of `language` (see the module docstring), built on first use."""
    return _cached(cache_path(language, f"-folded{FOLD_VERSION}"), lambda: folded_mapping(read_source(language)))


def _cached(path: Path, mapping: Callable[[], Mapping[str, str | list[str]]]) -> LemmaTable:
    try:
        return LemmaTable.load(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # missing, or damaged: build it again
        pass
    table = LemmaTable.from_mapping(mapping())
    try:
        table.save(path)
    except OSError:
        pass
    return table
