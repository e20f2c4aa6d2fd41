"""One writer process per store directory.

Why: two processes writing one Chroma PersistentClient directory corrupt it silently (reproduced with
chromadb 1.5.9). An OS file lock is released by the kernel when its holder dies, so a killed ingest
never leaves the store locked; a side file names the holder for the error message.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class StoreLockedError(RuntimeError):
    """Another process is writing this store."""


_LOCKS: dict[Path, "WriteLock"] = {}
_LOCKS_GUARD = threading.Lock()


def write_lock_for(store_dir: Path) -> "WriteLock":
    """The one lock object of this process for `store_dir` (a second open file would block on itself)."""
    key = store_dir.resolve()
    with _LOCKS_GUARD:
        if key not in _LOCKS:
            _LOCKS[key] = WriteLock(key)
        return _LOCKS[key]


class WriteLock:
    """Re-entrant in the holding thread, exclusive across threads and processes."""

    def __init__(self, store_dir: Path, timeout: float = 2.0) -> None:
        self._thread_lock = threading.RLock()
        self._lock = FileLock(str(store_dir / ".write.lock"), thread_local=False)
        self._holder_file = store_dir / ".write.lock.holder"
        self._timeout = timeout

    def _describe_holder(self) -> str:
        try:
            info = json.loads(self._holder_file.read_text())
            return f"process {info['pid']} on {info['host']} ({info['command']}), writing since {info['since']}"
        except (OSError, ValueError, KeyError):
            return "another process"

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._thread_lock.acquire(timeout=self._timeout):
            raise StoreLockedError(
                f"The store {self._holder_file.parent} is busy with another write in this process; try again shortly."
            )
        outermost = not self._lock.is_locked
        try:
            self._lock.acquire(timeout=self._timeout)
        except Timeout:
            self._thread_lock.release()
            raise StoreLockedError(
                f"The store {self._holder_file.parent} is being written by {self._describe_holder()}. "
                "Wait for it to finish (or stop it), or use a Chroma server (IMGSEARCH_CHROMA_HOST) for "
                "several writers."
            ) from None
        try:
            if outermost:
                self._holder_file.write_text(
                    json.dumps(
                        {
                            "pid": os.getpid(),
                            "host": socket.gethostname(),
                            "command": " ".join(sys.argv)[:200] or sys.executable,
                            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                        }
                    )
                )
            yield
        finally:
            self._lock.release()
            self._thread_lock.release()

    @contextmanager
    def hold_if_free(self) -> Iterator[bool]:
        """Yield True while holding the lock, or False at once-ish when another writer has it."""
        held = self.hold()
        try:
            held.__enter__()
        except StoreLockedError:
            yield False
            return
        try:
            yield True
        finally:
            held.__exit__(None, None, None)
