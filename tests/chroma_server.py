"""A real `chroma run` on localhost for server-mode tests (the binary ships with the chromadb package);
with a token, behind the token gate exactly as the README deploys it (python -m imgsearch_core.chroma_gate)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from imgsearch_core.chroma_gate import chroma_command

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_command(data_dir: Path, port: int, token: str | None) -> list[str]:
    if token is None:
        return [chroma_command(), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "imgsearch_core.chroma_gate", "--path", str(data_dir), "--port", str(port)]


@contextmanager
def running_chroma(data_dir: Path, startup_s: float = 60, token: str | None = None) -> Iterator[int]:
    """Start `chroma run` (behind the gate when `token` is given) on a free port, wait until it listens,
    yield the port, stop it afterwards (the gate stops its `chroma run`)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMGSEARCH_CHROMA_TOKEN": token or ""}
    proc = subprocess.Popen(_server_command(data_dir, port, token), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + startup_s
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"{'the gate' if token else 'chroma run'} did not start listening within {startup_s:.0f} s "
                    f"(exit code {proc.poll()})")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
