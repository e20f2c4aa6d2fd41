"""A real `chroma run` on localhost for server-mode tests (the binary ships with the chromadb package);
with a token, behind the token gate exactly as the README deploys it (python -m imgsearch_core.store.chroma_gate)."""
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

from imgsearch_core.store.chroma_gate import chroma_command

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gate_process(data_dir: Path, port: int, token: str, startup_s: float = 60, log: Path | None = None) -> subprocess.Popen:
    """The token gate (and the `chroma run` it starts, which shares its output) listening on `port`;
    their stderr goes to `log` when given."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMGSEARCH_CHROMA_TOKEN": token}
    command = [sys.executable, "-m", "imgsearch_core.store.chroma_gate", "--path", str(data_dir), "--port", str(port)]
    with open(log or os.devnull, "w") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    return listening(proc, port, startup_s)


def listening(proc: subprocess.Popen, port: int, startup_s: float) -> subprocess.Popen:
    """`proc` once something listens on `port`; the test fails if it exits or takes over `startup_s`."""
    deadline = time.time() + startup_s
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{proc.args[:3]} did not start listening within {startup_s:.0f} s (exit code {proc.wait()})")


@contextmanager
def running_chroma(data_dir: Path, startup_s: float = 60, token: str | None = None) -> Iterator[int]:
    """Start `chroma run` (behind the gate when `token` is given) on a free port, wait until it listens,
    yield the port, stop it afterwards (the gate stops its `chroma run`)."""
    port = free_port()
    if token is None:
        command = [chroma_command(), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
        proc = listening(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port, startup_s)
    else:
        proc = gate_process(data_dir, port, token, startup_s)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
