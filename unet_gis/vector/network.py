"""Road centerlines as a network that grows strip by strip and leaves as it is finished.

Tiles arrive in strips (rows of tiles).  After each strip the centerline pieces go into a
:class:`~unet_gis.vector.road_graph.RoadGraph` and the clean-up runs on what the graph
holds, in the order a careful digitiser would: stitch pieces at seams, prune spurs, merge
junction clusters, prune again, extend dead ends to the road's end, bridge small gaps
(any two dead ends closer than the gap; a dead end and the line or dead end it faces
within :data:`FACING_REACH` gaps; two dead ends pointing at each other within
:data:`ALIGNED_REACH` gaps), drop short fragments.  Nodes within ``lag`` rows of
the last seam may still gain edges, so the clean-up leaves them alone (they are
*frozen*); edges whose ends are more than twice ``lag`` above the seam are finished,
since every step that could change them only looks ``lag`` far, and they leave the graph
to be written.  The graph therefore holds a band of the network along the seam, not the
whole network.
"""

from __future__ import annotations

import numpy as np

from unet_gis.vector.centerlines import LinePieces
from unet_gis.vector.measure import FloatArray, GeomArray
from unet_gis.vector.road_graph import ALIGNED_DEGREES, Node, RoadGraph

#: Tile skeletons may differ by a pixel at a seam; ends this close are joined first.
SEAM_SNAP_PX = 2.0
#: Junctions closer than this (or than the road's half-width) become one vertex.
JUNCTION_MERGE_PX = 3.0
#: a dead end facing a line or another dead end is joined to it across this many times
#: the gap (8 m with the default 2 m gap): a tree, a shadow or a car hides that much road
FACING_REACH = 4.0
#: two dead ends that point at each other (within ``ALIGNED_DEGREES``) are joined across
#: this many times the gap (20 m by default): a stretch of road under a tree canopy
ALIGNED_REACH = 10.0


class CenterlineNetwork:
    """The road graph of one class, cleaned and handed out strip by strip.

    Distances are in pixels.  ``reach_px`` must cover the farthest any clean-up step
    looks: the tile margin (half the widest road), spurs and gaps.
    """

    def __init__(self, spur_px: float, gap_px: float, min_length_px: float,
                 simplify_px: float, reach_px: float) -> None:
        self.spur_px, self.gap_px = spur_px, gap_px
        self.min_length_px, self.simplify_px = min_length_px, simplify_px
        self.lag = 2.0 * max(reach_px, spur_px, max(FACING_REACH, ALIGNED_REACH) * gap_px,
                             JUNCTION_MERGE_PX, SEAM_SNAP_PX)
        self.graph = RoadGraph()
        self.half_width: dict[Node, float] = {}

    def add(self, pieces: LinePieces) -> None:
        for coords, psum, count in zip(pieces.coords, pieces.sums, pieces.counts,
                                       strict=True):
            self.graph.add(coords, psum, count)
        self.half_width.update(pieces.half_width)

    def settle(self, seam_row: float | None) -> tuple[GeomArray, FloatArray, FloatArray]:
        """Clean up and return the finished lines, their probability sums and counts.

        ``seam_row`` is the first pixel row not read yet; ``None`` once the whole raster
        is read, which hands out everything that is left.
        """
        graph = self.graph
        graph.frozen_from = np.inf if seam_row is None else seam_row - self.lag
        graph.merge_degree2()
        graph.bridge_gaps(SEAM_SNAP_PX)
        graph.prune_spurs(self.spur_px)
        graph.contract_junctions(self.half_width, JUNCTION_MERGE_PX)
        graph.prune_spurs(self.spur_px)
        graph.extend_dead_ends(self.half_width)
        graph.bridge_gaps(self.gap_px)
        graph.join_facing_dead_ends(FACING_REACH * self.gap_px)
        graph.bridge_gaps(ALIGNED_REACH * self.gap_px, ALIGNED_DEGREES)
        graph.drop_short_components(self.min_length_px)
        settled_above = graph.frozen_from - self.lag  # inf after the last strip
        lines = graph.take_settled(settled_above, self.min_length_px, self.simplify_px)
        self.half_width = {node: width for node, width in self.half_width.items()
                           if node in graph}
        return lines
