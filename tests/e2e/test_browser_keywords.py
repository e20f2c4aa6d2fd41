"""Keyword search as an editor types it, in a real browser over agency photos (IPTC by exiftool): "zurich"
in Text mode shows the Zürich photo with its caption's "Zürich" highlighted, and the credit "Keystone"
shows exactly its two photos."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Server, serve_folder
from tests.e2e.test_browser import assert_no_errors, hit_ids, loaded_images, main, save_full_page, wait_summary
from tests.keyword_photos import write_keyword_photos

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def keyword_server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Iterator[tuple[Server, dict[str, str]]]:
    base = tmp_path_factory.mktemp("e2e-keywords")
    photos = write_keyword_photos(base / "photos")
    ids = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos.glob("*.jpg")}
    for running in serve_folder(photos, base, tiny_embedder):
        yield running, ids


def search(server: Server, page: Page, query: str, expected: int) -> list[str]:
    box = page.locator(".st-key-ts_q input")
    box.fill(query)
    box.press("Enter")
    line = wait_summary(server, page, f"results for “{query}” · text")
    assert line.startswith(f"{expected} result"), line
    return hit_ids(page, "ts")


def test_unaccented_query_and_credit_name_find_their_photos(keyword_server, page: Page, screenshots) -> None:
    server, ids = keyword_server
    page.goto(server.url)
    box = page.locator(".st-key-ts_q input")
    box.wait_for(timeout=60_000)
    box.fill("zurich")
    box.press("Enter")
    wait_summary(server, page, "results for “zurich”")
    page.locator(".st-key-ts_mode").get_by_role("radio", name="Text", exact=True).click()

    assert search(server, page, "zurich", 1) == [ids["tram.jpg"]]
    assert loaded_images(server, page, 1) == 1
    highlighted = main(page).locator("strong", has_text="Zürich")
    assert highlighted.count() >= 1, "the caption's own spelling is highlighted for the unaccented query"
    assert_no_errors(server, page, "Text search for zurich")
    save_full_page(page, screenshots / "keywords_zurich.png")

    assert sorted(search(server, page, "Keystone", 2)) == sorted([ids["tram.jpg"], ids["lake.jpg"]])
    assert loaded_images(server, page, 2) == 2
    assert search(server, page, "elodie garcon", 1) == [ids["cafe.jpg"]]  # the creator, typed without accents
    assert_no_errors(server, page, "Text search for a credit and a creator")
