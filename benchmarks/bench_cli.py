"""Command-line start-up: wall time of the read commands in fresh processes, with a per-phase breakdown.

Run:
  PYTHONPATH=. .venv/bin/python benchmarks/bench_cli.py [--rounds 9] [--work DIR] [--items 300] [--backend onnx]
      [--tree DIR]   (the checkout whose code is timed, e.g. a `git archive` of a commit; default this one)

Builds (once, under --work, reused by later runs) a randomly initialised CLIP of the ViT-B/32 architecture
(the compute and file sizes of `clip-ViT-B-32`) saved as a sentence-transformers model, warms its ONNX export
(cached beside the model), and ingests --items generated 640x480 pictures with captions into a store there.
Then, in interleaved rounds (every command once per round, so load changes hit all of them alike), it runs
each command in a fresh `python -m imgsearch_core` process and takes the wall time:
`--help`, `search` (text, vector, hybrid), `similar --id`, `stats`, and a bare interpreter for reference.
A phase probe (a fresh process that does what `search --mode hybrid` does, step by step through the same
public API, timing each step) gives the breakdown; the command itself builds the text tower's session while it
opens the store (imgsearch_core/cli/prefetch.py), so its wall time is below the phases' sum.
`-X importtime` of one hybrid search lists the costliest imports of the command's own process. Figures are printed (median and p95 over the rounds; with few rounds p95 is the slowest run), never
asserted; `uptime` is printed before and after, since other processes share the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT  # the code that is timed (--tree)
QUERY = "a red harbour at night"

PHASES = textwrap.dedent("""
    import json, sys, time
    marks = [("start", time.perf_counter())]
    def mark(name):
        marks.append((name, time.perf_counter()))
    store_dir, query = sys.argv[1], sys.argv[2]
    import imgsearch_core.cli.main as cli
    cli.build_parser().parse_args(["search", query, "--store", store_dir])
    mark("import __main__ + parse")
    import chromadb
    mark("import chromadb")
    from imgsearch_core.store.store import Store
    from imgsearch_core.config import Settings
    mark("import store (collection, BM25, scipy)")
    store = Store(Settings.from_env(store_dir=store_dir))
    mark("Chroma client open")
    name = store.collection_names()[0]
    collection = store.open(name)
    mark("collection open")
    import onnxruntime
    mark("import onnxruntime")
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher
    mark("import embed + search")
    embedder = Embedder(collection.model.name)
    mark("Embedder (export found; sessions made on first use)")
    searcher = Searcher(collection, embedder)
    mark("Searcher (model check, caption language)")
    from imgsearch_core.text import analysis as text_analysis
    text_analysis.analyze_one(query)
    mark("spaCy import + blank + lemmas")
    collection.bm25()
    mark("BM25 index open")
    embedder.embed_texts([query])
    mark("text tower: its session + first query")
    result = searcher.search(query, "hybrid", 0.5, 10)
    mark("search (candidates, fusion, items)")
    print(json.dumps({"phases": [(b[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])],
                      "torch": "torch" in sys.modules, "hits": len(result.hits), "backend": embedder.backend}))
""")


# ----- set-up ------------------------------------------------------------------------------------------
def build_model(work: Path) -> Path:
    """A seeded random ViT-B/32 CLIP in sentence-transformers' hub layout (built once)."""
    model_dir = work / "vit-b-32"
    if (model_dir / "config.json").is_file():
        return model_dir
    import torch
    from transformers import CLIPConfig, CLIPModel

    from imgsearch_core.models.clip_factory import clip_processor, save_clip, train_clip_tokenizer

    torch.manual_seed(1234)
    tokenizer = train_clip_tokenizer(["a photo of a red harbour at night", "a green mountain and a blue city"] * 3,
                                     vocab_size=300)
    return save_clip(CLIPModel(CLIPConfig()).eval(), clip_processor(tokenizer, 224), model_dir)


def build_store(work: Path, model_dir: Path, items: int, backend: str) -> Path:
    """A store with `items` captioned 640x480 pictures ingested through the command line (exports once)."""
    store_dir = work / "store"
    if (store_dir / "chroma").is_dir():
        return store_dir
    import numpy as np
    from PIL import Image

    photos = work / "photos"
    photos.mkdir(exist_ok=True)
    words = ["red", "green", "blue", "harbour", "mountain", "city", "night", "street", "boat", "portrait"]
    rng = np.random.default_rng(0)
    for i in range(items):
        coarse = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((640, 480), Image.Resampling.BICUBIC).save(photos / f"{i:05d}.jpg", quality=85)
        caption = " ".join(words[(i * k + k) % len(words)] for k in (1, 3, 7))
        (photos / f"{i:05d}.txt").write_text(f"a {caption}")
    start = time.perf_counter()
    run = cli(["ingest", str(photos), "--model", str(model_dir), "--json"], store_dir, backend)
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    print(f"store built (with the ONNX export when not cached) in {time.perf_counter() - start:.0f} s", flush=True)
    return store_dir


def env_for(backend: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TREE), "IMGSEARCH_BACKEND": backend, "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def cli(args: list[str], store_dir: Path, backend: str, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    command = [sys.executable, *python_flags, "-m", "imgsearch_core", *args]
    if args != ["--help"]:
        command += ["--store", str(store_dir)]
    return subprocess.run(command, cwd=TREE, env=env_for(backend), capture_output=True, text=True)


# ----- measurements ------------------------------------------------------------------------------------
def commands(store_dir: Path, backend: str) -> dict[str, list[str] | None]:
    found = cli(["search", QUERY, "--mode", "text", "--json", "--k", "1"], store_dir, backend)
    if found.returncode != 0:
        raise RuntimeError(found.stderr[-2000:])
    item = json.loads(found.stdout)["hits"][0]["id"]
    return {
        "python -c pass": None,
        "--help": ["--help"],
        "stats": ["stats"],
        "search --mode text": ["search", QUERY, "--mode", "text"],
        "search --mode vector": ["search", QUERY, "--mode", "vector"],
        "search (hybrid)": ["search", QUERY],
        "similar --id": ["similar", "--id", item],
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def time_commands(store_dir: Path, backend: str, rounds: int) -> dict[str, list[float]]:
    table = commands(store_dir, backend)
    times: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(rounds):
        for name, args in table.items():
            start = time.perf_counter()
            if args is None:
                run = subprocess.run([sys.executable, "-c", "pass"], capture_output=True)
            else:
                run = cli(args, store_dir, backend)
            times[name].append(time.perf_counter() - start)
            if run.returncode != 0:
                raise RuntimeError(f"{name}: {run.stderr[-2000:]}")
    return times


def time_phases(store_dir: Path, backend: str, rounds: int) -> tuple[dict[str, list[float]], dict]:
    phases: dict[str, list[float]] = {}
    last: dict = {}
    for _ in range(rounds):
        run = subprocess.run([sys.executable, "-c", PHASES, str(store_dir), QUERY], cwd=TREE, env=env_for(backend),
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(run.stderr[-2000:])
        last = json.loads(run.stdout.strip().splitlines()[-1])
        for name, seconds in last["phases"]:
            phases.setdefault(name, []).append(seconds)
    return phases, last


def costly_imports(store_dir: Path, backend: str, top: int) -> list[tuple[str, float, float]]:
    """(module, cumulative s, self s) of the top-level imports of one hybrid search, costliest first."""
    run = cli(["search", QUERY], store_dir, backend, python_flags=("-X", "importtime"))
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, module = line[len("import time:"):].split("|")
        if not module[1:].startswith(" "):  # top-level imports only (nested ones are indented)
            rows.append((module.strip(), int(cumulative) / 1e6, int(own) / 1e6))
    return sorted(rows, key=lambda row: -row[1])[:top]


def show(title: str, values: dict[str, list[float]]) -> None:
    print(title)
    for name, seconds in values.items():
        print(f"  {name:40s} median {statistics.median(seconds):6.3f} s   p95 {percentile(seconds, 0.95):6.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--work", type=Path, help="directory for the model and store (kept and reused)")
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--backend", default="onnx", help="IMGSEARCH_BACKEND of the timed commands (default onnx)")
    parser.add_argument("--top-imports", type=int, default=12)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose code is timed (default: this one)")
    args = parser.parse_args()
    global TREE
    TREE = args.tree.resolve()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-cli-"))
    work.mkdir(parents=True, exist_ok=True)
    model_dir = build_model(work)
    store_dir = build_store(work, model_dir, args.items, args.backend)
    cli(["stats"], store_dir, args.backend)  # warm the disk cache
    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    print(f"work {work}, code {TREE}, backend {args.backend}, {args.rounds} interleaved rounds")
    show("wall time per command (fresh process):", time_commands(store_dir, args.backend, args.rounds))
    phases, last = time_phases(store_dir, args.backend, args.rounds)
    show(f"phases of a hybrid search (probe; backend {last['backend']}, torch imported: {last['torch']}):", phases)
    total = [sum(run) for run in zip(*phases.values())]
    print(f"  {'sum of the phases':40s} median {statistics.median(total):6.3f} s")
    print("costliest top-level imports of one `search` (-X importtime, cumulative / self):")
    for module, cumulative, own in costly_imports(store_dir, args.backend, args.top_imports):
        print(f"  {module:40s} {cumulative:6.3f} s / {own:6.3f} s")
    print("uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
