"""State that stays and links that carry the whole view, in a real browser over the editorial archive.

Why a browser: the sidebar, st.switch_page and Back/Forward are the frontend's (history entries, the URL
it sends back on a history move); AppTest cannot press Back. The archive (tests/app/archive.py) has
credits, creators, keywords and dates, so filters and a date sort change which hits show and in what order.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server
from tests.e2e.test_browser import assert_no_errors, go_to, hit_ids, main, wait_for, wait_idle, wait_summary

QUERY = "harbour"  # hybrid: the vector side reaches every picture a filter lets through
OTHER_QUERY = "city"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def search(server: Server, page: Page, query: str) -> str:
    box = page.locator(".st-key-ts_q input")
    box.wait_for(timeout=60_000)
    wait_idle(server, page)  # typed into a page still running, the box would be reset by that run
    box.fill(query)
    box.press("Enter")
    page.wait_for_url(re.compile(rf"[?&]q={query}(&|$)"))
    return wait_summary(server, page, f"results for “{query}”")


def pick(server: Server, page: Page, key: str, *options: str) -> None:
    """Open a multiselect or selectbox and click options, as a person does; wait for the rerun."""
    for option in options:
        page.locator(f".st-key-{key}").click()
        page.get_by_role("option", name=option).click()
        page.keyboard.press("Escape")
        wait_idle(server, page)


def chosen_chips(page: Page, key: str) -> list[str]:
    """The values a multiselect shows as chosen (its chips), once it shows any (a fresh page paints late)."""
    chips = page.locator(f".st-key-{key} [data-tag]")
    expect(chips.first).to_be_visible()
    return chips.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def text_view(server: Server, page: Page, query: str) -> tuple[str, list[str]]:
    """The Text search page's summary line for `query` and its hits, once shown."""
    wait_for(server, main(page).locator("h1", has_text="Text search"), "the Text search page")
    line = wait_summary(server, page, f"results for “{query}”")
    return line, hit_ids(page, "ts")


def more_like_this(server: Server, page: Page, item: str) -> list[str]:
    page.locator(f".st-key-ts_similar_{item} button").first.click()  # a button with help is drawn twice (one measures)
    wait_for(server, main(page).locator("h1", has_text="Image search"), "the Image search page")
    wait_summary(server, page, "similar images")
    return hit_ids(page, "is")


def test_navigation_and_back_keep_the_search(archive_server: Server, page: Page) -> None:
    server = archive_server
    page.goto(server.url)
    search(server, page, QUERY)
    pick(server, page, "ts_f_credit", "Reuters (4)")
    page.wait_for_url(re.compile(r"[?&]credit=Reuters"))
    line, filtered = text_view(server, page, QUERY)
    assert line.startswith("4 results"), line
    filtered_url = page.url

    similar = more_like_this(server, page, filtered[0])
    assert similar and filtered[0] not in similar
    go_to(server, page, "Text search")  # the sidebar: the URL it opens carries no view
    line, shown = text_view(server, page, QUERY)
    assert line.startswith("4 results") and shown == filtered, (line, shown, filtered)
    assert page.locator(".st-key-ts_q input").input_value() == QUERY
    assert chosen_chips(page, "ts_f_credit") == ["Reuters (4)"]
    assert page.url == filtered_url, "the restored view is the URL again"

    search(server, page, OTHER_QUERY)  # a new view on the same page, then Back to the previous one
    page.go_back()
    page.wait_for_url(filtered_url)
    line, shown = text_view(server, page, QUERY)
    assert shown == filtered and page.locator(".st-key-ts_q input").input_value() == QUERY, line
    assert chosen_chips(page, "ts_f_credit") == ["Reuters (4)"]

    more_like_this(server, page, filtered[1])  # the case: Back from Image search
    page.go_back()
    page.wait_for_url(filtered_url)
    line, shown = text_view(server, page, QUERY)
    assert shown == filtered and page.locator(".st-key-ts_q input").input_value() == QUERY, line
    assert_no_errors(server, page, "Text search after Back")


def test_a_link_with_filters_and_sort_reproduces_the_view(archive_server: Server, page: Page, browser: Browser) -> None:
    server = archive_server
    page.goto(server.url)
    search(server, page, QUERY)
    pick(server, page, "ts_f_credit", "Reuters (4)", "AP (2)")
    page.wait_for_url(re.compile(r"credit=Reuters&credit=AP"))
    pick(server, page, "ts_sort", "Date taken, oldest first")
    page.wait_for_url(re.compile(r"[?&]sort=date_asc"))
    line, expected = text_view(server, page, QUERY)
    assert line.startswith("6 results"), line
    link = page.url

    fresh = browser.new_context(viewport={"width": 1400, "height": 900})  # a colleague's browser: no session
    try:
        other = fresh.new_page()
        other.goto(link)
        line, shown = text_view(server, other, QUERY)
        assert shown == expected, (link, shown, expected)
        assert line.startswith("6 results"), line
        assert chosen_chips(other, "ts_f_credit") == ["Reuters (4)", "AP (2)"]
        expect(other.locator(".st-key-ts_sort").get_by_role("combobox")).to_have_value("Date taken, oldest first")
        assert_no_errors(server, other, "the shared link")
    finally:
        fresh.close()


def test_image_and_text_uses_the_text_by_default(archive_server: Server, page: Page) -> None:
    server = archive_server
    page.goto(server.url)
    search(server, page, QUERY)
    image_only = more_like_this(server, page, hit_ids(page, "ts")[0])
    assert "image only" in wait_summary(server, page, "similar images")

    box = page.locator(".st-key-is_text input")
    box.fill("snow mountain")
    box.press("Enter")
    line = wait_summary(server, page, "image + text at alpha 0.50")
    combined = hit_ids(page, "is")
    assert combined != image_only, "typed text must change the ranking at the default slider position"
    assert "alpha=" not in page.url and "text=snow+mountain" in page.url, page.url  # 0.5 is the default with text

    box.fill("zebra")  # no caption has it: the page must not claim a combination
    box.press("Enter")
    line = wait_summary(server, page, "the text matched no captions")
    assert "image only" in line, line
    assert_no_errors(server, page, "Image search with text")


def test_back_after_switching_the_collection_shows_the_first_one_again(archive_server: Server, page: Page) -> None:
    """Back within one page that changes only the collection (`c`) switches back to it (issue 21)."""
    server = archive_server
    page.goto(server.url)
    search(server, page, QUERY)
    line, first = text_view(server, page, QUERY)
    first_url = page.url
    assert "c=photos" in first_url and line.startswith("9 results"), (line, first_url)

    pick(server, page, "collection", "press")  # the sidebar's collection picker
    page.wait_for_url(re.compile(r"[?&]c=press(&|$)"))
    line, other = text_view(server, page, QUERY)
    assert line.startswith("3 results") and not set(other) & set(first), (line, other)

    page.go_back()
    page.wait_for_url(first_url)
    wait_idle(server, page)
    line, shown = text_view(server, page, QUERY)
    expect(page.locator(".st-key-collection").get_by_role("combobox")).to_have_value("photos")
    assert shown == first and line.startswith("9 results"), (line, shown)
    assert page.url == first_url, "the page keeps the collection the URL named"
    assert_no_errors(server, page, "Text search after Back to the first collection")
