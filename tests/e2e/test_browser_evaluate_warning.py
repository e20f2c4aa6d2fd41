"""Evaluate in a real browser on a collection with only two judged queries: the page says which source
and how many queries it measured, warns before the figures, and saves the result as the collection's
default only after the confirm box is ticked."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Server, serve_folder
from tests.e2e.test_browser import assert_no_errors, go_to, main, save_full_page, wait_for, wait_idle
from tests.helpers import write_images

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def judged_server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Iterator[Server]:
    """Six captioned pictures and two editors' judgements, written before the server starts."""
    from imgsearch_core.evaluation.judgements import JudgementStore

    base = tmp_path_factory.mktemp("e2e-judged")
    paths = write_images(base / "photos", 6)
    ids = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]  # a stored item's id is its content hash
    JudgementStore(base / "store").mark_many("photos", [("a quiet harbour", ids[0], "right"),
                                                        ("boats at dusk", ids[1], "right")])
    yield from serve_folder(base / "photos", base, tiny_embedder)


def test_two_judged_queries_warn_and_saving_needs_the_confirm(judged_server: Server, page: Page, screenshots) -> None:
    server = judged_server
    page.goto(server.url)
    wait_for(server, page.get_by_test_id("stSidebarNav"), "the navigation")
    go_to(server, page, "Evaluate")
    page.locator(".st-key-ev_run button").click()
    wait_for(server, main(page).get_by_text("2 queries from judgements"), "the evaluation summary")
    wait_idle(server, page)
    warning = main(page).get_by_test_id("stAlertContentWarning").filter(has_text="Only 2 queries from judgements")
    assert warning.count() == 1, main(page).get_by_test_id("stAlertContentWarning").all_inner_texts()
    assert "fewer than 20 queries" in warning.inner_text()
    summary_box = main(page).get_by_text("2 queries from judgements").first.bounding_box()
    chart_box = main(page).get_by_test_id("stVegaLiteChart").first.bounding_box()
    assert summary_box["y"] < warning.bounding_box()["y"] < chart_box["y"], "source and warning come before figures"
    save = main(page).locator(".st-key-ev_save_alpha button").first
    assert save.is_disabled(), "a default measured on 2 queries must not be saved without the confirm"
    assert_no_errors(server, page, "Evaluate with two judged queries")
    save_full_page(page, screenshots / "evaluate_few_queries.png")

    main(page).locator(".st-key-ev_save_confirm label").first.click()
    wait_idle(server, page)
    wait_for(server, main(page).locator(".st-key-ev_save_alpha button:not([disabled])"), "the enabled save button")
    main(page).locator(".st-key-ev_save_alpha button").first.click()
    wait_for(server, main(page).get_by_test_id("stAlertContentSuccess").filter(has_text="Saved"), "the saved message")
    assert_no_errors(server, page, "Evaluate after saving")
