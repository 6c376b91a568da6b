"""File → Open tiles as mosaic: many tiles as one VRT, built off the GUI thread, opened as
one image layer (Run and Export treat it like any raster).

Building the VRT opens every tile for its header (milliseconds each, minutes for
thousands on a network share), so it runs on a :class:`JobRunner` thread; the window opens
the finished VRT through its usual ``open_files``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from unet_gis.app import messages
from unet_gis.app.jobs import MosaicRequest, MosaicResult, build_mosaic_job
from unet_gis.app.workers import JobContext, JobRunner

Status = Callable[[str, int], None]  # text, milliseconds (QStatusBar.showMessage)


class MosaicOpener(QObject):
    """One mosaic build at a time; ``opened(MosaicResult)`` once its layer is on the map."""

    opened = Signal(object)
    ended = Signal(str)  # "finished", "failed"

    def __init__(self, parent_widget: QWidget, data_dir: Path,
                 open_files: Callable[[list[Path]], list[Path]], status: Status) -> None:
        super().__init__(parent_widget)
        self.parent_widget, self.data_dir = parent_widget, data_dir
        self.open_files, self.status = open_files, status
        self.runner = JobRunner("mosaic", parent=self)
        self.runner.info.connect(self._on_count)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(lambda: self.ended.emit("cancelled"))

    @property
    def running(self) -> bool:
        return self.runner.running

    def start(self, inputs: list[Path]) -> bool:
        if not inputs:
            return False
        if self.runner.running:
            messages.info(self.parent_widget, "Open tiles as mosaic",
                          "A mosaic is still being built; wait for it to open.")
            return False
        request = MosaicRequest(tuple(Path(p) for p in inputs), self.data_dir)
        self.status("Listing the tiles for a mosaic…", 0)

        def work(ctx: JobContext) -> Any:
            return build_mosaic_job(request, ctx.info)
        self.runner.start(work)
        return True

    def _on_count(self, count: int) -> None:
        self.status(f"Reading the headers of {count} tiles for a mosaic…", 0)

    def _on_finished(self, result: MosaicResult) -> None:
        opened = self.open_files([result.vrt])
        if opened:
            where = f"; {result.fallback}, so it is in the data folder" if result.fallback else ""
            self.status(f"Opened a mosaic of {result.tiles} tiles as {result.vrt.name} "
                        f"(written to {result.vrt.parent}{where}).", 20000)
            self.opened.emit(result)
        self.ended.emit("finished" if opened else "failed")

    def _on_failed(self, message: str, user_error: bool) -> None:
        self.status(f"Could not build the mosaic: {message}", 15000)
        self.ended.emit("failed")
        if user_error:
            messages.error(self.parent_widget, "Cannot build the mosaic", message)
        else:
            messages.unexpected(self.parent_widget, "Cannot build the mosaic", message)

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        return self.runner.wait(timeout_s)
