"""The command line as scripts use it: real subprocesses, JSON output, exit codes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_images

HIT_FIELDS = {"rank", "id", "caption", "media_path", "score", "bm25", "bm25_norm", "cosine", "cosine_norm", "metadata"}


def cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    return subprocess.run([sys.executable, "-m", "imgsearch_core", *args, "--store", str(store)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("cli")
    write_images(root / "photos", 15)
    store = root / "store"
    done = cli("ingest", str(root / "photos"), "--collection", "pics", "--model", str(tiny_model_dir), "--json", store=store)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == 15 and report["problems"] == []
    return store, root


def test_search_json_carries_every_score_part(filled_store):
    store, _ = filled_store
    for mode in ("text", "vector", "hybrid"):
        done = cli("search", "red harbour", "--mode", mode, "--alpha", "0.4", "--k", "5", "--json", store=store)
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert document["mode"] == mode and document["collection"] == "pics"
        assert 0 < len(document["hits"]) <= 5
        assert all(HIT_FIELDS <= set(hit) for hit in document["hits"])


def test_similar_by_file_and_by_id(filled_store):
    store, root = filled_store
    by_file = json.loads(cli("similar", str(root / "photos" / "img_0002.png"), "--k", "3", "--json", store=store).stdout)
    by_id = json.loads(cli("similar", "--id", by_file["hits"][0]["id"], "--k", "3", "--json", store=store).stdout)
    assert len(by_file["hits"]) == 3 and by_file["hits"][0]["id"] not in [h["id"] for h in by_id["hits"]]


def test_stats_delete_and_reset(filled_store, tmp_path):
    store, root = filled_store
    stats = json.loads(cli("stats", "--json", store=store).stdout)["collections"]
    assert stats[0]["name"] == "pics" and stats[0]["items"] == 15 and stats[0]["dim"] == 16
    assert stats[0]["captioned_share"] == 1.0 and stats[0]["disk_bytes"] > 0
    victim = json.loads(cli("search", "red", "--mode", "vector", "--k", "1", "--json", store=store).stdout)["hits"][0]["id"]
    deleted = json.loads(cli("delete", victim, "--collection", "pics", "--json", store=store).stdout)
    assert deleted["deleted"] == 1
    assert json.loads(cli("stats", "--json", store=store).stdout)["collections"][0]["items"] == 14


@pytest.mark.parametrize(
    "args, message",
    [
        (("search", "", "--json"), "Enter a search query"),
        (("search", "red", "--alpha", "2"), "alpha"),
        (("search", "red", "--collection", "nope"), "No collection named 'nope'"),
        (("search", "red", "--where", "{bad"), "--where: The filter is not valid JSON"),
        (("search", "red", "--where", "colour = red"), "--where: Unknown field 'colour'"),
        (("search", "red", "--export", "hits.xlsx"), "--export: Export file 'hits.xlsx' must end in .csv or .json"),
        (("similar", "--id", "abc", "--export", "hits"), "must end in .csv or .json"),
        (("similar", "--id", "abc"), "No item with id"),
        (("similar", "/no/such.png"), "Cannot read"),
        (("ingest", "/no/such/folder"), "not a folder"),
        (("ingest", "{photos}", "--collection", "new1", "--model", "clip-ViT-B-32"), "imgsearch-mini"),
        (("reset",), "--yes"),
        (("delete", "--all", "--collection", "pics"), "--yes"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(filled_store, args, message):
    store, root = filled_store
    done = cli(*[a.replace("{photos}", str(root / "photos")) for a in args], store=store)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_reset_empties_the_store(tmp_path, tiny_model_dir):
    store = tmp_path / "store"
    write_images(tmp_path / "p", 2)
    assert cli("ingest", str(tmp_path / "p"), "--model", str(tiny_model_dir), store=store).returncode == 0
    assert cli("reset", "--yes", store=store).returncode == 0
    assert json.loads(cli("stats", "--json", store=store).stdout)["collections"] == []
