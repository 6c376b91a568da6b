"""Reading a probability raster window by window, with a margin, as class masks.

A *tile* is a core window of the raster plus a margin on every side.  Work that needs
context (vehicle splitting, skeletons) looks at the whole tile but keeps only what belongs
to the core, so each result is produced exactly once and memory stays bounded by the tile
size, whatever the raster size.  Outside the raster and at nodata (the raster's nodata
value, or an older raster's mask), probabilities read as 0 (below any threshold).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rasterio.enums import MaskFlags
from rasterio.io import DatasetReader
from rasterio.windows import Window
from scipy import ndimage

from unet_gis.raster.probability import FULL_SCALE, threshold_to_byte

BoolArray = NDArray[np.bool_]
ByteArray = NDArray[np.uint8]


@dataclass(frozen=True)
class Tile:
    """A core window and its margin; arrays read for it are ``(h + 2m, w + 2m)``.

    ``row0``/``col0`` are the global pixel coordinates of the tile array's top-left
    corner (``core.row_off - margin``, may be negative).  ``open_sides`` says which core
    edges (top, bottom, left, right) have a neighbouring tile, i.e. are seams.
    """

    core: Window
    margin: int
    open_sides: tuple[bool, bool, bool, bool]

    @property
    def row0(self) -> int:
        return int(self.core.row_off) - self.margin

    @property
    def col0(self) -> int:
        return int(self.core.col_off) - self.margin

    @property
    def core_slices(self) -> tuple[slice, slice]:
        """The core inside a tile array."""
        m = self.margin
        return slice(m, m + int(self.core.height)), slice(m, m + int(self.core.width))

    @property
    def pixels(self) -> int:
        return int(self.core.width) * int(self.core.height)


def iter_tiles(width: int, height: int, size: int, margin: int) -> Iterator[Tile]:
    """Tiles covering a ``width`` x ``height`` raster in row-major order."""
    for row in range(0, height, size):
        for col in range(0, width, size):
            core = Window(col, row, min(size, width - col), min(size, height - row))
            sides = (row > 0, row + size < height, col > 0, col + size < width)
            yield Tile(core, margin, sides)


def iter_strips(width: int, height: int, size: int,
                margin: int) -> Iterator[tuple[list[Tile], int | None]]:
    """Rows of tiles, top to bottom, each with the first pixel row below it.

    The row is ``None`` for the last strip: nothing follows it.
    """
    strip: list[Tile] = []
    for tile in iter_tiles(width, height, size, margin):
        if strip and tile.core.row_off != strip[0].core.row_off:
            yield strip, int(tile.core.row_off)
            strip = []
        strip.append(tile)
    if strip:
        yield strip, None


def batched(tiles: Sequence[Tile], size: int) -> Iterator[Sequence[Tile]]:
    """``tiles`` in consecutive runs of at most ``size``."""
    for start in range(0, len(tiles), size):
        yield tiles[start:start + size]


def tile_count(width: int, height: int, size: int) -> int:
    return (-(-width // size)) * (-(-height // size))


def read_tiles(dataset: DatasetReader, bands: Sequence[int],
               tiles: Sequence[Tile]) -> list[ByteArray]:
    """The ``(len(bands), h + 2m, w + 2m)`` probabilities of tiles side by side in one
    strip, 0 outside the raster and at nodata.

    One read covers them all, so blocks under the margins they share are decoded once;
    the arrays returned are views into it.
    """
    first, last = tiles[0], tiles[-1]
    m = first.margin
    h = int(first.core.height) + 2 * m
    col0 = first.col0
    w = int(last.core.col_off + last.core.width) + m - col0
    out = np.zeros((len(bands), h, w), dtype=np.uint8)
    r0, r1 = max(first.row0, 0), min(first.row0 + h, dataset.height)
    c0, c1 = max(col0, 0), min(col0 + w, dataset.width)
    window = Window(c0, r0, c1 - c0, r1 - r0)
    rows, cols = slice(r0 - first.row0, r1 - first.row0), slice(c0 - col0, c1 - col0)
    out[:, rows, cols] = dataset.read(list(bands), window=window)
    if MaskFlags.all_valid not in dataset.mask_flag_enums[0]:
        out[:, rows, cols] *= dataset.read_masks(1, window=window) > 0
    return [out[:, :, tile.col0 - col0:tile.col0 - col0 + int(tile.core.width) + 2 * m]
            for tile in tiles]


def threshold(probabilities: ByteArray, value: float,
              full_scale: int = FULL_SCALE) -> BoolArray:
    """Pixels at or above probability ``value`` in bytes whose probability 1 is
    ``full_scale`` (nodata, read as 0 by :func:`read_tiles`, never is)."""
    return np.asarray(probabilities >= threshold_to_byte(value, full_scale))


def fill_small_holes(mask: BoolArray, max_px: float) -> BoolArray:
    """Fill background regions smaller than ``max_px`` that do not touch the array edge.

    Regions touching the edge are left alone: in a tile they may continue beyond it, so
    only the tile that sees them whole may call them holes.
    """
    if max_px <= 0:
        return mask
    labels, count = ndimage.label(~mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    small = sizes < max_px
    small[0] = False
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    small[edge] = False
    return np.asarray(mask | small[labels])
