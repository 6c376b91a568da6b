"""Things drawn over the layers: the drawn extent rectangle and the empty-map hint."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

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
