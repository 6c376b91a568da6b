"""The labelling dock: what to draw (a class of the model, or a checked area), select and
delete, undo and redo, import a vector file, and how many labels the image has."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from unet_gis.app.labelling.document import CHECKED

HINTS = {"polygon": "Click the corners; double-click (or Enter) closes. Backspace: undo a "
                    "corner, Esc: abandon.",
         "box": "Drag a box around each object, or click its middle for a point.",
         "rect": "Drag rectangles where everything unlabelled is background.",
         "select": "Click a shape to select it; drag one of its corners to move it; Delete "
                   "removes it."}


def swatch(rgb: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


class LabelPanel(QWidget):
    targetChanged = Signal(str)  # noqa: N815 - a class name or CHECKED
    selectToggled = Signal(bool)  # noqa: N815

    def __init__(self, undo: QAction, redo: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QLabel("")
        self.image.setWordWrap(True)
        self.target = QComboBox()
        self.select = QToolButton()
        self.select.setText("Select")
        self.select.setCheckable(True)
        self.delete = QPushButton("Delete")
        self.delete.setEnabled(False)
        undo_button, redo_button = QToolButton(), QToolButton()
        for button, action, pixmap in ((undo_button, undo, QStyle.StandardPixmap.SP_ArrowBack),
                                       (redo_button, redo,
                                        QStyle.StandardPixmap.SP_ArrowForward)):
            action.setIcon(self.style().standardIcon(pixmap))
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add the shapes of a vector file (GeoPackage, "
                                      "Shapefile, GeoJSON…) as labels")
        self.count = QLabel("")
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        row = QHBoxLayout()
        for widget in (self.select, self.delete, undo_button, redo_button,
                       self.import_button):
            row.addWidget(widget)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image)
        layout.addWidget(QLabel("Draw:"))
        layout.addWidget(self.target)
        layout.addLayout(row)
        layout.addWidget(self.count)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self.target.currentIndexChanged.connect(
            lambda _i: self.targetChanged.emit(self.current_target()))
        self.select.toggled.connect(self.selectToggled.emit)

    def set_classes(self, classes: list[tuple[str, tuple[int, int, int]]]) -> None:
        current = self.current_target()
        self.target.blockSignals(True)
        self.target.clear()
        for name, rgb in classes:
            self.target.addItem(swatch(rgb), name, name)
        self.target.addItem(swatch((250, 250, 250)), "checked area", CHECKED)
        index = self.target.findData(current)
        self.target.setCurrentIndex(max(0, index))
        self.target.blockSignals(False)
        self.targetChanged.emit(self.current_target())

    def current_target(self) -> str:
        data = self.target.currentData()
        return str(data) if data is not None else ""

    def choose(self, target: str) -> None:
        """Pick ``target`` (a class name or CHECKED) to draw next."""
        self.select.setChecked(False)
        self.target.setCurrentIndex(self.target.findData(target))

    def show_mode(self, mode: str) -> None:
        self.hint.setText(HINTS.get(mode, ""))
