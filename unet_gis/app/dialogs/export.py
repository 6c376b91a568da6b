"""The Export dialog: classes, format, centerlines, simplify, minimum area, output path."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from unet_gis.app.jobs import FORMAT_LABEL, FORMAT_SUFFIX, ExportRequest
from unet_gis.app.settings import AppSettings


class ExportDialog(QDialog):
    """Builds an :class:`ExportRequest` for one probability raster."""

    def __init__(self, probabilities: list[Path], current: Path | None,
                 classes: dict[Path, list[tuple[str, float]]], settings: AppSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export layers")
        self.classes_of = classes
        self.settings = settings
        self.raster = QComboBox()
        for path in probabilities:
            self.raster.addItem(path.name, str(path))
        if current is not None:
            self.raster.setCurrentIndex(max(0, self.raster.findData(str(current))))
        self.class_boxes: list[QCheckBox] = []
        self.class_row = QHBoxLayout()
        self.format = QComboBox()
        for key, label in FORMAT_LABEL.items():
            self.format.addItem(label, key)
        self.format.setCurrentIndex(max(0, self.format.findData(settings.export_format)))
        self.centerlines = QCheckBox("Road centerlines")
        self.centerlines.setChecked(settings.centerlines)
        self.simplify = QDoubleSpinBox()
        self.simplify.setRange(0.0, 100.0)
        self.simplify.setDecimals(2)
        self.simplify.setSuffix(" m")
        self.simplify.setValue(settings.simplify_m)
        self.min_area = QDoubleSpinBox()
        self.min_area.setRange(0.0, 1e6)
        self.min_area.setDecimals(1)
        self.min_area.setSuffix(" m²")
        self.min_area.setValue(settings.min_area_m2)
        self.output = QLineEdit()
        browse = QPushButton("Browse…")
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Probability raster", self.raster)
        form.addRow("Classes", self.class_row)
        form.addRow("Format", self.format)
        form.addRow("", self.centerlines)
        form.addRow("Simplify tolerance", self.simplify)
        form.addRow("Minimum area", self.min_area)
        form.addRow("Output", out_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        browse.clicked.connect(self._browse)
        self.raster.currentIndexChanged.connect(lambda _: self._raster_changed())
        self.format.currentIndexChanged.connect(lambda _: self._format_changed())
        self._raster_changed()

    @property
    def probabilities(self) -> Path:
        return Path(str(self.raster.currentData()))

    @property
    def fmt(self) -> str:
        return str(self.format.currentData())

    def _raster_changed(self) -> None:
        for box in self.class_boxes:
            self.class_row.removeWidget(box)
            box.deleteLater()
        self.class_boxes = []
        for name, _ in self.classes_of.get(self.probabilities, []):
            box = QCheckBox(name)
            box.setChecked(True)
            self.class_boxes.append(box)
            self.class_row.addWidget(box)
        self._format_changed()

    def _default_output(self) -> Path:
        folder = Path(self.settings.last_export_dir) if self.settings.last_export_dir else \
            self.probabilities.parent
        if not folder.is_dir():
            folder = self.probabilities.parent
        stem = self.probabilities.stem.removesuffix("_probabilities")
        suffix = FORMAT_SUFFIX[self.fmt]
        return folder / (f"{stem}_mask{suffix}" if self.fmt == "tif" else f"{stem}{suffix}")

    def _format_changed(self) -> None:
        vector = self.fmt != "tif"
        self.centerlines.setEnabled(vector)
        self.simplify.setEnabled(vector)
        self.min_area.setEnabled(vector)
        self.output.setText(str(self._default_output()))

    def _browse(self) -> None:
        suffix = FORMAT_SUFFIX[self.fmt]
        name, _ = QFileDialog.getSaveFileName(self, "Export to", self.output.text(),
                                              f"{FORMAT_LABEL[self.fmt]} (*{suffix})")
        if name:
            path = Path(name)
            self.output.setText(str(path if path.suffix else path.with_suffix(suffix)))

    def request(self, overwrite: bool = False) -> ExportRequest:
        chosen = tuple(box.text() for box in self.class_boxes if box.isChecked())
        thresholds = tuple((name, value) for name, value in self.classes_of.get(
            self.probabilities, []) if name in chosen)
        return ExportRequest(self.probabilities, Path(self.output.text()).expanduser(),
                             self.fmt, chosen, thresholds, self.centerlines.isChecked(),
                             self.simplify.value(), self.min_area.value(), overwrite)
