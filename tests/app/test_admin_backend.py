"""Admin page: a collection's inference backend is shown, saved for every process, overridden by
IMGSEARCH_BACKEND, and used by the app's searches and ingests into that collection."""
from __future__ import annotations

from tests.app.conftest import TEXT_PAGE, button, run, start, submit_query, texts
from tests.app.test_admin import admin, open_store


def backend_caption(at) -> str:
    [caption] = [c for c in texts(at.caption) if "embeds with" in c]
    return caption


def test_choosing_a_backend_saves_it_and_the_searches_use_it(filled_store, monkeypatch):
    from imgsearch_core.models.backend_choice import saved_backend

    monkeypatch.delenv("IMGSEARCH_BACKEND", raising=False)
    at = admin()
    assert "**photos** embeds with **auto**." in backend_caption(at)
    at.selectbox(key="adm_backend_photos").set_value("torch")
    run(at)
    button(at, "Use this backend").click()
    run(at)
    assert not at.exception
    assert saved_backend(open_store().open("photos")) == "torch"
    assert "**photos** embeds with **torch**." in backend_caption(at)

    search = submit_query(start(TEXT_PAGE), "red circle")
    assert not search.exception
    from pages import _ui

    searcher = _ui.get_searcher(open_store(), open_store().open("photos"))
    assert searcher.embedder.backend == "torch"


def test_the_environment_overrides_the_saved_backend_and_says_so(filled_store, monkeypatch):
    from imgsearch_core.models.backend_choice import save_backend

    save_backend(open_store().open("photos"), "onnx")
    monkeypatch.setenv("IMGSEARCH_BACKEND", "torch")
    at = admin()
    assert "IMGSEARCH_BACKEND=torch overrides it on this server" in backend_caption(at)
