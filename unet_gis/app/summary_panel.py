"""The results summary under the Run panel: objects, areas and lengths of the latest
probability raster at the current thresholds, recomputed off the GUI thread as the
threshold sliders move (changes while one is computing are folded into one more)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from unet_gis.app.layers.model import LayerEvent, LayerStack, ResultLayer
from unet_gis.app.summary import Summary, SummaryData, summary_job
from unet_gis.app.widgets import ElidedLabel
from unet_gis.app.workers import JobContext, JobRunner

IDLE_TEXT = "Counts appear here after a run."


class ResultsSummary(QWidget):
    """Follows the probability raster shown last (a finished run or an opened file)."""

    updated = Signal(object)  # Summary, on the GUI thread

    def __init__(self, stack: LayerStack, min_area_m2: Callable[[], float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stack, self.min_area_m2 = stack, min_area_m2
        self.title = QLabel("<b>Results at the current thresholds</b>")
        self.text = ElidedLabel(IDLE_TEXT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        self.path: Path | None = None
        self.last: Summary | None = None
        self._source_uid: int | None = None
        self._data: SummaryData | None = None
        self._again = False
        self.runner = JobRunner("summary", parent=self)
        self.runner.finished.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._next)
        stack.subscribe(self._on_layers)

    def show_raster(self, path: Path) -> None:
        """Summarise ``path`` (read anew: a re-run replaces the file under the same name)."""
        self.path, self._data, self.last = path, None, None
        self.text.setText("Counting…")
        self.runner.cancel()
        self.refresh()

    def thresholds(self) -> dict[str, float]:
        return {layer.class_name: layer.threshold for layer in self.stack
                if isinstance(layer, ResultLayer) and layer.path == self.path}

    def refresh(self) -> None:
        if self.path is None:
            return
        if self.runner.running:
            self._again = True
            return
        path, thresholds, cached = self.path, self.thresholds(), self._data
        min_area = self.min_area_m2()

        def work(ctx: JobContext) -> Any:
            return summary_job(path, thresholds, min_area, cached, ctx.cancel)
        self.runner.start(work)

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        self.runner.cancel()
        return self.runner.wait(timeout_s)

    def _on_layers(self, event: LayerEvent) -> None:
        layer = event.layer
        if not isinstance(layer, ResultLayer):
            return
        source = layer.source
        if event.kind in ("added", "changed") and source is not None and \
                source.uid != self._source_uid:  # a file opened, or a run's result arrived
            self._source_uid = source.uid
            self.show_raster(source.path)
        elif event.kind == "changed" and "threshold" in event.fields and \
                layer.path == self.path:
            self.refresh()
        elif event.kind == "removed" and self.path is not None and not any(
                isinstance(other, ResultLayer) and other.path == self.path
                for other in self.stack):
            self.path, self._data, self.last, self._source_uid = None, None, None, None
            self.runner.cancel()
            self.text.setText(IDLE_TEXT)

    def _on_done(self, value: tuple[SummaryData, Summary]) -> None:
        data, summary = value
        if data.path == self.path:
            self._data, self.last = data, summary
            self.text.setText("\n".join(summary.lines()) or "No classes.")
            self.updated.emit(summary)
        self._next()

    def _on_failed(self, message: str, _user_error: bool) -> None:
        self.text.setText(f"Could not count the results: {message}")
        self._next()

    def _next(self) -> None:
        if self._again:
            self._again = False
            self.refresh()
