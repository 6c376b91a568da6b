"""Runs the model off the GUI thread; the overlay fills in as the engine writes blocks.

The request is snapshotted on the GUI thread (:class:`RunRequest`), the work (load the
model, plan the output grid, ``predict``) runs on a :class:`JobRunner` thread, and the
result layers are created and updated back on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from unet_gis.app import messages
from unet_gis.app.canvas.render import PreviewRaster
from unet_gis.app.canvas.sources import RasterSource
from unet_gis.app.jobs import (
    OutputGrid,
    RunRequest,
    load_model,
    plan_output,
    run_model,
)
from unet_gis.app.layers.model import LayerStack, ResultLayer
from unet_gis.app.progress_panel import ProgressPanel
from unet_gis.app.workers import JobContext, JobRunner
from unet_gis.errors import UserError
from unet_gis.inference.progress import format_duration
from unet_gis.raster.io import north_up_transform

log = logging.getLogger(__name__)


@dataclass
class _Active:
    request: RunRequest
    run_id: int
    preview: PreviewRaster | None = None
    layers: list[ResultLayer] = field(default_factory=list)


class RunController(QObject):
    """One run at a time, later ones queued; signals say when the app is idle again."""

    busyChanged = Signal(bool)  # noqa: N815 - Qt naming
    deviceChanged = Signal(str)  # noqa: N815
    runFinished = Signal(object)  # noqa: N815 - PredictResult
    runEnded = Signal(str)  # noqa: N815 - "finished", "failed", "cancelled"
    starting = Signal(object)  # RunRequest, just before its worker starts

    def __init__(self, stack: LayerStack, panel: ProgressPanel, parent_widget: QWidget,
                 threshold_for: Callable[[str, float], float]) -> None:
        """``threshold_for(class, model default)``: the threshold a new result layer starts
        at (the window owns the user's thresholds; this only asks)."""
        super().__init__(parent_widget)
        self.stack, self.panel, self.parent_widget = stack, panel, parent_widget
        self.threshold_for = threshold_for
        self.runner = JobRunner("run", parent=self)
        self.queue: list[RunRequest] = []
        self.active: _Active | None = None
        self.interactive = True
        self.last_result: Any = None
        self._models: dict[Path | None, Any] = {}
        self._run_ids = 0
        self.runner.info.connect(self._on_plan)
        self.runner.items.connect(self._on_blocks)
        self.runner.progress.connect(self.panel.update_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)

    @property
    def busy(self) -> bool:
        return self.active is not None

    def submit(self, request: RunRequest) -> bool:
        """Start now, or (after asking) queue behind the running one."""
        if self.active is not None:
            if self.interactive and not messages.ask(
                    self.parent_widget, "A run is in progress",
                    f"The model is still running on {self.active.request.image.name}.\n"
                    f"Queue {request.image.name} to run after it?"):
                return False
            self.queue.append(request)
            self.panel.detail.setText(f"{len(self.queue)} run(s) queued")
            return True
        self._start(request)
        return True

    def cancel(self) -> None:
        self.queue.clear()
        if self.active is not None:
            self.runner.cancel()

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Cancel and wait for the worker (closing the window); True when it stopped."""
        self.cancel()
        return self.runner.wait(timeout_s)

    # --- running ---------------------------------------------------------------------
    def _start(self, request: RunRequest) -> None:
        self._run_ids += 1
        self.active = _Active(request, self._run_ids)
        for layer in list(self.stack):  # the old result for this output is replaced
            if isinstance(layer, ResultLayer) and layer.path == request.output:
                self.stack.remove(layer)
        self.starting.emit(request)
        self.panel.begin(f"Loading the model for {request.image.name}…", self.cancel)
        self.busyChanged.emit(True)
        models = self._models

        def work(ctx: JobContext) -> Any:
            model = models.get(request.model)
            if model is None:
                model = models[request.model] = load_model(request)
            grid = plan_output(request, model)
            preview = PreviewRaster(grid.width, grid.height,
                                    north_up_transform(grid.crs, grid.transform), grid.crs,
                                    len(grid.classes))
            ctx.info((grid, preview))

            def on_block(window: Any, probabilities: Any, valid: Any) -> None:
                ctx.push(preview.sample(window, probabilities, valid))
            return run_model(request, model, ctx.progress, ctx.cancel, on_block)

        self.runner.start(work)

    def _on_plan(self, value: tuple[OutputGrid, PreviewRaster]) -> None:
        grid, preview = value
        active = self.active
        if active is None:
            return
        active.preview = preview
        self.deviceChanged.emit(grid.device)
        self.panel.detail.setText(f"Running on {grid.device}")
        for band, (name, color, threshold) in enumerate(grid.classes, start=1):
            layer = ResultLayer(name=f"{name} — {active.request.image.stem}", class_name=name,
                                band=band, color=tuple(color),  # type: ignore[arg-type]
                                threshold=self.threshold_for(name, threshold),
                                preview=preview, run_id=active.run_id)
            active.layers.append(layer)
            self.stack.add(layer, crs=grid.crs)

    def _on_blocks(self) -> None:
        active = self.active
        items = self.runner.take_items()
        if active is None or active.preview is None or not items:
            return
        for item in items:
            active.preview.apply(*item)
        for layer in active.layers:
            self.stack.update(layer, preview=active.preview)

    def _on_finished(self, result: Any) -> None:
        active = self.active
        self.last_result = result
        self._on_blocks()
        if active is not None:
            try:
                source = RasterSource(result.output)
            except UserError as exc:
                messages.error(self.parent_widget, "Cannot show the result", str(exc))
            else:
                for layer in active.layers:
                    if layer in list(self.stack):
                        layer.source = source
                        layer.problem = None
                        layer.set_view_crs(self.stack.crs)
                        self.stack.update(layer, preview=None, run_id=None)
        text = (f"Done: {result.width}×{result.height} px in {format_duration(result.seconds)} "
                f"({result.megapixels_per_s:.2f} Mpx/s) on {result.device}.\n"
                f"Wrote {result.output.name} in {result.output.parent}")
        for warning in result.warnings:
            text += f"\nNote: {warning}"
        self.panel.end(text, True)
        self.deviceChanged.emit(result.device)
        self._done("finished")
        self.runFinished.emit(result)

    def _on_failed(self, message: str, user_error: bool) -> None:
        self._discard_layers()
        self.panel.end(f"Failed: {message}", False)
        self._done("failed")
        if user_error:
            messages.error(self.parent_widget, "The run failed", message)
        else:
            messages.unexpected(self.parent_widget, "The run failed unexpectedly", message)

    def _on_cancelled(self) -> None:
        self._discard_layers()
        self.panel.end("Cancelled; nothing was written.", False)
        self._done("cancelled")

    def _discard_layers(self) -> None:
        if self.active is not None:
            for layer in self.active.layers:
                self.stack.remove(layer)

    def _done(self, how: str) -> None:
        self.active = None
        self.runEnded.emit(how)
        if self.queue:
            self._start(self.queue.pop(0))
        else:
            self.busyChanged.emit(False)
