"""Strip-by-strip vectorizing: finished features leave early, and tiling changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tests.vector.conftest import MakeRaster, bar
from tests.vector.helpers import in_metres, node_degrees, run
from unet_gis.vector.centerlines import LinePieces
from unet_gis.vector.network import CenterlineNetwork
from unet_gis.vector.polygons import Pieces, SeamMerger


def _pieces(*boxes: tuple[tuple[float, float, float, float], bool]) -> Pieces:
    """Pieces from ``(box, touches the bottom seam)``; sum 0.5 per pixel."""
    pieces = Pieces()
    for box, bottom in boxes:
        geom = shapely.box(*box)
        pieces.add(np.array([geom], dtype=object), np.array([geom.area * 0.5]),
                   np.array([geom.area]), np.array([bottom]))
    return pieces


def test_seam_merger_lets_whole_polygons_go_and_carries_the_rest() -> None:
    merger = SeamMerger()
    # strip rows 0..10: A reaches the bottom seam; B and C meet at a vertical seam
    geoms, sums, counts = merger.settle(_pieces(((0, 5, 4, 10), True),
                                                ((10, 2, 16, 6), False),
                                                ((16, 3, 20, 5), False)), last=False)
    assert len(geoms) == 1
    assert geoms[0].area == pytest.approx(24 + 8) and counts[0] == pytest.approx(32)
    assert sums[0] == pytest.approx(16)
    assert len(merger.geoms) == 1  # only A waits
    # strip rows 10..20: D continues A; E only touches A's seam at a corner
    geoms, _, counts = merger.settle(_pieces(((0, 10, 3, 14), False),
                                             ((4, 10, 6, 12), False)), last=True)
    areas = sorted(g.area for g in geoms)
    assert areas == pytest.approx([4, 20 + 12])
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert len(merger.geoms) == 0


def _strip_pieces(row0: int, row1: int, crossings: list[int]) -> LinePieces:
    """A vertical road at x=100.5 over rows ``row0..row1`` (cut there, like a tile
    strip), with 200 px crossing roads at ``crossings`` split at their junctions."""
    pieces = LinePieces()
    stops = [float(row0), *[c + 0.5 for c in crossings if row0 <= c < row1], float(row1)]
    for a, b in zip(stops[:-1], stops[1:], strict=False):
        pieces.coords.append(np.array([[100.5, a], [100.5, b]]))
    for c in crossings:
        if row0 <= c < row1:
            pieces.coords.append(np.array([[0.5, c + 0.5], [100.5, c + 0.5]]))
            pieces.coords.append(np.array([[100.5, c + 0.5], [200.5, c + 0.5]]))
    pieces.sums.extend(float(len(c)) for c in pieces.coords)
    pieces.counts.extend(float(len(c)) for c in pieces.coords)
    return pieces


def test_centerline_network_hands_out_finished_edges_and_holds_a_band() -> None:
    network = CenterlineNetwork(spur_px=10, gap_px=5, min_length_px=20, simplify_px=0,
                                reach_px=16)
    crossings = list(range(150, 4000, 300))
    strip, height = 500, 4000
    out: list[shapely.LineString] = []
    held = []
    for row0 in range(0, height, strip):
        row1 = min(row0 + strip, height)
        network.add(_strip_pieces(row0, row1, crossings))
        seam = None if row1 == height else row1
        lines, _, _ = network.settle(seam)
        if seam is not None:
            ys = shapely.get_coordinates(lines)[:, 1] if len(lines) else np.empty(0)
            assert (ys < seam - network.lag).all()  # nothing near the seam leaves
            held.append(len(network.graph.coords))
        out.extend(lines)
    assert len(out) > 0 and max(held) <= 8  # a band along the seam, not the network
    degrees = node_degrees(out)
    junctions = [node for node, degree in degrees.items() if degree == 4]
    assert len(junctions) == len(crossings)
    assert sorted(degrees.values()) == sorted([4] * len(crossings) + [1] * (
        2 * len(crossings) + 2))
    total = sum(line.length for line in out)
    assert total == pytest.approx(height + 200 * len(crossings))


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    road = np.zeros(shape)
    for row in range(60, shape[0] - 40, 170):
        bar(road, row, row + 18, 20, shape[1] - 20)
    for col in range(50, shape[1] - 40, 190):
        bar(road, 20, shape[0] - 20, col, col + 22)
    vehicle = np.zeros(shape)
    for row in range(66, shape[0] - 40, 170):
        for col in range(90, shape[1] - 60, 97):
            bar(vehicle, row, row + 8, col, col + 16)
            bar(vehicle, row + 8, row + 16, col + 10, col + 26)  # touching along 6 px
    return road, vehicle


def test_small_windows_give_the_same_layers_as_one_window(make_raster: MakeRaster) -> None:
    """A road grid with parked cars, cut by 64 px tiles into 10 strips, comes out as
    with one tile: same polygons, vehicles, junctions and lengths."""
    prob = make_raster(*_grid((620, 600)))
    tiled_summary, tiled = run(prob, window=64)
    whole_summary, whole = run(prob, window=2048)
    assert tiled_summary.vehicles == whole_summary.vehicles == 2 * 4 * 5
    for name in ("roads", "vehicles"):
        a = shapely.union_all(tiled[name].geometry)
        b = shapely.union_all(whole[name].geometry)
        assert shapely.symmetric_difference(a, b).area < 1e-3 * b.area
    assert len(tiled["roads"]) == len(whole["roads"]) == 1
    lines_t, lines_w = tiled["road_centerlines"], whole["road_centerlines"]
    assert len(lines_t) == len(lines_w)
    degree_t = sorted(node_degrees(lines_t.geometry).values())
    assert degree_t == sorted(node_degrees(lines_w.geometry).values())
    # 4 x 3 crossings; below the last row the vertical roads stop 12 px on: spurs, pruned
    assert degree_t.count(4) == 3 * 3 and degree_t.count(3) == 3
    assert in_metres(lines_t).length.sum() == pytest.approx(
        in_metres(lines_w).length.sum(), rel=0.01)


def test_seam_pieces_are_simplified_but_not_on_their_seams() -> None:
    """A staircase piece touching the bottom seam (row 64) with a one-pixel tip loses its
    steps, not its tip on the seam (the neighbour below shares that edge)."""
    from rasterio.features import shapes
    from rasterio.windows import Window

    from unet_gis.vector.masks import Tile
    from unet_gis.vector.seam_simplify import simplify_off_seams

    rows, cols = np.indices((64, 64))
    triangle = ((rows <= 63 - np.abs(cols - 32)) & (rows >= 40)).astype(np.uint8)
    (geojson, _), = shapes(triangle, mask=triangle > 0)
    piece = shapely.geometry.shape(geojson)
    tile = Tile(Window(0, 0, 64, 64), 8, (False, True, False, False))
    simpler = simplify_off_seams(np.array([piece], dtype=object), 1.0, tile)[0]
    assert simpler.is_valid
    assert shapely.get_num_coordinates(simpler) < shapely.get_num_coordinates(piece) / 5
    on_seam = shapely.intersection(simpler.boundary, shapely.LineString([(-1, 64), (99, 64)]))
    assert on_seam.length == pytest.approx(1)  # the tip's edge on the seam is intact
    assert simpler.area == pytest.approx(piece.area, rel=0.05)


def test_worker_processes_give_the_same_layers(make_raster: MakeRaster) -> None:
    """Tiles done by two worker processes come back in order: the same features."""
    prob = make_raster(*_grid((620, 600)))
    _, serial = run(prob, window=128)
    _, parallel = run(prob.rename(prob.with_name("again.tif")), window=128, workers=2)
    for name, frame in serial.items():
        other = parallel[name]
        assert len(other) == len(frame)
        assert shapely.equals_exact(other.geometry.values, frame.geometry.values,
                                    tolerance=0).all()
        assert (other["score"] == frame["score"]).all()


def test_workers_are_chosen_by_raster_size() -> None:
    from unet_gis.vector.tiles import PARALLEL_MIN_PIXELS, available_cores, worker_count

    assert worker_count(3, 10) == 3
    assert worker_count(0, PARALLEL_MIN_PIXELS - 1) == 1
    assert worker_count(0, PARALLEL_MIN_PIXELS) == available_cores()


def test_cancel_with_worker_processes_leaves_nothing(make_raster: MakeRaster) -> None:
    import os

    from unet_gis.errors import Cancelled
    from unet_gis.inference.progress import CancelToken
    from unet_gis.vector.options import VectorizeOptions
    from unet_gis.vector.vectorize import vectorize

    prob = make_raster(*_grid((620, 600)))
    token = CancelToken()
    with pytest.raises(Cancelled):
        vectorize(prob, prob.with_name("out.shp"), VectorizeOptions(window=64, workers=2),
                  progress=lambda _: token.cancel(), cancel=token)
    assert os.listdir(prob.parent) == [prob.name]


def test_a_junction_keeps_its_degree_when_one_edge_has_left() -> None:
    """Edges handed out leave the graph, but the junction they end at stays a junction:
    the two edges still there are not joined through it."""
    from unet_gis.vector.road_graph import RoadGraph

    graph = RoadGraph()
    graph.add(np.array([[0.0, 10.0], [50.0, 10.0]]))  # finished, above the seam
    graph.add(np.array([[50.0, 10.0], [50.0, 200.0]]))  # both go on below
    graph.add(np.array([[50.0, 10.0], [100.0, 200.0]]))
    graph.frozen_from = 150.0
    lines, _, _ = graph.take_settled(100.0, min_px=0.0, simplify_px=0.0)
    assert len(lines) == 1 and graph.degree((50.0, 10.0)) == 3
    graph.merge_degree2()
    assert len(graph.coords) == 2  # not joined at the junction
    assert all(tuple(coords[0]) == (50.0, 10.0) or tuple(coords[-1]) == (50.0, 10.0)
               for coords in graph.coords.values())


def test_two_junctions_a_few_pixels_apart_become_one_crossing() -> None:
    """A skeleton crossing often has two junctions joined by a short edge: contracting
    them gives one junction of degree 4 that every arm ends at, not two bends."""
    from unet_gis.vector.road_graph import RoadGraph

    graph = RoadGraph()
    west, north = np.array([[0.0, 114.0], [98.0, 88.0]]), np.array([[104.0, 10.0], [98.0, 88.0]])
    east, south = np.array([[104.0, 96.0], [192.0, 94.0]]), np.array([[104.0, 96.0],
                                                                      [110.0, 198.0]])
    for arm in (west, north, east, south):
        graph.add(arm)
    graph.add(np.array([[98.0, 88.0], [104.0, 96.0]]))  # 10 px between the junctions
    graph.contract_junctions({(98.0, 88.0): 12.0, (104.0, 96.0): 12.0}, 3.0)
    assert len(graph.coords) == 4
    ends = [tuple(c[i]) for c in graph.coords.values() for i in (0, -1)]
    crossing = max(set(ends), key=ends.count)
    assert ends.count(crossing) == 4 and graph.degree(crossing) == 4
    assert crossing == pytest.approx((101.0, 92.0))
