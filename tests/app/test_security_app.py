"""The app's security rules (issue 19): every write and long job behind the admin password, stored and URL text
never rendered as markup, errors with an id instead of internals, slowed-down password guessing, a Delete
selection that never crosses collections, and a judgements export a spreadsheet cannot run.

Rendering is checked by rendering the page's markdown source (CommonMark with raw HTML on, as a strict
stand-in for Streamlit's renderer; tests/e2e/test_browser_security.py checks the real browser)."""
from __future__ import annotations

import csv
import html
import io
import logging
import re
import sys

import pytest
from markdown_it import MarkdownIt

from imgsearch_core.display import access
from imgsearch_core.display.captions import escape_markdown
from tests.app.conftest import (ADMIN_PAGE, EVALUATE_PAGE, IMAGE_PAGE, TEXT_PAGE, button, fill, hit_ids, run, start,
                                submit_query, texts)
from tests.app.test_navigation import fake_demo_module
from tests.helpers import write_images

PASSWORD = "correct horse"
HOSTILE = "**bold** [link](http://x) <b>tag</b> ![img](http://x/i.png)"
MARKUP_TAGS = ("<a", "<img", "<b>", "<strong", "<em", "<code", "<h1", "<ul", "<ol", "<blockquote", "<del")
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


# ----- helpers ------------------------------------------------------------------------------------
def rendered_text(markdown: str) -> str:
    """The visible text of `markdown`, asserting it made no markup (link, image, HTML, emphasis, list...)."""
    out = _MARKDOWN.render(markdown)
    made = [tag for tag in MARKUP_TAGS if tag in out]
    assert not made, (made, markdown, out)
    return html.unescape(re.sub(r"<[^>]+>", "", out)).strip()


def open_store():
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    return Store(Settings.from_env())


@pytest.fixture
def password(monkeypatch):
    """An admin password is set; the process's failure log starts empty (it is shared by every session)."""
    monkeypatch.setenv("IMGSEARCH_ADMIN_PASSWORD", PASSWORD)
    access.PROCESS_FAILURES.clear()
    yield PASSWORD
    access.PROCESS_FAILURES.clear()


@pytest.fixture
def hostile_store(store_dir, tiny_embedder, tmp_path):
    """Collection 'photos': six pictures, the first captioned with Markdown and HTML. Returns (store, its id)."""
    folder = tmp_path / "hostile"
    paths = write_images(folder, 6)
    paths[0].with_suffix(".txt").write_text(HOSTILE)
    store = open_store()
    fill(store, tiny_embedder, folder)
    [hostile] = [i.id for i in store.open("photos").all_items() if i.caption == HOSTILE]
    return store, hostile


def unlock_admin(at, password: str = PASSWORD):
    """Enter the password on the Admin page (the session keeps it for every page)."""
    at.switch_page(ADMIN_PAGE)
    run(at)
    at.text_input(key="admin_login_password_input").set_value(password)
    at.button(key="FormSubmitter:admin_login-Unlock").click()
    return run(at)


def go(at, page: str):
    at.switch_page(page)
    return run(at)


def judge_keys(at) -> list[str]:
    return [b.key for b in at.button if b.key and "_judge_" in b.key]


# ----- every write and long job behind the gate ----------------------------------------------------
def test_marking_results_needs_the_password(filled_store, password):
    from imgsearch_core.evaluation.judgements import JudgementStore

    at = submit_query(start(), "red circle")
    first = hit_ids(at)[0]
    assert first and not judge_keys(at)
    next(b for b in at.button if b.key == f"ts_detail_{first}").click()
    run(at)
    assert not judge_keys(at) and any("needs the admin password" in c for c in texts(at.caption))
    assert JudgementStore(filled_store.root).count("photos") == 0

    unlock_admin(at)
    at = submit_query(go(at, TEXT_PAGE), "red circle")
    at.button(key=f"ts_judge_card_right_{first}").click()
    run(at)
    assert JudgementStore(filled_store.root).verdicts("photos", "red circle") == {first: "right"}


def test_relevance_uploads_and_judgement_imports_need_the_password(filled_store, password):
    from imgsearch_core.evaluation.judgements import JudgementStore

    at = start(EVALUATE_PAGE)
    assert not at.file_uploader and any("need the admin password" in c for c in texts(at.caption))
    assert "ev_judgements_import" not in [b.key for b in at.button]

    at.text_input(key="ft_login_password_input").set_value(PASSWORD)
    at.button(key="FormSubmitter:ft_login-Unlock").click()
    run(at)
    item = filled_store.open("photos").all_items()[3]
    marks = f"query,relevant\nsomething to find,{item.metadata['file_name']}\n".encode()
    at.file_uploader(key="ev_judgements_file").set_value(("marks.csv", marks, "text/csv"))
    run(at)
    at.button(key="ev_judgements_import").click()
    run(at)
    assert JudgementStore(filled_store.root).verdicts("photos", "something to find") == {item.id: "right"}
    at.file_uploader(key="ev_relevance").set_value(("relevance.csv", marks, "text/csv"))
    run(at)
    at.button(key="ev_run").click()
    run(at)
    assert any("**1** queries from **relevance file**" in m for m in texts(at.markdown)), texts(at.error)


def test_an_oversized_relevance_file_is_refused_naming_its_setting(filled_store, monkeypatch):
    from imgsearch_core.evaluation.judgements import JudgementStore

    monkeypatch.setenv("IMGSEARCH_MAX_RELEVANCE_BYTES", "64")
    big = ("query,relevant\n" + "".join(f"query {n},img_{n:04d}.png\n" for n in range(10))).encode()
    at = start(EVALUATE_PAGE)
    at.file_uploader(key="ev_relevance").set_value(("relevance.csv", big, "text/csv"))
    run(at)
    at.button(key="ev_run").click()
    run(at)
    assert any("over the limit of 64 (IMGSEARCH_MAX_RELEVANCE_BYTES)" in e for e in texts(at.error)), texts(at.error)
    at.file_uploader(key="ev_judgements_file").set_value(("marks.csv", big, "text/csv"))
    run(at)
    at.button(key="ev_judgements_import").click()
    run(at)
    assert any(e.startswith("Nothing imported") and "IMGSEARCH_MAX_RELEVANCE_BYTES" in e for e in texts(at.error))
    assert JudgementStore(filled_store.root).count("photos") == 0


def test_building_the_demo_needs_the_password(store_dir, tiny_embedder, image_folder, monkeypatch, password):
    monkeypatch.setitem(sys.modules, "imgsearch_core.demo.collection", fake_demo_module(tiny_embedder, image_folder))
    at = start()
    assert at.title[0].value == "Welcome to imgsearch"
    assert "empty_load_demo" not in [b.key for b in at.button]
    assert any("needs the admin password" in c for c in texts(at.caption))
    assert open_store().collection_names() == []

    unlock_admin(at)
    go(at, TEXT_PAGE)
    button(at, "Load the demo collection").click()
    run(at)
    assert open_store().open("demo").count() == 30


# ----- text never renders -------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    HOSTILE, "- a list item", "1. first", "# heading", "> quote", ":red[colour] :material/lock: icon",
    "$x^2$ math", "~~struck~~ `code` _em_", "www.example.com and mail@example.com", "&lt;b&gt; entity",
    "| a | b |", "line one\nline two",
])
def test_escaped_text_renders_as_itself(text):
    assert rendered_text(escape_markdown(text)) == text.replace("\n", " ")


def test_a_hostile_caption_shows_literally_in_results_detail_query_panel_and_delete_grid(hostile_store):
    _, hostile = hostile_store
    at = start(query={"q": "picture", "mode": "vector"})  # every item is a hit; no query word in the caption
    assert hostile in hit_ids(at)
    card = [m for m in texts(at.markdown) if "bold" in m]
    assert [rendered_text(m) for m in card] == [HOSTILE]
    next(b for b in at.button if b.key == f"ts_detail_{hostile}").click()
    run(at)
    shown = [rendered_text(m) for m in texts(at.markdown) if "bold" in m]
    assert shown == [HOSTILE, HOSTILE]  # the card and the detail view

    at = start(IMAGE_PAGE, query={"item": hostile, "c": "photos"})
    panel = [c for c in texts(at.caption) if "bold" in c]
    assert panel and [rendered_text(c) for c in panel] == [HOSTILE]

    at = go(at, ADMIN_PAGE)
    labels = [c.label for c in at.checkbox if "bold" in c.label]
    assert [rendered_text(label) for label in labels] == [HOSTILE]


def test_link_parameters_are_echoed_literally_in_error_boxes(filled_store):
    values = {"c": "[c](http://x)", "mode": "**m**", "alpha": "<b>1</b>", "k": "![k](http://x/k.png)",
              "fusion": "_f_ [f](http://x)", "where": "credit = [w](http://x) **w** (", "q": "red"}
    at = start(query=values)
    shown = " ".join(rendered_text(e) for e in texts(at.error))
    for raw in values.values():
        if raw != "red":
            assert raw.rstrip(" (") in shown, (raw, shown)


def test_an_unexpected_failure_shows_an_error_id_and_logs_the_details(filled_store, monkeypatch, caplog):
    from imgsearch_core.search.engine import Searcher

    def broken(self, query, where=None):
        raise RuntimeError("boom at /srv/secret/store")

    monkeypatch.setattr(Searcher, "text_candidates", broken)
    caplog.set_level(logging.ERROR, logger="imgsearch.app")
    at = start(query={"q": "red circle"})
    [message] = texts(at.error)
    found = re.search(r"error id ([0-9a-f]{8})", message)
    assert found and "boom" not in message and "/srv" not in message and "RuntimeError" not in message
    [record] = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert "boom at /srv/secret/store" in caplog.text and record.exc_info is not None


@pytest.mark.parametrize("admin", [False, True])
def test_the_store_path_is_shown_only_to_the_admin(tmp_path, monkeypatch, admin):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("IMGSEARCH_STORE", str(blocker / "store"))  # cannot be created: a StoreError naming it
    if admin:
        monkeypatch.delenv("IMGSEARCH_ADMIN_PASSWORD", raising=False)  # no password: everyone is the admin
    else:
        monkeypatch.setenv("IMGSEARCH_ADMIN_PASSWORD", PASSWORD)
    at = start()
    message = " ".join(texts(at.error))
    assert (str(blocker) in message) is admin, message
    assert bool(re.search(r"error id [0-9a-f]{8}", message)) is not admin, message


def test_server_paths_of_an_item_are_shown_only_to_the_admin(filled_store, password):
    at = submit_query(start(), "red circle")
    first = hit_ids(at)[0]

    def detail_fields() -> set[str]:
        next(b for b in at.button if b.key == f"ts_detail_{first}").click()
        run(at)
        return set(at.dataframe[0].value["field"])

    visitor = detail_fields()
    assert "file_name" in visitor and not visitor & {"source", "source_path"}
    unlock_admin(at)
    submit_query(go(at, TEXT_PAGE), "red circle")
    assert {"source", "source_path"} <= detail_fields()


# ----- password attempts ---------------------------------------------------------------------------
def test_each_failure_waits_longer_up_to_a_cap():
    delays = [access.failure_delay(n) for n in range(1, 12)]
    assert access.failure_delay(0) == 0.0 and delays[0] > 0
    assert all(later > earlier for earlier, later in zip(delays, delays[1:]) if earlier < access.MAX_DELAY_SECONDS)
    assert max(delays) == access.MAX_DELAY_SECONDS
    free = access.PROCESS_FREE_FAILURES
    assert access.failure_delay(0, free) == 0.0  # a few failures across the process cost nothing extra
    assert access.failure_delay(1, free + 4) > access.failure_delay(1, 0)  # new sessions do not reset it


def test_the_process_counts_failures_within_its_window():
    failures = access.FailureLog(window_seconds=60)
    assert [failures.record(now) for now in (0, 10, 20)] == [1, 2, 3]
    assert failures.record(75) == 2  # the failures at 0 and 10 s left the window


def test_wrong_passwords_are_counted_and_logged_without_the_password(filled_store, password, caplog):
    caplog.set_level(logging.WARNING, logger="imgsearch.app.admin")
    at = start(ADMIN_PAGE)
    for guess in ("guess-one", "guess-two"):
        at.text_input(key="admin_login_password_input").set_value(guess)
        at.button(key="FormSubmitter:admin_login-Unlock").click()
        run(at)
        assert "Wrong password." in texts(at.error)
    assert at.session_state["admin_failures"] == 2
    logged = [r.getMessage() for r in caplog.records if r.name == "imgsearch.app.admin"]
    assert len(logged) == 2 and "failure 1 of this session" in logged[0] and "failure 2 of this session" in logged[1]
    assert "guess-one" not in caplog.text and "guess-two" not in caplog.text
    unlock_admin(at)
    assert at.tabs


# ----- the Delete selection belongs to one collection ---------------------------------------------
def test_the_delete_selection_is_dropped_when_the_collection_changes(filled_store, tiny_embedder, image_folder):
    fill(filled_store, tiny_embedder, image_folder, name="copy")  # the same pictures: the same ids
    at = start(ADMIN_PAGE)
    first = at.sidebar.selectbox(key="collection").value
    other = next(n for n in ("copy", "photos") if n != first)
    box = next(c for c in at.checkbox if c.key.startswith("adm_sel_"))
    box.check()
    run(at)
    assert at.button(key="adm_delete_items").label == "Delete 1 selected"
    for name in (other, first):
        at.sidebar.selectbox(key="collection").set_value(name)
        run(at)
        assert at.button(key="adm_delete_items").label == "Delete 0 selected"
        assert at.button(key="adm_delete_items").disabled
        assert not any(c.value for c in at.checkbox if c.key.startswith("adm_sel_"))
    store = open_store()
    assert store.open("photos").count() == store.open("copy").count() == 30


# ----- the judgements export ------------------------------------------------------------------------
def test_the_judgements_export_neutralises_formulas(filled_store, downloads):
    from imgsearch_core.evaluation.judgements import JudgementStore

    item = filled_store.open("photos").all_items()[0]
    judgements = JudgementStore(filled_store.root)
    dangerous = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"]
    for query in dangerous:
        judgements.mark("photos", query, item.id, "right")
    start(EVALUATE_PAGE)
    [data] = [d for name, _, d in downloads if name == "photos-judgements.csv"]
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert sorted(r["query"] for r in rows) == sorted("'" + q for q in dangerous)
    assert {r["relevant"] for r in rows} == {item.id}
