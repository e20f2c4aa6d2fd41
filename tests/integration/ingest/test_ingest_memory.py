"""Ingest memory is bounded by a batch of renditions, never by full-resolution frames.

Six 49-megapixel PNG scans (smooth gradients: 0.6 MB files, 147 MB each once decoded) are ingested
with the bundled model in a fresh process, and the growth of its peak RSS (ru_maxrss) over the same
process after loading the model, the store and one warm-up ingest is asserted. Measured on 2 cores:
the pipeline before this bound (every frame of a batch kept at full resolution until it was
embedded, a second full decode for the media copy) grew by 2,317 MB (peak 2,885 MB) and fails; the
current one grows by about 150 MB (peak about 580 MB). The bound allows two full frames in flight
(FrameBudget) on any number of cores, plus the batch of renditions, with room to spare.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SIDE = 7000  # 49 MP
N_SCANS = 6
GROWTH_LIMIT_MB = 600

SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from imgsearch_core.config import Settings
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    scans, warm, store_dir = (Path(p) for p in sys.argv[1:4])
    embedder = Embedder("imgsearch-mini")
    store = Store(Settings.from_env(store_dir=store_dir))
    items, problems = collect(warm)
    ingest(store, "warm", embedder, items, problems=problems)  # imports, Chroma, BM25 and torch warmed up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    items, problems = collect(scans)
    report = ingest(store, "scans", embedder, items, problems=problems)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_mb": before / 1024, "peak_mb": peak / 1024, "report": report.to_dict()}))
""")


def gradient_scan(path: Path, seed: int) -> None:
    """A 49 MP RGB scan of smooth gradients (different per seed) that compresses to under 1 MB."""
    ramp = np.linspace(0, 255, SIDE, dtype=np.float32)
    rows, cols = np.broadcast_to(ramp[:, None], (SIDE, SIDE)), np.broadcast_to(ramp[None, :], (SIDE, SIDE))
    red = (rows if seed % 2 == 0 else cols).astype(np.uint8)
    green = (255 - cols if seed % 3 == 0 else rows).astype(np.uint8)
    blue = np.full((SIDE, SIDE), 40 * seed % 256, dtype=np.uint8)
    Image.merge("RGB", [Image.fromarray(c) for c in (red, green, blue)]).save(path, "PNG", compress_level=1)


def test_ingest_of_49_megapixel_scans_stays_within_a_batch_of_renditions(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for seed in range(N_SCANS):
        gradient_scan(scans / f"scan_{seed}.png", seed)
    warm = tmp_path / "warm"
    warm.mkdir()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(warm / "warm.png")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(scans), str(warm), str(tmp_path / "store")],
                         cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    report = result["report"]
    assert report["added"] == N_SCANS and report["problems"] == [], report
    growth = result["peak_mb"] - result["before_mb"]
    print(f"peak RSS {result['peak_mb']:.0f} MB, {growth:.0f} MB over the warmed-up process")
    assert growth < GROWTH_LIMIT_MB, result
