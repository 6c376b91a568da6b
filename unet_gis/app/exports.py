"""Exports result layers with the vectorizer off the GUI thread, then adds what it wrote."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QWidget

from unet_gis.app import messages
from unet_gis.app.dialogs.export import ExportDialog
from unet_gis.app.jobs import ExportRequest, existing_outputs, run_export
from unet_gis.app.layers.model import LayerStack, ResultLayer
from unet_gis.app.progress_panel import ProgressPanel
from unet_gis.app.settings import AppSettings
from unet_gis.app.workers import JobContext, JobRunner

log = logging.getLogger(__name__)


class ExportController(QObject):
    exportFinished = Signal(object)  # noqa: N815 - VectorSummary
    exportEnded = Signal(str)  # noqa: N815 - "finished", "failed", "cancelled"
    addPaths = Signal(list)  # noqa: N815 - files to add to the map

    def __init__(self, stack: LayerStack, panel: ProgressPanel, parent_widget: QWidget,
                 settings: AppSettings) -> None:
        super().__init__(parent_widget)
        self.stack, self.panel, self.parent_widget = stack, panel, parent_widget
        self.settings = settings
        self.runner = JobRunner("export", parent=self)
        self.interactive = True
        self.request: ExportRequest | None = None
        self.last_summary: Any = None
        self.runner.progress.connect(self.panel.update_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)

    def rasters(self) -> dict[Path, list[tuple[str, float]]]:
        """Probability rasters on the map and each one's classes at their current thresholds."""
        found: dict[Path, list[tuple[str, float]]] = {}
        for layer in self.stack:
            if isinstance(layer, ResultLayer) and layer.path is not None:
                found.setdefault(layer.path, []).append((layer.class_name, layer.threshold))
        return found

    def open_dialog(self, current: Path | None = None) -> None:
        if self.runner.running:
            messages.info(self.parent_widget, "Export", "An export is already running.")
            return
        rasters = self.rasters()
        if not rasters:
            messages.info(self.parent_widget, "Export",
                          "There is nothing to export yet: run the model, or open a "
                          "*_probabilities.tif, first.")
            return
        dialog = ExportDialog(list(rasters), current, rasters, self.settings,
                              self.parent_widget)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        request = dialog.request()
        if not request.classes:
            messages.error(self.parent_widget, "Export", "Choose at least one class.")
            return
        existing = existing_outputs(request)
        if existing:
            listing = "\n".join(str(p) for p in existing[:8])
            if not messages.ask(self.parent_widget, "Replace files?",
                                f"These files exist and will be replaced:\n{listing}"):
                return
            request = dialog.request(overwrite=True)
        self.settings.export_format = request.format
        self.settings.centerlines = request.centerlines
        self.settings.simplify_m = request.simplify_m
        self.settings.min_area_m2 = request.min_area_m2
        self.settings.last_export_dir = str(request.output.parent)
        self.start(request)

    def start(self, request: ExportRequest) -> None:
        self.request = request
        self.panel.begin(f"Exporting {request.probabilities.name}…", self.runner.cancel)

        def work(ctx: JobContext) -> Any:
            return run_export(request, ctx.progress, ctx.cancel)
        self.runner.start(work)

    def _on_finished(self, summary: Any) -> None:
        self.last_summary = summary
        outputs = [Path(p) for p in summary.outputs]
        text = f"Exported: {summary.line()}"
        for message in summary.messages:
            text += f"\n{message}"
        self.panel.end(text, True)
        self.addPaths.emit(outputs)
        self.exportEnded.emit("finished")
        self.exportFinished.emit(summary)
        if self.interactive and outputs and messages.ask(
                self.parent_widget, "Export finished",
                f"{summary.line()}\n\nWrote {len(outputs)} file(s) to {outputs[0].parent}.\n"
                "Open the folder?"):
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(outputs[0].parent)))

    def _on_failed(self, message: str, user_error: bool) -> None:
        self.panel.end(f"Export failed: {message}", False)
        self.exportEnded.emit("failed")
        if user_error:
            messages.error(self.parent_widget, "Export failed", message)
        else:
            messages.unexpected(self.parent_widget, "Export failed unexpectedly", message)

    def _on_cancelled(self) -> None:
        self.panel.end("Export cancelled; nothing was written.", False)
        self.exportEnded.emit("cancelled")

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        self.runner.cancel()
        return self.runner.wait(timeout_s)
