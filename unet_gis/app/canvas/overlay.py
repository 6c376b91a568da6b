"""Things drawn over the layers: the drawn extent, the scale bar and the empty-map hint."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from unet_gis.app.geo import ViewState, scale_bar

HINT = ("Open imagery with File → Open (Ctrl+O), or drop files here.\n"
        "Shift+drag on the map draws an extent for a run.")


def draw_selection(painter: QPainter, rect: QRectF) -> None:
    painter.save()
    painter.setOpacity(1.0)
    painter.fillRect(rect, QColor(40, 120, 255, 40))
    pen = QPen(QColor(20, 90, 230), 2, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.drawRect(rect)
    painter.restore()


def draw_hint(painter: QPainter, rect: QRectF) -> None:
    painter.save()
    painter.setPen(QColor(90, 90, 90))
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), HINT)
    painter.restore()


def draw_scale_bar(painter: QPainter, view: ViewState, metres_per_px: float | None) -> None:
    """The bar for ``metres_per_px`` (:func:`metres_per_pixel`; ``None``: pixel space)."""
    length_px, label = scale_bar(metres_per_px, view.res)
    if length_px <= 0:
        return
    x0, y0 = 12.0, view.height - 14.0
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.fillRect(QRectF(x0 - 6, y0 - 22, length_px + 60, 30), QColor(255, 255, 255, 200))
    painter.setPen(QPen(QColor(20, 20, 20), 2))
    painter.drawLine(QPointF(x0, y0), QPointF(x0 + length_px, y0))
    for x in (x0, x0 + length_px):
        painter.drawLine(QPointF(x, y0 - 6), QPointF(x, y0))
    painter.drawText(QPointF(x0 + length_px + 6, y0), label)
