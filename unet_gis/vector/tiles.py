"""The work done on one tile, in this process or in a pool of worker processes.

:func:`process_tile` is everything that looks at pixels: thresholds, polygon pieces,
vehicle splitting, skeleton lines.  It depends only on its arguments, so tiles can go to
worker processes (the ``spawn`` start method: no GDAL handle or lock is inherited) and
their results come back in order, identical to a run in one process.  What needs the
whole picture (merging across seams, the road graph, writing) stays in the main process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from unet_gis.vector.centerlines import LinePieces, skeleton_lines
from unet_gis.vector.masks import ByteArray, Tile, threshold
from unet_gis.vector.polygons import Pieces, instance_pieces, region_pieces

#: With ``workers=0`` (automatic), rasters smaller than this many pixels run in one
#: process: starting workers (about a second each) would cost more than it saves.
PARALLEL_MIN_PIXELS = 16_000_000


@dataclass(frozen=True)
class TileWork:
    """What to extract from each tile: thresholds per band and tolerances in pixels."""

    thresholds: tuple[tuple[str, float], ...]
    instances: frozenset[str]
    centerlines: frozenset[str]
    min_px: float
    simplify_px: float
    gap_px: float
    hole_px: float
    full_scale: int  # the stored value of probability 1 (ProbabilityInfo.full_scale)


@dataclass
class TileResult:
    """Whole polygons, seam-cut region pieces and centerline pieces of one tile."""

    whole: dict[str, Pieces] = field(default_factory=dict)
    cut: dict[str, Pieces] = field(default_factory=dict)
    lines: dict[str, LinePieces] = field(default_factory=dict)

    def extend(self, other: TileResult) -> None:
        """Add ``other``'s pieces to the classes this result already has."""
        for name, pieces in other.whole.items():
            self.whole[name].extend(pieces)
        for name, pieces in other.cut.items():
            self.cut[name].extend(pieces)
        for name, lines in other.lines.items():
            self.lines[name].extend(lines)


def process_tile(work: TileWork, tile: Tile, block: ByteArray) -> TileResult:
    """Pieces of ``tile`` from its ``(bands, h + 2m, w + 2m)`` probabilities."""
    result = TileResult()
    for prob, (name, value) in zip(block, work.thresholds, strict=True):
        mask = threshold(prob, value, work.full_scale)
        whole = result.whole[name] = Pieces()
        if name in work.instances:
            instance_pieces(mask, prob, tile, whole, work.min_px, work.simplify_px)
        else:
            cut = result.cut[name] = Pieces()
            region_pieces(mask, prob, tile, whole, cut, work.min_px, work.simplify_px)
        if name in work.centerlines:
            lines = result.lines[name] = LinePieces()
            skeleton_lines(mask, prob, tile, work.gap_px, work.hole_px, lines)
    return result


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(requested: int, pixels: int) -> int:
    """Processes to use: ``requested``, or with 0 the cores when the raster is large."""
    if requested > 0:
        return requested
    return available_cores() if pixels >= PARALLEL_MIN_PIXELS else 1


@contextlib.contextmanager
def tile_pool(workers: int) -> Iterator[Executor | None]:
    """A pool of ``workers`` processes (``None``: work in this process), shut down on the
    way out; after an error or a cancel, tiles not started yet are dropped."""
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_watch_parent, initargs=(os.getpid(),))
    try:
        _start_workers_deaf_to_ctrl_c(pool, workers)
        yield pool
    except BaseException:
        # Ctrl-C, a cancel or an error: stop the workers now rather than wait for the
        # tiles they are on (a noisy 1024² tile can take a minute)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _start_workers_deaf_to_ctrl_c(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start all workers now, with SIGINT blocked from their first instruction.

    A worker only runs :func:`_watch_parent` after importing this package; a Ctrl-C in
    those first seconds would print its traceback.  A blocked signal stays blocked across
    fork and exec, so the parent blocks SIGINT while it starts them: a Ctrl-C then waits
    (it is not lost) and reaches the parent as soon as they are started, while each worker
    ignores it once :func:`_watch_parent` unblocks it.  Only the main thread starts them
    here; elsewhere (e.g. in the app) there is no Ctrl-C to fear.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "pthread_sigmask"):
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        for _ in range(workers):  # each submit starts a worker while none is idle
            pool.submit(os.getpid)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _watch_parent(parent: int) -> None:
    """In each worker: leave Ctrl-C to the parent (it cancels the pool and prints one
    line), and exit as soon as the parent is gone, even when it was killed outright."""
    import signal
    import sys
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the parent while it started us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if sys.platform.startswith("linux"):
        try:  # the kernel's own watch: SIGKILL when the parent dies
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="unet-gis-parent-watch", daemon=True).start()


def map_tiles(pool: Executor | None, work: TileWork, tiles: Sequence[Tile],
              blocks: Sequence[ByteArray]) -> Iterator[TileResult]:
    """The results of ``tiles``, in order, from ``pool`` or from this process."""
    if pool is None:
        return (process_tile(work, tile, block) for tile, block in zip(tiles, blocks,
                                                                       strict=True))
    return pool.map(process_tile, [work] * len(tiles), tiles, blocks)
