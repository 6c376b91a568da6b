"""Building external overviews (.ovr) in a child process (no Qt here: the child is lean).

rasterio's ``build_overviews`` holds Python's GIL for the whole build, which would freeze
the GUI for seconds on a big raster; a spawned process leaves the GUI's interpreter alone.
The overviews are built for a hidden VRT copy of the raster (same size, same pixels) and
renamed into place, so an interrupted build never leaves a half-written .ovr behind and
the user's file is never opened for writing.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from unet_gis.app.canvas.sources import TILE
from unet_gis.raster.grid import overview_factors

MIN_SIDE = 4096  # smaller rasters read fast enough without overviews


def missing_overview_factors(width: int, height: int, overviews: tuple[int, ...]) -> list[int]:
    """Overview factors worth building (empty when the raster has some or is small)."""
    if overviews or max(width, height) < MIN_SIDE:
        return []
    return overview_factors(width, height, TILE)


def can_write_beside(path: Path) -> bool:
    return os.access(path.parent, os.W_OK)


def temporary_paths(path: Path) -> tuple[Path, Path]:
    """The hidden VRT and the .ovr GDAL builds for it (both removed afterwards)."""
    vrt = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.vrt"
    return vrt, Path(f"{vrt}.ovr")


def build_external_overviews(path: Path, factors: list[int], vrt: Path | None = None) -> Path:
    """Write ``NAME.ovr`` beside ``path``; return its path (runs in any process)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as copy_dataset

    vrt, built = temporary_paths(path) if vrt is None else (vrt, Path(f"{vrt}.ovr"))
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


def child_main(path: str, factors: list[int], vrt: str, results: Any) -> None:
    """Entry point of the spawned process: report "" or the error message (library
    warnings, e.g. rasterio's NotGeoreferencedWarning, stay off the app's stderr)."""
    import warnings

    warnings.simplefilter("ignore")
    try:
        build_external_overviews(Path(path), factors, Path(vrt))
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")
    else:
        results.put("")
