"""A real `chroma run` on localhost for server-mode tests (the binary ships with the chromadb package)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_chroma(data_dir: Path, startup_s: float = 60) -> Iterator[int]:
    """Start `chroma run` on a free port, wait until it listens, yield the port, stop it afterwards."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + startup_s
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"chroma run did not start listening within {startup_s:.0f} s")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
