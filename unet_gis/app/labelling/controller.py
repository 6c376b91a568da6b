"""Labelling mode: the documents of open images, the tool, undo/redo and saving.

Each open image whose ``<image>_labels.gpkg`` exists gets its labels back; turning
labelling on for an image without one starts an empty document.  Every change (a shape
drawn, deleted or with a vertex moved, a vector file imported) is an undo command on that
image's :class:`QUndoStack`; a second after the last change the labels
are saved (atomically), and at once before a fine-tune, when the image is closed and when
the window closes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence, QPainter, QUndoCommand, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog

from unet_gis.app import messages
from unet_gis.app.geo import ViewState
from unet_gis.app.labelling.dock import LabelPanel
from unet_gis.app.labelling.document import (
    CHECKED,
    LabelDocument,
    Projector,
    Shape,
    move_vertex,
    nearest_vertex,
)
from unet_gis.app.labelling.importing import VECTOR_FILTER, ImportDialog
from unet_gis.app.labelling.painting import CHECKED_COLOR, draw_shapes
from unet_gis.app.labelling.tool import LabelTool
from unet_gis.app.layers.model import ImageLayer, LayerEvent
from unet_gis.errors import UserError

if TYPE_CHECKING:
    from unet_gis.app.main_window import MainWindow

log = logging.getLogger(__name__)
FALLBACK_COLOR = (255, 0, 255)


@dataclass(frozen=True)
class LabelClass:
    name: str
    color: tuple[int, int, int]
    kind: str  # objects, network or surface (see ClassSpec.kind)


def model_classes(model_path: str) -> list[LabelClass]:
    """The classes of the current model (its spec only: no torch)."""
    from unet_gis.model.metadata import load_spec
    from unet_gis.model.zoo import resolve_model_path

    spec = load_spec(resolve_model_path(model_path or None))
    return [LabelClass(c.name, tuple(c.color), c.kind)  # type: ignore[arg-type]
            for c in spec.classes]


class _Edit(QUndoCommand):
    """Add (or, with ``remove``, delete) one shape of one document."""

    def __init__(self, document: LabelDocument, shape: Shape, remove: bool) -> None:
        what = "checked area" if shape.layer == CHECKED else shape.layer
        super().__init__(f"{'Delete' if remove else 'Add'} {what}")
        self.document, self.shape, self.removing = document, shape, remove
        self.index: int | None = None

    def redo(self) -> None:
        if self.removing:
            self.index = self.document.remove(self.shape)
        else:
            self.document.add(self.shape, self.index)

    def undo(self) -> None:
        if self.removing:
            self.document.add(self.shape, self.index)
        else:
            self.index = self.document.remove(self.shape)


class _Replace(QUndoCommand):
    """Put geometry ``new`` in the place of ``old`` (a vertex moved)."""

    def __init__(self, document: LabelDocument, old: Shape, new: Any) -> None:
        what = "checked area" if old.layer == CHECKED else old.layer
        super().__init__(f"Move a vertex of {what}")
        self.document, self.old, self.new = document, old, Shape(old.layer, new)

    def redo(self) -> None:
        self.document.replace(self.old, self.new.geometry)

    def undo(self) -> None:
        self.document.replace(self.new, self.old.geometry)


class Labelling(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = window.canvas
        self.documents: dict[Path, LabelDocument] = {}
        self.stacks: dict[Path, QUndoStack] = {}
        self._projectors: dict[Path, Projector] = {}
        self._map_cache: dict[int, tuple[Any, Any]] = {}
        self.classes: list[LabelClass] = []
        self.current: LabelDocument | None = None
        self.selected: Shape | None = None
        self.active = False
        self.group = QUndoGroup(self)
        self.undo_action = self.group.createUndoAction(self, "Undo")
        self.redo_action = self.group.createRedoAction(self, "Redo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo),
                                        QKeySequence("Ctrl+Y")])
        window.addAction(self.undo_action)
        window.addAction(self.redo_action)
        self.panel = LabelPanel(self.undo_action, self.redo_action)
        self.dock = QDockWidget("Labels", window)
        self.dock.setObjectName("labels")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.docks[-1], self.dock)  # a tab beside Run and export
        self.dock.hide()
        self.tool = LabelTool(self.canvas, self._on_shape, self._pick, self.delete_selected,
                              self._grab, self._move_vertex)
        self._grabbed: tuple[LabelDocument, Shape, tuple[float, float]] | None = None
        self.import_dialog: ImportDialog | None = None
        self.save_delay_ms = 1000
        self._dirty: set[Path] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self.toggled: list[Any] = []  # callables told when the mode turns on or off
        self.panel.targetChanged.connect(lambda _t: self._update_mode())
        self.panel.selectToggled.connect(lambda _on: self._update_mode())
        self.panel.delete.clicked.connect(self.delete_selected)
        self.panel.import_button.clicked.connect(self.import_dialog_open)
        self.dock.installEventFilter(self)  # its close button ends labelling
        self.canvas.overlays.append(self.paint)
        window.stack.subscribe(self._on_layers)
        window.installEventFilter(self)

    # --- the mode -------------------------------------------------------------------------
    def set_active(self, on: bool) -> bool:
        """Turn labelling on (for the current image) or off; False when it cannot start."""
        if on == self.active:
            return True
        if not on:
            self.active = False
            self.tool.abandon()
            self.canvas.tool = None
            self.select(None)
            self.dock.hide()
            self._tell(False)
            return True
        image = self.window.current_image()
        if image is None:
            messages.info(self.window, "Label", "Open an image first (File → Open).")
            self._tell(False)
            return False
        try:
            self.classes = model_classes(self.window.settings.model_path)
            document = self.document_for(image)
        except UserError as exc:
            messages.error(self.window, "Label", str(exc))
            self._tell(False)
            return False
        document.add_classes([c.name for c in self.classes])
        self.current, self.active = document, True
        self.group.setActiveStack(self.stacks[document.image])
        self.panel.image.setText(f"Labels of <b>{image.name}</b><br>{document.path.name}")
        self.panel.set_classes([(c.name, c.color) for c in self.classes])
        self._update_count()
        self.canvas.tool = self.tool
        self.dock.show()
        self.dock.raise_()
        self._tell(True)
        return True

    def _tell(self, on: bool) -> None:
        for listener in self.toggled:
            listener(on)

    def _update_mode(self) -> None:
        target = self.panel.current_target()
        kinds = {c.name: c.kind for c in self.classes}
        if self.panel.select.isChecked():
            mode = "select"
        elif target == CHECKED:
            mode = "rect"
        else:
            mode = "box" if kinds.get(target) == "objects" else "polygon"
        if mode != "select":
            self.select(None)
        self.tool.set_mode(mode)
        self.panel.show_mode(mode)

    # --- documents ------------------------------------------------------------------------
    def document_for(self, image: ImageLayer) -> LabelDocument:
        path = image.path
        document = self.documents.get(path)
        if document is None:
            document = LabelDocument.open(path, image.source.crs)
            self._adopt(document)
        return document

    def _adopt(self, document: LabelDocument) -> None:
        path = document.image
        self.documents[path] = document
        self._projectors[path] = Projector(document.labels.crs, self.window.stack.crs)
        stack = QUndoStack(self)
        self.group.addStack(stack)
        self.stacks[path] = stack
        document.listeners.append(self._changed)

    def _on_layers(self, event: LayerEvent) -> None:
        layer = event.layer
        if not isinstance(layer, ImageLayer):
            if event.kind == "changed":
                self.canvas.update()
            return
        path = layer.path
        if event.kind == "added" and path not in self.documents and \
                LabelDocument(path, None).path.is_file():
            try:
                self.document_for(layer)
            except UserError as exc:
                self.window.statusBar().showMessage(f"Labels of {layer.name}: {exc}", 15000)
        elif event.kind == "removed" and path in self.documents and not any(
                isinstance(other, ImageLayer) and other.path == path
                for other in self.window.stack):
            self._drop(path)

    def _drop(self, path: Path) -> None:
        self.flush()
        document = self.documents.pop(path)
        if document is self.current:
            self.set_active(False)
            self.current = None
        stack = self.stacks.pop(path)
        self.group.removeStack(stack)
        stack.deleteLater()
        self._projectors.pop(path, None)

    def _changed(self, document: LabelDocument) -> None:
        if self.selected is not None and not any(
                s.geometry is self.selected.geometry for s in document.shapes()):
            self.select(None)
        self._dirty.add(document.image)
        self._timer.start(self.save_delay_ms)
        self._update_count()
        self.canvas.update()

    def _update_count(self) -> None:
        document = self.current
        if document is None:
            return
        parts = [f"{document.count(c.name)} {c.name}" for c in self.classes]
        parts.append(f"{document.count(CHECKED)} checked area(s)")
        self.panel.count.setText(", ".join(parts))

    def flush(self) -> None:
        """Save every changed document now."""
        self._timer.stop()
        for path in sorted(self._dirty):
            document = self.documents.get(path)
            if document is None:
                continue
            try:
                document.save()
            except (OSError, UserError, ValueError) as exc:
                log.warning("saving %s: %s", document.path, exc)
                self.window.statusBar().showMessage(
                    f"Could not save the labels {document.path.name}: {exc}", 15000)
                continue
        self._dirty.clear()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt
        if event.type() == QEvent.Type.Close:
            if watched is self.window:
                self.flush()
            elif watched is self.dock:
                self.set_active(False)
        return False

    # --- editing --------------------------------------------------------------------------
    def _on_shape(self, _kind: str, geometry: Any) -> None:
        document = self.current
        target = self.panel.current_target()
        if document is None or not target:
            return
        shape = Shape(target, self._projectors[document.image].to_image(geometry))
        self.stacks[document.image].push(_Edit(document, shape, remove=False))

    def _pick(self, x: float, y: float, tolerance: float) -> None:
        import shapely

        document = self.current
        if document is None:
            return
        point = self._projectors[document.image].to_image(shapely.Point(x, y))
        self.select(document.shape_at(point.x, point.y, tolerance))

    def select(self, shape: Shape | None) -> None:
        self.selected = shape
        self.panel.delete.setEnabled(shape is not None)
        self.canvas.update()

    def delete_selected(self) -> None:
        document, shape = self.current, self.selected
        if document is not None and shape is not None:
            self.stacks[document.image].push(_Edit(document, shape, remove=True))

    def _grab(self, x: float, y: float, tolerance: float) -> tuple[float, float] | None:
        """The vertex of the selected shape at (x, y) (map), if any: a drag moves it."""
        import shapely

        document, shape = self.current, self.selected
        self._grabbed = None
        if document is None or shape is None:
            return None
        projector = self._projectors[document.image]
        point = projector.to_image(shapely.Point(x, y))
        vertex = nearest_vertex(shape.geometry, point.x, point.y, tolerance)
        if vertex is None:
            return None
        self._grabbed = (document, shape, vertex)
        mapped = projector.to_map(shapely.Point(*vertex))
        return float(mapped.x), float(mapped.y)

    def _move_vertex(self, _old: tuple[float, float], new: tuple[float, float]) -> None:
        import shapely

        grabbed, self._grabbed = self._grabbed, None
        if grabbed is None:
            return
        document, shape, vertex = grabbed
        if not any(s.geometry is shape.geometry for s in document.shapes()):
            return  # undone meanwhile
        point = self._projectors[document.image].to_image(shapely.Point(*new))
        moved = move_vertex(shape.geometry, vertex, (point.x, point.y))
        if moved is None:
            self.window.statusBar().showMessage("That would leave the shape without area.",
                                                5000)
            return
        self.stacks[document.image].push(_Replace(document, shape, moved))
        self.select(Shape(shape.layer, moved))

    # --- importing ------------------------------------------------------------------------
    def import_dialog_open(self) -> None:
        """Ask for a vector file, then what its shapes are and how wide its lines are."""
        document = self.current
        if document is None:
            return
        name, _ = QFileDialog.getOpenFileName(self.window, "Import labels from a vector file",
                                              str(document.image.parent), VECTOR_FILTER)
        if not name:
            return
        targets = [(c.name, c.name) for c in self.classes] + [("checked area", CHECKED)]
        dialog = ImportDialog(Path(name), targets, self.panel.current_target(), self.window)
        dialog.accepted.connect(lambda: self.import_file(dialog.path, *dialog.choice()))
        dialog.finished.connect(dialog.deleteLater)
        self.import_dialog = dialog
        dialog.open()

    def import_file(self, path: Path, target: str, width_m: float) -> int:
        """Add every shape of ``path`` to the current image's ``target`` (one undo step);
        how many were added."""
        from unet_gis.training.labels import import_labels

        document = self.current
        if document is None:
            return 0
        what = "checked area" if target == CHECKED else target
        try:
            geometries = import_labels(path, what, width_m, crs=document.labels.crs)
        except UserError as exc:
            messages.error(self.window, "Import labels", str(exc))
            return 0
        stack = self.stacks[document.image]
        stack.beginMacro(f"Import {len(geometries)} {what} from {path.name}")
        for geometry in geometries:
            stack.push(_Edit(document, Shape(target, geometry), remove=False))
        stack.endMacro()
        self.window.statusBar().showMessage(
            f"Imported {len(geometries)} {what} label(s) from {path.name}.", 10000)
        return len(geometries)

    # --- drawing --------------------------------------------------------------------------
    def _map_geometry(self, path: Path, geometry: Any) -> Any:
        cached = self._map_cache.get(id(geometry))
        if cached is not None and cached[0] is geometry:
            return cached[1]
        mapped = self._projectors[path].to_map(geometry)
        self._map_cache[id(geometry)] = (geometry, mapped)
        return mapped

    def paint(self, painter: QPainter, view: ViewState) -> None:
        colors = {c.name: c.color for c in self.classes}
        visible = {layer.path for layer in self.window.stack
                   if isinstance(layer, ImageLayer) and layer.visible}
        shapes = []
        for path, document in self.documents.items():
            if path not in visible and document is not self.current:
                continue
            for shape in document.shapes():
                color = CHECKED_COLOR if shape.layer == CHECKED else colors.get(
                    shape.layer, FALLBACK_COLOR)
                selected = self.selected is not None and shape.geometry is \
                    self.selected.geometry
                shapes.append((self._map_geometry(path, shape.geometry), color,
                               shape.layer == CHECKED, selected))
        if shapes:
            draw_shapes(painter, view, shapes)
        if self.active:
            target = self.panel.current_target()
            self.tool.paint(painter, view, QColor(*colors.get(target, CHECKED_COLOR)))
