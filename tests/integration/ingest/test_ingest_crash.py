"""An ingest process killed mid-run, then run again: every item stored exactly once, nothing lost."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from imgsearch_core.config import Settings
from imgsearch_core.store.store import Store
from tests.helpers import write_images

N_IMAGES = 120


def start_ingest(folder: Path, store_dir: Path, model: Path) -> subprocess.Popen:
    env = {**os.environ, "IMGSEARCH_BATCH_SIZE": "8", "PYTHONPATH": str(Path.cwd())}
    command = [sys.executable, "-m", "imgsearch_core", "ingest", str(folder), "--store", str(store_dir),
               "--collection", "crash", "--model", str(model), "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored_count(store_dir: Path) -> int:
    media = store_dir / "media" / "crash"
    return sum(1 for _ in media.rglob("*.png")) if media.exists() else 0


def test_killed_ingest_resumes_without_duplicates_or_losses(tmp_path, tiny_model_dir):
    folder = tmp_path / "photos"
    write_images(folder, N_IMAGES)
    store_dir = tmp_path / "store"
    proc = start_ingest(folder, store_dir, tiny_model_dir)
    deadline = time.time() + 120
    while stored_count(store_dir) < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, f"ingest ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = stored_count(store_dir)
    assert 0 < partial < N_IMAGES

    rerun = start_ingest(folder, store_dir, tiny_model_dir)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err

    collection = Store(Settings.from_env(store_dir=store_dir)).open("crash")
    ids = [item.id for item in collection.page(limit=1000)]
    assert len(ids) == len(set(ids)) == N_IMAGES == collection.count()
    assert sorted(collection.bm25().ids) == sorted(ids)
    assert all(item.media_path.is_file() for item in collection.page(limit=1000))
    media_ids = {p.stem for p in (store_dir / "media" / "crash").rglob("*") if p.is_file()}
    assert media_ids == set(ids)  # no orphan media from the killed batch
