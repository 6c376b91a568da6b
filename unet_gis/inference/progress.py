"""Progress reports and cancellation for long work, with no GUI dependency.

Long-running functions take ``progress: ProgressCallback | None`` and
``cancel: CancelToken | None``.  The CLI prints the reports; the app turns them into
(throttled) Qt signals; a test simply records them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from unet_gis.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """A snapshot of how far a job is.

    ``done``/``total`` count work units (output blocks for the engine, windows for the
    vectorizer); ``pixels`` counts input pixels processed so far.
    """

    stage: str
    done: int
    total: int
    pixels: int = 0
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def pixels_per_s(self) -> float:
        return self.pixels / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.done or self.done >= self.total:
            return None if not self.done else 0.0
        return self.elapsed_s * (self.total - self.done) / self.done


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A thread-safe flag the user sets and the work checks between units."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class ProgressReporter:
    """Builds :class:`Progress` snapshots with elapsed time and forwards them."""

    def __init__(self, stage: str, total: int, callback: ProgressCallback | None) -> None:
        self.stage = stage
        self.total = total
        self.done = 0
        self.pixels = 0
        self._callback = callback
        self._start = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start

    def advance(self, units: int = 1, pixels: int = 0) -> Progress:
        self.done += units
        self.pixels += pixels
        snapshot = Progress(self.stage, self.done, self.total, self.pixels, self.elapsed_s)
        if self._callback is not None:
            self._callback(snapshot)
        return snapshot


def check(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` was set (``None`` never cancels)."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def format_duration(seconds: float | None) -> str:
    """``mm:ss`` or ``h:mm:ss``; ``--:--`` when unknown (the CLI's bar and the app)."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
