"""The admin password check: constant-time, and slowed down after failed attempts.

Why a delay and not a lock-out: a lock-out would let anyone lock the admin out by guessing wrong; a delay that
doubles with each failure (of this session, or of the whole process within a window, so that opening new
sessions does not reset it) makes guessing slow while the right password still works.
"""
from __future__ import annotations

import hmac
import threading
import time
from collections import deque

BASE_DELAY_SECONDS = 0.25  # after the first failure
MAX_DELAY_SECONDS = 30.0
PROCESS_WINDOW_SECONDS = 15 * 60
PROCESS_FREE_FAILURES = 5  # failures of the whole process within the window before they slow everyone down


def password_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an unset password never matches."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def failure_delay(session_failures: int, process_failures: int = 0) -> float:
    """Seconds to wait after a failed attempt: doubling with each failure of the session, or with each
    failure of the process beyond PROCESS_FREE_FAILURES, whichever is more; at most MAX_DELAY_SECONDS."""
    count = max(session_failures, process_failures - PROCESS_FREE_FAILURES)
    if count <= 0:
        return 0.0
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** min(count - 1, 16))


class FailureLog:
    """Failed attempts of this process within the last PROCESS_WINDOW_SECONDS (thread-safe: sessions run in
    threads of one server process)."""

    def __init__(self, window_seconds: float = PROCESS_WINDOW_SECONDS) -> None:
        self.window = window_seconds
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def record(self, now: float | None = None) -> int:
        """Count one failure; the number of failures within the window, this one included."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            while self._times and self._times[0] < now - self.window:
                self._times.popleft()
            return len(self._times)

    def clear(self) -> None:
        with self._lock:
            self._times.clear()


PROCESS_FAILURES = FailureLog()
