"""Drawing label shapes (map coordinates) over the canvas with a cosmetic pen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF

from unet_gis.app.canvas.vectors import world_to_screen
from unet_gis.app.geo import ViewState

CHECKED_COLOR = (250, 250, 250)
SELECTED_COLOR = (255, 200, 0)
POINT_PX = 5.0
HANDLE_PX = 3.0


def _path(geometry: Any) -> QPainterPath:
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.OddEvenFill)
    for part in getattr(geometry, "geoms", [geometry]):
        rings = (part.exterior, *part.interiors) if part.geom_type == "Polygon" else (
            [part] if part.geom_type in ("LineString", "LinearRing") else [])
        for ring in rings:
            coords = np.asarray(ring.coords)
            path.addPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in coords[:, :2]]))
            if part.geom_type == "Polygon":
                path.closeSubpath()
    return path


def draw_shapes(painter: QPainter, view: ViewState,
                shapes: Iterable[tuple[Any, tuple[int, int, int], bool, bool]]) -> None:
    """``shapes``: (map geometry, colour, is a checked area, is selected)."""
    import shapely

    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    transform = world_to_screen(view)
    for geometry, rgb, checked, selected in shapes:
        color = QColor(*(SELECTED_COLOR if selected else rgb))
        pen = QPen(color, 3.0 if selected else 2.0,
                   Qt.PenStyle.DashLine if checked else Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)
        if geometry.geom_type in ("Point", "MultiPoint"):
            painter.resetTransform()
            painter.setPen(pen)
            painter.setBrush(QColor(color.red(), color.green(), color.blue(), 140))
            for part in getattr(geometry, "geoms", [geometry]):
                x, y = view.to_screen(part.x, part.y)
                painter.drawEllipse(QPointF(x, y), POINT_PX, POINT_PX)
            continue
        painter.setTransform(transform)
        path = _path(geometry)
        if not checked:
            fill = QColor(color)
            fill.setAlpha(70)
            painter.fillPath(path, fill)
        else:
            painter.setPen(QPen(QColor(40, 40, 40), 2.0))  # a dark edge under the dashes
            outline = painter.pen()
            outline.setCosmetic(True)
            painter.setPen(outline)
            painter.drawPath(path)
        painter.setPen(pen)
        painter.drawPath(path)
        if selected:  # handles on the vertices that a drag moves
            painter.resetTransform()
            painter.setBrush(color)
            for x, y in shapely.get_coordinates(geometry):
                painter.drawRect(QRectF(*view.to_screen(float(x), float(y)), 0, 0)
                                 .adjusted(-HANDLE_PX, -HANDLE_PX, HANDLE_PX, HANDLE_PX))
            painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.restore()
