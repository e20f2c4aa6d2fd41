"""Server mode: a real `chroma run` on localhost, used through IMGSEARCH_CHROMA_HOST/PORT."""
import pytest

from imgsearch_core.config import Settings
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store
from tests.chroma_server import free_port, running_chroma
from tests.helpers import write_images


@pytest.fixture
def chroma_server(tmp_path):
    with running_chroma(tmp_path / "server-data") as port:
        yield port


def test_ingest_and_search_through_a_chroma_server(chroma_server, tmp_path, tiny_embedder, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("IMGSEARCH_CHROMA_PORT", str(chroma_server))
    store = Store(Settings.from_env(store_dir=tmp_path / "local"))
    assert type(store.client).__name__ != "PersistentClient"
    write_images(tmp_path / "p", 8)
    items, _ = collect(tmp_path / "p")
    assert ingest(store, "served", tiny_embedder, items).added == 8
    assert not (tmp_path / "local" / "chroma").exists()  # vectors live on the server
    result = Searcher(store.open("served"), tiny_embedder).search("red harbour", "hybrid", 0.5, 5)
    assert len(result.hits) == 5 and all(h.media_path.is_file() for h in result.hits)
    again = Store(Settings.from_env(store_dir=tmp_path / "local"))
    assert again.open("served").count() == 8


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("IMGSEARCH_CHROMA_PORT", str(free_port()))
    from imgsearch_core.errors import StoreError

    with pytest.raises(StoreError, match="Cannot reach the Chroma server"):
        Store(Settings.from_env(store_dir=tmp_path / "s"))
