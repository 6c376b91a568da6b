"""Class masks to polygons, tile by tile, merged across seams.

*Regions* (roads and any class without instances) are polygonised per core window;
pieces that touch a seam are kept aside and merged with their neighbours once their strip
of tiles is done (:class:`SeamMerger`), so no polygon is split at an invisible tile edge.
*Instances* (vehicles) are split where they touch (distance transform, h-maxima seeds,
watershed) on the whole tile, and each instance is kept by the tile whose core holds its
centroid, so it is produced once and whole as long as it is smaller than the margin.

All geometries are in global pixel coordinates (see :mod:`unet_gis.vector.measure`).
Each piece carries the sum and count of its probabilities so that merged pieces get the
exact mean probability (``score``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import shapes
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from unet_gis.vector.masks import BoolArray, ByteArray, Tile
from unet_gis.vector.measure import GeomArray

FloatArray = NDArray[np.float64]

#: Height (in pixels of distance to the background) a ridge between two touching
#: instances must drop by for them to be split; one pixel ignores staircase noise.
SPLIT_DEPTH_PX = 1.0


@dataclass
class Pieces:
    """Polygons with the probability sum and pixel count behind each (a growing table).

    ``bottom`` flags the pieces that touch the bottom seam of their tile: only those can
    continue into the next strip of tiles.
    """

    geoms: list[GeomArray] = field(default_factory=list)
    sums: list[FloatArray] = field(default_factory=list)
    counts: list[FloatArray] = field(default_factory=list)
    bottom: list[BoolArray] = field(default_factory=list)

    def add(self, geoms: GeomArray, sums: FloatArray, counts: FloatArray,
            bottom: BoolArray | None = None) -> None:
        if len(geoms):
            self.geoms.append(geoms)
            self.sums.append(sums)
            self.counts.append(counts)
            self.bottom.append(np.zeros(len(geoms), dtype=bool) if bottom is None else bottom)

    def arrays(self) -> tuple[GeomArray, FloatArray, FloatArray]:
        if not self.geoms:
            return np.empty(0, dtype=object), np.empty(0), np.empty(0)
        return (np.concatenate(self.geoms), np.concatenate(self.sums),
                np.concatenate(self.counts))

    def bottoms(self) -> BoolArray:
        return np.concatenate(self.bottom) if self.bottom else np.zeros(0, dtype=bool)


def _polygonise(labels: NDArray[np.int32], row0: int, col0: int,
                count: int) -> GeomArray:
    """One (multi)polygon per label 1..count, in global pixel coordinates."""
    parts: list[list[shapely.Geometry]] = [[] for _ in range(count + 1)]
    for geojson, value in shapes(labels, mask=labels > 0, connectivity=4,
                                 transform=Affine.translation(col0, row0)):
        parts[int(value)].append(shapely.geometry.shape(geojson))
    out = np.empty(count, dtype=object)
    for i in range(1, count + 1):
        out[i - 1] = parts[i][0] if len(parts[i]) == 1 else shapely.union_all(parts[i])
    return out


def _label_stats(labels: NDArray[np.int32], prob: ByteArray,
                 count: int) -> tuple[FloatArray, FloatArray]:
    flat = labels.ravel()
    sums = np.bincount(flat, weights=prob.ravel().astype(np.float64), minlength=count + 1)
    counts = np.bincount(flat, minlength=count + 1).astype(np.float64)
    return sums[1:] / 255.0, counts[1:]


def region_pieces(mask: BoolArray, prob: ByteArray, tile: Tile, closed: Pieces,
                  open_: Pieces) -> None:
    """Polygonise the core of ``tile``; pieces touching a seam go to ``open_``."""
    rows, cols = tile.core_slices
    core_mask, core_prob = mask[rows, cols], prob[rows, cols]
    if not core_mask.any():
        return
    labels, count = ndimage.label(core_mask)
    labels = labels.astype(np.int32)
    geoms = _polygonise(labels, int(tile.core.row_off), int(tile.core.col_off), count)
    sums, counts = _label_stats(labels, core_prob, count)
    top, bottom, left, right = tile.open_sides
    edges = [edge for edge, is_open in ((labels[0], top), (labels[-1], bottom),
                                        (labels[:, 0], left), (labels[:, -1], right))
             if is_open]
    on_seam = np.zeros(count + 1, dtype=bool)
    if edges:
        on_seam[np.unique(np.concatenate(edges))] = True
    on_bottom = np.zeros(count + 1, dtype=bool)
    if bottom:
        on_bottom[np.unique(labels[-1])] = True
    seam = on_seam[1:]
    closed.add(geoms[~seam], sums[~seam], counts[~seam])
    open_.add(geoms[seam], sums[seam], counts[seam], on_bottom[1:][seam])


def _split_instances(mask: BoolArray, rows: slice, cols: slice) -> tuple[NDArray[np.int32], int]:
    """Label touching instances apart, one connected component at a time.

    Only components reaching the core are split; working on each component's bounding box
    keeps the h-maxima reconstruction (costly on a whole tile) proportional to the
    objects, not to the tile.
    """
    components, _ = ndimage.label(mask)
    labels = np.zeros(mask.shape, dtype=np.int32)
    count = 0
    for k, box in enumerate(ndimage.find_objects(components), start=1):
        if box is None or box[0].stop <= rows.start or box[0].start >= rows.stop \
                or box[1].stop <= cols.start or box[1].start >= cols.stop:
            continue
        inside = components[box] == k
        distance = ndimage.distance_transform_edt(np.pad(inside, 1))
        seeds, n = ndimage.label(h_maxima(distance, SPLIT_DEPTH_PX))
        if n > 1:
            parts = watershed(-distance, seeds, mask=distance > 0)[1:-1, 1:-1]
        else:
            parts = inside.astype(np.int32)
        labels[box][inside] = parts[inside] + count
        count += max(n, 1)
    return labels, count


def instance_pieces(mask: BoolArray, prob: ByteArray, tile: Tile, out: Pieces) -> None:
    """Split touching instances on the whole tile; keep those centred in the core."""
    rows, cols = tile.core_slices
    if not mask[rows, cols].any():
        return
    labels, count = _split_instances(mask, rows, cols)
    if count == 0:
        return
    flat = labels.ravel()
    rr, cc = np.indices(labels.shape)
    n = np.bincount(flat, minlength=count + 1)[1:].astype(np.float64)
    safe_n = np.maximum(n, 1.0)
    row_c = np.bincount(flat, weights=rr.ravel(), minlength=count + 1)[1:] / safe_n
    col_c = np.bincount(flat, weights=cc.ravel(), minlength=count + 1)[1:] / safe_n
    keep = ((n > 0) & (row_c + 0.5 >= rows.start) & (row_c + 0.5 < rows.stop)
            & (col_c + 0.5 >= cols.start) & (col_c + 0.5 < cols.stop))
    if not keep.any():
        return
    new_id = np.zeros(count + 1, dtype=np.int32)
    new_id[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    kept = new_id[labels]
    kept_count = int(keep.sum())
    geoms = _polygonise(kept, tile.row0, tile.col0, kept_count)
    sums, counts = _label_stats(kept, prob, kept_count)
    out.add(geoms, sums, counts)


def merge_pieces(geoms: GeomArray, sums: FloatArray, counts: FloatArray,
                 flags: BoolArray) -> tuple[GeomArray, FloatArray, FloatArray, BoolArray]:
    """Union pieces that share an edge (cut by a seam); add up their statistics.

    A merged piece is flagged when any of its parts was.
    """
    n = len(geoms)
    if n < 2:
        return geoms, sums, counts, flags
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    # share a boundary line, not just a corner point (4-connectivity, like the tiles)
    shared = shapely.relate_pattern(geoms[left], geoms[right], "****1****")
    left, right = left[shared], right[shared]
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    groups, group_of = connected_components(graph, directed=False)
    order = np.argsort(group_of, kind="stable")
    bounds = np.searchsorted(group_of[order], np.arange(groups + 1))
    merged = np.empty(groups, dtype=object)
    for g in range(groups):
        members = order[bounds[g]:bounds[g + 1]]
        merged[g] = (geoms[members[0]] if len(members) == 1
                     else shapely.union_all(geoms[members]))
    merged_sums = np.bincount(group_of, weights=sums, minlength=groups).astype(np.float64)
    merged_counts = np.bincount(group_of, weights=counts, minlength=groups).astype(np.float64)
    merged_flags = np.bincount(group_of, weights=flags, minlength=groups) > 0
    return merged, merged_sums, merged_counts, merged_flags


class SeamMerger:
    """Seam-cut pieces of one class, merged strip by strip of tiles.

    After each strip, the pieces gathered so far are merged; a merged polygon that no
    longer reaches the bottom seam is whole and leaves, the others wait for the next
    strip.  Memory holds only polygons crossing the current seam, not the raster's.
    """

    def __init__(self) -> None:
        self.carried = Pieces()

    def settle(self, open_: Pieces, last: bool) -> tuple[GeomArray, FloatArray, FloatArray]:
        """Merge ``open_`` into the carried pieces; return the finished polygons."""
        (old_geoms, old_sums, old_counts), (new_geoms, new_sums, new_counts) = (
            self.carried.arrays(), open_.arrays())
        geoms, sums, counts, reach_on = merge_pieces(
            np.concatenate([old_geoms, new_geoms]), np.concatenate([old_sums, new_sums]),
            np.concatenate([old_counts, new_counts]),
            np.concatenate([np.zeros(len(old_geoms), dtype=bool), open_.bottoms()]))
        done = np.ones(len(geoms), dtype=bool) if last else ~reach_on
        self.carried = Pieces()
        self.carried.add(geoms[~done], sums[~done], counts[~done])
        return geoms[done], sums[done], counts[done]


def _fill_holes(geom: shapely.Geometry, max_area: float) -> shapely.Geometry:
    """``geom`` without the holes smaller than ``max_area``."""
    if isinstance(geom, shapely.MultiPolygon):
        return shapely.MultiPolygon([_fill_holes(p, max_area) for p in geom.geoms])
    holes = [ring for ring in geom.interiors if shapely.Polygon(ring).area >= max_area]
    return shapely.Polygon(geom.exterior, holes)


def clean_polygons(geoms: GeomArray, scores: FloatArray, min_area_px: float,
                   simplify_px: float) -> tuple[GeomArray, FloatArray]:
    """Fill small holes, drop specks, simplify edge-matched, keep valid polygons only.

    Returns single polygons (multi-part results are exploded, each part keeping the
    score of its feature).  Simplification uses coverage simplification, so polygons that
    share an edge (split vehicles) still share it afterwards.
    """
    if len(geoms) == 0:
        return geoms, scores
    holed = shapely.get_num_interior_rings(geoms) > 0
    if min_area_px > 0 and holed.any():
        geoms = geoms.copy()
        for i in np.flatnonzero(holed):
            geoms[i] = _fill_holes(geoms[i], min_area_px)
    big = shapely.area(geoms) >= max(min_area_px, 1e-9)
    geoms, scores = geoms[big], scores[big]
    if simplify_px > 0 and len(geoms):
        if shapely.coverage_is_valid(shapely.GeometryCollection(list(geoms))):
            geoms = shapely.coverage_simplify(geoms, simplify_px)
        else:
            geoms = shapely.simplify(geoms, simplify_px, preserve_topology=True)
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    parts, index = shapely.get_parts(geoms, return_index=True)
    polygonal = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (
        shapely.area(parts) > 0)
    return np.asarray(parts[polygonal], dtype=object), scores[index[polygonal]]
