"""A thin adapter that runs plain-Python work on a thread and reports through Qt signals.

The work is a function of a :class:`JobContext`: it gets a progress callback, a cancel
token and a place to push partial results (output blocks).  The adapter throttles both
streams, so the GUI's event loop sees a handful of signals a second however many tiles
the engine processes, and applies everything on the GUI thread.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from unet_gis.app import qtcompat
from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.progress import CancelToken, Progress

log = logging.getLogger(__name__)


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = -1e9

    def ready(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


def lower_priority(niceness: int = 5) -> None:
    """Make the calling thread (and threads it starts) yield the CPU to the GUI thread.

    On Linux the nice value is per thread and inherited by threads created afterwards
    (the engine's readers and writer); elsewhere this does nothing.
    """
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError as exc:
            log.debug("could not lower the worker's priority: %s", exc)


class JobContext:
    """What the work function sees (called from the worker thread)."""

    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner
        self.cancel = runner.token

    def progress(self, progress: Progress) -> None:
        self._runner._on_progress(progress)

    def push(self, item: Any) -> None:
        """Queue a partial result; the GUI drains them with :meth:`JobRunner.take_items`."""
        self._runner._on_item(item)

    def info(self, value: Any) -> None:
        """Send something to the GUI at once (e.g. the run's plan)."""
        self._runner.info.emit(value)


class JobRunner(QObject):
    """Runs one job at a time on a Python thread; signals arrive on the GUI thread."""

    progress = Signal(object)  # Progress, at most every ``interval`` seconds
    items = Signal()  # partial results are waiting in take_items()
    info = Signal(object)
    finished = Signal(object)  # the work function's return value
    failed = Signal(str, bool)  # message, True when it is a UserError
    cancelled = Signal()

    def __init__(self, name: str, interval: float = 0.1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        qtcompat.ensure()
        self.name = name
        self.interval = interval
        self.token = CancelToken()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._progress_throttle = Throttle(interval)
        self._item_throttle = Throttle(interval)
        self._last_progress: Progress | None = None

    @property
    def running(self) -> bool:
        """A job is under way (false once its final signal is on its way)."""
        return self._busy

    def start(self, work: Callable[[JobContext], Any]) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.token = CancelToken()
        self._pending.clear()
        self._last_progress = None
        self._progress_throttle = Throttle(self.interval)
        self._item_throttle = Throttle(self.interval)
        self._busy = True
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                        name=f"unet-gis-{self.name}")
        self._thread.start()

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work's thread ends (only for shutdown); True when it ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def take_items(self) -> list[Any]:
        with self._lock:
            items, self._pending = self._pending, []
        return items

    def _on_progress(self, progress: Progress) -> None:
        self._last_progress = progress
        if self._progress_throttle.ready():
            self.progress.emit(progress)

    def _on_item(self, item: Any) -> None:
        with self._lock:
            self._pending.append(item)
        if self._item_throttle.ready():
            self.items.emit()

    def _run(self, work: Callable[[JobContext], Any]) -> None:
        lower_priority()
        try:
            result = work(JobContext(self))
        except Cancelled:
            self._busy = False
            self.cancelled.emit()
        except UserError as exc:
            self._busy = False
            self.failed.emit(str(exc), True)
        except Exception as exc:
            log.exception("%s failed", self.name)
            self._busy = False
            self.failed.emit(f"{type(exc).__name__}: {exc}", False)
        else:
            if self._last_progress is not None:
                self.progress.emit(self._last_progress)
            with self._lock:
                more = bool(self._pending)
            if more:
                self.items.emit()
            self._busy = False  # before the last signal: its slot may start the next job
            self.finished.emit(result)
