"""Tile loading off the GUI thread (QThreadPool) into a bounded LRU cache.

The canvas asks :meth:`TileLoader.get` for every tile it wants to draw: a cached tile is
returned at once; a missing one is queued on the pool and ``None`` comes back (the canvas
draws a coarser cached tile meanwhile).  Queued loads for tiles that left the view are
skipped when they reach the front of the queue.  Results come back through a queued
signal and are applied on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from unet_gis.app import qtcompat
from unet_gis.errors import UserError

log = logging.getLogger(__name__)


def nbytes(value: Any) -> int:
    if isinstance(value, QImage):
        return int(value.sizeInBytes())
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(nbytes(v) for v in value) + 64
    return 1024


class LruCache:
    """A dict bounded by total bytes; least recently used entries go first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def peek(self, key: Hashable) -> Any | None:
        """The value without refreshing its age."""
        item = self._items.get(key)
        return None if item is None else item[0]

    def get(self, key: Hashable) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: Hashable, value: Any) -> None:
        self.pop(key)
        size = nbytes(value)
        self._items[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, (_, old) = self._items.popitem(last=False)
            self.bytes -= old

    def pop(self, key: Hashable) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[1]

    def drop(self, predicate: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self._items if predicate(k)]:
            self.pop(key)

    def __len__(self) -> int:
        return len(self._items)


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """(h, w, 4) uint8 -> an owning QImage (safe to create on any thread).

    Premultiplied ARGB32, the raster paint engine's own format: converted once here, on the
    loader's thread, instead of at every draw on the GUI thread (RGBA8888 tiles made each
    scaled, smoothed draw about twice as slow)."""
    rgba = np.ascontiguousarray(rgba)
    h, w = rgba.shape[:2]
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


class _Signals(QObject):
    loaded = Signal(object, object)
    failed = Signal(object, str)
    skipped = Signal(object)


class _Load(QRunnable):
    def __init__(self, loader: TileLoader, key: Hashable, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.loader, self.key, self.fn = loader, key, fn

    def run(self) -> None:
        signals = self.loader.signals
        if not self.loader.is_wanted(self.key):
            signals.skipped.emit(self.key)
            return
        try:
            value = self.fn()
        except Exception as exc:
            # a bad file is said in the status bar (traceback only with --verbose); anything
            # else is a bug and logged as one
            level = logging.DEBUG if isinstance(exc, UserError) else logging.WARNING
            log.log(level, "tile %s failed: %s", self.key, exc, exc_info=True)
            signals.failed.emit(self.key, str(exc))
            return
        signals.loaded.emit(self.key, value)


class TileLoader(QObject):
    """Loads tiles on a thread pool; results land in :attr:`cache` on the GUI thread."""

    changed = Signal()
    tileFailed = Signal(str)  # noqa: N815 - Qt naming; the reason, once per tile

    def __init__(self, max_bytes: int = 256 * 2**20, threads: int = 4,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        qtcompat.ensure()
        self.cache = LruCache(max_bytes)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        # prefetches get their own single thread: tiles on screen never queue behind them
        self.prefetch_pool = QThreadPool(self)
        self.prefetch_pool.setMaxThreadCount(1)
        self.signals = _Signals(self)
        self.signals.loaded.connect(self._on_loaded)
        self.signals.failed.connect(self._on_failed)
        self.signals.skipped.connect(self._on_skipped)
        self._inflight: set[Hashable] = set()
        self._failed: dict[Hashable, str] = {}
        self._wanted: set[Hashable] = set()
        self._next: set[Hashable] = set()  # keys asked for by the frame being painted
        self.failed_hits = 0  # get() calls answered "failed before" (not pending)
        self._prefetched: set[Hashable] = set()  # queued for later, not on screen
        self._lock = threading.Lock()

    def is_wanted(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._wanted

    def set_wanted(self, keys: set[Hashable]) -> None:
        with self._lock:
            self._wanted = set(keys)

    def begin_frame(self) -> None:
        """Start collecting the keys a new frame wants (queued loads of others are skipped)."""
        self._next = set()

    def end_frame(self) -> None:
        with self._lock:
            self._wanted = self._next

    def get(self, key: Hashable, fn: Callable[[], Any]) -> Any | None:
        """The cached value, or ``None`` after queueing its load."""
        value = self.cache.get(key)
        if value is not None:
            return value
        self._next.add(key)
        with self._lock:
            self._wanted.add(key)
        self._prefetched.discard(key)
        if key in self._failed:
            self.failed_hits += 1
            return None
        if key not in self._inflight:
            self._inflight.add(key)
            self.pool.start(_Load(self, key, fn))
        return None

    def prefetch(self, key: Hashable, fn: Callable[[], Any]) -> None:
        """Queue a load at low priority; its arrival does not repaint."""
        if key in self._failed or self.cache.peek(key) is not None:
            return
        self._next.add(key)
        if key not in self._inflight:
            self._inflight.add(key)
            self._prefetched.add(key)
            self.prefetch_pool.start(_Load(self, key, fn))

    def peek(self, key: Hashable) -> Any | None:
        return self.cache.peek(key)

    @property
    def busy(self) -> bool:
        """Loads of tiles on screen are under way (prefetches do not count)."""
        return bool(self._inflight - self._prefetched)

    def failure(self, key: Hashable) -> str | None:
        return self._failed.get(key)

    def drop(self, predicate: Callable[[Hashable], bool]) -> None:
        self.cache.drop(predicate)
        for key in [k for k in self._failed if predicate(k)]:
            del self._failed[key]

    def _on_loaded(self, key: Hashable, value: Any) -> None:
        self._inflight.discard(key)
        self.cache.put(key, value)
        if key in self._prefetched:
            self._prefetched.discard(key)
        else:
            self.changed.emit()

    def _on_failed(self, key: Hashable, message: str) -> None:
        self._inflight.discard(key)
        self._failed[key] = message
        self.tileFailed.emit(message)
        self.changed.emit()

    def _on_skipped(self, key: Hashable) -> None:
        self._inflight.discard(key)
        if key in self._prefetched:
            self._prefetched.discard(key)
        else:
            self.changed.emit()  # it may be wanted again by now: let the canvas ask anew

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self.set_wanted(set())
        for pool in (self.pool, self.prefetch_pool):
            pool.clear()
        for pool in (self.pool, self.prefetch_pool):
            pool.waitForDone(timeout_ms)
