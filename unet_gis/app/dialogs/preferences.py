"""Preferences, generated from the settings schema (:class:`AppSettings` field metadata)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

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

from unet_gis.app.settings import AppSettings


class PreferencesDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.editors: dict[str, Any] = {}
        form = QFormLayout()
        for item in fields(AppSettings):
            label = item.metadata.get("label")
            if not label:
                continue
            editor, row = self._editor(item.metadata, getattr(settings, item.name))
            editor.setToolTip(item.metadata.get("help", ""))
            self.editors[item.name] = editor
            form.addRow(label, row)
        self.clear_recent = QCheckBox("Forget recent files")
        self.reset_thresholds = QCheckBox("Reset class thresholds to the models' defaults")
        form.addRow(self.clear_recent)
        form.addRow(self.reset_thresholds)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _editor(self, meta: Any, value: Any) -> tuple[Any, Any]:
        if "choices" in meta:
            combo = QComboBox()
            combo.addItems(list(meta["choices"]))
            combo.setCurrentText(str(value))
            return combo, combo
        if isinstance(value, bool):
            box = QCheckBox()
            box.setChecked(value)
            return box, box
        if isinstance(value, float):
            spin = QDoubleSpinBox()
            spin.setRange(*meta.get("range", (0.0, 1e9)))
            spin.setDecimals(2)
            spin.setValue(value)
            return spin, spin
        line = QLineEdit(str(value))
        if "path" not in meta:
            return line, line
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(line, meta["path"]))
        row = QHBoxLayout()
        row.addWidget(line, 1)
        row.addWidget(browse)
        return line, row

    def _browse(self, line: QLineEdit, pattern: str) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose a file", line.text(), pattern)
        if name:
            line.setText(name)

    def result_settings(self) -> AppSettings:
        """A copy of the settings with the dialog's values (validated like a loaded file)."""
        values: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                values[name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                values[name] = editor.isChecked()
            elif isinstance(editor, QDoubleSpinBox):
                values[name] = float(editor.value())
            else:
                values[name] = editor.text().strip()
        updated = replace(self.settings, **values)
        updated.recent_files = [] if self.clear_recent.isChecked() else list(
            self.settings.recent_files)
        updated.thresholds = {} if self.reset_thresholds.isChecked() else dict(
            self.settings.thresholds)
        updated.validate()
        return updated
