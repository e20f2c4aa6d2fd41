"""A report's reason comes from the error itself without the file name (the report shows the name in its own
column), while the error's one-line message keeps the name for the command line and error boxes. No special
case cuts a name off a reason afterwards."""
from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest

from imgsearch_core.config import Settings
from imgsearch_core.ingest.pipeline import Problem, collect, ingest
from imgsearch_core.media.images import ImageError, decode_image
from imgsearch_core.media.limits import Limit
from tests.helpers import image_bytes


def test_an_image_error_has_its_reason_without_the_name_and_its_message_with_it():
    with pytest.raises(ImageError) as caught:
        decode_image(b"%PDF-1.4 a scanned page", name="scans/page.png")
    assert caught.value.name == "scans/page.png"
    assert caught.value.reason == "file is a PDF document, not an image"
    assert str(caught.value) == "scans/page.png: file is a PDF document, not an image"


def test_a_limit_error_too():
    error = Limit("max_sidecar_bytes", "sidecar", 10).error("a.txt", 20)
    assert error.reason == "20 B, over the sidecar limit of 10 B (IMGSEARCH_MAX_SIDECAR_BYTES)"
    assert str(error) == f"a.txt: {error.reason}"


def test_a_reason_is_kept_as_given():
    assert Problem("a.png", "a.png: stays as written").reason == "a.png: stays as written"


def test_every_problem_of_an_ingest_leaves_the_name_to_its_column(store, tiny_embedder, tmp_path):
    """A broken image, an entry over the file limit and a sidecar over its limit, from a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good.png", image_bytes(1))
        archive.writestr("good.txt", "x" * 400)  # over the sidecar limit below
        archive.writestr("broken.png", b"\x89PNG\r\n\x1a\n broken")
        archive.writestr("huge.png", image_bytes(2, size=(400, 400)))
    path = tmp_path / "photos.zip"
    path.write_bytes(buffer.getvalue())
    settings = replace(Settings(), max_sidecar_bytes=100, max_file_bytes=len(image_bytes(1)) + 100)
    items, problems = collect(path, settings=settings)
    report = ingest(store, "zipped", tiny_embedder, items, problems=problems)
    reasons = {p.name: p.reason for p in report.problems}
    assert set(reasons) == {"good.txt", "broken.png", "huge.png"}, reasons
    for name, reason in reasons.items():
        assert name not in reason and not reason.startswith(":"), (name, reason)
    assert reasons["good.txt"].startswith("400 B, over the sidecar limit") and reasons["good.txt"].endswith("(caption not used)")
    assert "over the file limit" in reasons["huge.png"]
    assert reasons["broken.png"] == "PNG header is damaged or truncated"
