"""The caption-then-embed route on the demo (issue 22 item 2): held-out scenes with their captions hidden.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_caption_routes.py [--n 2000] [--captioner NAME_OR_PATH]
     [--store DIR] [--json FILE]

The demo collection (held-out generated scenes, bundled imgsearch-mini) is built, every editorial caption is
hidden (removed, so the items count as uncaptioned), then `enrich --machine-captions` writes machine captions with
the captioner (default: the bundled imgsearch-captioner), and `evaluate --caption-routes` ranks the items four ways
on the demo's 600 judged queries (300 one-object, 300 two-object paraphrases): BM25 over the machine captions,
their CLIP text embedding against the query's, the stored image vectors, and the best hybrid of each pair.
Prints the table and the time the captioner took per picture.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
from imgsearch_core.demo.eval_source import queries_from_scenes
from imgsearch_core.evaluation.caption_routes import compare_routes
from imgsearch_core.ingest.enrich import enrich
from imgsearch_core.models.captioner import load_captioner
from imgsearch_core.models.embed import Embedder
from imgsearch_core.store.store import Store

CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")


def cpu_flags() -> list[str]:
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    return [f for f in CPU_FLAGS if f in flags]


def hide_captions(store: Store) -> int:
    """Remove every editorial caption (the scene description stays in the metadata for the judgements)."""
    collection = store.open(DEMO_COLLECTION)
    items = collection.all_items()
    return collection.update_items([(i.id, "", {"captioned": False, "caption_from": None}) for i in items])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--captioner", default=None)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    store = Store(Settings.from_env(store_dir=args.store or Path(tempfile.mkdtemp()) / "store"))
    embedder = Embedder(DEMO_MODEL)
    build_demo_collection(store, count=args.n, embedder=embedder)
    hidden = hide_captions(store)
    captioner = load_captioner(args.captioner)
    started = time.perf_counter()
    report = enrich(store, DEMO_COLLECTION, captioner=captioner)
    seconds = time.perf_counter() - started
    collection = store.open(DEMO_COLLECTION)
    queries = queries_from_scenes(collection.all_items())
    table = compare_routes(collection, embedder, queries)
    columns = ["route", "alpha", "recall@5", "mrr@5", "recall@10", "mrr@10"]
    print(f"{hidden} captions hidden; captioner {captioner.name}: {report.captioned} machine captions in {seconds:.1f} s "
          f"({1000 * seconds / max(report.captioned, 1):.1f} ms per picture, incl. decoding and store writes), "
          f"{len(report.problems)} problems; CPU flags {' '.join(cpu_flags())}, {os.cpu_count()} cores")
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    if args.json:
        args.json.write_text(json.dumps({"captioner": captioner.name, "items": int(table["items"].iloc[0]),
                                         "queries": int(table["queries"].iloc[0]), "seconds": seconds,
                                         "routes": table.to_dict("records")}, indent=2))


if __name__ == "__main__":
    main()
