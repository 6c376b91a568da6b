"""External overviews (.ovr) built in the background for big rasters that have none.

Without overviews a zoomed-out view of a large raster reads every pixel; with them it
reads a few small tiles.  GDAL writes ``NAME.tif.ovr`` next to the file (the file itself
is not modified: the .ovr is built for a hidden VRT copy and renamed into place); the user
is told before and after.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from unet_gis.app.canvas.sources import TILE, RasterSource

log = logging.getLogger(__name__)
MIN_SIDE = 4096  # smaller rasters read fast enough without overviews


def missing_overview_factors(source: RasterSource) -> list[int]:
    """Overview factors worth building for ``source`` (empty when it has them or is small)."""
    if source.overviews or max(source.width, source.height) < MIN_SIDE:
        return []
    factors, factor = [], 2
    while max(source.width, source.height) / factor >= TILE:
        factors.append(factor)
        factor *= 2
    return factors


def can_write_beside(path: Path) -> bool:
    return os.access(path.parent, os.W_OK)


def build_external_overviews(path: Path, factors: list[int]) -> Path:
    """Write ``NAME.ovr`` beside ``path`` without touching ``path``; return the .ovr path.

    The overviews are built for a hidden VRT copy of the raster (same size, same pixels)
    and the finished file is renamed into place, so an interrupted build never leaves a
    half-written .ovr that GDAL would pick up.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as copy_dataset

    vrt = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.vrt"
    built = Path(f"{vrt}.ovr")
    target = Path(f"{path}.ovr")
    try:
        copy_dataset(path, vrt, driver="VRT")
        with rasterio.Env(COMPRESS_OVERVIEW="DEFLATE"), rasterio.open(vrt, "r+") as dataset:
            dataset.build_overviews(factors, Resampling.average)
        os.replace(built, target)
    finally:
        vrt.unlink(missing_ok=True)
        built.unlink(missing_ok=True)
    return target


class OverviewBuilder(QObject):
    """Builds overviews on a thread; ``finished(path, error)`` arrives on the GUI thread."""

    finished = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.running: set[Path] = set()

    def start(self, path: Path, factors: list[int]) -> bool:
        if path in self.running:
            return False
        self.running.add(path)

        def work() -> None:
            try:
                build_external_overviews(path, factors)
            except Exception as exc:  # noqa: BLE001 - reported to the user, logged
                log.warning("building overviews for %s failed: %s", path, exc)
                self.finished.emit(path, str(exc))
            else:
                self.finished.emit(path, "")

        threading.Thread(target=work, daemon=True, name="unet-gis-overviews").start()
        return True

    def done(self, path: Path) -> None:
        self.running.discard(path)
