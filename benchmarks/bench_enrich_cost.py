"""What reading the text in pictures and writing machine captions cost at ingest (issue 22 item 5).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_enrich_cost.py [--n 48] [--scans 3] [--repeat 2]

Each configuration is one real command-line ingest in its own process (`python -m imgsearch_core ingest DIR
--model imgsearch-mini [--ocr] [--machine-captions]` into a fresh store), so the figures hold everything an
editor waits for (decoding, embedding, the engines, the store writes) and the process's peak RSS is its own:
  photos   `--n` 800 x 600 JPEGs with signs (tests/ocr_fixtures.py: rendered words on photo-like backgrounds);
  scans    `--scans` 7000 x 7000 (49-MP) PNG scans with three words each.
The configurations run interleaved `--repeat` times (plain, OCR, captions, both), and the table gives the median
rate and its ratio to plain ingest measured in the same run, with the CPU flags.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import ImageDraw  # noqa: E402

from tests.ocr_fixtures import big_picture, fixture  # noqa: E402 - the repository's own fixtures

CONFIGS = {"plain": [], "ocr": ["--ocr"], "captions": ["--machine-captions"], "both": ["--ocr", "--machine-captions"]}
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")


def cpu_flags() -> list[str]:
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return [f for f in CPU_FLAGS if f in flags]


def write_photos(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        fixture(i).image.save(folder / f"photo-{i:03d}.jpg", "JPEG", quality=88)
    return folder


def write_scans(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        scan = big_picture().image
        ImageDraw.Draw(scan).rectangle((100 + 300 * i, 6500, 300 + 300 * i, 6700), fill=(40, 40, 40))  # no duplicates
        scan.save(folder / f"scan-{i}.png", compress_level=1)
    return folder


def ingest(folder: Path, flags: list[str], work: Path) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one ingest of `folder` in a fresh process and store."""
    store = Path(tempfile.mkdtemp(dir=work)) / "store"
    command = [sys.executable, "-m", "imgsearch_core", "ingest", str(folder), "--collection", "bench",
               "--model", "imgsearch-mini", "--json", "--store", str(store), *flags]
    script = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
              "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "print(done.returncode, time.perf_counter() - t, "
              "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(done.stderr[-2000:], file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script, *command], capture_output=True, text=True, env=env, cwd=ROOT)
    code, seconds, rss_kib = done.stdout.split()
    if code != "0":
        raise SystemExit(f"ingest {' '.join(flags)} failed: {done.stderr}")
    return float(seconds), int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--scans", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    sets = {"photos": (write_photos(work / "photos", args.n), args.n),
            "scans": (write_scans(work / "scans", args.scans), args.scans)}
    print(f"CPU flags: {' '.join(cpu_flags())}; {os.cpu_count()} cores; load {os.getloadavg()}")
    for name, (folder, count) in sets.items():
        runs: dict[str, list[tuple[float, float]]] = {c: [] for c in CONFIGS}
        for _ in range(args.repeat):
            for config, flags in CONFIGS.items():
                runs[config].append(ingest(folder, flags, work))
        plain = statistics.median(s for s, _ in runs["plain"])
        print(f"\n{name}: {count} pictures, median of {args.repeat}")
        print("| ingest | seconds | pictures/s | x plain time | peak RSS MiB |\n|---|---:|---:|---:|---:|")
        for config, values in runs.items():
            seconds = statistics.median(s for s, _ in values)
            print(f"| {config} | {seconds:.1f} | {count / seconds:.2f} | {seconds / plain:.2f} | "
                  f"{max(r for _, r in values):.0f} |")
    print(f"\nload at the end {os.getloadavg()}; {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
