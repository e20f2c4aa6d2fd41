"""Interaction latency of the Text search page in real headless Chromium, from the input event to changed cards.

Run: /work/main/.venv/bin/python benchmarks/bench_browser.py --store DIR [--tree PATH ...] [--repeat 30] [--json]

Why a browser: the server-side rerun (benchmarks/bench_app.py) is only part of what an editor waits for;
the websocket round trip, the deltas and React's redraw of the whole page are the rest. Each `--tree` (a
checkout, e.g. a `git worktree` of a baseline commit, then the new tree) is served in turn by its own
`streamlit run app.py` over a fresh copy of the same demo store, so both are measured on the same data in one
run. Measured, as median and p95 of `--repeat` repetitions after warm-up:
  enter   typing a new query and pressing Enter until the result cards show its results;
  slider  one arrow-key step of the hybrid alpha slider until the cards show the new ranking or scores;
  link    opening a shared link (q, mode, alpha, filter) in a new tab (a new session) until its cards show;
  detail  clicking a card's details button until the dialog shows its image and metadata.
Timing is done inside the page: `performance.now()` at the keydown / pointerdown (0 = navigation start for a
link), and a MutationObserver records every change of the cards' signature (the hit ids in order, read from
the "More like this" button keys `st-key-ts_similar_<id>`, and each card's whole text); the end is the last
change before the app is idle again. A step that changes no card is counted as "unchanged", not timed.
The store: DIR is reused as it is; if it is missing or empty the demo is built into it with the CLI of the
first tree (`python -m imgsearch_core demo --store DIR`).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # tests/e2e
VIEWPORT = {"width": 1400, "height": 900}
COLLECTION = "demo"
SERVER_START_SECONDS = 120
STEP_TIMEOUT_MS = 120_000
QUIET_MS = 500  # no DOM change for this long after the run ends = settled (ends the wait, never the timing)
WARM_UP = 3
DISMISS_TIMEOUT_MS = 10_000
MEASURES = ("enter", "slider", "link", "detail")
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "white", "black")
SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond")
SLIDER = '.st-key-ts_alpha input[type="range"]'
LINK_FILTER = "n_objects >= 2"

PROBE = (Path(__file__).with_name("bench_browser_probe.js")).read_text()  # context.add_init_script


# ----- pure parts (unit-tested) --------------------------------------------------------------------
def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: a value that was really measured (p95 of 30 is the 29th of 30)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarise(samples: Sequence[float]) -> dict[str, float]:
    """Median and p95 (what the issue's targets are stated in), with the extremes for context."""
    ordered = sorted(samples)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"n": len(ordered), "median": median, "p95": percentile(ordered, 0.95), "min": ordered[0],
            "max": ordered[-1]}


def cpu_info(cpuinfo: str) -> tuple[str, dict[str, bool]]:
    """The CPU model and whether it has the SIMD flags inference speed depends on, from /proc/cpuinfo text."""
    model, flags = "unknown", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model, {flag: flag in flags for flag in CPU_FLAGS}


def queries(count: int, offset: int = 0) -> list[str]:
    """Distinct queries, so every Enter really searches (no session cache hit)."""
    return [f"{COLOURS[i % len(COLOURS)]} {SHAPES[i % len(SHAPES)]} number {i}" for i in range(offset, offset + count)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, default=None,
                        help="checkout to serve (repeat: e.g. a baseline worktree, then the new tree); "
                             "default: this checkout")
    parser.add_argument("--store", type=Path, default=None,
                        help="demo store directory, reused; built with the CLI when missing (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions per measure (default 30)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.tree = [path.resolve() for path in (args.tree or [ROOT])]
    for tree in args.tree:
        if not (tree / "app.py").is_file():
            parser.error(f"--tree {tree} has no app.py")
    return args


# ----- server --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tree: Path, store: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "IMGSEARCH_ADMIN_PASSWORD"}
    env.update(IMGSEARCH_STORE=str(store), PYTHONPATH=str(tree), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false")
    return env


def ensure_store(store: Path, tree: Path) -> None:
    """Build the demo into `store` with the tree's own CLI unless it already holds something."""
    if store.is_dir() and any(store.iterdir()):
        return
    store.mkdir(parents=True, exist_ok=True)
    print(f"building the demo collection into {store} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "imgsearch_core", "demo", "--store", str(store)], cwd=tree,
                   env=_env(tree, store), check=True, stdout=sys.stderr)


@contextmanager
def serve(tree: Path, store: Path, logs: Path) -> Iterator[str]:
    """`streamlit run app.py` of `tree` over `store`; its URL. Stopped (its own process group) at the end."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
               str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    with (logs / "server.out").open("wb") as out, (logs / "server.err").open("wb") as err:
        process = subprocess.Popen(command, cwd=tree, env=_env(tree, store), stdout=out, stderr=err,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {(logs / 'server.err').read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become healthy within {SERVER_START_SECONDS} s")
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)


# ----- in-page measurement -------------------------------------------------------------------------
@dataclass
class Samples:
    """Timed repetitions of one measure (ms from the input): the last card change (the result), the first
    one (when the page starts to answer), every card thumbnail loaded and the last server message handled by the
    page; and the steps that changed no card."""

    times_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    images_ms: list[float] = field(default_factory=list)
    messages_ms: list[float] = field(default_factory=list)
    unchanged: int = 0

    def record(self, page: Page) -> None:
        """Read the probe after a settled step; a step that changed no card is only counted."""
        t0, changes, images, messages = page.evaluate(
            "() => [window.__bench.t0, window.__bench.changes, window.__bench.imagesAt, window.__bench.messages]")
        if not changes:
            self.unchanged += 1
            return
        self.times_ms.append(changes[-1] - t0)
        if messages:
            self.messages_ms.append(messages[-1] - t0)
        self.first_ms.append(changes[0] - t0)
        self.images_ms.append(max(images, changes[-1]) - t0)  # settling waits for every thumbnail


def _settle(page: Page, timeout_ms: float = STEP_TIMEOUT_MS) -> None:
    """The run the input started is over, every card thumbnail has finished and the DOM was quiet for QUIET_MS."""
    page.wait_for_function("q => window.__bench.settled(q)", arg=QUIET_MS, polling=50, timeout=timeout_ms)


def _timed(page: Page, act, samples: Samples | None) -> None:
    """Arm the probe, act, wait until settled, and record (a warm-up step when `samples` is None)."""
    page.evaluate("() => window.__bench.arm()")
    act()
    _settle(page)
    if samples is not None:
        samples.record(page)


def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(PROBE)
    return context, context.new_page()


def open_link(page: Page, base: str, query: str, alpha: float) -> None:
    """Open a shared Text search link and wait until its run has settled (t0 = navigation start)."""
    params = {"c": COLLECTION, "q": query, "mode": "hybrid", "alpha": f"{alpha:g}", "where": LINK_FILTER}
    page.goto(f"{base}/?{urllib.parse.urlencode(params)}")
    page.wait_for_function("() => window.__bench.changes.length > 0", polling=50, timeout=STEP_TIMEOUT_MS)
    _settle(page)


def measure_enter(page: Page, repeat: int) -> Samples:
    samples, box = Samples(), page.locator(".st-key-ts_q input")
    for index, query in enumerate(queries(WARM_UP + repeat)):
        box.fill(query)
        _timed(page, lambda: box.press("Enter"), samples if index >= WARM_UP else None)
    return samples


def _next_key(slider: Locator, key: str) -> str:
    """Keep walking in `key`'s direction, turning at either end of the slider (a range input)."""
    now, low, high = slider.evaluate("e => [e.value, e.min, e.max].map(Number)")
    return "ArrowLeft" if now >= high else "ArrowRight" if now <= low else key


def measure_slider(page: Page, repeat: int) -> Samples:
    """Walk the slider one step at a time; steps that change no card are counted but not timed."""
    samples, slider, key = Samples(), page.locator(SLIDER).first, "ArrowRight"
    for attempt in range(WARM_UP + 3 * repeat):
        if len(samples.times_ms) >= repeat:
            break
        key = _next_key(slider, key)
        _timed(page, lambda: slider.press(key), samples if attempt >= WARM_UP else None)
    return samples


def _close_dialog(page: Page) -> None:
    """Escape, then wait for the dismissal's rerun (if the tree makes one) to settle before the next click."""
    page.evaluate("() => window.__bench.arm()")
    page.keyboard.press("Escape")
    page.locator('[role="dialog"]').wait_for(state="detached", timeout=STEP_TIMEOUT_MS)
    try:
        _settle(page, DISMISS_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass  # no rerun on dismissal: nothing to wait for


def measure_detail(page: Page, repeat: int) -> Samples:
    samples = Samples()
    for index in range(WARM_UP + repeat):
        button = page.locator('[data-testid="stMain"] [class*="st-key-ts_detail_"] button:visible').nth(index % 4)
        page.evaluate("() => window.__bench.arm()")
        button.click()
        page.wait_for_function("() => window.__bench.dialogAt !== null", polling=50, timeout=STEP_TIMEOUT_MS)
        _settle(page)
        if index >= WARM_UP:
            samples.times_ms.append(page.evaluate("() => window.__bench.dialogAt - window.__bench.t0"))
        _close_dialog(page)
    return samples


def measure_links(browser: Browser, base: str, repeat: int) -> Samples:
    """Each link in a new tab (a new Streamlit session) with its own query, so nothing of it is cached; the tabs
    share one context, so the browser cache holds Streamlit's own scripts as for anyone who has used the app."""
    samples = Samples()
    context, first = new_page(browser)
    first.close()
    try:
        for index, query in enumerate(queries(WARM_UP + repeat, offset=1000)):
            page = context.new_page()
            open_link(page, base, query, 0.3 + 0.05 * (index % 8))
            if index >= WARM_UP:
                samples.record(page)  # t0 = 0: the navigation's start
            page.close()
    finally:
        context.close()
    return samples


# ----- the run -------------------------------------------------------------------------------------
def tree_label(tree: Path) -> str:
    """The tree's commit (and whether it has uncommitted changes), so a table says what was measured."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    if Path(git("rev-parse", "--show-toplevel") or "/nonexistent").resolve() != tree:
        return f"{tree} (not a git checkout)"  # e.g. a `git archive` of a baseline inside another checkout
    commit = git("rev-parse", "--short", "HEAD")
    return f"{tree} @ {commit}{' +dirty' if git('status', '--porcelain', '--untracked-files=no') else ''}"


def measure_tree(browser: Browser, tree: Path, store: Path, repeat: int) -> dict[str, Samples]:
    """Serve `tree` over a private copy of `store` (a tree may migrate or re-index it) and run every measure."""
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as scratch:
        work = Path(scratch)
        shutil.copytree(store, work / "store")
        with serve(tree, work / "store", work) as base:
            context, page = new_page(browser)
            try:
                open_link(page, base, queries(1, offset=2000)[0], 0.5)  # loads the model and the keyword index
                results = {"enter": measure_enter(page, repeat), "slider": measure_slider(page, repeat),
                           "detail": measure_detail(page, repeat)}
            finally:
                context.close()
            results["link"] = measure_links(browser, base, repeat)
    return {name: results[name] for name in MEASURES}


def _row(samples: Samples) -> dict:
    """One measure's figures: statistics of the result times, the medians of first change and thumbnails."""
    row: dict = summarise(samples.times_ms) if samples.times_ms else {"n": 0}
    for name, values in (("first_median", samples.first_ms), ("images_median", samples.images_ms),
                         ("messages_median", samples.messages_ms)):
        row[name] = summarise(values)["median"] if values else None
    return {**row, "unchanged": samples.unchanged, "samples_ms": samples.times_ms}


def report(args: argparse.Namespace, measured: list[tuple[str, dict[str, Samples]]], load: list[float]) -> dict:
    model, flags = cpu_info(Path("/proc/cpuinfo").read_text())
    return {"cpu": model, "flags": flags, "cores": os.cpu_count(), "repeat": args.repeat, "warm_up": WARM_UP,
            "load_start": load[0], "load_end": load[1],
            "trees": [{"tree": label, **{name: _row(samples) for name, samples in results.items()}}
                      for label, results in measured]}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_table(doc: dict) -> None:
    flags = " ".join(f"{flag}={'yes' if present else 'no'}" for flag, present in doc["flags"].items())
    print(f"CPU: {doc['cpu']} ({doc['cores']} cores); {flags}")
    print(f"load average (1 min) at start {doc['load_start']:.2f}, at end {doc['load_end']:.2f}; "
          f"{doc['repeat']} repetitions after {doc['warm_up']} warm-up; ms from the input event")
    columns = ("median", "p95", "min", "max", "first_median", "images_median", "messages_median")
    for tree in doc["trees"]:
        print(f"\n{tree['tree']}")
        print(f"  {'measure':<8} {'n':>3} {'median':>7} {'p95':>7} {'min':>7} {'max':>7} {'first':>7} {'images':>7} "
              f"{'msgs':>7} {'unchanged':>9}")
        for name in MEASURES:
            row = tree[name]
            print(f"  {name:<8} {row['n']:>3} " + " ".join(f"{_ms(row.get(c)):>7}" for c in columns)
                  + f" {row['unchanged']:>9}")
    print("\nmedian/p95: until the last change of the result cards (detail: the dialog shown); first: median "
          "until the first card changed; images: median until every card's thumbnail had loaded; msgs: median until the "
          "page had handled the run's last server message (the app's own messages arrive at the page's pace).")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-browser-store-") as scratch:
        store = (args.store or Path(scratch) / "store").resolve()
        ensure_store(store, args.tree[0])
        load = [os.getloadavg()[0]]
        measured = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for tree in args.tree:
                    print(f"measuring {tree} ...", file=sys.stderr)
                    measured.append((tree_label(tree), measure_tree(browser, tree, store, args.repeat)))
            finally:
                browser.close()
        load.append(os.getloadavg()[0])
    doc = report(args, measured, load)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_table(doc)


if __name__ == "__main__":
    main()
