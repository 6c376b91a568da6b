"""Toolbar icons: the style's standard icons where one fits, else a small painted one
(no image files to ship, sharp at any size)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QWidget

SP = QStyle.StandardPixmap
STANDARD = {"open": SP.SP_DialogOpenButton, "run": SP.SP_MediaPlay,
            "cancel": SP.SP_BrowserStop, "export": SP.SP_DialogSaveButton}
INK = QColor(40, 40, 40)


def _painted(draw: Callable[[QPainter], None], size: int = 32) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 32, size / 32)
    painter.setPen(QPen(INK, 2.5))
    draw(painter)
    painter.end()
    return QIcon(pixmap)


def _magnifier(plus: bool) -> Callable[[QPainter], None]:
    def draw(p: QPainter) -> None:
        p.drawEllipse(QRectF(4, 4, 18, 18))
        handle = QPen(INK, 4)
        handle.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(handle)
        p.drawLine(QPointF(20, 20), QPointF(28, 28))
        p.setPen(QPen(INK, 2.5))
        p.drawLine(QPointF(8.5, 13), QPointF(17.5, 13))
        if plus:
            p.drawLine(QPointF(13, 8.5), QPointF(13, 17.5))
    return draw


def _full_extent(p: QPainter) -> None:
    for x, y, dx, dy in ((4, 4, 1, 1), (28, 4, -1, 1), (4, 28, 1, -1), (28, 28, -1, -1)):
        p.drawLine(QPointF(x, y), QPointF(x + 7 * dx, y))
        p.drawLine(QPointF(x, y), QPointF(x, y + 7 * dy))
    p.fillRect(QRectF(11, 11, 10, 10), QColor(40, 120, 255))


def _draw_area(p: QPainter) -> None:
    p.fillRect(QRectF(5, 7, 22, 18), QColor(40, 120, 255, 60))
    p.setPen(QPen(QColor(20, 90, 230), 2.5, Qt.PenStyle.DashLine))
    p.drawRect(QRectF(5, 7, 22, 18))


def _label(p: QPainter) -> None:
    points = [QPointF(6, 24), QPointF(12, 7), QPointF(26, 11), QPointF(22, 26)]
    p.setBrush(QColor(230, 120, 30, 90))
    p.setPen(QPen(QColor(200, 90, 10), 2.5))
    p.drawPolygon(points)
    for point in points:
        p.fillRect(QRectF(point.x() - 2, point.y() - 2, 4, 4), QColor(30, 30, 30))


PAINTED = {"zoom_in": _magnifier(True), "zoom_out": _magnifier(False),
           "full_extent": _full_extent, "draw_area": _draw_area, "label": _label}


def icon(name: str, widget: QWidget) -> QIcon:
    """The toolbar icon of action ``name``."""
    if name in STANDARD:
        return widget.style().standardIcon(STANDARD[name])
    return _painted(PAINTED[name])
