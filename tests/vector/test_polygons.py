"""Road and vehicle polygons: areas, splitting, holes, validity, tile seams."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tests.vector.conftest import GSD, MakeRaster, bar
from tests.vector.helpers import in_metres, run


def _disc(shape: tuple[int, int], row: float, col: float, radius: float) -> np.ndarray:
    rr, cc = np.indices(shape) + 0.5
    return np.hypot(rr - row, cc - col) < radius


@pytest.mark.parametrize("window", [64, 1024])
def test_three_blobs_give_three_polygons_with_their_areas(make_raster: MakeRaster,
                                                           window: int) -> None:
    road = np.zeros((300, 300))
    bar(road, 20, 60, 20, 60)  # 40 x 40 px = 144 m²
    road[_disc(road.shape, 150, 200, 30)] = 0.8  # pi 30² px = 254.5 m²
    bar(road, 220, 240, 30, 90)  # 20 x 60 px = 108 m²
    summary, layers = run(make_raster(road), window, centerlines=False)
    roads = layers["roads"].sort_values("area_m2").reset_index(drop=True)
    assert len(roads) == 3
    expected = [108.0, 144.0, np.pi * 30**2 * GSD**2]
    assert roads["area_m2"].to_numpy() == pytest.approx(expected, rel=0.02)
    assert in_metres(roads).area.to_numpy() == pytest.approx(expected, rel=0.02)
    assert summary.road_area_m2 == pytest.approx(sum(expected), rel=0.02)
    assert roads.is_valid.all()
    assert roads["score"].to_numpy() == pytest.approx([0.902, 0.902, 0.8], abs=0.002)


@pytest.mark.parametrize("window", [64, 1024])
def test_touching_vehicles_are_split_and_stay_edge_matched(make_raster: MakeRaster,
                                                           window: int) -> None:
    """Also when the two cars are kept by different strips of 64 px windows."""
    vehicle = np.zeros((120, 120))
    bar(vehicle, 55, 64, 10, 27)  # 9 x 17 px cars with a staircase end, touching along
    vehicle[55, 26] = 0  # 6 px across the seam at row 64
    bar(vehicle, 64, 72, 21, 37)
    vehicle[71, 21] = 0
    summary, layers = run(make_raster(np.zeros_like(vehicle), vehicle), window=window,
                          simplify_m=0.3)
    cars = layers["vehicles"]
    assert summary.vehicles == 2 and len(cars) == 2
    a, b = cars.geometry
    assert shapely.intersection(a, b).area == pytest.approx(0, abs=1e-12)
    assert shapely.intersection(a, b).length > 0  # still share their edge
    assert in_metres(cars).area.sum() == pytest.approx((153 + 128 - 2) * GSD**2, rel=0.02)
    assert cars.is_valid.all()


def test_cars_split_on_a_slant_stay_edge_matched_across_strips(make_raster: MakeRaster) -> None:
    """Two overlapping round blobs split along a staircase, kept by windows of different
    strips (seam at row 64): the same polygons as with one window, sharing their edge."""
    rr, cc = np.indices((128, 128)) + 0.5
    vehicle = np.zeros((128, 128))
    for row, col in ((58.5, 56.5), (69.5, 67.5)):
        vehicle[np.hypot(rr - row, cc - col) <= 8.2] = 0.9
    prob = make_raster(np.zeros_like(vehicle), vehicle)
    _, tiled = run(prob, window=64, centerlines=False, simplify_m=0.3)
    _, whole = run(prob, window=1024, centerlines=False, simplify_m=0.3)
    assert len(tiled["vehicles"]) == len(whole["vehicles"]) == 2
    a, b = tiled["vehicles"].geometry
    assert shapely.intersection(a, b).area == pytest.approx(0, abs=1e-12)
    shared = shapely.intersection(a, b).length
    assert shared > 0 and shared == pytest.approx(
        shapely.intersection(*whole["vehicles"].geometry).length)
    assert shapely.equals_exact(shapely.union_all(tiled["vehicles"].geometry),
                                shapely.union_all(whole["vehicles"].geometry), 1e-9)


def test_vehicle_points_are_centroids(make_raster: MakeRaster) -> None:
    vehicle = np.zeros((60, 60))
    bar(vehicle, 10, 18, 10, 26)
    _, layers = run(make_raster(np.zeros_like(vehicle), vehicle), points=True)
    points = layers["vehicle_points"]
    assert len(points) == 1 and points.geom_type.iloc[0] == "Point"
    assert points.geometry.iloc[0].distance(layers["vehicles"].geometry.iloc[0].centroid) \
        == pytest.approx(0, abs=1e-9)


def test_big_holes_kept_small_holes_and_specks_removed(make_raster: MakeRaster) -> None:
    road = bar(np.zeros((200, 200)), 20, 180, 20, 180)
    road[60:100, 60:100] = 0  # 144 m² hole: kept
    road[140:143, 140:143] = 0  # 0.8 m² hole: filled
    bar(road, 190, 193, 5, 8)  # 0.8 m² speck: dropped
    _, layers = run(make_raster(road), min_area_m2=2.0, centerlines=False)
    roads = layers["roads"]
    assert len(roads) == 1
    polygon = roads.geometry.iloc[0]
    assert len(polygon.interiors) == 1
    assert roads["area_m2"].iloc[0] == pytest.approx((160**2 - 40**2) * GSD**2, rel=0.02)


@pytest.mark.parametrize("simplify_m", [0.0, 0.3])
def test_no_polygon_is_split_at_a_tile_seam(make_raster: MakeRaster, simplify_m: float) -> None:
    """Features of ~300 px cut by tiles of 64 px come out whole and as without tiles:
    exactly with pixel outlines, within the tolerance when simplified."""
    road = np.zeros((400, 400))
    bar(road, 40, 340, 40, 80)  # an L of 300 px arms, 40 px wide
    bar(road, 300, 340, 40, 340)
    road[_disc(road.shape, 150, 250, 60)] = 0.9  # a 120 px disc with a 40 px hole
    road[_disc(road.shape, 150, 250, 20)] = 0.0
    vehicle = np.zeros_like(road)
    for row in range(60, 400, 64):  # cars straddling every horizontal seam
        bar(vehicle, row, row + 8, 150, 166)
    prob = make_raster(road, vehicle)
    _, tiled = run(prob, window=64, centerlines=False, simplify_m=simplify_m)
    _, whole = run(prob, window=1024, centerlines=False, simplify_m=simplify_m)
    assert len(tiled["roads"]) == len(whole["roads"]) == 2
    assert len(tiled["vehicles"]) == len(whole["vehicles"]) == 6
    for name in ("roads", "vehicles"):
        if simplify_m == 0:  # in the raster's CRS: the same vertices, exactly
            a = shapely.union_all(tiled[name].geometry)
            b = shapely.union_all(whole[name].geometry)
            assert shapely.symmetric_difference(a, b).area < 1e-6 * b.area
        else:  # each side moved by at most the tolerance
            a = shapely.union_all(in_metres(tiled[name]).geometry)
            b = shapely.union_all(in_metres(whole[name]).geometry)
            assert shapely.hausdorff_distance(a, b) <= 2 * simplify_m + 1e-6
            assert a.area == pytest.approx(b.area, rel=0.01)
    assert sorted(len(p.interiors) for p in tiled["roads"].geometry) == [0, 1]


def test_nodata_is_never_a_class(make_raster: MakeRaster) -> None:
    road = bar(np.zeros((100, 100)), 10, 90, 10, 90)
    valid = np.ones(road.shape, dtype=bool)
    valid[:, 50:] = False
    _, layers = run(make_raster(road, valid=valid), centerlines=False)
    assert layers["roads"]["area_m2"].iloc[0] == pytest.approx(80 * 40 * GSD**2, rel=0.02)
