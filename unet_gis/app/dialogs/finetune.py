"""The "Fine-tune on my labels" dialog: the time budget and starting model, then the
training's progress with Cancel, then the before/after table and "Use the new model"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from unet_gis.inference.progress import format_duration


class FinetuneDialog(QDialog):
    startRequested = Signal(float)  # noqa: N815 - minutes
    cancelRequested = Signal()  # noqa: N815
    useRequested = Signal()  # noqa: N815

    def __init__(self, image: str, labels: str, model: str, output: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on my labels")
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.5, 240.0)
        self.minutes.setDecimals(1)
        self.minutes.setSingleStep(1.0)
        self.minutes.setValue(3.0)
        self.minutes.setSuffix(" min")
        form = QFormLayout()
        form.addRow("Image:", QLabel(image))
        form.addRow("Labels:", QLabel(labels))
        form.addRow("Starting model:", QLabel(model))
        form.addRow("New model:", QLabel(output))
        form.addRow("Time budget:", self.minutes)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("A fifth of the checked areas is kept aside to score the model "
                             "before and after.")
        self.status.setWordWrap(True)
        self.table = QPlainTextEdit()
        self.table.setReadOnly(True)
        self.table.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.table.setMaximumHeight(120)
        self.table.hide()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.use_button = QPushButton("Use the new model")
        self.use_button.hide()
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.use_button,
                       self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.start_button.clicked.connect(
            lambda: self.startRequested.emit(float(self.minutes.value())))
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.use_button.clicked.connect(self.useRequested.emit)
        self.close_button.clicked.connect(self.close)
        self.setMinimumWidth(460)

    def running(self) -> None:
        self.start_button.setEnabled(False)
        self.minutes.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.close_button.setEnabled(False)
        self.use_button.hide()
        self.table.hide()
        self.bar.setValue(0)
        self.status.setText("Scoring the starting model on the kept-aside areas…")

    def progress(self, step: int, loss: float, fraction: float, eta_s: float | None) -> None:
        self.bar.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        eta = format_duration(eta_s)
        self.status.setText(f"Training: step {step}, loss {loss:.4f} · ETA {eta}")

    def note(self, text: str) -> None:
        self.status.setText(text)

    def ended(self, text: str, table: str | None = None) -> None:
        self.start_button.setEnabled(True)
        self.minutes.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.close_button.setEnabled(True)
        self.status.setText(text)
        if table is not None:
            self.bar.setValue(1000)
            self.table.setPlainText(table)
            self.table.show()
            self.use_button.show()
            self.use_button.setEnabled(True)
        else:
            self.bar.setValue(0)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.cancel_button.isEnabled():
            self.cancelRequested.emit()  # closing a running fine-tune cancels it
        super().closeEvent(event)
