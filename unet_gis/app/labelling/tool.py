"""The canvas tool of labelling mode: polygons, boxes, points and checked rectangles.

Road-like classes (``network``, ``surface``) are polygons: click the vertices, double-click
(or Enter) closes, Backspace drops the last vertex, Esc abandons it.  Object classes are
boxes (drag) or points (click).  Checked areas are rectangles (drag).  In select mode a
click picks a shape and Delete removes it; pressing on a vertex of the picked shape and
dragging moves that vertex.  Coordinates handed on are the map's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen

from unet_gis.app.canvas.view import MapCanvas
from unet_gis.app.geo import ViewState

Point = tuple[float, float]
CLICK_PX = 4.0  # a drag shorter than this is a click; vertices closer are one vertex


class LabelTool:
    """Mouse handling for one target at a time; finished shapes go to ``on_shape``."""

    def __init__(self, canvas: MapCanvas, on_shape: Callable[[str, Any], None],
                 on_pick: Callable[[float, float, float], None],
                 on_delete: Callable[[], None],
                 on_grab: Callable[[float, float, float], Point | None] = lambda *_: None,
                 on_move_vertex: Callable[[Point, Point], None] = lambda *_: None) -> None:
        self.canvas = canvas
        self.on_shape, self.on_pick, self.on_delete = on_shape, on_pick, on_delete
        self.on_grab, self.on_move_vertex = on_grab, on_move_vertex
        self.mode = "polygon"  # polygon, box (or point), rect, select
        self.vertices: list[tuple[float, float]] = []  # the polygon being drawn (map)
        self.hover: tuple[float, float] | None = None
        self.drag_from: tuple[float, float] | None = None  # screen
        self.drag_to: tuple[float, float] | None = None
        self.grabbed: Point | None = None  # the vertex being moved (map)
        self.grab_from: Point | None = None  # where the drag started (screen)
        self.grab_to: Point | None = None  # where it is now (screen)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.abandon()

    def abandon(self) -> None:
        self.vertices, self.drag_from, self.drag_to = [], None, None
        self.grabbed = self.grab_from = self.grab_to = None
        self.canvas.update()

    # --- events -------------------------------------------------------------------------
    def mouse(self, kind: str, event: QMouseEvent) -> bool:
        pos = event.position()
        x, y = pos.x(), pos.y()
        view = self.canvas.view
        if kind == "move":
            if self.grabbed is not None:
                self.grab_to = (x, y)
                self.canvas.update()
                return True
            if self.drag_from is not None:
                self.drag_to = (x, y)
            self.hover = view.to_world(x, y)
            if self.vertices or self.drag_from is not None:
                self.canvas.update()
            return self.drag_from is not None
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if self.mode == "select":
            if kind in ("press", "double"):
                tolerance = CLICK_PX * view.res
                self.on_pick(*view.to_world(x, y), tolerance)
                self.grabbed = self.on_grab(*view.to_world(x, y), tolerance)
                self.grab_from = self.grab_to = (x, y) if self.grabbed is not None else None
            elif kind == "release" and self.grabbed is not None:
                self._end_vertex_drag(view, x, y)
            return True
        if self.mode == "polygon":
            if kind in ("press", "double"):
                self._add_vertex(view, x, y)
            if kind == "double":
                self.close_polygon()
            return True
        if kind in ("press", "double"):
            self.drag_from, self.drag_to = (x, y), (x, y)
        elif kind == "release" and self.drag_from is not None:
            self._end_drag(view, x, y)
        return True

    def key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.vertices:
            self.close_polygon()
        elif key == Qt.Key.Key_Escape and (self.vertices or self.drag_from is not None):
            self.abandon()
        elif key == Qt.Key.Key_Backspace and self.vertices:
            self.vertices.pop()
            self.canvas.update()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.mode == "select":
            self.on_delete()
        else:
            return False
        return True

    def _add_vertex(self, view: ViewState, x: float, y: float) -> None:
        if self.vertices:
            lx, ly = view.to_screen(*self.vertices[-1])
            if abs(lx - x) < CLICK_PX and abs(ly - y) < CLICK_PX:
                return  # the second click of a double-click, or a jitter
        self.vertices.append(view.to_world(x, y))
        self.canvas.update()

    def close_polygon(self) -> None:
        import shapely

        vertices, self.vertices = self.vertices, []
        self.canvas.update()
        if len(vertices) < 3:
            return
        polygon = shapely.make_valid(shapely.Polygon(vertices))
        if polygon.area > 0:
            self.on_shape("polygon", polygon)

    def _end_drag(self, view: ViewState, x: float, y: float) -> None:
        import shapely

        assert self.drag_from is not None
        x0, y0 = self.drag_from
        self.drag_from = self.drag_to = None
        self.canvas.update()
        if abs(x - x0) < CLICK_PX and abs(y - y0) < CLICK_PX:
            if self.mode == "box":
                self.on_shape("point", shapely.Point(*view.to_world(x0, y0)))
            return
        (wx0, wy0), (wx1, wy1) = view.to_world(x0, y0), view.to_world(x, y)
        self.on_shape("box", shapely.box(min(wx0, wx1), min(wy0, wy1), max(wx0, wx1),
                                         max(wy0, wy1)))

    def _end_vertex_drag(self, view: ViewState, x: float, y: float) -> None:
        assert self.grabbed is not None and self.grab_from is not None
        vertex, (sx, sy) = self.grabbed, self.grab_from
        self.grabbed = self.grab_from = self.grab_to = None
        self.canvas.update()
        if abs(x - sx) >= CLICK_PX or abs(y - sy) >= CLICK_PX:  # a click only selects
            self.on_move_vertex(vertex, view.to_world(x, y))

    # --- the shape being drawn ------------------------------------------------------------
    def paint(self, painter: QPainter, view: ViewState, color: QColor) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(color, 2, Qt.PenStyle.DashLine))
        if self.vertices:
            points = [QPointF(*view.to_screen(*v)) for v in self.vertices]
            if self.hover is not None:
                points.append(QPointF(*view.to_screen(*self.hover)))
            painter.drawPolyline(points)
            for point in points[:len(self.vertices)]:
                painter.drawEllipse(point, 3, 3)
        if self.drag_from is not None and self.drag_to is not None:
            painter.drawRect(QRectF(QPointF(*self.drag_from), QPointF(*self.drag_to)))
        if self.grabbed is not None and self.grab_to is not None:
            painter.drawLine(QPointF(*view.to_screen(*self.grabbed)), QPointF(*self.grab_to))
            painter.drawEllipse(QPointF(*self.grab_to), 4, 4)
        painter.restore()
