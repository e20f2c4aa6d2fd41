"""The archive commands as scripts use them: ingest without metadata, reread, provenance."""
from __future__ import annotations

import io
import json

from PIL import Image

from tests.integration.cli.test_cli import cli
from tests.metadata_fixtures import editorial_photo, exiftool_write, picture


def _pictures(folder):
    editorial_photo(folder / "fire.jpg", 1, caption="Fire at a warehouse near the docks", credit="Reuters")
    exiftool_write(picture(folder / "rain.png", 2, size=(320, 240)), "-XMP-dc:Description=Rainy morning in Hamburg")
    picture(folder / "plain.jpg", 3, size=(320, 240))
    (folder / "plain.txt").write_text("Crowd at the station")  # three captions: BM25 idf of a one-document word > 0


def test_ingest_without_metadata_then_reread_then_search(tmp_path, tiny_model_dir):
    folder, store = tmp_path / "in", tmp_path / "store"
    _pictures(folder)
    done = cli("ingest", str(folder), "--collection", "news", "--model", str(tiny_model_dir),
               "--no-embedded-metadata", "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 3
    found = cli("search", "warehouse", "--mode", "text", "--json", store=store)
    assert json.loads(found.stdout)["hits"] == []

    done = cli("reread", str(folder), "--json", store=store)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["updated"], report["unchanged"], report["not_stored"]) == (2, 1, 0)
    hits = json.loads(cli("search", "warehouse", "--mode", "text", "--json", store=store).stdout)["hits"]
    assert [h["metadata"]["file_name"] for h in hits] == ["fire.jpg"]
    assert hits[0]["metadata"]["credit"] == "Reuters" and hits[0]["metadata"]["caption_from"] == "iptc"
    filtered = cli("search", "Hamburg", "--mode", "text", "--where", "credit = Reuters", "--json", store=store)
    assert json.loads(filtered.stdout)["hits"] == []  # the Hamburg picture has no Reuters credit

    missing = cli("reread", str(tmp_path / "nowhere"), store=store)
    assert missing.returncode == 2 and "not a folder" in missing.stderr


def test_provenance_finds_exact_and_resized_copies_not_others(tmp_path, tiny_model_dir):
    folder, store = tmp_path / "in", tmp_path / "store"
    _pictures(folder)
    assert cli("ingest", str(folder), "--collection", "news", "--model", str(tiny_model_dir), store=store).returncode == 0

    exact = json.loads(cli("provenance", str(folder / "fire.jpg"), "--json", store=store).stdout)
    assert exact["exact"]["file_name"] == "fire.jpg" and exact["exact"]["credit"] == "Reuters"

    half = Image.open(folder / "rain.png").convert("RGB")
    half = half.resize((half.width // 2, half.height // 2))
    copy = tmp_path / "copy.jpg"
    buffer = io.BytesIO()
    half.save(buffer, "JPEG", quality=70)
    copy.write_bytes(buffer.getvalue())
    near = json.loads(cli("provenance", str(copy), "--json", store=store).stdout)
    assert near["exact"] is None and [m["file_name"] for m in near["near"]] == ["rain.png"]
    text = cli("provenance", str(copy), store=store).stdout
    assert "rain.png" in text and "near" in text

    other = picture(tmp_path / "other.png", 40, size=(320, 240))
    answer = json.loads(cli("provenance", str(other), "--json", store=store).stdout)
    assert answer["exact"] is None and answer["near"] == []
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    failed = cli("provenance", str(bad), store=store)
    assert failed.returncode == 2 and failed.stderr.startswith("error:")
