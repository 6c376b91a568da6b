"""The status bar's permanent fields: cursor position (map CRS, the selected layer's own
CRS, latitude/longitude), the map scale and the device of the last run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QStatusBar

from unet_gis.app.canvas.view import MapCanvas
from unet_gis.app.geo import format_position, scale_text
from unet_gis.app.layers.model import Layer, LayerStack


class MapStatus:
    """Adds the fields to ``bar`` and keeps them up to date."""

    def __init__(self, bar: QStatusBar, canvas: MapCanvas, stack: LayerStack,
                 current: Callable[[], Layer | None]) -> None:
        self.canvas, self.stack, self.current = canvas, stack, current
        self.position = QLabel("")
        self.scale = QLabel("")
        self.device = QLabel("Device: not chosen yet")
        # a normal widget: a message (where a mosaic or the results went, errors) takes its
        # place while it lasts; as a permanent one it left messages no room to show
        bar.addWidget(self.position, 1)
        bar.addPermanentWidget(self.scale)
        bar.addPermanentWidget(self.device)
        canvas.cursorMoved.connect(self.show_position)
        canvas.viewChanged.connect(self.show_scale)
        stack.subscribe(lambda _event: self.show_scale())

    def show_position(self, x: float, y: float) -> None:
        source: Any = getattr(self.current(), "source", None)
        self.position.setText(format_position(self.stack.crs, x, y,
                                              getattr(source, "crs", None)))

    def show_scale(self) -> None:
        text = scale_text(self.canvas.view, self.stack.crs, self.canvas.logicalDpiX()) \
            if len(self.stack) else ""
        self.scale.setText(text)
        self.scale.setToolTip("The map scale at the view's centre on this screen"
                              if text else "")
