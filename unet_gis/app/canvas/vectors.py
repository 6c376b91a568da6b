"""Vector layers for display: read with pyogrio (no geopandas), reproject, build paths.

Loading runs on a worker thread (QPainterPath is a plain value type, safe to build off the
GUI thread); :func:`draw_vector` draws the paths with the view's world-to-screen
transform and a cosmetic pen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF, QTransform

from unet_gis.app.geo import Bounds, ViewState
from unet_gis.errors import UserError


@dataclass(frozen=True)
class VectorData:
    fill: QPainterPath  # polygons
    lines: QPainterPath  # lines and polygon outlines
    points: np.ndarray  # (n, 2) point coordinates
    extent: Bounds | None
    features: int
    geometry_type: str


def _ring(path: QPainterPath, coords: np.ndarray, close: bool) -> None:
    if len(coords) < 2:
        return
    polygon = QPolygonF([QPointF(float(x), float(y)) for x, y in coords[:, :2]])
    if close:
        path.addPolygon(polygon)
        path.closeSubpath()
    else:
        path.addPolygon(polygon)


def load_vector(path: Path, view_crs: Any, layer: str | None = None) -> VectorData:
    """Read every feature of ``path`` and project it to ``view_crs``."""
    import shapely
    from pyogrio.raw import read

    try:
        meta, _, wkb, _ = read(path, layer=layer, read_geometry=True, columns=[])
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise UserError(f"Cannot read {path.name} as vector data ({exc}).") from exc
    geometries = shapely.from_wkb(wkb) if wkb is not None else np.array([])
    source_crs = meta.get("crs")
    if view_crs is not None and source_crs:
        from pyproj import CRS, Transformer

        transformer = Transformer.from_crs(CRS.from_user_input(source_crs),
                                           CRS.from_wkt(view_crs.to_wkt()), always_xy=True)
        if transformer.source_crs != transformer.target_crs:
            geometries = shapely.transform(
                geometries, lambda xy: np.column_stack(transformer.transform(xy[:, 0],
                                                                             xy[:, 1])))
    fill, lines, points = QPainterPath(), QPainterPath(), []
    fill.setFillRule(fill.fillRule().OddEvenFill)
    for geometry in geometries:
        if geometry is None or geometry.is_empty:
            continue
        for part in getattr(geometry, "geoms", [geometry]):
            kind = part.geom_type
            if kind == "Polygon":
                for ring in (part.exterior, *part.interiors):
                    coords = np.asarray(ring.coords)
                    _ring(fill, coords, True)
                    _ring(lines, coords, True)
            elif kind in ("LineString", "LinearRing"):
                _ring(lines, np.asarray(part.coords), False)
            elif kind == "Point":
                points.append(part.coords[0][:2])
    valid = geometries[~shapely.is_empty(geometries)] if len(geometries) else geometries
    extent = None
    if len(valid):
        minx, miny, maxx, maxy = shapely.total_bounds(valid)
        if np.isfinite([minx, miny, maxx, maxy]).all():
            extent = (float(minx), float(miny), float(maxx), float(maxy))
    return VectorData(fill, lines, np.asarray(points, float).reshape(-1, 2), extent,
                      len(geometries), str(meta.get("geometry_type", "")))


def draw_vector(painter: QPainter, data: VectorData, view: ViewState,
                color_rgb: tuple[int, int, int]) -> None:
    """Draw ``data`` (view-CRS coordinates) with the view's world-to-screen transform."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setTransform(world_to_screen(view))
    color = QColor(*color_rgb)
    pen = QPen(color, 2.0)
    pen.setCosmetic(True)
    painter.setPen(pen)
    if not data.fill.isEmpty():
        fill = QColor(color)
        fill.setAlpha(90)
        painter.fillPath(data.fill, fill)
    painter.drawPath(data.lines)
    if len(data.points):
        dot = QPen(color, 6.0)  # 6 screen pixels whatever the zoom
        dot.setCosmetic(True)
        painter.setPen(dot)
        for x, y in data.points:
            painter.drawPoint(QPointF(float(x), float(y)))
    painter.restore()


def world_to_screen(view: ViewState) -> QTransform:
    """The painter transform of :meth:`ViewState.to_screen`."""
    sx, sy = 1 / view.res_x, 1 / view.res
    return QTransform(sx, 0, 0, -sy, view.width / 2 - view.cx * sx, view.height / 2 + view.cy * sy)
