"""Gaps a tree, shadow or car leaves in a road: a dead end joined to what it faces."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vector.conftest import GSD, MakeRaster, bar
from tests.vector.helpers import in_metres, node_degrees, run
from unet_gis.vector.connectivity import largest_piece_share

WINDOWS = [64, 1024]  # 64: every road crosses many tile seams


def pieces(lines) -> int:  # type: ignore[no-untyped-def]
    return largest_piece_share(lines.geometry, lines["length_m"]).pieces


@pytest.mark.parametrize("window", WINDOWS)
def test_a_road_hidden_for_5_m_is_one_line(make_raster: MakeRaster, window: int) -> None:
    road = np.zeros((120, 760))
    bar(road, 50, 70, 40, 370)
    bar(road, 50, 70, 387, 720)  # 17 px = 5.1 m hidden (a tree): more than the 2 m gap
    _, layers = run(make_raster(road), window, gap_m=2.0)
    lines = layers["road_centerlines"]
    assert len(lines) == 1
    assert in_metres(lines).length.iloc[0] == pytest.approx(680 * GSD, rel=0.03)


@pytest.mark.parametrize("window", [64])
def test_a_side_street_that_stops_short_meets_the_street(make_raster: MakeRaster,
                                                         window: int) -> None:
    road = np.zeros((480, 560))
    bar(road, 100, 120, 30, 530)  # the street
    # the side street stops 13 px (3.9 m) short of it, 6.9 m from its centerline: beyond
    # the 2 m gap, within the 8 m reach (measured to the line met)
    bar(road, 133, 450, 270, 290)
    _, layers = run(make_raster(road), window, gap_m=2.0)
    lines = layers["road_centerlines"]
    assert pieces(lines) == 1
    # the street is split where the side street meets it: a T-junction of degree 3
    assert sorted(node_degrees(lines.geometry).values()) == [1, 1, 1, 3]


@pytest.mark.parametrize("window", [1024])
def test_dead_ends_that_do_not_face_the_other_road_stay_apart(make_raster: MakeRaster,
                                                              window: int) -> None:
    road = np.zeros((140, 760))
    bar(road, 45, 55, 40, 400)  # two parallel 3 m roads, centerlines 6 m apart (3 m of
    bar(road, 65, 75, 380, 720)  # verge between): side by side for 6 m, each end
    _, layers = run(make_raster(road), window, gap_m=2.0)  # pointing past the other
    lines = layers["road_centerlines"]
    assert len(lines) == 2 and pieces(lines) == 2


@pytest.mark.parametrize("window", WINDOWS)
def test_a_road_under_a_canopy_for_15_m_is_one_line(make_raster: MakeRaster,
                                                    window: int) -> None:
    road = np.zeros((120, 900))
    bar(road, 50, 70, 40, 370)
    bar(road, 50, 70, 420, 860)  # 50 px = 15 m hidden: beyond the 8 m facing reach; the
    _, layers = run(make_raster(road), window, gap_m=2.0)  # two ends point at each other
    lines = layers["road_centerlines"]
    assert len(lines) == 1
    assert in_metres(lines).length.iloc[0] == pytest.approx(820 * GSD, rel=0.03)


@pytest.mark.parametrize("window", WINDOWS)
def test_offset_dead_ends_15_m_apart_stay_apart(make_raster: MakeRaster, window: int) -> None:
    road = np.zeros((160, 900))
    bar(road, 40, 60, 40, 370)   # two roads whose ends are 15 m apart along them and 9 m
    bar(road, 70, 90, 420, 860)  # (30 px) aside, 17.5 m in all: 31 degrees off, two
    # cul-de-sacs rather than one road
    _, layers = run(make_raster(road), window, gap_m=2.0)
    assert pieces(layers["road_centerlines"]) == 2


def test_the_reach_follows_the_gap(make_raster: MakeRaster) -> None:
    road = np.zeros((120, 900))
    bar(road, 50, 70, 40, 370)
    bar(road, 50, 70, 420, 860)
    _, layers = run(make_raster(road), gap_m=1.0)  # reach 10 m: 15 m stays open
    assert len(layers["road_centerlines"]) == 2
