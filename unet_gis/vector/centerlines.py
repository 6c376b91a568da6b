"""Road centerlines: skeleton per tile, a graph of lines across the whole raster.

Per tile (core + margin): close gaps narrower than ``gap`` (a closing with a square), fill
small holes (cars on the road would otherwise make loops), skeletonize, and turn the
skeleton pixels of the *core* into lines.  Every pair of
8-neighbouring skeleton pixels is a segment between pixel centres (a diagonal step is
dropped when an L-shaped pair of 4-steps already joins the two pixels, so staircases do
not look like junctions); a segment that leaves the core stops at the midpoint between the
two pixels.  The neighbouring tile, which sees the same skeleton thanks to the margin,
stops at the bit-identical midpoint, so lines from different tiles join exactly.

The lines then go into a :class:`~unet_gis.vector.network.CenterlineNetwork`, which
stitches them, prunes spurs, merges junction clusters, extends dead ends to the road
end, bridges small gaps, drops short fragments and simplifies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage
from skimage.morphology import skeletonize

from unet_gis.vector.masks import BoolArray, ByteArray, Tile, fill_small_holes
from unet_gis.vector.measure import FloatArray

Node = tuple[float, float]

#: 8-neighbour steps visited once each: right, down, down-right, down-left.
_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass
class LinePieces:
    """Lines from all tiles, with stored-probability sums, pixel counts and road
    half-widths at ends."""

    coords: list[FloatArray] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    half_width: dict[Node, float] = field(default_factory=dict)

    def extend(self, other: LinePieces) -> None:
        self.coords += other.coords
        self.sums += other.sums
        self.counts += other.counts
        self.half_width.update(other.half_width)


def close_gaps(mask: BoolArray, radius: float) -> BoolArray:
    """Morphological closing with a square of half-side ``radius`` pixels.

    Separable running maxima and minima cost the same whatever the radius (a disk costs
    its area per pixel); a square closes diagonal gaps up to 1.4 times wider.
    """
    if radius < 1:
        return mask
    size = 2 * int(round(radius)) + 1
    grown = ndimage.maximum_filter1d(
        ndimage.maximum_filter1d(mask.view(np.uint8), size, axis=0), size, axis=1)
    closed = ndimage.minimum_filter1d(
        ndimage.minimum_filter1d(grown, size, axis=0), size, axis=1)
    return np.asarray(closed.view(bool) | mask)


def _half_widths(mask: BoolArray, pixels: NDArray[np.intp], reach: int) -> FloatArray:
    """Distance from each pixel ``(row, col)`` to the nearest background pixel.

    Equals the Euclidean distance transform at those pixels, without transforming the
    whole tile: each pixel searches a window that doubles until it holds background, up
    to ``reach`` (the result is then ``reach``).
    """
    out = np.full(len(pixels), float(reach))
    for i, (row, col) in enumerate(pixels):
        radius = 8
        while True:
            r0, c0 = max(row - radius, 0), max(col - radius, 0)
            background = np.argwhere(~mask[r0:row + radius + 1, c0:col + radius + 1])
            if len(background):
                nearest = float(np.sqrt(((background - (row - r0, col - c0)) ** 2)
                                        .sum(axis=1).min()))
                if nearest <= radius or radius >= reach:  # nothing nearer outside
                    out[i] = min(nearest, float(reach))
                    break
            if radius >= reach:
                break
            radius = min(2 * radius, reach)
    return out


def _pixel_segments(skel: BoolArray, tile: Tile) -> FloatArray:
    """``(k, 2, 2)`` segments (x, y) between neighbouring skeleton pixels of the core."""
    pad = np.pad(skel, 1)
    rr, cc = np.nonzero(skel)
    pr, pc = rr + 1, cc + 1  # indices into ``pad``
    rows, cols = tile.core_slices
    in_core = (rr >= rows.start) & (rr < rows.stop) & (cc >= cols.start) & (cc < cols.stop)
    segments = []
    for dr, dc in _STEPS:
        linked = pad[pr + dr, pc + dc]
        if dr and dc:  # diagonal: redundant next to an L of two 4-steps
            linked &= ~(pad[pr, pc + dc] | pad[pr + dr, pc])
        r, c = rr[linked], cc[linked]
        qr, qc = r + dr, c + dc
        p_core = in_core[linked]
        q_core = (qr >= rows.start) & (qr < rows.stop) & (qc >= cols.start) & (qc < cols.stop)
        p = np.column_stack([c + 0.5, r + 0.5])
        q = np.column_stack([qc + 0.5, qr + 0.5])
        mid = (p + q) / 2
        start = np.where(p_core[:, None], p, mid)
        end = np.where(q_core[:, None], q, mid)
        keep = p_core | q_core
        segments.append(np.stack([start[keep], end[keep]], axis=1))
    out = np.concatenate(segments)
    out[:, :, 0] += tile.col0
    out[:, :, 1] += tile.row0
    return out


def skeleton_lines(mask: BoolArray, prob: ByteArray, tile: Tile, gap_px: float,
                   hole_px: float, out: LinePieces) -> None:
    """Add the centerline pieces of ``tile``'s core to ``out``."""
    if not mask.any():
        return
    mask = fill_small_holes(close_gaps(mask, gap_px / 2), hole_px)
    skel = skeletonize(mask)
    if not skel[tile.core_slices].any():
        return
    segments = _pixel_segments(skel, tile)
    if len(segments) == 0:
        return
    merged = shapely.line_merge(shapely.multilinestrings(shapely.linestrings(segments)))
    lines = shapely.get_parts(merged)
    coords, index = shapely.get_coordinates(lines, return_index=True)
    r = np.floor(coords[:, 1]).astype(np.intp) - tile.row0
    c = np.floor(coords[:, 0]).astype(np.intp) - tile.col0
    values = prob[r, c].astype(np.float64)  # stored bytes: scored in LayerBuilder
    sums = np.bincount(index, weights=values, minlength=len(lines))
    counts = np.bincount(index, minlength=len(lines)).astype(np.float64)
    splits = np.flatnonzero(np.diff(index)) + 1
    pieces = np.split(coords, splits)
    ends = np.array([end for line in pieces for end in (line[0], line[-1])
                     if end[0] % 1 == 0.5 and end[1] % 1 == 0.5])  # not seam midpoints
    if len(ends):
        pixels = np.column_stack([ends[:, 1] - tile.row0, ends[:, 0] - tile.col0])
        widths = _half_widths(mask, pixels.astype(np.intp), tile.margin)
        out.half_width.update(zip(map(tuple, ends.tolist()), widths.tolist(), strict=True))
    for i, line in enumerate(pieces):
        out.coords.append(line)
        out.sums.append(float(sums[i]))
        out.counts.append(float(counts[i]))
