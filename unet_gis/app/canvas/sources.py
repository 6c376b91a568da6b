"""Raster sources for display (no Qt): metadata, display grid, tiles, thread-safe reads.

A source is opened once on the GUI thread for its metadata only (milliseconds, whatever
the file size).  Pixels are read off the GUI thread, one tile at a time, through a pool
of dataset handles (GDAL handles must not be shared between threads).  A tile at level
``f`` covers ``TILE * f`` display pixels and is read with ``out_shape`` decimated by
``f``, so GDAL serves it from the file's overviews: a 20000x20000 raster is never read
whole.  A layer in another CRS than the view is read through a ``WarpedVRT`` in the
view's CRS, so layers line up.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.transform import Affine
from rasterio.windows import Window

from unet_gis.app.geo import Bounds
from unet_gis.raster.io import north_up_transform, open_raster, read_failure

TILE = 256
_uids = itertools.count(1)


@dataclass(frozen=True)
class DisplayGrid:
    """A north-up pixel grid in the view CRS."""

    width: int
    height: int
    transform: Affine

    @property
    def bounds(self) -> Bounds:
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.c + t.a * self.width, t.f + t.e * self.height
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    @property
    def pixel_size(self) -> float:
        return float(abs(self.transform.a))

    def max_level(self) -> int:
        level = 1
        while max(self.width, self.height) / level > TILE:
            level *= 2
        return level

    def level_for(self, res: float, res_y: float | None = None) -> int:
        """The power-of-two decimation closest to ``res`` world units per screen pixel
        (with ``res_y``, up the screen: the finer of the two directions decides)."""
        ratio = res / self.pixel_size
        if res_y is not None:
            ratio = min(ratio, res_y / abs(self.transform.e))
        level = 2 ** max(0, round(math.log2(ratio))) if ratio > 1 else 1
        return int(min(level, self.max_level()))

    def tiles(self, level: int, view: Bounds) -> list[tuple[int, int]]:
        """(tx, ty) of the tiles at ``level`` that intersect ``view``."""
        t, span = self.transform, TILE * level
        c0 = (view[0] - t.c) / t.a
        c1 = (view[2] - t.c) / t.a
        r0 = (view[3] - t.f) / t.e
        r1 = (view[1] - t.f) / t.e
        c0, c1 = sorted((c0, c1))
        r0, r1 = sorted((r0, r1))
        tx0, tx1 = max(0, math.floor(c0 / span)), min(math.ceil(self.width / span),
                                                        math.ceil(c1 / span))
        ty0, ty1 = max(0, math.floor(r0 / span)), min(math.ceil(self.height / span),
                                                        math.ceil(r1 / span))
        return [(tx, ty) for ty in range(ty0, ty1) for tx in range(tx0, tx1)]

    def tile_window(self, level: int, tx: int, ty: int) -> tuple[Window, tuple[int, int]]:
        """The display-pixel window of a tile and its decimated (rows, cols) shape."""
        span = TILE * level
        col, row = tx * span, ty * span
        w, h = min(span, self.width - col), min(span, self.height - row)
        return Window(col, row, w, h), (max(1, math.ceil(h / level)), max(1, math.ceil(w / level)))

    def window_bounds(self, window: Window) -> Bounds:
        left, bottom, right, top = rasterio.windows.bounds(window, self.transform)
        return float(left), float(bottom), float(right), float(top)


class HandlePool:
    """Dataset handles shared by worker threads, one thread at a time each."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._free: list[Any] = []
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def handle(self) -> Iterator[Any]:
        with self._lock:
            if self._closed:
                raise RuntimeError("source closed")
            handle = self._free.pop() if self._free else None
        if handle is None:
            handle = self._opener()
            with self._lock:
                self._all.append(handle)
        try:
            yield handle
        finally:
            with self._lock:
                if self._closed:
                    _close(handle)
                else:
                    self._free.append(handle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        for handle in free:
            _close(handle)


def _close(handle: Any) -> None:
    for item in handle if isinstance(handle, tuple) else (handle,):
        with contextlib.suppress(Exception):
            item.close()


class RasterSource:
    """A raster file displayed in a view CRS."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.uid = next(_uids)
        with open_raster(self.path) as ds:
            self.width, self.height, self.count = ds.width, ds.height, ds.count
            self.dtypes = tuple(ds.dtypes)
            self.crs: CRS | None = ds.crs
            self.transform: Affine = ds.transform
            self.colorinterp = tuple(ds.colorinterp)
            self.overviews = tuple(ds.overviews(1))
            self.masked = any(MaskFlags.all_valid not in flags for flags in ds.mask_flag_enums)
            self.tags: dict[str, str] = ds.tags()
            self.descriptions = tuple(ds.descriptions)
            self.colormap = _colormap(ds)
        self.native_transform: Affine = self.transform
        self.transform = north_up_transform(self.crs, self.transform)
        self.view_crs: CRS | None = self.crs
        self.warped = False
        self.display = DisplayGrid(self.width, self.height, self.transform)
        self._pool = HandlePool(self._open)

    @property
    def alpha_band(self) -> int | None:
        if ColorInterp.alpha in self.colorinterp:
            return self.colorinterp.index(ColorInterp.alpha) + 1
        return None

    def set_view_crs(self, view_crs: CRS | None) -> str | None:
        """Display in ``view_crs``; return why the source cannot be aligned, or ``None``."""
        if (view_crs is None) != (self.crs is None):
            return ("has no CRS" if self.crs is None else "has a CRS but the map has none") + \
                ": it cannot be aligned with the other layers"
        if view_crs is None or self.crs is None or view_crs == self.crs:
            grid, warped = DisplayGrid(self.width, self.height, self.transform), False
        else:
            from rasterio.warp import calculate_default_transform

            try:
                transform, width, height = calculate_default_transform(
                    self.crs, view_crs, self.width, self.height,
                    *rasterio.transform.array_bounds(self.height, self.width, self.transform))
            except Exception as exc:
                return f"cannot be reprojected to the map's CRS ({exc})"
            grid, warped = DisplayGrid(int(width), int(height), transform), True
        if grid.transform.b or grid.transform.d:
            return "is rotated; open a north-up version of it"
        self._pool.close()
        self.view_crs, self.display, self.warped = view_crs, grid, warped
        self._pool = HandlePool(self._open)
        self.uid = next(_uids)  # tiles cached for the old grid are not reused
        return None

    def refresh(self) -> None:
        """Re-read the overview list and reopen handles (after overviews were built)."""
        with rasterio.open(self.path) as ds:
            self.overviews = tuple(ds.overviews(1))
        self._pool.close()
        self._pool = HandlePool(self._open)
        self.uid = next(_uids)  # cached tiles of the old handles are not reused

    def _open(self) -> Any:
        dataset = rasterio.open(self.path)
        if not self.warped:
            return dataset
        from rasterio.vrt import WarpedVRT

        vrt = WarpedVRT(dataset, crs=self.view_crs, transform=self.display.transform,
                        width=self.display.width, height=self.display.height,
                        resampling=Resampling.nearest, add_alpha=self.alpha_band is None)
        return vrt, dataset

    def read(self, level: int, tx: int, ty: int, indexes: list[int],
             mask: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Read a tile: (bands, rows, cols) data and its validity mask (or ``None``)."""
        window, shape = self.display.tile_window(level, tx, ty)
        with self._pool.handle() as handle:
            ds = handle[0] if isinstance(handle, tuple) else handle
            try:
                data = ds.read(indexes, window=window, out_shape=(len(indexes), *shape))
                valid = None
                if mask and (self.masked or self.warped):
                    valid = ds.dataset_mask(window=window, out_shape=shape) > 0
            except rasterio.RasterioIOError as exc:
                raise read_failure(self.path, exc, "here") from exc
        return data, valid

    def read_overview(self, indexes: list[int], max_side: int = 512) -> np.ma.MaskedArray:
        """A small decimated read of the whole raster (for statistics)."""
        factor = max(1, math.ceil(max(self.width, self.height) / max_side))
        shape = (len(indexes), max(1, self.height // factor), max(1, self.width // factor))
        with rasterio.open(self.path) as ds:
            data: np.ma.MaskedArray = ds.read(indexes, out_shape=shape, masked=True)
            return data

    def close(self) -> None:
        self._pool.close()


def _colormap(ds: Any) -> np.ndarray | None:
    """A (256, 4) RGBA lookup table for a paletted single-band raster, else ``None``."""
    if ds.count != 1 or ds.colorinterp[0] != ColorInterp.palette or ds.dtypes[0] != "uint8":
        return None
    try:
        entries = ds.colormap(1)
    except ValueError:
        return None
    table = np.zeros((256, 4), np.uint8)
    for value, rgba in entries.items():
        if 0 <= value < 256:
            table[value] = rgba
    return table


def default_bands(source: RasterSource) -> tuple[int, ...]:
    """RGB by colour interpretation, else the first three non-alpha bands, else grey."""
    interp = source.colorinterp
    wanted = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if all(ci in interp for ci in wanted):
        return tuple(interp.index(ci) + 1 for ci in wanted)
    usable = [i + 1 for i, ci in enumerate(interp) if ci != ColorInterp.alpha]
    if len(usable) >= 3:
        return tuple(usable[:3])
    return (usable[0] if usable else 1,) * 3


class Stretch:
    """Per-band linear stretch to 0-255; percentiles measured once, lazily, thread-safe."""

    def __init__(self, source: RasterSource, bands: tuple[int, ...],
                 low_pct: float = 2.0, high_pct: float = 98.0) -> None:
        self.source, self.bands = source, bands
        self.low_pct, self.high_pct = low_pct, high_pct
        self._limits: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()
        self.identity = all(source.dtypes[b - 1] == "uint8" for b in bands)

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._limits is None:
                self._limits = self._measure()
            return self._limits

    def _measure(self) -> tuple[np.ndarray, np.ndarray]:
        unique = sorted(set(self.bands))
        data = self.source.read_overview(unique)
        lows, highs = [], []
        for band in self.bands:
            values = data[unique.index(band)].compressed().astype(np.float64)
            values = values[np.isfinite(values)]
            lo, hi = (np.percentile(values, [self.low_pct, self.high_pct])
                      if values.size else (0.0, 1.0))
            lows.append(lo)
            highs.append(hi if hi > lo else lo + 1.0)
        return np.asarray(lows, np.float32), np.asarray(highs, np.float32)

    def apply(self, data: np.ndarray) -> np.ndarray:
        if self.identity:
            return data.astype(np.uint8, copy=False)
        low, high = self.limits()
        scaled = (data.astype(np.float32) - low[:, None, None]) / (high - low)[:, None, None]
        return np.asarray((np.clip(np.nan_to_num(scaled), 0.0, 1.0) * 255.0 + 0.5), np.uint8)
