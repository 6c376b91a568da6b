"""Centerline geometry and topology on synthetic roads with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tests.vector.conftest import GSD, MakeRaster, bar
from tests.vector.helpers import in_metres, node_degrees, run, shared_vertex

WINDOWS = [64, 1024]  # 64: every road crosses many tile seams


@pytest.mark.parametrize("window", WINDOWS)
def test_straight_road_is_one_line_of_its_length(make_raster: MakeRaster,
                                                 window: int) -> None:
    road = bar(np.zeros((120, 760)), 50, 70, 46, 46 + round(200 / GSD))  # 6 m x 200 m
    summary, layers = run(make_raster(road), window)
    lines = layers["road_centerlines"]
    assert len(lines) == 1
    length = in_metres(lines).length.iloc[0]
    assert length == pytest.approx(200, rel=0.03)
    assert lines["length_m"].iloc[0] == pytest.approx(length, rel=1e-3)
    assert summary.centerline_km == pytest.approx(0.2, rel=0.03)
    assert lines["score"].iloc[0] == pytest.approx(0.902, abs=0.002)


@pytest.mark.parametrize("window", WINDOWS)
def test_cross_gives_four_edges_at_one_junction(make_raster: MakeRaster, window: int) -> None:
    road = np.zeros((560, 560))
    bar(road, 270, 290, 30, 530)
    bar(road, 30, 530, 270, 290)
    _, layers = run(make_raster(road), window)
    lines = layers["road_centerlines"]
    assert len(lines) == 4
    junction = shared_vertex(lines.geometry)
    assert junction is not None
    lengths = in_metres(lines).length
    assert lengths.to_numpy() == pytest.approx(np.full(4, 250 * GSD), rel=0.05)


@pytest.mark.parametrize("window", WINDOWS)
def test_t_gives_three_edges_at_one_junction(make_raster: MakeRaster, window: int) -> None:
    road = np.zeros((480, 560))
    bar(road, 100, 120, 30, 530)
    bar(road, 120, 450, 270, 290)
    _, layers = run(make_raster(road), window)
    lines = layers["road_centerlines"]
    assert len(lines) == 3
    assert shared_vertex(lines.geometry) is not None
    degrees = sorted(node_degrees(lines.geometry).values())
    assert degrees == [1, 1, 1, 3]
    lengths = sorted(in_metres(lines).length)
    assert lengths == pytest.approx([250 * GSD, 250 * GSD, 340 * GSD], rel=0.05)


@pytest.mark.parametrize("window", WINDOWS)
def test_loop_is_one_closed_line(make_raster: MakeRaster, window: int) -> None:
    rr, cc = np.indices((400, 400)) + 0.5
    radius = np.hypot(rr - 200, cc - 200)
    road = ((radius >= 140) & (radius < 160)) * 0.9
    _, layers = run(make_raster(road), window)
    lines = layers["road_centerlines"]
    assert len(lines) == 1
    assert lines.geometry.iloc[0].is_closed
    assert in_metres(lines).length.iloc[0] == pytest.approx(2 * np.pi * 150 * GSD, rel=0.03)


def test_spurs_pruned_gaps_closed_fragments_dropped(make_raster: MakeRaster) -> None:
    road = np.zeros((200, 760))
    bar(road, 50, 70, 40, 370)
    bar(road, 50, 70, 374, 720)  # a 1.2 m gap: closed
    bar(road, 70, 80, 200, 205)  # a 3 m bump: a spur to prune
    bar(road, 150, 170, 100, 120)  # a 6 m blob: a fragment to drop
    _, layers = run(make_raster(road), gap_m=2.0, spur_m=8.0, min_length_m=10.0)
    lines = layers["road_centerlines"]
    assert len(lines) == 1
    assert in_metres(lines).length.iloc[0] == pytest.approx(680 * GSD, rel=0.03)


def test_lines_are_simplified_and_valid(make_raster: MakeRaster) -> None:
    rr, cc = np.indices((500, 500))
    road = (np.abs(rr - cc * 0.7 - 60) < 10) * 0.9  # a diagonal road: a pixel staircase
    _, layers = run(make_raster(road), simplify_m=0.5)
    lines = layers["road_centerlines"]
    assert len(lines) == 1
    assert shapely.get_num_coordinates(lines.geometry.iloc[0]) <= 6
    assert lines.is_valid.all()
