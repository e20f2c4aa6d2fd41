"""Server-side rerun time of the Text search page: an alpha slider move versus a new query.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_app.py [STORE_DIR] [--repeats 10]
STORE_DIR is reused if it holds the demo collection, else the 2,000-image demo is built into it (or into
a temp dir when none is given; about a minute here). Why AppTest: it runs the real app script in-process
exactly as the server does on a rerun, minus the browser, so the time is what the user waits for before
the browser starts drawing. It also counts query embeddings per rerun: a slider move must cause none,
so the script exits non-zero if one does.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imgsearch_core.display.url_state import ALPHA_STEPS  # noqa: E402

APP = ROOT / "app.py"
WARM_UP_QUERY = "picture of a green star"
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "white", "black")
SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond")


def queries(count: int) -> list[str]:
    """Distinct queries, so every one misses the per-session candidate cache and is really searched."""
    return [f"{COLOURS[i % len(COLOURS)]} {SHAPES[i % len(SHAPES)]} number {i}" for i in range(count)]


def prepare_store(path: Path) -> None:
    """Point the app at `path` and make sure it holds the demo collection (built once, then reused)."""
    from imgsearch_core.config import Settings
    from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
    from imgsearch_core.store.store import Store

    os.environ["IMGSEARCH_STORE"] = str(path)
    store = Store(Settings.from_env())
    if DEMO_COLLECTION in store.collection_names():
        print(f"reusing the demo collection in {path} ({store.open(DEMO_COLLECTION).count():,} items)")
        return
    report = build_demo_collection(store)
    print(f"built the demo collection in {path}: {report.added:,} images in {report.seconds:.1f} s")


def run_as_server() -> None:
    """Keep AppTest on st.navigation from the second run on, as `streamlit run` does (see tests/app/conftest.py).

    AppTest resets PagesManager.uses_pages_directory before every run; with a pages/ folder beside app.py it
    would then run the page file alone, without app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


def count_text_embeddings() -> Counter:
    """Wrap Embedder.embed_texts (the model stays real) so each rerun's query embeddings can be counted."""
    from imgsearch_core.models.embed import Embedder

    calls: Counter = Counter()
    original = Embedder.embed_texts

    def counting(self, texts):
        calls["embed_texts"] += 1
        return original(self, texts)

    Embedder.embed_texts = counting
    return calls


def markdown_with(at, marker: str) -> str:
    found = [str(m.value) for m in at.markdown if marker in str(m.value)]
    if not found:
        raise SystemExit(f"no results line containing {marker!r}; errors: {[e.value for e in at.error]}")
    return found[0]


def rerun(at, calls: Counter) -> tuple[float, int]:
    """(milliseconds, text embeddings) of one rerun; any exception or error on the page aborts."""
    before = calls["embed_texts"]
    start = time.perf_counter()
    at.run()
    elapsed = (time.perf_counter() - start) * 1000
    if at.exception or at.error:
        raise SystemExit(f"the page failed: {[e.value for e in at.exception] + [e.value for e in at.error]}")
    return elapsed, calls["embed_texts"] - before


def submit(at, query: str, calls: Counter) -> tuple[float, int]:
    at.text_input(key="ts_q").set_value(query)
    next(b for b in at.get("form_submit_button") if b.label == "Search").click()
    sample = rerun(at, calls)
    markdown_with(at, "search took")  # really searched, not served from the cache
    return sample


def move_slider(at, alpha: float, calls: Counter) -> tuple[float, int]:
    at.select_slider(key="ts_alpha").set_value(alpha)
    sample = rerun(at, calls)
    markdown_with(at, f"alpha {alpha:.2f} · re-ranked in")  # the new alpha, with candidates reused
    return sample


def report(name: str, samples: list[tuple[float, int]]) -> None:
    times = [ms for ms, _ in samples]
    p90 = statistics.quantiles(times, n=10, method="inclusive")[-1]
    embeds = dict(sorted(Counter(n for _, n in samples).items()))
    print(f"  {name:12s} median {statistics.median(times):8.1f} ms   p90 {p90:8.1f} ms   "
          f"embed_texts calls per rerun {{calls: reruns}} {embeds}")


def benchmark(repeats: int) -> int:
    from streamlit.testing.v1 import AppTest

    run_as_server()
    calls = count_text_embeddings()
    at = AppTest.from_file(str(APP), default_timeout=180)
    rerun(at, calls)
    submit(at, WARM_UP_QUERY, calls)  # loads the model and the BM25 index once per process, like a server
    sliders = [move_slider(at, ALPHA_STEPS[i % len(ALPHA_STEPS)], calls) for i in range(repeats)]
    new_queries = [submit(at, query, calls) for query in queries(repeats)]
    print(f"Text search page, demo collection, hybrid mode, {repeats} reruns each (AppTest, server side):")
    report("slider move", sliders)
    report("new query", new_queries)
    if any(n for _, n in sliders):
        print("FAIL: a slider move embedded the query again; it must only re-rank the cached candidates.")
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", type=Path, help="store directory to reuse or fill with the demo")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-app-") as scratch:
        prepare_store(args.store or Path(scratch) / "store")
        sys.exit(benchmark(args.repeats))


if __name__ == "__main__":
    main()
