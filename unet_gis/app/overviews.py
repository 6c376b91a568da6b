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
        if path in self.running:
            return False
        self._cancelled.discard(path)
        context = multiprocessing.get_context("spawn")
        results = context.SimpleQueue()
        vrt, built = temporary_paths(path)
        process = context.Process(target=child_main, args=(str(path), factors, str(vrt),
                                                           results),
                                  daemon=True, name="unet-gis-overviews")
        process.start()
        self.running[path] = process

        def wait() -> None:
            process.join()
            error = results.get() if not results.empty() else \
                f"the overview builder stopped (exit code {process.exitcode})"
            for leftover in (vrt, built):  # after a kill the child could not clean up
                leftover.unlink(missing_ok=True)
            if error and path not in self._cancelled:
                log.warning("building overviews for %s failed: %s", path, error)
            with contextlib.suppress(RuntimeError):  # the window is gone (app closing)
                self.finished.emit(path, error)

        threading.Thread(target=wait, daemon=True, name="unet-gis-overviews-wait").start()
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
        process = self.running.get(path)
        if process is not None and process.is_alive():
            self._cancelled.add(path)
            process.terminate()

    def shutdown(self) -> None:
        """Stop builds still running (closing the app); nothing half-built is left."""
        for path, process in list(self.running.items()):
            if process.is_alive():
                self._cancelled.add(path)
                process.terminate()
                process.join(5)
