"""App shell: navigation, the sidebar's collection picker, the empty-store first screen, loading the demo."""
from __future__ import annotations

import sys
import types

import pytest

from tests.app.conftest import ADMIN_PAGE, EVALUATE_PAGE, IMAGE_PAGE, TEXT_PAGE, button, fill, run, start, texts


def test_empty_store_first_screen_offers_the_demo_and_admin(store_dir):
    at = start()
    assert at.title[0].value == "Welcome to imgsearch"
    assert button(at, "Load the demo collection")
    links = at.get("page_link")
    assert any(link.proto.page.endswith("admin") or "Admin" in link.proto.label for link in links)
    assert any("The store is empty" in c for c in texts(at.sidebar.caption))
    assert not at.error


def test_sidebar_shows_the_collection_with_its_model_and_size(filled_store, tiny_embedder, tmp_path):
    from tests.helpers import write_images

    fill(filled_store, tiny_embedder, write_images(tmp_path / "more", 4, start=500)[0].parent, name="archive")
    at = start()
    picker = at.sidebar.selectbox(key="collection")
    assert picker.options == ["archive", "photos"] and picker.value == "archive"
    assert any("**4** items" in c for c in texts(at.sidebar.caption))
    picker.set_value("photos")
    run(at)
    captions = " ".join(texts(at.sidebar.caption))
    assert "**30** items" in captions and "16-d" in captions


@pytest.mark.parametrize("page", [TEXT_PAGE, IMAGE_PAGE, EVALUATE_PAGE, ADMIN_PAGE])
def test_every_page_renders_without_errors(filled_store, page):
    at = start(page)
    assert at.title and not at.error


def test_a_link_can_name_the_collection(filled_store, tiny_embedder, tmp_path):
    from tests.helpers import write_images

    fill(filled_store, tiny_embedder, write_images(tmp_path / "more", 4, start=500)[0].parent, name="archive")
    at = start(query={"c": "photos", "q": "red"})
    assert at.sidebar.selectbox(key="collection").value == "photos"
    at = start(query={"c": "nowhere"})
    assert "collection 'nowhere'" in at.error[0].value


def fake_demo_module(embedder, folder):
    """Stands in for imgsearch_core.demo.collection: same signature, a few tiny-model images."""
    module = types.ModuleType("imgsearch_core.demo.collection")

    def build_demo_collection(store, count=2000, progress=None):
        from imgsearch_core.ingest.pipeline import collect, ingest

        items, problems = collect(folder)
        return ingest(store, "demo", embedder, items[:count], problems=problems, progress=progress, batch_size=4)

    module.build_demo_collection = build_demo_collection
    return module


def test_load_the_demo_from_the_first_screen(store_dir, tiny_embedder, image_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "imgsearch_core.demo.collection", fake_demo_module(tiny_embedder, image_folder))
    at = start()
    button(at, "Load the demo collection").click()
    run(at)
    assert at.sidebar.selectbox(key="collection").value == "demo"
    assert "Demo collection ready: 30 added" in at.success[0].value
    assert at.title[0].value == "Text search"


def test_a_missing_demo_builder_is_a_clear_error(store_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "imgsearch_core.demo.collection", None)  # import fails
    at = start()
    button(at, "Load the demo collection").click()
    run(at)
    assert "demo collection is not available" in at.error[0].value
