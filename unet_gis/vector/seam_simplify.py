"""Simplifying seam-cut pieces everywhere except on the seams where they will be merged.

A road network that crosses the whole raster is one polygon, so its pieces wait until the
last strip and are merged in one union, whose memory grows with their vertex count.  Raw
pixel outlines have a vertex at every step of a staircase; simplifying the pieces first
divides that count several times.  The parts of an outline lying on a seam line are kept
exactly, so the pieces on both sides of a seam still share their edges: every other vertex
lies inside the piece's own tile core (a rectangle), so no simplified line can cross into a
neighbour's tile.  A piece that would come out invalid is kept as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from unet_gis.vector.masks import Tile
from unet_gis.vector.measure import FloatArray, GeomArray


def seam_lines(tile: Tile) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The x and y (global pixel coordinates) of ``tile``'s seams with other tiles."""
    top, bottom, left, right = tile.open_sides
    core = tile.core
    xs = [float(core.col_off)] * left + [float(core.col_off + core.width)] * right
    ys = [float(core.row_off)] * top + [float(core.row_off + core.height)] * bottom
    return tuple(xs), tuple(ys)


def _simplify_chain(chain: FloatArray, tolerance: float) -> FloatArray:
    if len(chain) < 3:
        return chain
    line = shapely.simplify(shapely.LineString(chain), tolerance, preserve_topology=True)
    return np.asarray(shapely.get_coordinates(line))


def _simplify_ring(ring: FloatArray, tolerance: float, xs: Sequence[float],
                   ys: Sequence[float]) -> FloatArray:
    """A closed ring simplified between the vertices that lie on a seam line."""
    open_ring = ring[:-1]
    fixed = np.flatnonzero(np.isin(open_ring[:, 0], xs) | np.isin(open_ring[:, 1], ys))
    if len(fixed) == 0:
        return _simplify_chain(ring, tolerance)
    rolled = np.roll(open_ring, -int(fixed[0]), axis=0)
    stops = [*(fixed - fixed[0]), len(open_ring)]
    closed = np.vstack([rolled, rolled[:1]])
    parts = [_simplify_chain(closed[a:b + 1], tolerance)[:-1]
             for a, b in zip(stops[:-1], stops[1:], strict=True)]
    return np.vstack([*parts, rolled[:1]])


def simplify_off_seams(geoms: GeomArray, tolerance: float, tile: Tile) -> GeomArray:
    """Simplify polygons cut from ``tile``, keeping their outline on its seams exact."""
    if tolerance <= 0 or len(geoms) == 0:
        return geoms
    xs, ys = seam_lines(tile)
    out = geoms.copy()
    for i, geom in enumerate(geoms):
        rings = [_simplify_ring(np.asarray(ring.coords), tolerance, xs, ys)
                 for ring in (geom.exterior, *geom.interiors)]
        if any(len(ring) < 4 for ring in rings):
            continue
        simpler = shapely.Polygon(rings[0], rings[1:])
        if simpler.is_valid and not simpler.is_empty:
            out[i] = simpler
    return np.asarray(out, dtype=object)
