"""E2E fixtures: a real `streamlit run app.py` server on a free loopback port and headless Debian Chromium.

Why a real server: AppTest runs the script in-process without a browser, so it cannot see what only a
browser does (the page's JavaScript, uploads over HTTP, images actually loading, keyboard on widgets).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, and this machine's closed network
# refuses it (see the machine notes). Playwright itself adds a fresh, empty user-data dir and --headless.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 90
LOG_TAIL_CHARS = 6000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `streamlit run` process, its address and the files its output goes to."""

    process: subprocess.Popen
    url: str
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        """The ends of stderr and stdout, for failure messages."""
        parts = []
        for label, path in (("stderr", self.stderr), ("stdout", self.stdout)):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- server {label} (last {LOG_TAIL_CHARS} chars) ---\n{text[-LOG_TAIL_CHARS:]}")
        return "\n".join(parts)

    def assert_alive(self) -> None:
        """Fail at once, with the server's own words, if it has died (instead of a browser time-out)."""
        code = self.process.poll()
        if code is not None:
            pytest.fail(f"The Streamlit server exited with code {code}.\n{self.logs()}", pytrace=False)


def _server_env(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("IMGSEARCH_ADMIN_PASSWORD", None)
    env.update(IMGSEARCH_STORE=str(store), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false")
    return env


def _start(store: Path, logs: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    stdout, stderr = logs / "server.out", logs / "server.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=_server_env(store), stdout=out, stderr=err,
                                   start_new_session=True)
    return Server(process, f"http://127.0.0.1:{port}", stdout, stderr)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        server.assert_alive()
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"The server did not answer /_stcore/health within {SERVER_START_SECONDS} s.\n{server.logs()}",
                pytrace=False)


def _stop(server: Server) -> None:
    """Terminate the server's own process group (it was started in a new session), then kill if it lingers."""
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server over an empty store in a temp dir, always stopped at the end."""
    base = tmp_path_factory.mktemp("e2e")
    running = _start(base / "store", base)
    try:
        _wait_healthy(running)
        yield running
    finally:
        _stop(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = ROOT / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def archive_server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Iterator[Server]:
    """A real server over a store already holding the editorial archive (tests/app/archive.py: IPTC credits,
    keywords, dates), embedded with the tiny test CLIP, which the server loads from its directory; and a
    second, small collection 'press' (three captioned pictures) to switch to."""
    from tests.app.archive import write_archive
    from tests.helpers import write_images

    base = tmp_path_factory.mktemp("e2e-archive")
    write_images(base / "press", 3)
    yield from serve_folder(write_archive(base / "photos"), base, tiny_embedder, more={"press": base / "press"})


def serve_folder(photos: Path, base: Path, embedder, more: dict[str, Path] | None = None) -> Iterator[Server]:
    """A real server over a fresh store in `base` holding every picture of `photos` in collection 'photos'
    (and of each folder of `more` in the collection it is named under), embedded with `embedder` (the server
    loads the same model from its directory)."""
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    store = Store(Settings.from_env(store_dir=base / "store"))
    for name, folder in {"photos": photos, **(more or {})}.items():
        items, problems = collect(folder)
        report = ingest(store, name, embedder, items, problems=problems)
        assert report.added == len(items) and not report.problems, report.problems
    del store
    running = _start(base / "store", base)
    try:
        _wait_healthy(running)
        yield running
    finally:
        _stop(running)
