"""Pixels for display (numpy only): RGB composites, thresholded class overlays, previews."""

from __future__ import annotations

import math
import threading

import numpy as np
from rasterio.transform import Affine
from rasterio.windows import Window

from unet_gis.app.canvas.sources import DisplayGrid, RasterSource, Stretch

PREVIEW_MAX_SIDE = 1024
LOG_SIZE = 4096  # block updates remembered for incremental redraws


def rgba_composite(data: np.ndarray, valid: np.ndarray | None, stretch: Stretch) -> np.ndarray:
    """(3, h, w) raw bands -> (h, w, 4) RGBA uint8; invalid pixels transparent."""
    rgb = stretch.apply(data)
    h, w = rgb.shape[1:]
    out = np.empty((h, w, 4), np.uint8)
    for channel in range(3):  # per-channel copies beat one moveaxis copy (2.5x)
        out[..., channel] = rgb[channel]
    out[..., 3] = 255 if valid is None else np.where(valid, 255, 0)
    return out


def threshold_rgba(probabilities: np.ndarray, valid: np.ndarray | None, threshold_byte: int,
                   color: tuple[int, int, int]) -> np.ndarray:
    """(h, w) uint8 probabilities -> RGBA: ``color`` where p >= threshold, else clear."""
    on = probabilities >= threshold_byte
    if valid is not None:
        on &= valid
    out = np.zeros((*probabilities.shape, 4), np.uint8)
    out[on] = (*color, 255)
    return out


def load_image_tile(source: RasterSource, bands: tuple[int, ...], stretch: Stretch,
                    level: int, tx: int, ty: int) -> np.ndarray:
    if source.colormap is not None:  # paletted (e.g. a class mask): colours from the file
        data, valid = source.read(level, tx, ty, [1], mask=True)
        rgba = source.colormap[data[0]]
        if valid is not None:
            rgba[~valid, 3] = 0
        return np.asarray(rgba, np.uint8)
    data, valid = source.read(level, tx, ty, list(bands), mask=True)
    return rgba_composite(data, valid, stretch)


def load_probability_tile(source: RasterSource, level: int, tx: int,
                          ty: int) -> tuple[np.ndarray, np.ndarray | None]:
    return source.read(level, tx, ty, list(range(1, source.count + 1)), mask=True)


class PreviewRaster:
    """A decimated in-memory copy of a probability raster being written, for live display.

    At most ``PREVIEW_MAX_SIDE`` pixels a side (a few MB), whatever the scene size; the
    run's output blocks are sampled into it as they finish.
    """

    def __init__(self, width: int, height: int, transform: Affine, crs: object,
                 classes: int) -> None:
        self.factor = max(1, math.ceil(max(width, height) / PREVIEW_MAX_SIDE))
        self.width, self.height = width, height
        pw, ph = math.ceil(width / self.factor), math.ceil(height / self.factor)
        self.probabilities = np.zeros((classes, ph, pw), np.uint8)
        self.valid = np.zeros((ph, pw), bool)
        self.transform = transform * Affine.scale(self.factor, self.factor)
        self.crs = crs
        self.version = 0
        self._log: list[tuple[int, int, int, int, int]] = []  # version, row, col, h, w
        self._lock = threading.Lock()

    @property
    def grid(self) -> DisplayGrid:
        return DisplayGrid(self.valid.shape[1], self.valid.shape[0], self.transform)

    def sample(self, window: Window, probabilities: np.ndarray, valid: np.ndarray | None
               ) -> tuple[int, int, np.ndarray, np.ndarray]:
        """Decimate one output block (any thread); returns what :meth:`apply` takes."""
        f = self.factor
        row0, col0 = int(window.row_off), int(window.col_off)
        r_start, c_start = (-row0) % f, (-col0) % f
        probs = probabilities[:, r_start::f, c_start::f]
        ok = (np.ones(probs.shape[1:], bool) if valid is None
              else np.asarray(valid)[r_start::f, c_start::f])
        return (row0 + r_start) // f, (col0 + c_start) // f, probs.copy(), ok.copy()

    def apply(self, row: int, col: int, probabilities: np.ndarray, valid: np.ndarray) -> None:
        h, w = valid.shape
        h, w = min(h, self.valid.shape[0] - row), min(w, self.valid.shape[1] - col)
        if h <= 0 or w <= 0:
            return
        with self._lock:
            self.probabilities[:, row:row + h, col:col + w] = probabilities[:, :h, :w]
            self.valid[row:row + h, col:col + w] = valid[:h, :w]
            self.version += 1
            self._log.append((self.version, row, col, h, w))
            del self._log[:-LOG_SIZE]

    def render(self, band: int, threshold_byte: int, color: tuple[int, int, int]
               ) -> tuple[np.ndarray, int]:
        """The whole preview as RGBA, and the version it shows."""
        with self._lock:
            rgba = threshold_rgba(self.probabilities[band - 1], self.valid, threshold_byte,
                                  color)
            return rgba, self.version

    def update(self, rgba: np.ndarray, since: int, band: int, threshold_byte: int,
               color: tuple[int, int, int]) -> int:
        """Re-render into ``rgba`` only what changed after version ``since``."""
        with self._lock:
            if since == self.version:
                return since
            if not self._log or self._log[0][0] > since + 1:
                rgba[:] = threshold_rgba(self.probabilities[band - 1], self.valid,
                                         threshold_byte, color)
                return self.version
            for version, row, col, h, w in self._log:
                if version > since:
                    rgba[row:row + h, col:col + w] = threshold_rgba(
                        self.probabilities[band - 1, row:row + h, col:col + w],
                        self.valid[row:row + h, col:col + w], threshold_byte, color)
            return self.version
