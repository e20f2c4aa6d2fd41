"""The app in server mode behind the token gate (a real `chroma run` started as the README deploys it): with
IMGSEARCH_CHROMA_TOKEN the Text search page finds what the server holds; with a wrong token (even after the
right one's store was cached) it shows one short error, neither the token nor a traceback."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import fill, hit_ids, start, submit_query, texts
from tests.chroma_server import running_chroma

TOKEN = "app-gate-token-0123456789"


@pytest.fixture
def gated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_folder: Path, tiny_embedder) -> Iterator[object]:
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    with running_chroma(tmp_path / "chroma", token=TOKEN) as port:
        monkeypatch.setenv("IMGSEARCH_STORE", str(tmp_path / "store"))
        monkeypatch.setenv("IMGSEARCH_MEDIA_DIR", str(tmp_path / "media"))
        monkeypatch.setenv("IMGSEARCH_CHROMA_HOST", "127.0.0.1")
        monkeypatch.setenv("IMGSEARCH_CHROMA_PORT", str(port))
        monkeypatch.setenv("IMGSEARCH_CHROMA_TOKEN", TOKEN)
        monkeypatch.delenv("IMGSEARCH_ADMIN_PASSWORD", raising=False)
        store = Store(Settings.from_env())
        fill(store, tiny_embedder, image_folder)
        yield store


def test_the_app_searches_a_gated_server_with_the_token(gated_store) -> None:
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher

    collection = gated_store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    expected = [h.id for h in searcher.rank(searcher.text_candidates("red circle", None), "hybrid", 0.5, 12).hits]
    at = start()
    submit_query(at, "red circle")
    assert hit_ids(at) == expected and len(expected) == 12


def test_a_wrong_token_is_one_short_error_without_the_token(gated_store, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    assert len(hit_ids(submit_query(start(), "red circle"))) == 12  # the store of the right token is now cached
    monkeypatch.setenv("IMGSEARCH_CHROMA_TOKEN", "not-the-token-0123456789")
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at.error)
    assert len(shown) == 1 and "IMGSEARCH_CHROMA_TOKEN" in shown[0], shown
    everything = " ".join(texts(at.markdown) + texts(at.error) + texts(at.warning) + texts(at.info) + texts(at.caption))
    assert "0123456789" not in everything and "Traceback" not in everything
