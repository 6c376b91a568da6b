"""The layers panel: mirrors the :class:`LayerStack`, writes back through its setters."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from unet_gis.app.layers.model import (
    ImageLayer,
    Layer,
    LayerEvent,
    LayerStack,
    ResultLayer,
    VectorLayer,
)
from unet_gis.app.widgets import ElidedLabel


def swatch(color: tuple[int, int, int] | None) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*color) if color else QColor(120, 120, 120))
    return QIcon(pixmap)


class ThresholdRow(QWidget):
    """A class name, a 0-100 % slider and its value: moving it re-renders live."""

    def __init__(self, stack: LayerStack, layer: ResultLayer, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.stack, self.layer = stack, layer
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, 100)
        self.slider.setValue(round(layer.threshold * 100))
        self.slider.setToolTip(f"Probability threshold for {layer.class_name}")
        self.value = QLabel(f"{layer.threshold:.2f}")
        self.value.setMinimumWidth(32)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.color = layer.color
        # "road — scene": tells runs of several images apart; long names lose their middle
        self.name = name = ElidedLabel(layer.name, wrap=False)
        name.setMinimumWidth(60)
        name.setMaximumWidth(160)
        row.addWidget(QLabel(pixmap=swatch(layer.color).pixmap(12, 12)))
        row.addWidget(name)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value)
        self.slider.valueChanged.connect(self._moved)

    def _moved(self, value: int) -> None:
        self.value.setText(f"{value / 100:.2f}")
        self.stack.update(self.layer, threshold=value / 100.0)


class LayersPanel(QWidget):
    zoomRequested = Signal(object)  # noqa: N815 - Qt naming
    thresholdChanged = Signal(str, float)  # noqa: N815

    def __init__(self, stack: LayerStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stack = stack
        self.list = QListWidget()
        self.list.setToolTip("Tick to show, select to edit; the top row draws on top")
        buttons = QHBoxLayout()
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.zoom = QPushButton("Zoom to")
        self.remove = QPushButton("Remove")
        for button in (self.up, self.down, self.zoom, self.remove):
            buttons.addWidget(button)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.color = QPushButton("Colour…")
        self.bands = [QSpinBox() for _ in range(3)]
        bands_row = QHBoxLayout()
        for label, spin in zip("RGB", self.bands, strict=True):
            spin.setPrefix(f"{label} ")
            bands_row.addWidget(spin)
        self.properties = QGroupBox("Layer")
        form = QFormLayout(self.properties)
        form.addRow("Opacity", self.opacity)
        form.addRow("Colour", self.color)
        form.addRow("Bands", bands_row)
        self.info = QLabel()
        self.info.setWordWrap(True)
        form.addRow(self.info)
        self.thresholds = QGroupBox("Class thresholds")
        self.thresholds_layout = QVBoxLayout(self.thresholds)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.properties)
        layout.addWidget(self.thresholds)
        self.rows: dict[int, ThresholdRow] = {}
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentRowChanged.connect(lambda _: self._show_properties())
        self.up.clicked.connect(lambda: self._move(1))
        self.down.clicked.connect(lambda: self._move(-1))
        self.zoom.clicked.connect(lambda: self._with_current(self.zoomRequested.emit))
        self.remove.clicked.connect(lambda: self._with_current(self.stack.remove))
        self.opacity.valueChanged.connect(
            lambda v: self._with_current(lambda layer: self.stack.update(layer, opacity=v / 100)))
        self.color.clicked.connect(self._pick_color)
        for spin in self.bands:
            spin.valueChanged.connect(self._bands_changed)
        stack.subscribe(self._on_event)
        self._rebuild()

    # --- state -> widgets ------------------------------------------------------------
    def current(self) -> Layer | None:
        item = self.list.currentItem()
        if item is None:
            return None
        layer_id = item.data(Qt.ItemDataRole.UserRole)
        return next((layer for layer in self.stack if layer.id == layer_id), None)

    def _with_current(self, action: object) -> None:
        layer = self.current()
        if layer is not None:
            action(layer)  # type: ignore[operator]

    def _on_event(self, event: LayerEvent) -> None:
        quiet = {"threshold", "opacity", "preview"}
        if event.kind == "changed" and set(event.fields) <= quiet:
            if "threshold" in event.fields and isinstance(event.layer, ResultLayer):
                self.thresholdChanged.emit(event.layer.class_name, event.layer.threshold)
            return  # the widget that made the change already shows it
        self._rebuild(select=event.layer if event.kind in ("added", "moved") else None)

    def _label(self, layer: Layer) -> str:
        text = layer.name
        if isinstance(layer, ResultLayer) and layer.preview is not None and layer.source is None:
            text += " (running…)"
        if layer.problem:
            text += f" — not shown: {layer.problem}"
        return text

    def _rebuild(self, select: Layer | None = None) -> None:
        selected = select or self.current()
        self.list.blockSignals(True)
        self.list.clear()
        for layer in reversed(list(self.stack)):
            item = QListWidgetItem(self._label(layer))
            item.setData(Qt.ItemDataRole.UserRole, layer.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            color = getattr(layer, "color", None) if layer.kind != "image" else None
            item.setIcon(swatch(color))
            item.setToolTip(str(getattr(layer, "path", "") or layer.name))
            self.list.addItem(item)
            if selected is not None and layer.id == selected.id:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.list.blockSignals(False)
        self._rebuild_thresholds()
        self._show_properties()

    def _rebuild_thresholds(self) -> None:
        results = [layer for layer in self.stack if isinstance(layer, ResultLayer)]
        ids = {layer.id for layer in results}
        for layer_id in [i for i in self.rows if i not in ids]:
            self.rows.pop(layer_id).deleteLater()
        for layer in results:
            row = self.rows.get(layer.id)
            if row is not None and row.color != layer.color:  # recoloured: redraw its swatch
                self.rows.pop(layer.id).deleteLater()
            if layer.id not in self.rows:
                self.rows[layer.id] = ThresholdRow(self.stack, layer)
                self.thresholds_layout.addWidget(self.rows[layer.id])
        self.thresholds.setVisible(bool(results))

    def _show_properties(self) -> None:
        layer = self.current()
        self.properties.setEnabled(layer is not None)
        for button in (self.up, self.down, self.zoom, self.remove):
            button.setEnabled(layer is not None)
        if layer is None:
            self.info.setText("")
            return
        for widget in (self.opacity, *self.bands):
            widget.blockSignals(True)
        self.opacity.setValue(round(layer.opacity * 100))
        self.color.setEnabled(isinstance(layer, ResultLayer | VectorLayer))
        is_image = isinstance(layer, ImageLayer)
        for index, spin in enumerate(self.bands):
            spin.setEnabled(is_image)
            if isinstance(layer, ImageLayer):
                spin.setRange(1, layer.source.count)
                spin.setValue(layer.bands[index])
        for widget in (self.opacity, *self.bands):
            widget.blockSignals(False)
        self.info.setText(self._describe(layer))

    def _describe(self, layer: Layer) -> str:
        if isinstance(layer, ImageLayer):
            s = layer.source
            return (f"{s.width}×{s.height} px, {s.count} bands {s.dtypes[0]}, "
                    f"{len(s.overviews)} overview levels"
                    + (", reprojected" if s.warped else ""))
        if isinstance(layer, VectorLayer):
            return f"{layer.features} features {layer.geometry_type}"
        if isinstance(layer, ResultLayer):
            return f"class {layer.class_name}, band {layer.band}"
        return ""

    # --- widgets -> state ------------------------------------------------------------
    def _item_changed(self, item: QListWidgetItem) -> None:
        layer_id = item.data(Qt.ItemDataRole.UserRole)
        layer = next((lr for lr in self.stack if lr.id == layer_id), None)
        visible = item.checkState() == Qt.CheckState.Checked
        if layer is not None and layer.visible != visible:
            self.stack.update(layer, visible=visible)

    def _move(self, steps: int) -> None:
        self._with_current(lambda layer: self.stack.move(layer, steps))

    def _pick_color(self) -> None:
        layer = self.current()
        if not isinstance(layer, ResultLayer | VectorLayer):
            return
        color = QColorDialog.getColor(QColor(*layer.color), self, f"Colour of {layer.name}")
        if color.isValid():
            self.stack.update(layer, color=(color.red(), color.green(), color.blue()))

    def _bands_changed(self) -> None:
        layer = self.current()
        if isinstance(layer, ImageLayer):
            bands = tuple(spin.value() for spin in self.bands)
            if bands != layer.bands:
                self.stack.update(layer, bands=bands)
