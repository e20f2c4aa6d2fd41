"""An editor's round trip in a real browser: search the archive, pick a credit in the filter, download
the CSV export and find exactly the filtered hits in it, in the order shown; and the archive check showing
who signed an upload (its Content Credentials), on the same server."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from playwright.sync_api import Page

from imgsearch_core.display.filenames import export_stem
from tests import c2pa_fixtures as fx
from tests.e2e.conftest import Server
from tests.e2e.test_browser import assert_no_errors, hit_ids, loaded_images, main, save_full_page, wait_idle, wait_summary
from tests.e2e.test_browser import go_to, wait_for

QUERY = "harbour"
CREDIT = "Reuters"
REUTERS = ["harbour.jpg", "harbour_large.jpg", "ship.jpg", "street.jpg"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_filter_by_credit_and_download_the_csv(archive_server: Server, page: Page, screenshots) -> None:
    server = archive_server
    page.goto(server.url)
    box = page.locator(".st-key-ts_q input")
    box.wait_for(timeout=60_000)
    box.fill(QUERY)
    box.press("Enter")
    line = wait_summary(server, page, f"results for “{QUERY}”")
    assert line.startswith("9 results"), line

    page.locator(".st-key-ts_f_credit").click()  # open the multiselect and pick an option, as a person does
    page.get_by_role("option", name=f"{CREDIT} (4)").click()
    page.keyboard.press("Escape")
    line = wait_summary(server, page, f"4 results for “{QUERY}”")
    assert "search took" in line, f"a new filter fetches new candidates: {line!r}"
    shown = hit_ids(page, "ts")
    assert len(shown) == 4 and loaded_images(server, page, 4) == 4
    assert_no_errors(server, page, "Text search with a credit filter")
    save_full_page(page, screenshots / "archive_filtered.png")

    with page.expect_download(timeout=30_000) as started:
        main(page).locator(".st-key-ts_export_csv").get_by_role("button", name="CSV").first.click()
    download = started.value
    assert download.suggested_filename == f"{export_stem('photos', QUERY, date.today())}.csv"  # collection, query, day
    rows = list(csv.DictReader(io.StringIO(download.path().read_bytes().decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == shown
    assert sorted(r["file_name"] for r in rows) == REUTERS
    assert {r["credit"] for r in rows} == {CREDIT}
    wait_idle(server, page)


def test_the_archive_check_shows_who_signed_an_upload(archive_server: Server, page: Page, screenshots) -> None:
    server = archive_server
    page.goto(server.url)
    go_to(server, page, "Image search")
    page.locator('.st-key-is_upload input[type="file"]').set_input_files(
        files=[{"name": "signed.jpg", "mimeType": "image/jpeg", "buffer": fx.signed_jpeg(31)}])
    wait_summary(server, page, "similar images")
    main(page).locator(".st-key-is_provenance").get_by_role("button").first.click()
    badge = main(page).get_by_text("Content Credentials intact, signer not on a trust list here")
    wait_for(server, badge, "the upload's Content Credentials")
    facts = main(page).get_by_test_id("stMarkdownContainer").filter(has_text="Signed by:").first.inner_text()
    assert f"Signed by: {fx.SIGNER_NAME} ({fx.ISSUER_ORG})" in facts and "c2pa.edited" in facts
    assert_no_errors(server, page, "The archive check of a signed upload")
    save_full_page(page, screenshots / "provenance_credentials.png")
