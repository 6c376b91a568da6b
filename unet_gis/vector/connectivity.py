"""How much of a road network is one network: the share of centerline length in the
largest connected piece.

Centerlines meet at shared junction vertices (see :mod:`unet_gis.vector.network`), so two
lines are connected when they share an end point.  A road map that falls apart into many
short pieces is of little use for routing or for counting streets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shapely.geometry import LineString


@dataclass(frozen=True)
class NetworkShare:
    largest_m: float
    total_m: float
    pieces: int

    @property
    def share(self) -> float:
        return self.largest_m / self.total_m if self.total_m > 0 else float("nan")


def largest_piece_share(lines: Iterable[LineString], lengths: Iterable[float] | None = None,
                        digits: int = 6) -> NetworkShare:
    """Group ``lines`` that share an end point (coordinates rounded to ``digits``) and
    measure the largest group; ``lengths`` (e.g. the layer's metric ``length_m``) default
    to the lines' own lengths."""
    items = list(lines)
    weights = list(lengths) if lengths is not None else [line.length for line in items]
    parent: dict[tuple[float, float], tuple[float, float]] = {}

    def find(node: tuple[float, float]) -> tuple[float, float]:
        root = node
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    ends = []
    for line in items:
        coords = list(line.coords)
        a = (round(coords[0][0], digits), round(coords[0][1], digits))
        b = (round(coords[-1][0], digits), round(coords[-1][1], digits))
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
        ends.append(a)
    totals: dict[tuple[float, float], float] = {}
    for end, weight in zip(ends, weights, strict=True):
        root = find(end)
        totals[root] = totals.get(root, 0.0) + weight
    total = sum(totals.values())
    return NetworkShare(max(totals.values(), default=0.0), total, len(totals))
