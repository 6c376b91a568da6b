"""The share of road length in the largest connected piece of a centerline network."""

from __future__ import annotations

import math

from shapely.geometry import LineString

from unet_gis.vector.connectivity import largest_piece_share


def test_pieces_join_at_shared_end_points_only() -> None:
    lines = [LineString([(0, 0), (10, 0)]), LineString([(10, 0), (10, 10)]),  # a corner
             LineString([(10, 0), (20, 0)]),                                   # a T
             LineString([(50, 50), (55, 50)]),                                 # alone
             LineString([(5, -5), (5, 5)])]  # crosses the first line without a vertex
    result = largest_piece_share(lines)
    assert result.pieces == 3
    assert math.isclose(result.largest_m, 30.0) and math.isclose(result.total_m, 45.0)
    assert math.isclose(result.share, 30 / 45)


def test_metric_lengths_and_empty_layers() -> None:
    lines = [LineString([(0, 0), (1, 0)]), LineString([(1, 0), (2, 0)])]
    assert largest_piece_share(lines, [100.0, 50.0]).share == 1.0
    assert math.isnan(largest_piece_share([]).share)
