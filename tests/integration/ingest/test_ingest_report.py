"""Ingest reports on a real store: "already stored" names what a file duplicated, a run that embedded
nothing has no rate, a problem's text does not repeat the file name (it has its own column)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from imgsearch_core.ingest.pipeline import collect, ingest
from tests.helpers import image_bytes, write_images


def mixed_folder(root: Path) -> Path:
    """Three images, a copy of the first under another name, and a broken PNG."""
    folder = root / "mixed"
    write_images(folder, 3, sidecars=False)
    (folder / "zz_copy.png").write_bytes(image_bytes(0))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder


def test_duplicates_are_named_and_a_noop_reingest_has_no_rate(store, tiny_embedder, tmp_path):
    folder = mixed_folder(tmp_path)
    items, problems = collect(folder)
    first = ingest(store, "mixed", tiny_embedder, items, problems=problems)
    assert (first.added, first.already_stored) == (3, 1)
    [dup] = first.duplicates
    original = next(i for i in store.open("mixed").all_items() if i.metadata["file_name"] == "img_0000.png")
    assert (dup.name, dup.stored_as, dup.item_id) == ("zz_copy.png", "img_0000.png", original.id)
    assert dup.matched == f"img_0000.png (id {original.id[:12]})"
    assert first.rate is not None and f"({first.rate:.1f} images/s)" in first.summary()

    items, problems = collect(folder)
    again = ingest(store, "mixed", tiny_embedder, items, problems=problems)
    assert (again.added, again.already_stored) == (0, 4)
    assert sorted((d.name, d.stored_as) for d in again.duplicates) == [
        ("img_0000.png", "img_0000.png"), ("img_0001.png", "img_0001.png"), ("img_0002.png", "img_0002.png"),
        ("zz_copy.png", "img_0000.png")]
    assert again.rate is None and again.to_dict()["rate"] is None
    assert "images/s" not in again.summary() and again.summary().startswith("0 added, 4 already stored, 1 problems")


def test_a_problem_reason_does_not_repeat_the_file_name(store, tiny_embedder, tmp_path):
    items, problems = collect(mixed_folder(tmp_path))
    report = ingest(store, "mixed", tiny_embedder, items, problems=problems)
    [problem] = report.problems
    assert problem.name == "broken.png" and problem.reason and "broken.png" not in problem.reason


def test_cli_names_the_duplicate_and_leaves_out_the_rate_of_a_noop_run(tmp_path, tiny_model_dir):
    folder = mixed_folder(tmp_path)
    command = [sys.executable, "-m", "imgsearch_core", "ingest", str(folder), "--collection", "mixed",
               "--model", str(tiny_model_dir), "--store", str(tmp_path / "store")]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "HF_HUB_OFFLINE": "1"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("3 added, 1 already stored, 1 problems in ") and "images/s)" in lines[0]
    assert any(line.startswith("  zz_copy.png: already stored as img_0000.png (id ") for line in lines), lines
    [broken] = [line for line in lines if line.startswith("  broken.png: ")]
    assert broken.count("broken.png") == 1
    again = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=300)
    report = json.loads(again.stdout)
    assert report["added"] == 0 and report["rate"] is None
    assert {"name": "zz_copy.png", "stored_as": "img_0000.png"}.items() <= next(
        d for d in report["duplicates"] if d["name"] == "zz_copy.png").items()

