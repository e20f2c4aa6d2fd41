"""AppTest fixtures: a small real store (tiny random CLIP, captioned PNGs) the app finds through IMGSEARCH_STORE."""
from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from tests.app.archive import ARCHIVE, write_archive
from tests.helpers import write_images

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
TEXT_PAGE = "pages/text_search.py"
IMAGE_PAGE = "pages/image_search.py"
ADMIN_PAGE = "pages/admin.py"
EVALUATE_PAGE = "pages/evaluate.py"
ITEMS = 30


def fill(store, embedder, folder: Path, name: str = "photos") -> None:
    from imgsearch_core.ingest.pipeline import collect, ingest

    items, problems = collect(folder)
    report = ingest(store, name, embedder, items, problems=problems)
    assert report.added == len(items) and not report.problems


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    """An empty store the app opens (env var, as in production)."""
    directory = tmp_path / "store"
    monkeypatch.setenv("IMGSEARCH_STORE", str(directory))
    monkeypatch.setenv("IMGSEARCH_IMPORT_ROOTS", str(tmp_path))  # the Admin page imports folders only under these
    monkeypatch.delenv("IMGSEARCH_ADMIN_PASSWORD", raising=False)
    return directory


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    write_images(folder, ITEMS)
    return folder


@pytest.fixture
def filled_store(store_dir, image_folder, tiny_embedder):
    """A store with collection 'photos': ITEMS captioned images embedded with the tiny model."""
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    store = Store(Settings.from_env())
    fill(store, tiny_embedder, image_folder)
    return store


@pytest.fixture
def embed_calls(monkeypatch) -> Counter:
    """Counts every text and image embedding call the app makes (the model itself stays real)."""
    from imgsearch_core.models.embed import Embedder

    calls: Counter = Counter()
    for method in ("embed_texts", "embed_images"):
        original = getattr(Embedder, method)

        def counting(self, inputs, _original=original, _method=method):
            calls[_method] += 1
            return _original(self, inputs)

        monkeypatch.setattr(Embedder, method, counting)
    return calls


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    """Run the app as `streamlit run` does once app.py has called st.navigation.

    AppTest resets PagesManager.uses_pages_directory before every run, and because a pages/ folder sits
    beside app.py it then takes Streamlit's legacy pages/ route: from the second run on it executes the
    page file alone, without app.py. A real server clears the flag for good at the first st.navigation
    call; this does the same for every AppTest run.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


# ----- driving the app ----------------------------------------------------------------------------
def run(at):
    """One rerun; no page may ever raise (AppTest's exception list stays empty)."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def start(page: str | None = None, query: dict | None = None, secrets: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=90)
    if secrets:
        at.secrets.update(secrets)
    if query and page is None:
        at.query_params.update(query)
    run(at)
    if page is not None:
        if query:
            at.query_params.clear()
            at.query_params.update(query)
        at.switch_page(page)
        run(at)
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def hit_ids(at, prefix: str = "ts") -> list[str]:
    """The ids of the hits on screen, in rank order (from their "More like this" buttons)."""
    marker = f"{prefix}_similar_"
    return [b.key[len(marker):] for b in at.button if b.key and b.key.startswith(marker)]


def button(at, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


def submit_query(at, query: str):
    at.text_input(key="ts_q").set_value(query)
    [b for b in at.get("form_submit_button") if b.label == "Search"][0].click()
    return run(at)


def pixel_bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header declares `width` x `height` pixels (900 megapixels by default)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


# ----- an editorial archive: credits, creators, keywords, dates in IPTC (tests/app/archive.py) -------------

@pytest.fixture(scope="session")
def archive_folder(tmp_path_factory) -> Path:
    """JPEGs with IPTC credit, by-line, keywords, date created (and captions for most), plus a resized copy."""
    return write_archive(tmp_path_factory.mktemp("archive") / "photos")


@pytest.fixture
def archive_store(store_dir, archive_folder, tiny_embedder):
    """A store whose collection 'photos' holds the ARCHIVE pictures (and the copy) with their IPTC fields."""
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    store = Store(Settings.from_env())
    items, problems = collect(archive_folder)
    report = ingest(store, "photos", tiny_embedder, items, problems=problems)
    assert report.added == len(ARCHIVE) + 1 and not report.problems, report.problems
    return store


@pytest.fixture
def downloads(monkeypatch) -> list[tuple[str | None, str, bytes]]:
    """(file name, MIME type, bytes) of every file the app hands to a download button, as registered."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    seen: list[tuple[str | None, str, bytes]] = []
    original = MediaFileManager.add

    def add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if is_for_static_download:
            seen.append((file_name, mimetype, bytes(path_or_data)))
        return original(self, path_or_data, mimetype, coordinates, file_name=file_name,
                        is_for_static_download=is_for_static_download)

    monkeypatch.setattr(MediaFileManager, "add", add)
    return seen


def core_similar(store, *, item_id=None, image=None, text=None, alpha=1.0, k=24) -> list[str]:
    """The hits the Image search page must show, from the core (a fresh Searcher on the same store)."""
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher

    collection = store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    return [h.id for h in searcher.similar(image, item_id=item_id, text=text, alpha=alpha, k=k).hits]
