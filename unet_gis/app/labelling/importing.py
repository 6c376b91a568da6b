"""Import an existing vector file as labels: which class (or checked areas) its shapes
become, and how wide its lines (and points) are in metres, as in training."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from unet_gis.training.labels import LINE_WIDTH_M

VECTOR_FILTER = ("Vector files (*.gpkg *.shp *.geojson *.json *.fgb *.kml *.gml);;"
                 "All files (*)")


class ImportDialog(QDialog):
    """``targets``: (shown name, target) pairs, a class name or CHECKED as the target."""

    def __init__(self, path: Path, targets: list[tuple[str, str]], current: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import labels")
        self.path = path
        self.target = QComboBox()
        for text, target in targets:
            self.target.addItem(text, target)
        self.target.setCurrentIndex(max(0, self.target.findData(current)))
        self.width_m = QDoubleSpinBox()
        self.width_m.setRange(0.1, 100.0)
        self.width_m.setDecimals(1)
        self.width_m.setSuffix(" m")
        self.width_m.setValue(LINE_WIDTH_M)
        self.width_m.setToolTip("Lines become bands this wide, points discs this wide; "
                                "polygons are kept as they are.")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File:", QLabel(path.name))
        form.addRow("Import as:", self.target)
        form.addRow("Width of lines and points:", self.width_m)
        form.addRow(self.buttons)

    def choice(self) -> tuple[str, float]:
        """(target, width in metres)."""
        return str(self.target.currentData()), float(self.width_m.value())
