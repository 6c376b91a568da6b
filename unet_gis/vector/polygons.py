"""Class masks to polygons, tile by tile, merged across seams.

*Regions* (roads and any class without instances) are polygonised per core window;
pieces that touch a seam are kept aside and merged with their neighbours once their strip
of tiles is done (:class:`SeamMerger`), so no polygon is split at an invisible tile edge.
*Instances* (vehicles) are split where they touch (distance transform, h-maxima seeds,
watershed) on the whole tile, and each instance is kept by the tile whose core holds its
centroid, so it is produced once and whole as long as it is smaller than the margin.

All geometries are in global pixel coordinates (see :mod:`unet_gis.vector.measure`).
Each piece carries the sum of its stored probabilities (bytes, see
:mod:`unet_gis.raster.probability`) and its pixel count, so that merged pieces get the
exact mean probability (``score``, turned into 0-1 by the layer builder).
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
from unet_gis.vector.measure import FloatArray, GeomArray
from unet_gis.vector.seam_simplify import simplify_off_seams

#: Height (in pixels of distance to the background) a ridge between two touching
#: instances must drop by for them to be split; one pixel ignores staircase noise.
SPLIT_DEPTH_PX = 1.0


@dataclass
class Pieces:
    """Polygons with the stored-probability sum and pixel count behind each (a growing
    table).

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

    def extend(self, other: Pieces) -> None:
        self.geoms += other.geoms
        self.sums += other.sums
        self.counts += other.counts
        self.bottom += other.bottom

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
    """Sum of stored probabilities and pixel count of each label 1..count."""
    flat = labels.ravel()
    inside = np.flatnonzero(flat)
    label = flat[inside]
    sums = np.bincount(label, weights=prob.ravel()[inside], minlength=count + 1)
    counts = np.bincount(label, minlength=count + 1).astype(np.float64)
    return sums[1:].astype(np.float64), counts[1:]


def _box_areas(labels: NDArray[np.int32]) -> FloatArray:
    """Area of the bounding box of each label 1..n (pixels)."""
    return np.array([(box[0].stop - box[0].start) * (box[1].stop - box[1].start)
                     for box in ndimage.find_objects(labels)], dtype=np.float64)


def region_pieces(mask: BoolArray, prob: ByteArray, tile: Tile, closed: Pieces,
                  open_: Pieces, min_px: float = 0.0, simplify_px: float = 0.0) -> None:
    """Polygonise the core of ``tile``; pieces touching a seam go to ``open_``.

    Whole pieces whose bounding box is smaller than ``min_px`` (speckle) are dropped
    before polygonising: even with their holes filled they stay below the minimum area.
    Seam pieces are simplified by ``simplify_px`` off the seams (see
    :mod:`unet_gis.vector.seam_simplify`), so those that wait for their neighbours take
    less memory and merge faster.
    """
    rows, cols = tile.core_slices
    core_mask, core_prob = mask[rows, cols], prob[rows, cols]
    if not core_mask.any():
        return
    labels, count = ndimage.label(core_mask)
    labels = labels.astype(np.int32)
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
    keep = np.ones(count + 1, dtype=bool)
    if min_px > 0:
        keep[1:] = on_seam[1:] | (_box_areas(labels) >= min_px)
        if not keep[1:].all():
            new_id = np.zeros(count + 1, dtype=np.int32)
            new_id[keep] = np.arange(int(keep.sum()), dtype=np.int32)
            labels = new_id[labels]
            count = int(keep.sum()) - 1
    seam, bottom_of = on_seam[keep][1:], on_bottom[keep][1:]
    geoms = _polygonise(labels, int(tile.core.row_off), int(tile.core.col_off), count)
    sums, counts = _label_stats(labels, core_prob, count)
    closed.add(geoms[~seam], sums[~seam], counts[~seam])
    open_.add(simplify_off_seams(geoms[seam], simplify_px, tile), sums[seam], counts[seam],
              bottom_of[seam])


def _split(inside: BoolArray) -> tuple[NDArray[np.int32], int]:
    """Label the touching instances of one connected component apart (1..n).

    Seeds are the h-maxima of the distance to the background; a watershed of the negated
    distance grows them back to the component.
    """
    distance = ndimage.distance_transform_edt(np.pad(inside, 1))
    seeds, n = ndimage.label(h_maxima(distance, SPLIT_DEPTH_PX))
    if n > 1:
        return np.asarray(watershed(-distance, seeds, mask=distance > 0)[1:-1, 1:-1],
                          dtype=np.int32), n
    return inside.astype(np.int32), 1


def _reaches(box: tuple[slice, slice], rows: slice, cols: slice) -> bool:
    return not (box[0].stop <= rows.start or box[0].start >= rows.stop
                or box[1].stop <= cols.start or box[1].start >= cols.stop)


def _simplify_together(parts: GeomArray, simplify_px: float) -> GeomArray:
    """Simplify polygons so that those sharing an edge still share it (a coverage
    simplification), or one by one when they do not form a valid coverage."""
    if simplify_px <= 0:
        return parts
    if len(parts) == 1 or shapely.coverage_is_valid(shapely.GeometryCollection(list(parts))):
        return np.asarray(shapely.coverage_simplify(parts, simplify_px), dtype=object)
    return np.asarray(shapely.simplify(parts, simplify_px, preserve_topology=True),
                      dtype=object)


def instance_pieces(mask: BoolArray, prob: ByteArray, tile: Tile, out: Pieces,
                    min_px: float = 0.0, simplify_px: float = 0.0) -> None:
    """Split touching instances on the whole tile; keep those centred in the core.

    Work is per connected component, on its bounding box, so it is proportional to the
    objects, not to the tile.  Components whose bounding box is smaller than ``min_px``
    (speckle) are skipped.  Instances get the clean-up of :func:`clean_polygons` here,
    per component: holes smaller than ``min_px`` filled, instances smaller than it
    dropped, then the instances of a component simplified together by ``simplify_px``.
    A neighbouring tile that keeps another instance of the same component sees the same
    component and cleans it the same way, so touching instances stay edge-matched even
    when different tiles keep them.
    """
    rows, cols = tile.core_slices
    if not mask[rows, cols].any():
        return
    components, _ = ndimage.label(mask)
    for k, box in enumerate(ndimage.find_objects(components), start=1):
        if box is None or not _reaches(box, rows, cols) or (
                (box[0].stop - box[0].start) * (box[1].stop - box[1].start) < min_px):
            continue
        parts, n = _split(components[box] == k)
        rr, cc = np.nonzero(parts)
        part = parts[rr, cc]
        size = np.bincount(part, minlength=n + 1)[1:].astype(np.float64)
        safe = np.maximum(size, 1.0)
        row_c = np.bincount(part, weights=rr, minlength=n + 1)[1:] / safe + box[0].start
        col_c = np.bincount(part, weights=cc, minlength=n + 1)[1:] / safe + box[1].start
        keep = ((size > 0) & (row_c + 0.5 >= rows.start) & (row_c + 0.5 < rows.stop)
                & (col_c + 0.5 >= cols.start) & (col_c + 0.5 < cols.stop))
        if not keep.any():
            continue
        geoms = _without_small_holes(_polygonise(parts, tile.row0 + box[0].start,
                                                 tile.col0 + box[1].start, n), min_px)
        big = shapely.area(geoms) >= max(min_px, 1e-9)
        keep &= big
        if not keep.any():
            continue
        geoms[big] = _simplify_together(geoms[big], simplify_px)
        values = prob[box][rr, cc].astype(np.float64)
        sums = np.bincount(part, weights=values, minlength=n + 1)[1:]
        out.add(geoms[keep], sums[keep], size[keep])


def _shared_edges(geoms: GeomArray) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs ``i < j`` of polygons that share a boundary line (not just a corner)."""
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    # a shared line, not just a corner point: 4-connectivity, like the tiles
    shared = shapely.relate_pattern(geoms[left], geoms[right], "****1****")
    return left[shared], right[shared]


class SeamMerger:
    """Seam-cut pieces of one class, grouped strip by strip and merged once whole.

    After each strip of tiles, the new pieces are linked to the waiting pieces that touch
    the seam above them and to each other (they share an edge).  A group that no longer
    reaches the strip's bottom seam is whole: its pieces are merged (one cascaded union)
    and leave.  Only the pieces of groups still crossing
    the seam wait; each is kept as cut, so no large polygon is rebuilt strip after strip.
    """

    def __init__(self) -> None:
        self.geoms: GeomArray = np.empty(0, dtype=object)
        self.sums: FloatArray = np.empty(0)
        self.counts: FloatArray = np.empty(0)
        self.group = np.empty(0, dtype=np.intp)  # group of each waiting piece: 0..groups-1
        self.groups = 0
        self.at_seam = np.empty(0, dtype=bool)  # touches the seam the next strip starts at

    def settle(self, open_: Pieces, last: bool) -> tuple[GeomArray, FloatArray, FloatArray]:
        """Add the seam pieces of a strip; return the polygons that are now whole."""
        new_geoms, new_sums, new_counts = open_.arrays()
        n_old, n_new = len(self.geoms), len(new_geoms)
        geoms = np.concatenate([self.geoms, new_geoms])
        # graph nodes: the waiting groups, then the new pieces
        node = np.concatenate([self.group, self.groups + np.arange(n_new)])
        candidates = np.concatenate([np.flatnonzero(self.at_seam),
                                     n_old + np.arange(n_new)]).astype(np.intp)
        left, right = _shared_edges(geoms[candidates])
        size = self.groups + n_new
        graph = coo_matrix((np.ones(len(left)), (node[candidates[left]],
                                                 node[candidates[right]])), shape=(size, size))
        _, component = connected_components(graph, directed=False)
        of_piece = component[node]
        bottom = np.concatenate([np.zeros(n_old, dtype=bool), open_.bottoms()])
        open_components = np.zeros(size, dtype=bool)
        if not last:
            open_components[of_piece[bottom]] = True
        waiting = open_components[of_piece]
        done = self._merge(geoms[~waiting], np.concatenate([self.sums, new_sums])[~waiting],
                           np.concatenate([self.counts, new_counts])[~waiting],
                           of_piece[~waiting])
        kept_groups, self.group = np.unique(of_piece[waiting], return_inverse=True)
        self.groups = len(kept_groups)
        self.geoms = geoms[waiting]
        self.sums = np.concatenate([self.sums, new_sums])[waiting]
        self.counts = np.concatenate([self.counts, new_counts])[waiting]
        self.at_seam = bottom[waiting]
        return done

    @staticmethod
    def _merge(geoms: GeomArray, sums: FloatArray, counts: FloatArray,
               group: NDArray[np.intp]) -> tuple[GeomArray, FloatArray, FloatArray]:
        """One polygon per group with the summed statistics of its pieces."""
        if len(geoms) == 0:
            return geoms, sums, counts
        labels, group_of = np.unique(group, return_inverse=True)
        order = np.argsort(group_of, kind="stable")
        bounds = np.searchsorted(group_of[order], np.arange(len(labels) + 1))
        merged = np.empty(len(labels), dtype=object)
        for g in range(len(labels)):
            members = order[bounds[g]:bounds[g + 1]]
            merged[g] = (geoms[members[0]] if len(members) == 1
                         else shapely.union_all(geoms[members]))
        return (merged, np.bincount(group_of, weights=sums).astype(np.float64),
                np.bincount(group_of, weights=counts).astype(np.float64))


def _fill_holes(geom: shapely.Geometry, max_area: float) -> shapely.Geometry:
    """``geom`` without the holes smaller than ``max_area``."""
    if isinstance(geom, shapely.MultiPolygon):
        return shapely.MultiPolygon([_fill_holes(p, max_area) for p in geom.geoms])
    holes = [ring for ring in geom.interiors if shapely.Polygon(ring).area >= max_area]
    return shapely.Polygon(geom.exterior, holes)


def _without_small_holes(geoms: GeomArray, max_area: float) -> GeomArray:
    """``geoms`` with the holes smaller than ``max_area`` filled."""
    holed = shapely.get_num_interior_rings(geoms) > 0
    if max_area <= 0 or not holed.any():
        return geoms
    geoms = geoms.copy()
    for i in np.flatnonzero(holed):
        geoms[i] = _fill_holes(geoms[i], max_area)
    return geoms


def clean_polygons(geoms: GeomArray, scores: FloatArray, min_area_px: float,
                   simplify_px: float) -> tuple[GeomArray, FloatArray]:
    """Fill small holes, drop specks, simplify edge-matched, keep valid polygons only.

    Returns single polygons (multi-part results are exploded, each part keeping the
    score of its feature).  Simplification uses coverage simplification, so polygons that
    share an edge (split vehicles) still share it afterwards.
    """
    if len(geoms) == 0:
        return geoms, scores
    geoms = _without_small_holes(geoms, min_area_px)
    big = shapely.area(geoms) >= max(min_area_px, 1e-9)
    geoms, scores = geoms[big], scores[big]
    if len(geoms):
        geoms = _simplify_together(geoms, simplify_px)
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    parts, index = shapely.get_parts(geoms, return_index=True)
    polygonal = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (
        shapely.area(parts) > 0)
    return np.asarray(parts[polygonal], dtype=object), scores[index[polygonal]]
