"""Fine-tune the current model on the current image's labels, off the GUI thread.

The request (image, labels, starting model, output, settings) is snapshotted on the GUI
thread; :func:`unet_gis.training.finetune.finetune` runs on a :class:`JobRunner` thread,
its steps come back throttled; the before/after table and "Use the new model" are
applied on the GUI thread.  A cancel leaves no model file (``finetune`` writes it only
when training ends normally).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject

from unet_gis.app import messages
from unet_gis.app.dialogs.finetune import FinetuneDialog
from unet_gis.app.overview_build import can_write_beside
from unet_gis.app.workers import JobContext, JobRunner

if TYPE_CHECKING:
    from unet_gis.app.labelling.controller import Labelling
    from unet_gis.app.main_window import MainWindow
    from unet_gis.training.finetune import FinetuneResult, FinetuneSettings

log = logging.getLogger(__name__)
TITLE = "Fine-tune on my labels"


def finetuned_path(image: Path, labels: Path, data_dir: Path) -> Path:
    """``<image stem>_finetuned.safetensors`` beside the labels, else in ``data_dir``."""
    name = f"{image.stem}_finetuned.safetensors"
    return labels.parent / name if can_write_beside(labels) else data_dir / "models" / name


@dataclass(frozen=True)
class FinetuneRequest:
    image: Path
    labels: Path
    init: Path
    output: Path
    settings: FinetuneSettings


class FinetuneController(QObject):
    def __init__(self, window: MainWindow, labelling: Labelling) -> None:
        super().__init__(window)
        self.window, self.labelling = window, labelling
        self.runner = JobRunner("finetune", interval=0.2, parent=self)
        self.dialog: FinetuneDialog | None = None
        self.request: FinetuneRequest | None = None
        self.result: FinetuneResult | None = None
        self.overrides: dict[str, Any] = {}  # FinetuneSettings fields (tests: max_steps)
        self.outcome = ""  # finished, failed or cancelled: set on the GUI thread
        self._started = 0.0
        self.runner.items.connect(self._on_steps)
        self.runner.info.connect(self._on_log)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        window.installEventFilter(self)

    @property
    def busy(self) -> bool:
        return self.runner.running

    def open_dialog(self) -> FinetuneDialog | None:
        """Show the dialog for the current image (None when there is nothing to train)."""
        from unet_gis.model.zoo import resolve_model_path
        from unet_gis.training.labels import labels_path

        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        image = self.window.current_image()
        if image is None:
            messages.info(self.window, TITLE, "Open an image and label it first "
                                              "(Model → Label the image).")
            return None
        self.labelling.flush()
        labels = labels_path(image.path)
        if not labels.is_file():
            messages.info(self.window, TITLE, f"{image.name} has no labels yet: draw some "
                          "with Model → Label the image, and at least one checked area.")
            return None
        try:
            init = resolve_model_path(self.window.settings.model_path or None)
        except Exception as exc:  # UserError: no bundled model
            messages.error(self.window, TITLE, str(exc))
            return None
        output = finetuned_path(image.path, labels, self.window.paths.data_dir)
        dialog = FinetuneDialog(image.name, str(labels), str(init), str(output), self.window)
        dialog.startRequested.connect(
            lambda minutes: self.start(image.path, labels, init, output, minutes))
        dialog.cancelRequested.connect(self.cancel)
        dialog.useRequested.connect(self.use_result)
        self.dialog = dialog
        dialog.show()
        return dialog

    def start(self, image: Path, labels: Path, init: Path, output: Path,
              minutes: float) -> bool:
        from unet_gis.training.finetune import FinetuneSettings, finetune

        if self.busy:
            return False
        self.labelling.flush()
        settings = replace(FinetuneSettings(minutes=minutes, device=self.window.settings.device),
                           **self.overrides)
        request = self.request = FinetuneRequest(image, labels, init, output, settings)
        self.result, self.outcome = None, ""
        if self.dialog is not None:
            self.dialog.running()
        self._started = time.monotonic()

        def work(ctx: JobContext) -> Any:
            return finetune([(request.image, request.labels)], request.init, request.output,
                            request.settings, cancel=ctx.cancel,
                            on_step=lambda step, loss, fraction: ctx.push((step, loss,
                                                                           fraction)),
                            log=ctx.info)

        self.runner.start(work)
        return True

    def cancel(self) -> None:
        if self.busy:
            self.runner.cancel()
            if self.dialog is not None:
                self.dialog.note("Cancelling…")

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        self.cancel()
        return self.runner.wait(timeout_s)

    def use_result(self) -> None:
        """Make the fine-tuned model the current one (and the saved choice)."""
        if self.result is None:
            return
        new = replace(self.window.settings, model_path=str(self.result.output))
        self.window.apply_settings(new)
        self.window.statusBar().showMessage(f"Now using {self.result.output.name}.", 10000)
        if self.dialog is not None:
            self.dialog.use_button.setEnabled(False)
            self.dialog.note(f"The current model is now {self.result.output.name}.")

    # --- worker signals ---------------------------------------------------------------------
    def _on_steps(self) -> None:
        items = self.runner.take_items()
        if not items or self.dialog is None:
            return
        step, loss, fraction = items[-1]
        elapsed = time.monotonic() - self._started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.dialog.progress(int(step), float(loss), float(fraction), eta)

    def _on_log(self, text: object) -> None:
        log.info("finetune: %s", text)

    def _on_finished(self, result: FinetuneResult) -> None:
        self._on_steps()
        self.result, self.outcome = result, "finished"
        text = (f"Done: {result.steps} steps in {result.seconds:.0f} s. Wrote "
                f"{result.output.name}. Scores (F1) on the kept-aside areas:")
        if self.dialog is not None:
            self.dialog.ended(text, result.table())

    def _on_failed(self, message: str, user_error: bool) -> None:
        self.outcome = "failed"
        if self.dialog is not None:
            self.dialog.ended(f"Failed: {message}")
        parent = self.dialog or self.window
        if user_error:
            messages.error(parent, TITLE, message)
        else:
            messages.unexpected(parent, TITLE, message)

    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        if self.dialog is not None:
            self.dialog.ended("Cancelled; no model was written.")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False
