"""Keyword search as editors type it, on a real store filled from agency photos (IPTC by exiftool):
accents and case do not matter ("zurich" finds "Zürich"), credit, creator, source and copyright are
searchable words, and an index saved by the older, unfolded analysis is rebuilt from Chroma on first use."""
from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from imgsearch_core.display.captions import highlight_segments
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store
from imgsearch_core.text import bm25 as text_index
from imgsearch_core.text.analysis import analyze
from imgsearch_core.text.bm25 import BM25Index
from tests.keyword_photos import PHOTOS, write_keyword_photos


@pytest.fixture
def photos(store, tiny_embedder, tmp_path):
    items, problems = collect(write_keyword_photos(tmp_path / "photos"))
    report = ingest(store, "photos", tiny_embedder, items, problems=problems)
    assert report.added == len(PHOTOS) and not report.problems
    return store.open("photos")


def found(searcher: Searcher, query: str) -> list[str]:
    return sorted(h.metadata["file_name"] for h in searcher.search(query, "text", k=10).hits)


def test_accents_and_case_do_not_matter(photos, tiny_embedder):
    searcher = Searcher(photos, tiny_embedder)
    for query in ("zurich", "Zurich", "ZÜRICH", "zürich", "Zürich"):
        assert found(searcher, query) == ["tram.jpg"], query
    for query in ("besancon", "creme brulee", "CAFE", "Crème"):
        assert found(searcher, query) == ["cafe.jpg"], query
    result = searcher.search("zurich", "text", k=10)
    assert result.query_tokens == ["zurich"]
    caption = PHOTOS["tram.jpg"]["caption"]
    marked = [text for text, hit in highlight_segments(caption, result.query_tokens, partial(analyze, language="en"))
              if hit]
    assert marked == ["Zürich"]  # the caption's own spelling is highlighted for the unaccented query


def test_credit_creator_source_and_copyright_are_searchable(photos, tiny_embedder):
    searcher = Searcher(photos, tiny_embedder)
    assert found(searcher, "Keystone") == found(searcher, "keystone") == ["lake.jpg", "tram.jpg"]
    assert found(searcher, "Hanna Müller") == found(searcher, "muller") == ["tram.jpg"]
    assert found(searcher, "Elodie Garcon") == ["cafe.jpg"]
    assert found(searcher, "SDA") == ["lake.jpg"]  # IPTC Source "Keystone-SDA"
    assert found(searcher, "Reuters") == ["station.jpg"]
    shown = {h.metadata["file_name"]: h.caption for h in searcher.search("Keystone", "text", k=10).hits}
    assert shown["tram.jpg"] == PHOTOS["tram.jpg"]["caption"]  # the caption shown stays the caption alone


def write_old_format(directory, revision: str, ids: list[str], token_lists: list[list[str]]) -> None:
    """An index file as format 2 wrote it (no analysis version; terms not folded), by hand."""
    def pack(strings):
        offsets = np.zeros(len(strings) + 1, np.int64)
        np.cumsum([len(s) for s in strings], out=offsets[1:])
        return np.frombuffer("".join(strings).encode(), np.uint8), offsets

    terms = sorted({t for tokens in token_lists for t in tokens})
    ids_blob, ids_offsets = pack(ids)
    terms_blob, terms_offsets = pack(terms)
    arrays = {
        "format": np.array([2], np.int64), "params": np.array([1.5, 0.75, 0.25], np.float64),
        "language": np.frombuffer(b"en", np.uint8), "revision": np.frombuffer(revision.encode(), np.uint8),
        "ids": ids_blob, "ids_offsets": ids_offsets, "terms": terms_blob, "terms_offsets": terms_offsets,
        "tokens": np.array([terms.index(t) for tokens in token_lists for t in tokens], np.int32),
        "doc_offsets": np.concatenate(([0], np.cumsum([len(t) for t in token_lists]))).astype(np.int64),
    }
    arrays["checksum"] = np.array([text_index._checksum(arrays)], np.int64)
    with open(directory / text_index.INDEX_FILE, "wb") as handle:
        np.savez(handle, allow_pickle=False, **arrays)


def test_an_index_of_the_old_analysis_is_rebuilt_from_chroma(photos, tiny_embedder, settings):
    directory = photos._store.index_root / "photos"
    photos.bm25()  # the keeper has saved its index and the write records it reflects
    current, revision = BM25Index.load(directory)
    assert json.loads(revision)["applied"]
    items = {i.id: (i.caption, i.metadata) for i in photos.page(limit=100)}
    ids = current.ids
    unfolded = [items[i][0].lower().split() for i in ids]  # "zürich" as the old analysis kept it
    write_old_format(directory, revision, ids, unfolded)
    with np.load(directory / text_index.INDEX_FILE) as npz:
        assert npz["format"].tolist() == [2] and "zürich" in npz["terms"].tobytes().decode()

    reopened = Store(settings).open("photos")  # a new process meets the old file with an up-to-date revision
    assert found(Searcher(reopened, tiny_embedder), "zurich") == ["tram.jpg"]
    rebuilt, _ = BM25Index.load(directory)
    with np.load(directory / text_index.INDEX_FILE) as npz:
        assert npz["format"].tolist() == [text_index.FORMAT_VERSION] == [3]
    assert sorted(rebuilt.ids) == sorted(ids) and any("zurich" in rebuilt.tokens(i) for i in ids)
    assert any("keystone" in rebuilt.tokens(i) for i in ids)
    assert {i.id: (i.caption, i.metadata) for i in reopened.page(limit=100)} == items  # nothing lost or changed
