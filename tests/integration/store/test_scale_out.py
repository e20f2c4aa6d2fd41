"""Scale-out on a real `chroma run`: two ingest processes write overlapping folders at once while two
replica processes (the app's store and search code, each with its own BM25 directory, one shared media
directory) search during and after. Every image is stored once and both replicas see every item with
its media; `ingest --workers 2` splits one source into two processes and names the duplicates as one
process does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from imgsearch_core.ingest.sharding import shard_of
from tests.helpers import image_bytes, write_images
from tests.integration.store.test_multiprocess_consistency import ROOT, Worker, server_port  # noqa: F401 - fixture

QUERIES = [["red"], ["harbour", "city"], ["portrait", "street"]]


def server_env(port: int, tmp: Path, replica: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    return {**env, "PYTHONPATH": str(ROOT), "IMGSEARCH_CHROMA_HOST": "127.0.0.1", "IMGSEARCH_CHROMA_PORT": str(port),
            "IMGSEARCH_STORE": str(tmp / replica), "IMGSEARCH_MEDIA_DIR": str(tmp / "shared-media")}


def ingest(port, tmp, folder, model_dir, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "imgsearch_core", "ingest", str(folder), "--collection", "shared", "--model",
         str(model_dir), "--json", *extra],
        cwd=ROOT, env=server_env(port, tmp, f"writer-{folder.name}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def check_during_ingest(reply: dict, before: set[str]) -> set[str]:
    """One replica's answer while the writers run: every item it holds is held once and has its media, its
    BM25 index holds nothing Chroma does not, and nothing it held before is gone (the writers only add)."""
    stored = set(reply["stored"])
    assert len(stored) == len(reply["stored"]) <= 90, reply["stored"]
    assert reply["missing_media"] == []  # media are written before Chroma learns of an item
    assert set(reply["ids"]) <= stored, set(reply["ids"]) - stored
    assert before <= stored, before - stored
    return stored


def test_two_writers_and_two_replicas_on_one_server(server_port, tmp_path, tiny_model_dir):  # noqa: F811
    write_images(tmp_path / "a", 60, start=0)
    write_images(tmp_path / "b", 60, start=30)  # images 30-59 are in both folders (same bytes, other names)
    replicas = [Worker(server_env(server_port, tmp_path, f"replica-{i}")) for i in (1, 2)]
    for replica in replicas:
        replica.wait_ready()
    started = time.perf_counter()
    writers = [ingest(server_port, tmp_path, tmp_path / name, tiny_model_dir) for name in ("a", "b")]
    held: list[set[str]] = [set() for _ in replicas]  # what each replica held at its last check
    checks = checks_with_items = 0
    while any(w.poll() is None for w in writers):
        for number, replica in enumerate(replicas):
            reply = replica.send({"op": "answers", "collection": "shared", "queries": QUERIES})
            assert "error" not in reply, reply
            if reply["exists"]:
                held[number] = check_during_ingest(reply, held[number])
                checks += 1
                checks_with_items += bool(held[number])
    seconds = time.perf_counter() - started
    assert checks_with_items > 0, f"no replica saw an item while the writers ran ({checks} checks of an empty collection)"
    reports = []
    for writer in writers:
        out, err = writer.communicate()
        assert writer.returncode == 0, err
        reports.append(json.loads(out))
    assert sum(r["added"] + r["already_stored"] for r in reports) == 120, [(r["added"], r["already_stored"], r["problems"][:3]) for r in reports]
    assert sum(r["added"] for r in reports) >= 90  # concurrent writers may both write one image: Chroma keeps it once
    for replica, last in zip(replicas, held):
        reply = replica.send({"op": "answers", "collection": "shared", "queries": QUERIES})
        assert len(reply["stored"]) == 90 == len(set(reply["stored"])) and last <= set(reply["stored"])
        assert reply["missing_media"] == []
        assert reply["ids"] == reply["fresh_ids"] and reply["top"] == reply["fresh_top"]  # no unindexed item
        replica.close()
    print(f"\ntwo writers, 120 files (90 distinct) in {seconds:.1f} s; {checks} replica checks during the ingest, "
          f"{checks_with_items} of them with items")


def test_workers_split_one_source_and_shards_cover_it(server_port, tmp_path, tiny_model_dir):  # noqa: F811
    """... and report duplicates as one process does: a copy in the same shard and a copy in the other shard
    each name the stored item they matched."""
    write_images(tmp_path / "c", 40)
    names = (f"zz_copy_{i}.png" for i in range(100))
    same = next(n for n in names if shard_of(n, 2) == shard_of("img_0002.png", 2))
    other = next(n for n in names if shard_of(n, 2) != shard_of("img_0003.png", 2))
    (tmp_path / "c" / same).write_bytes(image_bytes(2))
    (tmp_path / "c" / other).write_bytes(image_bytes(3))
    done = ingest(server_port, tmp_path, tmp_path / "c", tiny_model_dir, "--workers", "2", "--collection", "split")
    out, err = done.communicate()
    assert done.returncode == 0, err
    report = json.loads(out)
    assert report["workers"] == 2 and report["failed_workers"] == [] and report["total"] == 42
    named = {d["name"]: d["stored_as"] for d in report["duplicates"]}
    cross = {k: v for k, v in named.items() if "img_0003.png" in (k, v)}
    assert named == {same: "img_0002.png", **cross}, named
    assert cross in ({other: "img_0003.png"}, {"img_0003.png": other}, {}), named  # {}: both shards wrote it at once
    assert report["already_stored"] == len(named) and report["added"] == 42 - len(named), report
    again = ingest(server_port, tmp_path, tmp_path / "c", tiny_model_dir, "--shard", "1/2", "--collection", "split")
    out, err = again.communicate()
    assert again.returncode == 0, err
    assert json.loads(out)["added"] == 0 and 0 < json.loads(out)["already_stored"] < 42
