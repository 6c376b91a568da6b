"""The main window: composes the canvas, the layers panel, the run/export panel and menus."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, QUrl
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from unet_gis.app import messages
from unet_gis.app.actions import build_menus, build_toolbar
from unet_gis.app.canvas.sources import TILE
from unet_gis.app.canvas.view import MapCanvas
from unet_gis.app.dialogs.preferences import PreferencesDialog
from unet_gis.app.dialogs.run import RunChoice, RunDialog
from unet_gis.app.exports import ExportController
from unet_gis.app.geo import Bounds, layer_bounds
from unet_gis.app.jobs import (
    RunRequest,
    cpu_threads,
    output_folder,
    output_note,
    planned_output,
)
from unet_gis.app.labelling import attach as attach_labelling
from unet_gis.app.layers.model import ImageLayer, LayerStack, ResultLayer
from unet_gis.app.layers.panel import LayersPanel
from unet_gis.app.mosaics import MosaicOpener
from unet_gis.app.opener import layers_for
from unet_gis.app.overview_build import can_write_beside, missing_overview_factors
from unet_gis.app.overviews import OverviewBuilder
from unet_gis.app.progress_panel import MIN_WIDTH, ProgressPanel
from unet_gis.app.runs import RunController
from unet_gis.app.settings import AppPaths, AppSettings, SettingsStore
from unet_gis.app.statusbar import MapStatus
from unet_gis.app.summary_panel import ResultsSummary
from unet_gis.errors import UserError
from unet_gis.raster.grid import overview_factors

if TYPE_CHECKING:
    from unet_gis.inference.engine import PredictResult

log = logging.getLogger(__name__)
START_HINT = "Open an image (Ctrl+O) or drop files on the window."
RASTER_FILTER = ("Rasters (*.tif *.tiff *.vrt *.img *.jp2 *.png *.jpg);;"
                 "Vector layers (*.shp *.gpkg *.geojson);;All files (*)")


class MainWindow(QMainWindow):
    def __init__(self, paths: AppPaths, model: str | None = None, device: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("unet-gis")
        self.setAcceptDrops(True)
        self.paths = paths
        self.store = SettingsStore(paths.settings_file)
        self.settings = self.store.load()
        # the model and device saved are the last ones a run finished with: a bad --model
        # or a device that failed must not come back at the next start
        self._good_choice = (self.settings.model_path, self.settings.device)
        self._trying = self._good_choice
        if model:
            self.settings.model_path = str(Path(model).resolve())
        if device:
            self.settings.device = device
        self.stack = LayerStack()
        self.canvas = MapCanvas(self.stack)
        self.setCentralWidget(self.canvas)
        self.layers_panel = LayersPanel(self.stack)
        self.run_panel = ProgressPanel("Model run")
        self.export_panel = ProgressPanel("Export")
        self.summary = ResultsSummary(self.stack, lambda: self.settings.min_area_m2)
        self.runs = RunController(self.stack, self.run_panel, self, self.threshold_for)
        self.exports = ExportController(self.stack, self.export_panel, self, self.settings)
        self.overviews = OverviewBuilder(self)
        self.mosaics = MosaicOpener(self, paths.data_dir, self.open_files,
                                    self.statusBar().showMessage)
        self.overviews.finished.connect(self._overviews_built)
        self._docks()
        self.labelling, self.finetuning = attach_labelling(self)  # before the menus
        self._status_bar()
        self._menus()
        self.layers_panel.zoomRequested.connect(lambda layer: self.canvas.zoom_to(layer.bounds()))
        self.layers_panel.thresholdChanged.connect(self._remember_threshold)
        self.canvas.loader.tileFailed.connect(
            lambda why: self.statusBar().showMessage(f"Could not read part of a layer: {why}",
                                                     10000))
        self.runs.deviceChanged.connect(self.device_label.setText)
        self.runs.busyChanged.connect(self._busy_changed)
        self.runs.runFinished.connect(self._build_result_overviews)
        self.runs.runFinished.connect(self._run_worked)
        self.runs.starting.connect(lambda request: self.overviews.cancel(request.output))
        self.exports.addPaths.connect(lambda paths: self.open_files(paths, remember=False))
        self.resize(1280, 800)
        geometry, state = self.store.layout()
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    # --- construction ---------------------------------------------------------------
    def _docks(self) -> None:
        layers_dock = QDockWidget("Layers", self)
        layers_dock.setObjectName("layers")
        layers_dock.setWidget(self.layers_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, layers_dock)
        jobs = QWidget()
        layout = QVBoxLayout(jobs)
        self.run_button = QPushButton("Run model…")
        self.export_button = QPushButton("Export layers…")
        layout.addWidget(self.run_button)
        layout.addWidget(self.run_panel)
        layout.addWidget(self.summary)
        layout.addWidget(self.export_button)
        layout.addWidget(self.export_panel)
        layout.addStretch(1)
        self.run_button.clicked.connect(lambda: self.start_run())
        self.export_button.clicked.connect(lambda: self.exports.open_dialog())
        jobs.setMinimumWidth(MIN_WIDTH + 20)  # the dock's margins
        jobs_dock = QDockWidget("Run and export", self)
        jobs_dock.setObjectName("jobs")
        jobs_dock.setWidget(jobs)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, jobs_dock)
        self.docks = (layers_dock, jobs_dock)

    def _status_bar(self) -> None:
        self.map_status = MapStatus(self.statusBar(), self.canvas, self.stack,
                                    self.layers_panel.current)
        self.position, self.device_label = self.map_status.position, self.map_status.device
        self.scale_label = self.map_status.scale
        self.statusBar().showMessage(START_HINT)  # until the first file opens

    def _menus(self) -> None:
        built = build_menus(self)
        self.commands, self.menus, self.recent_menu = built.actions, built.menus, built.recent
        self.cancel_action = self.commands["cancel"]
        self.toolbar = build_toolbar(self, self.commands)
        self._update_recent()

    def _update_recent(self) -> None:
        self.recent_menu.clear()
        for name in self.settings.recent_files:
            action = self.recent_menu.addAction(name)
            action.triggered.connect(lambda _=False, n=name: self.open_files([Path(n)]))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    # --- opening ---------------------------------------------------------------------
    def open_dialog(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Open imagery or layers",
                                                self.settings.last_open_dir, RASTER_FILTER)
        if names:
            self.open_files([Path(n) for n in names])

    def open_mosaic_dialog(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Open tiles as one mosaic",
                                                self.settings.last_open_dir, RASTER_FILTER)
        if names:
            self.open_mosaic([Path(n) for n in names])

    def open_mosaic_folder_dialog(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Open a folder of tiles as one mosaic",
                                                self.settings.last_open_dir)
        if name:
            self.open_mosaic([Path(name)])

    def open_mosaic(self, inputs: list[Path]) -> bool:
        """Build a VRT of ``inputs`` (tiles and folders) off the GUI thread, then open it."""
        return self.mosaics.start(inputs)

    def open_files(self, paths: list[Path], remember: bool = True) -> list[Path]:
        """Add each file as layers; unreadable ones get a dialog saying why."""
        opened = []
        was_empty = not len(self.stack)
        colours = {layer.class_name: layer.color for layer in self.stack
                   if isinstance(layer, ResultLayer)}
        for path in paths:
            try:
                layers, crs, known = layers_for(Path(path), self.settings.thresholds, colours)
            except UserError as exc:
                messages.error(self, "Cannot open file", str(exc))
                continue
            except Exception as exc:
                log.exception("opening %s", path)
                messages.unexpected(self, "Cannot open file", f"{Path(path).name}: {exc}")
                continue
            for layer in layers:
                self.stack.add(layer, crs=crs, has_crs_info=known)
                if layer.problem:
                    self.statusBar().showMessage(f"{layer.name} {layer.problem}.", 10000)
                if isinstance(layer, ImageLayer):
                    self._check_overviews(layer)
            opened.append(Path(path))
            if remember:
                self.settings.add_recent(str(Path(path).resolve()))
                self.settings.last_open_dir = str(Path(path).resolve().parent)
        if opened:
            self._update_recent()
            self.save_settings()
            if was_empty:
                self.canvas.full_extent()
            if self.statusBar().currentMessage() == START_HINT:
                self.statusBar().clearMessage()  # the cursor position shows there now
        return opened

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        event.acceptProposedAction()
        self.open_files(paths)

    def _check_overviews(self, layer: ImageLayer) -> None:
        source = layer.source
        factors = missing_overview_factors(source.width, source.height, source.overviews)
        if not factors:
            return
        if not can_write_beside(layer.path):
            self.statusBar().showMessage(
                f"{layer.name} has no overviews and its folder is read-only: zoomed-out "
                "views read the whole file and will be slow.", 15000)
            return
        if self.overviews.start(layer.path, factors):
            self.statusBar().showMessage(
                f"{layer.name} has no overviews: building {layer.path.name}.ovr in the "
                "background; zoomed-out views are slow until it is done.", 15000)

    def _build_result_overviews(self, result: PredictResult) -> None:
        factors = overview_factors(result.width, result.height, TILE)
        if factors:
            self.overviews.start(result.output, factors)

    def _overviews_built(self, path: Path, error: str) -> None:
        if self.overviews.done(path):
            return  # cancelled: a new run replaces that raster
        if error:
            self.statusBar().showMessage(f"Could not build overviews for {path.name}: {error}",
                                         15000)
            return
        refreshed: set[int] = set()
        for layer in self.stack:
            source = getattr(layer, "source", None)
            if source is None or source.path != path:
                continue
            if id(source) not in refreshed:  # the classes of one raster share a source
                source.refresh()
                refreshed.add(id(source))
            self.stack.update(layer, source=source)
        self.statusBar().showMessage(f"Overviews for {path.name} are ready.", 10000)

    # --- actions ---------------------------------------------------------------------
    def current_image(self) -> ImageLayer | None:
        layer = self.layers_panel.current()
        if isinstance(layer, ImageLayer):
            return layer
        images = self.stack.of_kind("image")
        return images[-1] if images else None  # type: ignore[return-value]

    def zoom_to_layer(self) -> None:
        layer = self.layers_panel.current()
        if layer is not None:
            self.canvas.zoom_to(layer.bounds())

    def start_run(self, ask: bool | None = None) -> None:
        """Run the model: with the Run dialog, or (``ask=False``) with the saved choices
        over the current image."""
        images = [layer for layer in self.stack if isinstance(layer, ImageLayer)]
        if not images:
            messages.info(self, "Run the model", "Open an image first (File → Open).")
            return
        model = Path(self.settings.model_path) if self.settings.model_path else None
        if self.runs.interactive if ask is None else ask:
            dialog = RunDialog(images, self.current_image(), model, self.settings.device, self,
                               has_selection=self.canvas.selection is not None,
                               output_for=self.output_for)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            choice = dialog.choice()
            self.settings.model_path = str(choice.model) if choice.model else ""
            self.settings.device = choice.device
        else:
            current = self.current_image() or images[-1]
            choice = RunChoice(current.id, model, self.settings.device, "layer", None, None,
                               None)
        try:
            request = self.run_request(choice)
        except UserError as exc:
            messages.error(self, "Run the model", str(exc))
            return
        self._trying = (self.settings.model_path, self.settings.device)
        if self.runs.submit(request) and choice.output_dir is None:
            folder, note = self.output_for(request.image)
            if note:  # after the submit: its "Running the model…" would hide this
                self.statusBar().showMessage(f"Results go to {folder}: {note}.", 20000)

    def output_for(self, image: ImageLayer | Path) -> tuple[Path, str]:
        """The default results folder of ``image`` and why it is not beside it (or "")."""
        path = image.path if isinstance(image, ImageLayer) else image
        data_dir = self.paths.data_dir
        return output_folder(path, data_dir), output_note(path, data_dir)

    def _run_worked(self, _result: object) -> None:
        self._good_choice = self._trying
        self.save_settings()

    def save_settings(self) -> None:
        """Save the settings, with the model and device of the last run that worked."""
        from dataclasses import replace

        model_path, device = self._good_choice
        self.store.save(replace(self.settings, model_path=model_path, device=device))

    def run_request(self, choice: RunChoice) -> RunRequest:
        layer = next(lr for lr in self.stack if lr.id == choice.layer_id)
        assert isinstance(layer, ImageLayer)
        aoi = None
        if choice.extent == "view":
            aoi = self.bounds_in(layer, self.canvas.view.bounds)
        elif choice.extent == "rect":
            if self.canvas.selection is None:
                raise UserError("Draw the extent first: Shift+drag on the map.")
            aoi = self.bounds_in(layer, self.canvas.selection)
        return RunRequest(layer.path, planned_output(layer.path, self.paths.data_dir,
                                                     choice.output_dir),
                          choice.model, choice.device, aoi, choice.tile, choice.halo,
                          choice.batch_size, threads=cpu_threads(),
                          precision=choice.precision, tta=choice.tta)

    def bounds_in(self, layer: ImageLayer, bounds: Bounds) -> Bounds:
        """Map bounds (view CRS) as bounds in ``layer``'s own CRS."""
        return layer_bounds(layer.source, self.stack.crs, bounds)

    def preferences(self) -> None:
        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.apply_settings(dialog.result_settings())

    def apply_settings(self, new: AppSettings) -> None:
        """Take new settings in place (the export controller holds this settings object)."""
        for item in fields(AppSettings):
            setattr(self.settings, item.name, getattr(new, item.name))
        self._update_recent()
        self._good_choice = (self.settings.model_path, self.settings.device)  # chosen by hand
        self.save_settings()

    def open_log_folder(self) -> None:
        self.paths.log_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.paths.log_dir)))

    def _remember_threshold(self, name: str, value: float) -> None:
        self.settings.thresholds[name] = value

    def threshold_for(self, name: str, default: float) -> float:
        """The user's threshold for class ``name`` (the window owns them), else ``default``."""
        return self.settings.thresholds.get(name, default)

    def _busy_changed(self, busy: bool) -> None:
        self.cancel_action.setEnabled(busy)
        self.statusBar().showMessage("Running the model…" if busy else "Ready", 5000)

    # --- closing ---------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.runs.busy or self.exports.runner.running:
            self.statusBar().showMessage("Cancelling the running job…")
            QApplication.processEvents()
        self.runs.shutdown()
        self.exports.shutdown()
        self.overviews.shutdown()
        self.mosaics.shutdown()
        self.summary.shutdown()
        self.canvas.loader.shutdown()
        try:
            self.save_settings()
            self.store.save_layout(self.saveGeometry(), self.saveState())
        except OSError as exc:
            log.warning("could not save settings: %s", exc)
        for layer in list(self.stack):
            self.stack.remove(layer)
        super().closeEvent(event)
