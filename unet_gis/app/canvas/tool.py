"""What the canvas lets other parts of the app plug in: a mouse tool and overlay painters.

A tool (the labelling tool) sees mouse and key events before the canvas pans or draws
an extent; returning True means it used the event.  Overlays paint over the layers in
screen coordinates, with the current view to convert world coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter

from unet_gis.app.geo import ViewState

Overlay = Callable[[QPainter, ViewState], None]


class CanvasTool(Protocol):
    def mouse(self, kind: str, event: QMouseEvent) -> bool:
        """``kind``: press, move, release or double."""
        ...

    def key(self, event: QKeyEvent) -> bool: ...
