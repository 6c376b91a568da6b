"""A graph of centerline edges that meet exactly at shared junction vertices.

Nodes are endpoint coordinates (in pixels); an edge is a polyline between two nodes (the
same node twice for a loop).  The clean-up steps are those of a careful manual digitiser:
stitch pieces through degree-2 nodes, prune short spurs, merge junction clusters into one
vertex, extend dead ends to the end of the road, bridge small gaps, drop short fragments,
simplify with the ends fixed (so junction vertices stay shared).

The graph also works as a moving window over the raster (see
:mod:`unet_gis.vector.network`): nodes at or below ``frozen_from`` (a pixel row) may still
gain edges from tiles not read yet, so no clean-up step touches them; edges handed out by
:meth:`RoadGraph.take_settled` leave the graph but their ends remember them as
*anchors*, so a junction keeps its degree.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely

from unet_gis.vector.measure import FloatArray, GeomArray

Node = tuple[float, float]

#: a dead end faces what lies within this angle of the direction its road runs out
FACING_DEGREES = 45.0
#: two dead ends farther apart than a facing join reaches are joined only when each points
#: at the other within this angle
ALIGNED_DEGREES = 20.0


def _node(point: FloatArray) -> Node:
    return (float(point[0]), float(point[1]))


def _length(coords: FloatArray) -> float:
    return float(np.hypot(*np.diff(coords, axis=0).T).sum())


class RoadGraph:
    """Mutable edge list with a node index rebuilt after each structural change."""

    def __init__(self) -> None:
        self.coords: dict[int, FloatArray] = {}
        self.sums: dict[int, float] = {}
        self.counts: dict[int, float] = {}
        self._ends: dict[Node, list[int]] = defaultdict(list)
        self._next = 0
        #: nodes with ``y >= frozen_from`` may still change: clean-up leaves them alone
        self.frozen_from = np.inf
        #: node -> number of edges already handed out that end there
        self.anchors: dict[Node, int] = {}
        #: dead ends already extended to the end of their road
        self.extended: set[Node] = set()

    def add(self, coords: FloatArray, psum: float = 0.0, count: float = 0.0) -> int:
        edge = self._next
        self._next += 1
        self.coords[edge], self.sums[edge], self.counts[edge] = coords, psum, count
        self._ends[_node(coords[0])].append(edge)
        self._ends[_node(coords[-1])].append(edge)
        return edge

    def remove(self, edge: int) -> None:
        coords = self.coords.pop(edge)
        del self.sums[edge], self.counts[edge]
        for end in (_node(coords[0]), _node(coords[-1])):
            self._ends[end].remove(edge)
            if not self._ends[end]:
                del self._ends[end]

    def degree(self, node: Node) -> int:
        return len(self._ends.get(node, ())) + self.anchors.get(node, 0)

    def __contains__(self, node: Node) -> bool:
        return node in self._ends

    def is_free(self, node: Node) -> bool:
        """Whether clean-up may act on ``node`` (it can gain no more edges)."""
        return node[1] < self.frozen_from

    def nodes(self) -> list[Node]:
        return list(self._ends)

    def merge_degree2(self) -> None:
        """Join the two edges at every node of degree 2 into one (loops stay loops).

        A node where edges already handed out end (an anchor) is a junction for good.
        """
        for node in self.nodes():
            edges = self._ends.get(node, [])
            if len(edges) != 2 or edges[0] == edges[1] or node in self.anchors:
                continue
            a, b = edges
            ca, cb = self.coords[a], self.coords[b]
            if _node(ca[-1]) != node:
                ca = ca[::-1]
            if _node(cb[0]) != node:
                cb = cb[::-1]
            psum, count = self.sums[a] + self.sums[b], self.counts[a] + self.counts[b]
            self.remove(a)
            self.remove(b)
            self.add(np.concatenate([ca, cb[1:]]), psum, count)

    def _is_spur(self, edge: int, max_px: float) -> bool:
        coords = self.coords[edge]
        ends = sorted((_node(coords[0]), _node(coords[-1])), key=self.degree)
        return (self.degree(ends[0]) == 1 and self.is_free(ends[0])
                and self.degree(ends[1]) >= 3 and _length(coords) < max_px)

    def prune_spurs(self, max_px: float, passes: int = 3) -> None:
        """Remove dead-end branches shorter than ``max_px`` hanging off a junction."""
        for _ in range(passes):
            spurs = [e for e in self.coords if self._is_spur(e, max_px)]
            if not spurs:
                return
            for edge in spurs:
                self.remove(edge)
            self.merge_degree2()

    def contract_junctions(self, half_width: dict[Node, float], min_px: float) -> None:
        """Merge junctions joined by an edge shorter than the road's half-width there.

        A skeleton crossing is often two or four junction pixels a few pixels apart; the
        user expects one junction vertex where the roads meet.
        """
        parent: dict[Node, Node] = {}

        def find(node: Node) -> Node:
            while parent.get(node, node) != node:
                node = parent[node]
            return node

        short = []
        for edge, coords in self.coords.items():
            a, b = _node(coords[0]), _node(coords[-1])
            if a == b or self.degree(a) < 3 or self.degree(b) < 3 \
                    or not (self.is_free(a) and self.is_free(b)):
                continue
            reach = max(min_px, min(half_width.get(a, 0.0), half_width.get(b, 0.0)))
            if _length(coords) <= reach:
                short.append(edge)
                parent[find(a)] = find(b)
        if not short:
            return
        for edge in short:
            self.remove(edge)
        clusters: dict[Node, list[Node]] = defaultdict(list)
        for node in set(parent) | set(parent.values()):  # the roots are members too
            clusters[find(node)].append(node)
        moved = {node: members for members in clusters.values() for node in members}
        for edge, coords in list(self.coords.items()):
            ends = [_node(coords[0]), _node(coords[-1])]
            if not any(end in moved for end in ends):
                continue
            new = coords.copy()
            for i, end in zip((0, -1), ends, strict=True):
                if end in moved:
                    new[i] = np.mean(np.array(moved[end]), axis=0)
            psum, count = self.sums[edge], self.counts[edge]
            self.remove(edge)
            self.add(new, psum, count)
        self.merge_degree2()

    def dead_ends(self) -> list[tuple[Node, int]]:
        """Free nodes where a single edge ends."""
        return [(node, edges[0]) for node, edges in self._ends.items()
                if self.degree(node) == 1 and self.is_free(node)]

    def extend_dead_ends(self, half_width: dict[Node, float]) -> None:
        """Extend each dead end by the road's half-width there, to the end of the road.

        A skeleton stops about half a road width short of the road's end.
        """
        for node, _ in self.dead_ends():
            reach = half_width.get(node, 0.0) - 0.5
            if reach <= 0 or node in self.extended:
                continue
            edge = self._ends[node][0]  # an edge with two dead ends is replaced once
            coords = self.coords[edge]
            if _node(coords[-1]) != node:
                coords = coords[::-1]
            steps = np.hypot(*np.diff(coords, axis=0).T)[::-1].cumsum()
            back = int(np.searchsorted(steps, max(3.0, 2 * reach)))
            direction = coords[-1] - coords[max(len(coords) - 2 - back, 0)]
            norm = float(np.hypot(*direction))
            if norm == 0:
                continue
            tip = coords[-1] + direction / norm * reach
            psum, count = self.sums[edge], self.counts[edge]
            self.remove(edge)
            self.add(np.vstack([coords, tip]), psum, count)
            self.extended.add(_node(tip))

    def bridge_gaps(self, max_px: float, aligned_degrees: float | None = None) -> None:
        """Join pairs of dead ends closer than ``max_px``, nearest pairs first; with
        ``aligned_degrees``, only pairs that point at each other (each road runs out within
        that angle of the line between them): one road hidden under trees for longer than
        a facing join reaches, not two roads that happen to stop near each other."""
        ends = self.dead_ends()
        if len(ends) < 2 or max_px <= 0:
            return
        points = shapely.points(np.array([node for node, _ in ends]))
        left, right = shapely.STRtree(points).query(points, predicate="dwithin",
                                                    distance=max_px)
        pair = left < right
        left, right = left[pair], right[pair]
        gaps = shapely.distance(points[left], points[right])
        for i in np.argsort(gaps, kind="stable"):
            (a, ea), (b, eb) = ends[left[i]], ends[right[i]]
            if ea == eb or self.degree(a) != 1 or self.degree(b) != 1:
                continue
            if aligned_degrees is not None and not self._facing(
                    self._heading(a, ea, max_px), np.subtract(b, a), eb, b, max_px,
                    aligned_degrees):
                continue
            self.add(np.array([a, b]))
        self.merge_degree2()

    def join_facing_dead_ends(self, max_px: float) -> None:
        """Join a dead end to the line or dead end it faces within ``max_px``.

        Trees, shadows and cars hide a few metres of road, and a side street's skeleton
        stops short of the street it meets; the digitiser's rule is to close such a gap
        where the road visibly goes on: the dead end points at the other line (within
        :data:`FACING_DEGREES`), and when that line ends there too, it points back.  The
        line met is split there, so the junction is a shared vertex.  Dead ends that are
        not facing anything stay open, whatever is near them.
        """
        if max_px <= 0:
            return
        for _ in range(3):  # a line split by one join is found again by the next pass
            if not self._join_pass(max_px):
                break
        self.merge_degree2()

    def _join_pass(self, max_px: float) -> bool:
        ends = self.dead_ends()
        if not ends:
            return False
        edges = list(self.coords)
        parts = [self.coords[e] for e in edges]
        index = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
        tree = shapely.STRtree(shapely.linestrings(np.concatenate(parts), indices=index))
        joined = False
        for node, own in ends:
            if self.degree(node) != 1 or own not in self.coords:
                continue  # joined already, or its edge was split by an earlier join
            heading = self._heading(node, own, max_px)
            point = shapely.Point(node)
            best: tuple[float, int, FloatArray] | None = None
            for i in tree.query(point, predicate="dwithin", distance=max_px):
                edge = edges[int(i)]
                if edge == own or edge not in self.coords:
                    continue
                line = shapely.LineString(self.coords[edge])
                target = np.array(line.interpolate(line.project(point)).coords[0])
                gap = float(np.hypot(*(target - node)))
                if gap > 0 and (best is None or gap < best[0]) \
                        and self._facing(heading, target - node, edge, _node(target),
                                         max_px):
                    best = (gap, edge, target)
            if best is None or not self.is_free(_node(best[2])):
                continue
            self.add(np.array([node, self._split_at(best[1], best[2])]))
            joined = True
        return joined

    def _heading(self, node: Node, edge: int, length_px: float) -> FloatArray:
        """Unit direction in which the road runs out at dead end ``node``, over the last
        ``length_px`` of its line (as far as a join may reach: neither the pixel staircase
        nor the hook a skeleton makes into a corner of the road's end counts)."""
        coords = self.coords[edge]
        if _node(coords[-1]) != node:
            coords = coords[::-1]
        steps = np.hypot(*np.diff(coords, axis=0).T)[::-1].cumsum()
        back = int(np.searchsorted(steps, length_px))
        direction: FloatArray = coords[-1] - coords[max(len(coords) - 2 - back, 0)]
        norm = float(np.hypot(*direction))
        return direction / norm if norm > 0 else direction

    def _facing(self, heading: FloatArray, step: FloatArray, edge: int, target: Node,
                length_px: float, degrees: float = FACING_DEGREES) -> bool:
        """Whether a join along ``step`` goes where the road points within ``degrees``
        (and, onto another dead end, where that one points too)."""
        norm = float(np.hypot(*step))
        cos_limit = float(np.cos(np.radians(degrees)))
        if float(np.dot(heading, step)) < cos_limit * norm:
            return False
        if target in self and self.degree(target) == 1:
            other = self._heading(target, edge, length_px)
            return float(np.dot(other, -step)) >= cos_limit * norm
        return True

    def _split_at(self, edge: int, point: FloatArray) -> Node:
        """Split ``edge`` at ``point`` (on it) into two edges; return the shared node."""
        coords = self.coords[edge]
        for end in (coords[0], coords[-1]):
            if np.hypot(*(end - point)) < 1e-6:
                return _node(end)
        steps = np.hypot(*np.diff(coords, axis=0).T)
        along = np.concatenate([[0.0], steps.cumsum()])
        at = float(np.hypot(*(point - coords[0]))) if len(coords) == 2 else \
            float(shapely.LineString(coords).project(shapely.Point(point)))
        cut = int(np.clip(np.searchsorted(along, at, side="right"), 1, len(coords) - 1))
        first = np.vstack([coords[:cut], point])
        second = np.vstack([point, coords[cut:]])
        share = at / along[-1] if along[-1] > 0 else 0.5
        psum, count = self.sums[edge], self.counts[edge]
        self.remove(edge)
        self.add(first, psum * share, count * share)
        self.add(second, psum * (1 - share), count * (1 - share))
        return _node(point)

    def _components(self) -> tuple[dict[int, Node], dict[Node, float], set[Node]]:
        """Per edge its component's root; per root the total length; roots still open.

        A component is *open* while one of its nodes is frozen or anchored: it goes on
        beyond what the graph holds, so its length so far is not its length.
        """
        parent: dict[Node, Node] = {}

        def find(node: Node) -> Node:
            while parent.get(node, node) != node:
                parent[node] = parent.get(parent[node], parent[node])
                node = parent[node]
            return node

        for coords in self.coords.values():
            a, b = find(_node(coords[0])), find(_node(coords[-1]))
            if a != b:
                parent[a] = b
        root = {edge: find(_node(coords[0])) for edge, coords in self.coords.items()}
        total: dict[Node, float] = defaultdict(float)
        for edge, coords in self.coords.items():
            total[root[edge]] += _length(coords)
        open_roots = {find(node) for node in self._ends
                      if not self.is_free(node) or node in self.anchors}
        return root, total, open_roots

    def drop_short_components(self, min_px: float) -> None:
        """Remove whole pieces of network whose total length is below ``min_px``."""
        root, total, open_roots = self._components()
        for edge in list(self.coords):
            if total[root[edge]] < min_px and root[edge] not in open_roots:
                self.remove(edge)

    def take_settled(self, settled_above: float, min_px: float,
                     simplify_px: float) -> tuple[GeomArray, FloatArray, FloatArray]:
        """Hand out the finished edges: those with both ends above row ``settled_above``.

        An edge of a piece of network that may still turn out shorter than ``min_px``
        waits.  Returns LineStrings simplified with their ends kept exactly, and their
        probability sums and pixel counts.
        """
        root, total, open_roots = self._components()
        taken = [edge for edge, coords in self.coords.items()
                 if coords[0][1] < settled_above and coords[-1][1] < settled_above
                 and (total[root[edge]] >= min_px or root[edge] not in open_roots)]
        return self._pop_lines(taken, simplify_px)

    def _pop_lines(self, edges: list[int],
                   simplify_px: float) -> tuple[GeomArray, FloatArray, FloatArray]:
        """Remove ``edges`` and return them as lines; their ends become anchors.

        Bookkeeping of nodes left without edges is dropped, so it does not grow with the
        raster.
        """
        if not edges:
            return np.empty(0, dtype=object), np.empty(0), np.empty(0)
        parts = [self.coords[e] for e in edges]
        sums = np.array([self.sums[e] for e in edges])
        counts = np.array([self.counts[e] for e in edges])
        for edge, coords in zip(edges, parts, strict=True):
            self.remove(edge)
            for end in (_node(coords[0]), _node(coords[-1])):
                self.anchors[end] = self.anchors.get(end, 0) + 1
        self.anchors = {n: k for n, k in self.anchors.items() if n in self._ends}
        self.extended = {node for node in self.extended if node in self._ends}
        index = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
        lines = shapely.linestrings(np.concatenate(parts), indices=index)
        if simplify_px > 0:
            lines = shapely.simplify(lines, simplify_px, preserve_topology=False)
        return np.asarray(lines, dtype=object), sums, counts
