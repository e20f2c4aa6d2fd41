"""The whole app in a real browser: first screen, demo load, text/hybrid search, image upload, Evaluate, Admin.

Why: only a browser shows that the pieces meet (Streamlit's frontend, uploads over HTTP, thumbnails
served and decoded, the slider driven by keyboard, navigation between pages). Assertions stay off
semantic quality, so they hold for any trained state of the bundled model: results appear, and the
ranking changes with alpha exactly where the hybrid formula says it must.
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import Server

QUERY = "red circle"
DEMO_COUNT = 2000
DEMO_ITEMS = f"{DEMO_COUNT:,}"
RELEVANCE_QUERIES = 8
BUILD_SECONDS = 240  # 2,000 images embedded on a busy 2-core machine
STEP_SECONDS = 90  # the first search also loads the model and the BM25 index
POLL_MS = 2000
MAX_SCREENSHOT_HEIGHT = 6000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


# ----- waiting, with the server watched -----------------------------------------------------------
def wait_for(server: Server, locator: Locator, what: str, seconds: float = STEP_SECONDS, state: str = "visible") -> None:
    """Wait in short slices so a dead server fails the test at once, with its stderr."""
    deadline = time.monotonic() + seconds
    while True:
        server.assert_alive()
        try:
            locator.first.wait_for(state=state, timeout=POLL_MS)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                pytest.fail(f"Timed out after {seconds:.0f} s waiting for {what}.\n{server.logs()}", pytrace=False)


def wait_idle(server: Server, page: Page) -> None:
    """The script run is over, so every element on the page belongs to the same run."""
    wait_for(server, page.locator(IDLE), "the script run to finish", state="attached")


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def summary(page: Page, marker: str) -> Locator:
    """The line above a results grid, e.g. '24 results for “red circle” · hybrid, alpha 0.00 · …'."""
    return main(page).get_by_test_id("stMarkdownContainer").filter(has_text=marker)


def wait_summary(server: Server, page: Page, marker: str) -> str:
    wait_for(server, summary(page, marker), f"a results line containing {marker!r}")
    wait_idle(server, page)
    return summary(page, marker).first.inner_text()


# ----- reading the page ---------------------------------------------------------------------------
def hit_ids(page: Page, prefix: str) -> list[str]:
    """The hits on screen in rank order, read from the keys of their "More like this" buttons."""
    marker = f"st-key-{prefix}_similar_"
    return main(page).locator(f'[class*="{marker}"]').evaluate_all(
        "(els, marker) => els.map(e => [...e.classList].find(c => c.startsWith(marker)).slice(marker.length))",
        marker,
    )


def loaded_images(server: Server, page: Page, expected: int = 1) -> int:
    """Wait until at least `expected` images are in the main area and every one has really loaded (decoded,
    non-zero width); their count. A grid renders progressively, so a busy machine can show 4 of 12 at first."""
    images = main(page).locator('[data-testid="stImage"] img')
    script = f"els => els.length >= {max(1, expected)} && els.every(e => e.complete && e.naturalWidth > 0)"
    deadline = time.monotonic() + STEP_SECONDS
    while not images.evaluate_all(script):
        server.assert_alive()
        if time.monotonic() > deadline:
            states = images.evaluate_all("els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
            pytest.fail(f"Result images did not load: {states}\n{server.logs()}", pytrace=False)
        page.wait_for_timeout(250)
    return images.count()


def assert_no_errors(server: Server, page: Page, where: str) -> None:
    """No page may show a traceback or an error box on the happy path (the server log has the details)."""
    errors = main(page).locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"{where} shows errors: {errors.all_inner_texts()}\n{server.logs()}"


def save_full_page(page: Page, path: Path) -> None:
    """Streamlit scrolls inside stMain, not the document: grow the viewport to its height for the picture."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), MAX_SCREENSHOT_HEIGHT)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


# ----- acting -------------------------------------------------------------------------------------
def go_to(server: Server, page: Page, title: str) -> None:
    """Use the sidebar navigation, as a person would, and wait for the page's title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for(server, main(page).locator("h1", has_text=title), f"the {title!r} page")
    wait_idle(server, page)


def move_alpha(server: Server, page: Page, key: str, shown: str) -> list[str]:
    """Drive the alpha slider by keyboard (Home = 0, End = 1); the hits it ranks."""
    page.locator('.st-key-ts_alpha input[type="range"]').press(key)
    line = wait_summary(server, page, f"hybrid, alpha {shown}")
    assert "re-ranked in" in line, f"a slider move must only re-rank, not search again: {line!r}"
    assert f"alpha={float(shown):g}" in page.url, f"the URL should keep alpha {shown}: {page.url}"
    hits = hit_ids(page, "ts")
    assert hits, f"no hits at alpha {shown}: {line!r}"
    return hits


def scene_png() -> bytes:
    """A validation scene (never in the demo collection, which holds test scenes) as PNG bytes."""
    from imgsearch_core.scenes.render import render
    from imgsearch_core.scenes.scenes import scene_at

    buffer = io.BytesIO()
    render(scene_at("val", 3)).save(buffer, format="PNG")
    return buffer.getvalue()


# ----- the scenario, step by step -----------------------------------------------------------------
def first_screen_loads_the_demo(server: Server, page: Page, shots: Path) -> None:
    page.goto(server.url)
    wait_for(server, main(page).get_by_text("Welcome to imgsearch"), "the empty store's first screen")
    wait_idle(server, page)
    save_full_page(page, shots / "first_screen.png")
    page.locator(".st-key-empty_load_demo button").click()
    wait_for(server, main(page).get_by_text("Demo collection ready"), "the demo collection to load", BUILD_SECONDS)
    wait_idle(server, page)
    assert main(page).locator("h1", has_text="Text search").count() == 1
    assert page.get_by_test_id("stSidebar").get_by_text(f"{DEMO_ITEMS} items").count() == 1
    assert_no_errors(server, page, "Text search right after loading the demo")


def query_shows_results(server: Server, page: Page) -> None:
    """Type the query, press Enter, and see loaded result images (in whatever mode the page opens)."""
    box = page.locator(".st-key-ts_q input")
    box.fill(QUERY)
    box.press("Enter")
    line = wait_summary(server, page, f"results for “{QUERY}”")
    assert "search took" in line, line
    hits = hit_ids(page, "ts")
    assert hits, f"no hits for {QUERY!r}: {line!r}"
    assert loaded_images(server, page, len(hits)) == len(hits)
    assert f"q={QUERY.replace(' ', '+')}" in page.url, page.url


def ranking_in_mode(server: Server, page: Page, label: str, marker: str) -> list[str]:
    """Switch the mode; the query's candidates are reused, only the ranking is new."""
    page.locator(".st-key-ts_mode").get_by_role("radio", name=label, exact=True).click()
    line = wait_summary(server, page, f"results for “{QUERY}” · {marker}")
    assert "re-ranked in" in line, f"a mode change must reuse the query's candidates: {line!r}"
    hits = hit_ids(page, "ts")
    assert hits, f"no hits in {label} mode: {line!r}"
    return hits


def text_search(server: Server, page: Page, shots: Path) -> dict[str, list[str]]:
    """The rankings of Text, Vector and Hybrid at alpha 0.5, 0 and 1, with screenshots."""
    query_shows_results(server, page)
    ranked = {"text": ranking_in_mode(server, page, "Text", "text ·")}
    assert_no_errors(server, page, "Text search")
    save_full_page(page, shots / "text_search.png")
    ranked["vector"] = ranking_in_mode(server, page, "Vector", "vector ·")
    ranked["alpha 0.5"] = ranking_in_mode(server, page, "Hybrid", "hybrid, alpha 0.50")
    ranked["alpha 0"] = move_alpha(server, page, "Home", "0.00")
    ranked["alpha 1"] = move_alpha(server, page, "End", "1.00")
    assert loaded_images(server, page, len(ranked["alpha 1"])) == len(ranked["alpha 1"])
    assert_no_errors(server, page, "Hybrid search")
    save_full_page(page, shots / "hybrid.png")
    return ranked


def image_search(server: Server, page: Page, shots: Path) -> None:
    go_to(server, page, "Image search")
    page.locator('.st-key-is_upload input[type="file"]').set_input_files(
        files=[{"name": "val-3.png", "mimeType": "image/png", "buffer": scene_png()}]
    )
    line = wait_summary(server, page, "similar images · image only")
    hits = hit_ids(page, "is")
    assert hits, f"no similar images: {line!r}"
    assert main(page).get_by_text("Uploaded: val-3.png").count() == 1
    assert loaded_images(server, page, len(hits) + 1) == len(hits) + 1  # the query image beside the hits
    assert_no_errors(server, page, "Image search")
    save_full_page(page, shots / "image_search.png")


def relevance_csv() -> bytes:
    """Exact relevance for a few "colour shape" queries: every demo scene showing that object.

    A few queries keep the run short in the browser; the default query set (600 paraphrases) is the CLI's.
    """
    from imgsearch_core.scenes import scenes

    holders: dict[str, list[str]] = {}
    for scene in scenes.split_scenes("test", DEMO_COUNT):
        for key in {o.key() for o in scene.objects}:
            holders.setdefault(key, []).append(f"{scene.name}.png")
    rows = [f"{key},{'|'.join(names)}" for key, names in sorted(holders.items())[:RELEVANCE_QUERIES]]
    return "\n".join(["query,relevant", *rows]).encode()


def evaluate(server: Server, page: Page, shots: Path) -> None:
    go_to(server, page, "Evaluate")
    page.locator('.st-key-ev_relevance input[type="file"]').set_input_files(
        files=[{"name": "relevance.csv", "mimeType": "text/csv", "buffer": relevance_csv()}]
    )
    wait_idle(server, page)
    page.locator(".st-key-ev_run button").click()
    wait_for(server, main(page).get_by_text(f"{RELEVANCE_QUERIES} queries from relevance file"), "the evaluation")
    wait_idle(server, page)
    wait_for(server, main(page).get_by_test_id("stVegaLiteChart").locator("canvas, svg"), "the alpha chart")
    assert main(page).locator(".st-key-ev_save_alpha").count() == 1, "no button to save the best alpha"
    assert_no_errors(server, page, "Evaluate")
    save_full_page(page, shots / "evaluate.png")


def admin(server: Server, page: Page, shots: Path) -> None:
    go_to(server, page, "Admin")
    assert main(page).get_by_text("This Admin page is open").count() == 1, "no password set: the page must say so"
    metrics = dict(zip(main(page).get_by_test_id("stMetricLabel").all_inner_texts(),
                       main(page).get_by_test_id("stMetricValue").all_inner_texts()))
    assert metrics.get("Collection") == "demo" and metrics.get("Items") == DEMO_ITEMS, metrics
    assert_no_errors(server, page, "Admin")
    save_full_page(page, shots / "admin.png")


def test_demo_search_journey(server: Server, page: Page, screenshots: Path) -> None:
    first_screen_loads_the_demo(server, page, screenshots)
    ranked = text_search(server, page, screenshots)
    assert ranked["alpha 0"] != ranked["alpha 1"], f"alpha 0 (keywords) and 1 (meaning) ranked alike: {ranked}"
    assert ranked["alpha 1"] == ranked["vector"], f"hybrid at alpha 1 must rank exactly as vector search: {ranked}"
    image_search(server, page, screenshots)
    evaluate(server, page, screenshots)
    admin(server, page, screenshots)
