"""Long work (fine-tuning) in a background thread, so the page that started it stays responsive and any
session can follow it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any


class BackgroundJob:
    """Long work (fine-tuning) in a daemon thread, so the page that started it stays responsive.

    `work(report, stop)` gets a callback for progress updates and an Event asking it to stop cleanly;
    the job keeps every update, then the result or the exception, for the page to show.
    """

    def __init__(self, work: Callable[[Callable[[Any], None], threading.Event], Any]) -> None:
        self.stop = threading.Event()
        self.updates: list[Any] = []
        self.result: Any = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="imgsearch-job", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Callable[[Any], None], threading.Event], Any]) -> None:
        try:
            self.result = work(self.updates.append, self.stop)
        except Exception as exc:  # noqa: BLE001 - the page shows it; nothing else would see it
            logging.getLogger("imgsearch.jobs").warning("Background job failed", exc_info=True)
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
