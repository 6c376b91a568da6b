"""A progress bar with ETA and throughput, a Cancel button and a result line."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from unet_gis.app.widgets import ElidedLabel
from unet_gis.inference.progress import Progress, format_duration

MIN_WIDTH = 240  # px: the progress bar, its Cancel button and a readable status line


def describe_progress(progress: Progress) -> str:
    text = f"{progress.stage}: {progress.done}/{progress.total}"
    if progress.pixels and progress.elapsed_s > 0:
        text += f" · {progress.pixels_per_s / 1e6:.2f} Mpx/s"
    text += f" · ETA {format_duration(progress.eta_s)}"
    return text


class ProgressPanel(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.detail = ElidedLabel("Idle")  # long paths lose their middle, not widen the dock
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.detail)
        self.setMinimumWidth(MIN_WIDTH)
        self._cancel: Callable[[], None] | None = None
        self.cancel_button.clicked.connect(self._cancel_clicked)

    @property
    def busy(self) -> bool:
        return self.cancel_button.isEnabled()

    def begin(self, text: str, cancel: Callable[[], None]) -> None:
        self._cancel = cancel
        self.bar.setValue(0)
        self.bar.setFormat("%p%")
        self.detail.setText(text)
        self.cancel_button.setEnabled(True)

    def update_progress(self, progress: Progress) -> None:
        self.bar.setValue(int(progress.fraction * 1000))
        self.detail.setText(describe_progress(progress))

    def end(self, text: str, complete: bool) -> None:
        self._cancel = None
        self.cancel_button.setEnabled(False)
        self.bar.setValue(1000 if complete else 0)
        self.detail.setText(text)

    def _cancel_clicked(self) -> None:
        if self._cancel is not None:
            self.detail.setText("Cancelling…")
            self._cancel()
