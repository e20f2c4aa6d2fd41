"""The multilingual text tower on torch vs ONNX Runtime: export cost, disk size, query latency, process start.

Run:
  PYTHONPATH=. .venv/bin/python benchmarks/bench_tower.py [--work DIR] [--rounds 40] [--processes 5] [--fresh]

Builds (once, under --work) the tower's real architecture with random weights (tests/multilingual_fixtures.py:
multilingual DistilBERT 119,547 x 768, 6 layers, mean pooling, Dense 768 -> 512), exports it (--fresh: again),
and prints from the export's manifest the export, quantisation and check times and the sizes on disk. Then,
in one process, single-query latency of torch, ONNX fp32 and (if the export kept it) int8, interleaved over
--rounds rounds of varied multilingual queries (median, p95); and the wall time of a fresh process that loads
the tower on each backend and embeds one query, interleaved over --processes rounds. `uptime` before and after:
other processes share the machine. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["ein rotes Boot im Hafen bei Nacht", "un bateau rouge dans le port la nuit", "夜晚港口里的一艘红色小船",
           "a red boat in the harbour at night", "una barca roja en el puerto de noche", "東京の夜の港",
           "two children playing football in a park near the old harbour"]
PROBE = """
import sys
from imgsearch_core.models.text_towers import load_text_tower
load_text_tower(sys.argv[1], sys.argv[2]).embed_texts(["ein rotes Boot im Hafen bei Nacht"])
"""


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def figures(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   (n={len(ordered)})"


def tower_dir(work: Path, fresh: bool) -> Path:
    from tests.multilingual_fixtures import build_multilingual_tower

    directory = work / "multilingual"
    if not (directory / "modules.json").is_file():
        build_multilingual_tower(directory)
    if fresh:
        shutil.rmtree(directory / ".onnx", ignore_errors=True)
    return directory


def report_export(directory: Path) -> None:
    from imgsearch_core.models.text_towers import load_text_tower

    started = time.perf_counter()
    export = load_text_tower(str(directory), "onnx").export
    print(f"export found or made in {time.perf_counter() - started:.1f} s (wall, this process): {export.directory}")
    manifest = export.manifest
    print("manifest:", json.dumps({key: manifest.get(key) for key in (
        "export_seconds", "quantize_seconds", "check", "int8", "bytes")}, indent=1))
    sizes = {path.relative_to(export.directory).as_posix(): path.stat().st_size
             for path in export.directory.rglob("*") if path.is_file()}
    print(f"on disk: {sum(sizes.values()) / 1e6:.0f} MB in the export folder (tower weights "
          f"{(directory / 'model.safetensors').stat().st_size / 1e6:.0f} MB)")
    for name, size in sorted(sizes.items()):
        print(f"  {size / 1e6:9.1f} MB  {name}")


def query_latency(directory: Path, rounds: int) -> None:
    from imgsearch_core.models.text_towers import load_text_tower

    towers = {"torch": load_text_tower(str(directory), "torch"), "onnx": load_text_tower(str(directory), "onnx")}
    int8 = load_text_tower(str(directory), "onnx-int8")
    if int8.backend == "onnx-int8":
        towers["onnx-int8"] = int8
    times: dict[str, list[float]] = {name: [] for name in towers}
    for tower in towers.values():
        tower.embed_texts(QUERIES[:1])  # warm: sessions made, first-run allocations done
    for round_ in range(rounds):
        query = [QUERIES[round_ % len(QUERIES)]]
        for name, tower in towers.items():
            started = time.perf_counter()
            tower.embed_texts(query)
            times[name].append(time.perf_counter() - started)
    print("one query, in-process, interleaved:")
    for name, spent in times.items():
        print(f"  {name:10} {figures(spent)}")
    print(f"  torch / onnx median: {statistics.median(times['torch']) / statistics.median(times['onnx']):.2f}x")


def process_start(directory: Path, rounds: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("IMGSEARCH_BACKEND", None)
    times: dict[str, list[float]] = {"torch": [], "onnx": []}
    for _ in range(rounds):
        for backend, spent in times.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", PROBE, str(directory), backend], check=True, env=env,
                           capture_output=True)
            spent.append(time.perf_counter() - started)
    print("fresh process: import, load the tower, embed one query (wall):")
    for backend, spent in times.items():
        print(f"  {backend:10} {figures(spent)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/imgsearch-bench-tower"))
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="export again (time the export)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(uptime())
    directory = tower_dir(args.work, args.fresh)
    report_export(directory)
    print(uptime())
    query_latency(directory, args.rounds)
    print(uptime())
    process_start(directory, args.processes)
    print(uptime())


if __name__ == "__main__":
    main()
