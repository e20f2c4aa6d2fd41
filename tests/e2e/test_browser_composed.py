"""A link carrying a composed query, opened in a real browser: the Text search page shows the composed query,
the core's hits for it, and a card's breakdown lists each term's part; its "Add to Less of" makes the picture a
term (the fields outside the results fragment show it, and the link keeps it)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Server, serve_folder
from tests.e2e.test_browser import assert_no_errors, hit_ids, main, wait_for, wait_summary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
LINK = {"c": "photos", "q": "circle", "more": "square", "mw": "2", "less": "blue"}
COMPOSED = "circle + 2:square - blue"


@pytest.fixture(scope="module")
def composed_server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Iterator[tuple[Server, list[str]]]:
    """A server over 16 captioned pictures, and the core's top 12 for the composed query, read from a twin store
    of the same pictures (the server's own store is the server's alone while it runs)."""
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.store.store import Store
    from tests.helpers import write_images

    base = tmp_path_factory.mktemp("e2e-composed")
    write_images(base / "photos", 16)
    twin = Store(Settings.from_env(store_dir=base / "twin"))
    items, problems = collect(base / "photos")
    ingest(twin, "photos", tiny_embedder, items, problems=problems)
    expected = [h.id for h in Searcher(twin.open("photos"), tiny_embedder).search(COMPOSED, "hybrid", 0.5, 12).hits]
    del twin
    for running in serve_folder(base / "photos", base, tiny_embedder):
        yield running, expected


def test_a_composed_link_shows_the_cores_hits_and_each_terms_part(composed_server, page: Page) -> None:
    server, expected = composed_server
    started = time.monotonic()
    page.goto(f"{server.url}/?{urlencode(LINK)}")
    wait_summary(server, page, f"results for “{COMPOSED}”")
    assert expected and hit_ids(page, "ts") == expected
    assert main(page).get_by_test_id("stCode").first.inner_text().strip() == COMPOSED
    main(page).get_by_test_id("stPopoverButton").first.click()
    body = page.get_by_test_id("stPopoverBody")
    wait_for(server, body, "the first card's score breakdown")
    table = body.first.inner_text()
    assert "Per term" in table and "square" in table and "+2" in table and "excludes" in table
    assert_no_errors(server, page, "a composed link")

    body.first.get_by_role("button", name="Add to Less of").click()  # the first hit, less of it: a picture term
    with_picture = f"{COMPOSED} - item:{expected[0]}"
    wait_summary(server, page, f"results for “{with_picture}”")
    assert page.locator(".st-key-ts_less input").input_value() == f"blue, item:{expected[0]}"
    assert expected[0] not in hit_ids(page, "ts") and f"less=blue%2C+item%3A{expected[0]}" in page.url
    assert time.monotonic() - started < 25
