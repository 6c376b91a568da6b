"""Reading model tiles: windowed, resampled on the fly, mirror-padded at raster edges."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.enums import MaskFlags, Resampling
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from unet_gis.raster.grid import GridPlan, TileWindow
from unet_gis.raster.io import BandChoice, InputScaler, RasterSource, read_failure


@dataclass
class TileData:
    """A read tile: standardised input and which pixels of its core hold data."""

    window: TileWindow
    image: np.ndarray | None  # (bands, tile, tile) float32; None when the core is all nodata
    core_valid: np.ndarray | None  # (rows, cols) bool; None when every pixel is valid


def has_nodata(dataset: DatasetReader, bands: BandChoice) -> bool:
    """True when any chosen band has a nodata value, a mask or an alpha band."""
    return any(
        MaskFlags.all_valid not in dataset.mask_flag_enums[i - 1] for i in set(bands.indexes))


class TileReader:
    """Thread-safe tile source: each thread opens its own dataset handle (GDAL handles must
    not be shared between threads) and, when resampling, its own ``WarpedVRT``."""

    def __init__(self, path: RasterSource, plan: GridPlan, bands: BandChoice, scaler: InputScaler,
                 masked: bool) -> None:
        self.path = path
        self.plan = plan
        self.bands = bands
        self.scaler = scaler
        self.masked = masked
        self._local = threading.local()
        self._handles: list[DatasetReader | WarpedVRT] = []
        self._lock = threading.Lock()

    def _source(self) -> DatasetReader | WarpedVRT:
        source = getattr(self._local, "source", None)
        if source is None:
            dataset = rasterio.open(self.path)
            source = dataset
            if self.plan.resampled:
                working = self.plan.working
                source = WarpedVRT(dataset, crs=dataset.crs, transform=working.transform,
                                   width=working.width, height=working.height,
                                   resampling=Resampling.bilinear)
                with self._lock:
                    self._handles.append(source)
            with self._lock:
                self._handles.append(dataset)
            self._local.source = source
        return source

    def close(self) -> None:
        with self._lock:
            for handle in self._handles:
                handle.close()
            self._handles.clear()

    def read(self, window: TileWindow) -> TileData:
        """Read ``window``'s tile; pixels beyond the grid are mirrored from inside it."""
        grid = self.plan.working
        tile = window.tile
        row0, col0 = max(int(tile.row_off), 0), max(int(tile.col_off), 0)
        row1 = min(int(tile.row_off + tile.height), grid.height)
        col1 = min(int(tile.col_off + tile.width), grid.width)
        inner = Window(col0, row0, col1 - col0, row1 - row0)
        source = self._source()
        unique = sorted(set(self.bands.indexes))
        try:
            valid = None
            if self.masked:
                # like GDAL's dataset mask: a pixel is data when any chosen band has data
                # (a pure-red pixel with nodata=0 is still a pixel)
                masks = source.read_masks(unique, window=inner)
                valid = np.any(masks > 0, axis=0)
                core_valid = self._core_part(valid, window, row0, col0)
                if not core_valid.any():
                    return TileData(window, None, core_valid)
            raw = source.read(unique, window=inner)
            if raw.dtype.kind == "f" and self.masked:  # NaN and inf are nodata
                finite = np.isfinite(raw).all(axis=0)
                valid = finite if valid is None else valid & finite
                core_valid = self._core_part(valid, window, row0, col0)
                if not core_valid.any():
                    return TileData(window, None, core_valid)
        except rasterio.RasterioIOError as exc:
            raise read_failure(self.path, exc,
                               f"at rows {row0}-{row1}, columns {col0}-{col1}") from exc
        raw = raw[[unique.index(i) for i in self.bands.indexes]]
        image = self.scaler(raw, valid)
        pad = ((0, 0), (row0 - int(tile.row_off), int(tile.row_off + tile.height) - row1),
               (col0 - int(tile.col_off), int(tile.col_off + tile.width) - col1))
        if any(p for pair in pad for p in pair):
            image = _mirror_pad(image, pad)
        if valid is None or valid.all():
            return TileData(window, image, None)
        return TileData(window, image, self._core_part(valid, window, row0, col0))

    @staticmethod
    def _core_part(valid: np.ndarray, window: TileWindow, row0: int, col0: int) -> np.ndarray:
        core = window.core
        r, c = int(core.row_off) - row0, int(core.col_off) - col0
        return valid[r:r + int(core.height), c:c + int(core.width)]


def _mirror_pad(image: np.ndarray, pad: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Reflect-pad (edge pixel not repeated); a one-pixel axis can only be repeated."""
    rows, cols = image.shape[1:]
    if rows > 1 and cols > 1:
        return np.pad(image, pad, mode="reflect")
    return np.pad(image, pad, mode="edge")
