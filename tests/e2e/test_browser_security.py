"""A caption holding Markdown and HTML, in a real browser: the result grid and the Admin Delete grid show it as
the text it is, and no link, image or bold element is made from it (AppTest sees only the markdown source)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page

from tests.e2e.conftest import Server, serve_folder
from tests.e2e.test_browser import assert_no_errors, loaded_images, main, wait_for, wait_idle, wait_summary
from tests.helpers import write_images

HOSTILE = "**bold** [link](http://x) <b>tag</b> ![img](http://x/i.png)"
MADE_FROM_IT = 'a[href^="http://x"], img[src^="http://x"], b, strong:text-is("bold")'

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Iterator[Server]:
    """A real server over collection 'photos': six pictures, the first captioned HOSTILE."""
    base = tmp_path_factory.mktemp("e2e-hostile")
    paths = write_images(base / "photos", 6)
    paths[0].with_suffix(".txt").write_text(HOSTILE)
    yield from serve_folder(base / "photos", base, tiny_embedder)


def assert_literal(area: Locator, where: str) -> None:
    """The caption's text is on screen exactly, and nothing in `area` was made from its markup."""
    shown = area.get_by_text(HOSTILE, exact=True)
    assert shown.count() >= 1, f"{where}: the caption is not shown as written: {area.all_inner_texts()}"
    made = area.locator(MADE_FROM_IT)
    assert made.count() == 0, f"{where}: elements made from the caption: {made.evaluate_all('e => e.map(x => x.outerHTML)')}"


def test_markdown_and_html_in_a_caption_stay_text_in_results_and_delete_grid(hostile_server: Server, page: Page):
    server = hostile_server
    page.goto(f"{server.url}/?q=picture&mode=vector")  # every picture is a hit
    wait_summary(server, page, "results for “picture”")
    assert loaded_images(server, page, 6) == 6
    assert_no_errors(server, page, "Text search")
    assert_literal(main(page), "the result grid")

    page.goto(f"{server.url}/admin")
    tab = page.get_by_role("tab", name="Delete items")
    wait_for(server, tab, "the Admin page's tabs")
    tab.click()
    grid = main(page).get_by_test_id("stCheckbox")
    wait_for(server, grid.filter(has_text="bold"), "the Delete grid's checkbox of the hostile caption")
    wait_idle(server, page)
    assert_literal(main(page).get_by_test_id("stCheckbox").filter(has_text="bold"), "the Delete grid")
    assert main(page).locator(MADE_FROM_IT).count() == 0
