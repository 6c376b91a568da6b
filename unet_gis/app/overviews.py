"""External overviews (.ovr) for big rasters that have none, built without freezing the GUI.

Without overviews a zoomed-out view of a large raster reads every pixel; with them it
reads a few small tiles.  The build runs in a spawned process (see
:mod:`unet_gis.app.overview_build`); a thread here waits for it and reports back through
a queued signal.  The user is told before and after.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from unet_gis.app.overview_build import child_main, temporary_paths

log = logging.getLogger(__name__)


class OverviewBuilder(QObject):
    """Builds overviews in child processes; ``finished(path, error)`` on the GUI thread."""

    finished = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.running: dict[Path, Any] = {}
        self._cancelled: set[Path] = set()

    def start(self, path: Path, factors: list[int]) -> bool:
        """Start a build for ``path`` (False when one is running).  Starting a spawned
        process (and, the first time, multiprocessing's resource tracker) takes tens of
        milliseconds of fork/exec, so even that happens on the waiting thread: the event
        loop is never blocked by it."""
        if path in self.running:
            return False
        self._cancelled.discard(path)
        build = _Build()
        self.running[path] = build

        def work() -> None:
            error = build.run(path, factors)
            # stopped (closing the app, a new run): not a failure; the status bar shows
            # real failures, so the log keeps them off stderr
            if error and not build.stopped and path not in self._cancelled:
                log.info("building overviews for %s failed: %s", path, error)
            with contextlib.suppress(RuntimeError):  # the window is gone (app closing)
                self.finished.emit(path, error)

        threading.Thread(target=work, daemon=True, name="unet-gis-overviews-wait").start()
        return True

    def done(self, path: Path) -> bool:
        """Forget a finished build; True when it had been cancelled."""
        self.running.pop(path, None)
        if path in self._cancelled:
            self._cancelled.discard(path)
            return True
        return False

    def cancel(self, path: Path) -> None:
        """Stop the build for ``path`` (its raster is about to be replaced)."""
        build = self.running.get(path)
        if build is not None and build.stop():
            self._cancelled.add(path)

    def shutdown(self) -> None:
        """Stop builds still running (closing the app); nothing half-built is left."""
        for path, build in list(self.running.items()):
            if build.stop(wait_s=5):
                self._cancelled.add(path)


class _Build:
    """One child process: started, waited for and cleaned up on a worker thread; stopped
    from any thread (a stop before the start means it never starts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Any = None
        self._stopped = False

    def run(self, path: Path, factors: list[int]) -> str:
        """Build and wait; "" or the error message."""
        context = multiprocessing.get_context("spawn")
        results = context.SimpleQueue()
        vrt, built = temporary_paths(path)
        process = context.Process(target=child_main, args=(str(path), factors, str(vrt),
                                                           results),
                                  daemon=True, name="unet-gis-overviews")
        with self._lock:
            if self._stopped:
                return "cancelled before it started"
            process.start()
            self._process = process
        process.join()
        error: str = results.get() if not results.empty() else \
            f"the overview builder stopped (exit code {process.exitcode})"
        for leftover in (vrt, built):  # after a kill the child could not clean up
            leftover.unlink(missing_ok=True)
        return error

    @property
    def stopped(self) -> bool:
        with self._lock:
            return self._stopped

    def stop(self, wait_s: float | None = None) -> bool:
        """Terminate the child if it is (or would be) running; True when it was."""
        with self._lock:
            process, self._stopped = self._process, True
        if process is None:
            return True
        if not process.is_alive():
            return False
        process.terminate()
        if wait_s is not None:
            process.join(wait_s)
        return True
