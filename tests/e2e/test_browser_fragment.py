"""A slider move reruns only the results fragment of Text search and of Image search, not the whole page, in a
real browser.

Why a browser: AppTest always reruns the whole script; only the frontend asks the server for a fragment run.
The evidence is what the server sends back over the websocket: every element (delta) of a fragment run
carries the fragment's id, while a full run re-sends the page's title, form and filters without one. So a
slider whose change reran the whole page would fail here, and so would a filter change that did not.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, WebSocket
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.e2e.conftest import Server
from tests.e2e.test_browser import assert_no_errors, hit_ids, wait_summary
from tests.e2e.test_browser_state import QUERY, more_like_this, pick, search, wait_idle

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class Deltas:
    """The fragment ids of the elements the server sends ("" for the page's main script), from now on."""

    def __init__(self, page: Page) -> None:
        self.fragment_ids: list[str] = []
        page.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._frame)

    def _frame(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "delta":
            self.fragment_ids.append(message.delta.fragment_id)

    def take(self) -> list[str]:
        taken, self.fragment_ids = self.fragment_ids, []
        return taken


def test_slider_reruns_only_the_results(archive_server: Server, page: Page) -> None:
    server = archive_server
    deltas = Deltas(page)
    page.goto(server.url)
    search(server, page, QUERY)
    assert "" in deltas.take(), "a new query reruns the whole page"
    before = hit_ids(page, "ts")
    scores = page.locator('[class*="st-key-ts_similar_"]').count()
    assert before and scores

    assert "alpha=" not in page.url  # the collection's default
    page.locator('.st-key-ts_alpha input[type="range"]').press("ArrowRight")  # one step up
    page.wait_for_url(re.compile(r"[?&]alpha=0\.\d+(&|$)"))
    alpha = re.search(r"alpha=(0\.\d+)", page.url).group(1)
    wait_idle(server, page)
    sent = deltas.take()
    assert sent and all(sent), f"the slider reran the whole page: {sent.count('')} of {len(sent)} elements outside"
    assert len(set(sent)) == 1, "one fragment"
    assert hit_ids(page, "ts"), "the re-ranked cards are shown"
    assert_no_errors(server, page, "after a slider move")

    pick(server, page, "ts_f_credit", "Reuters (4)")  # a filter fetches new candidates: the whole page
    page.wait_for_url(re.compile(r"[?&]credit=Reuters"))
    wait_idle(server, page)
    assert f"alpha={alpha}" in page.url, page.url
    assert "" in deltas.take(), "a filter change reruns the whole page"
    assert len(hit_ids(page, "ts")) == 4


def test_image_search_slider_reruns_only_the_results(archive_server: Server, page: Page) -> None:
    server = archive_server
    deltas = Deltas(page)
    page.goto(server.url)
    search(server, page, QUERY)
    more_like_this(server, page, hit_ids(page, "ts")[0])
    box = page.locator(".st-key-is_text input")
    box.fill("snow mountain")
    box.press("Enter")
    wait_summary(server, page, "image + text at alpha 0.50")
    assert "" in deltas.take(), "new text reruns the whole page (it fetches keyword candidates)"
    before = hit_ids(page, "is")

    page.locator('.st-key-is_alpha input[type="range"]').press("ArrowLeft")  # one step towards the keywords
    page.wait_for_url(re.compile(r"[?&]alpha=0\.45(&|$)"))
    wait_summary(server, page, "image + text at alpha 0.45")
    sent = deltas.take()
    assert sent and all(sent), f"the slider reran the whole page: {sent.count('')} of {len(sent)} elements outside"
    assert len(set(sent)) == 1, "one fragment"
    assert hit_ids(page, "is") and len(hit_ids(page, "is")) == len(before), "the re-ranked cards are shown"
    assert_no_errors(server, page, "after an Image search slider move")
