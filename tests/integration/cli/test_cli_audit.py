"""`audit` on the command line: one JSON document, the text listing, the stored scores a --where finds, and bad
input as one line on stderr with exit code 2. In-process (cli.main.main), on a store of the tiny model."""
from __future__ import annotations

import json

import pytest

from imgsearch_core.cli.main import main
from tests.helpers import write_images

CAPTIONED, UNCAPTIONED = 12, 2


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, tiny_embedder):
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    root = tmp_path_factory.mktemp("audit-cli")
    write_images(root / "photos", CAPTIONED)
    write_images(root / "photos", UNCAPTIONED, start=CAPTIONED, sidecars=False)
    store = Store(Settings.from_env(store_dir=root / "store"))
    items, problems = collect(root / "photos")
    assert ingest(store, "pics", tiny_embedder, items, problems=problems).added == CAPTIONED + UNCAPTIONED
    return str(root / "store")


def test_audit_json_lists_the_most_suspicious_and_stores_scores_a_filter_finds(store_dir, capsys):
    assert main(["audit", "--collection", "pics", "--top", "3", "--json", "--store", store_dir]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["collection"], document["scored"], document["uncaptioned"]) == ("pics", CAPTIONED, UNCAPTIONED)
    assert len(document["top"]) == 3 and all(set(s) == {"id", "file_name", "caption", "score", "rank"} for s in document["top"])
    scores = [s["score"] for s in document["top"]]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)

    where = f"caption_suspicion >= {scores[-1]}"
    assert main(["search", "harbour", "--mode", "vector", "--k", "50", "--where", where, "--json", "--store", store_dir]) == 0
    found = {hit["id"] for hit in json.loads(capsys.readouterr().out)["hits"]}
    assert {s["id"] for s in document["top"]} <= found and len(found) < CAPTIONED + UNCAPTIONED


def test_audit_text_lists_file_names_and_captions(store_dir, capsys):
    assert main(["audit", "--top", "2", "--store", store_dir]) == 0  # the only collection is chosen
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{CAPTIONED} captions audited ({UNCAPTIONED} pictures without a caption")
    assert len(lines) == 4 and all(".png" in line for line in lines[2:])


@pytest.mark.parametrize("args, message", [
    (["--collection", "nope"], "error: No collection named 'nope'"),
    (["--collection", "pics", "--top", "0"], "error: --top must be at least 1"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(store_dir, capsys, args, message):
    assert main(["audit", *args, "--json", "--store", store_dir]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message) and captured.err.count("\n") == 1
