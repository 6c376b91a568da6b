"""The map canvas: draws the layer stack through the tile loader; pan, zoom, scale bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from unet_gis.app import qtcompat
from unet_gis.app.canvas.overlay import draw_hint, draw_scale_bar, draw_selection
from unet_gis.app.canvas.render import load_image_tile, load_probability_tile, threshold_rgba
from unet_gis.app.canvas.sources import TILE, DisplayGrid, RasterSource
from unet_gis.app.canvas.tiles import LruCache, TileLoader, rgba_to_qimage
from unet_gis.app.canvas.tool import CanvasTool, Overlay
from unet_gis.app.canvas.vectors import VectorData, draw_vector, load_vector
from unet_gis.app.geo import Bounds, ViewState, ground_aspect, intersects, metres_per_pixel
from unet_gis.app.layers.model import (
    ImageLayer,
    LayerEvent,
    LayerStack,
    ResultLayer,
    VectorLayer,
)
from unet_gis.raster.probability import threshold_to_byte

Fetch = Callable[[int, int, int, str], "QImage | None"]  # mode: get, peek, prefetch
PREFETCH_MAX = 96  # tiles per layer queued after a complete frame
#: While tiles on screen still load, arrivals repaint at most this often; the last one
#: repaints at once. Each paint redraws every visible tile, so a paint per arrival (20-30 a
#: zoom step) kept the GUI thread busy and starved the loaders of CPU.
REPAINT_INTERVAL_MS = 40
BACKGROUND = QColor(236, 236, 232)


@dataclass
class _Preview:
    key: Hashable
    rgba: np.ndarray  # the QImage below draws straight from this buffer
    image: QImage
    version: int


class MapCanvas(QWidget):
    """Paints visible layers bottom to top; every pixel read happens on the loader's pool."""

    cursorMoved = Signal(float, float)  # world coordinates in the map's CRS  # noqa: N815
    viewChanged = Signal()  # noqa: N815
    selectionChanged = Signal()  # noqa: N815
    drawModeChanged = Signal(bool)  # noqa: N815 - a plain drag draws the run extent
    frameComplete = Signal(float)  # a frame with every visible tile drawn; paint ms  # noqa: N815

    def __init__(self, stack: LayerStack, loader: TileLoader | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        qtcompat.ensure()
        self.stack = stack
        self.loader = loader or TileLoader(parent=self)
        self.loader.changed.connect(self._on_tiles)
        self._painted_at = 0.0  # perf_counter() at the last paint
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.timeout.connect(self.update)
        self._scale: tuple[object, float | None] | None = None  # view key, metres per pixel
        self._rendered = LruCache(96 * 2**20)
        self._previews: dict[int, _Preview] = {}
        self._view = ViewState(width=max(1, self.width()), height=max(1, self.height()))
        self._drag: QPointF | None = None
        self._select_from: tuple[float, float] | None = None
        self.selection: Bounds | None = None  # an extent drawn with Shift+drag
        self._aspect: float | None = None  # see map_aspect
        self.draw_mode = False  # the next plain drag draws the extent (toolbar: Draw area)
        self.tool: CanvasTool | None = None  # sees mouse and keys first (labelling)
        self.overlays: list[Overlay] = []  # painted over the layers (labels)
        self.pending = 0
        self.frames = 0
        self.last_paint_ms = 0.0
        self.setMouseTracking(True)
        self.setMinimumSize(200, 150)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window takes drops
        stack.subscribe(self._on_layers)

    # --- view -------------------------------------------------------------------------
    @property
    def view(self) -> ViewState:
        return self._view

    def set_view(self, view: ViewState) -> None:
        view = replace(view, aspect=self.map_aspect())
        if not 1e-9 < view.res < 1e9 or view == self._view:
            return  # beyond any sensible zoom (and float precision)
        self._view = view
        self.viewChanged.emit()
        self.update()

    def zoom(self, factor: float) -> None:
        self.set_view(self._view.zoomed(factor))

    def zoom_to(self, bounds: Bounds | None) -> None:
        if bounds is not None:
            self.set_view(self._view.fitted(bounds))

    def full_extent(self) -> None:
        self.zoom_to(self.stack.bounds())

    def map_aspect(self) -> float:
        """:attr:`ViewState.aspect` of this map: fixed from the first extent known in its
        CRS (so panning never stretches the map), 1 until then."""
        if self._aspect is None:
            bounds = self.stack.bounds()
            if bounds is None:
                return 1.0
            self._aspect = ground_aspect(self.stack.crs, bounds)
        return self._aspect

    # --- layer events -----------------------------------------------------------------
    def _on_layers(self, event: LayerEvent) -> None:
        if not len(self.stack) or (event.kind == "added" and len(self.stack) == 1):
            self._aspect = None  # a new map (its CRS is set by its first layer)
        if event.kind == "added" and len(self.stack) == 1:
            self.zoom_to(event.layer.bounds())
        if event.kind == "removed":
            uid = getattr(getattr(event.layer, "source", None), "uid", None)
            layer_id = event.layer.id
            self.loader.drop(lambda k: k[1] in (uid, layer_id))  # type: ignore[index]
            self._rendered.drop(lambda k: k[1] == layer_id)  # type: ignore[index]
            self._previews.pop(layer_id, None)
        self.update()

    # --- painting ---------------------------------------------------------------------
    def _on_tiles(self) -> None:
        """Tiles arrived: repaint now if the frame can be complete or none was painted for a
        while, else once the interval is over."""
        waited_ms = (time.perf_counter() - self._painted_at) * 1000.0
        if not self.loader.busy or waited_ms >= REPAINT_INTERVAL_MS:
            self.update()
        elif not self._repaint.isActive():
            self._repaint.start(max(1, int(REPAINT_INTERVAL_MS - waited_ms)))

    def _metres_per_pixel(self, view: ViewState) -> float | None:
        """:func:`metres_per_pixel` for the scale bar, recomputed only when the view moves
        (a geodesic through pyproj: about a millisecond, at every paint before)."""
        crs = self.stack.crs
        key = (view, id(crs))
        if self._scale is None or self._scale[0] != key:
            self._scale = (key, metres_per_pixel(view, crs))
        return self._scale[1]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        start = self._painted_at = time.perf_counter()
        if self._view.aspect != self.map_aspect():  # a vector layer's extent became known
            self._view = replace(self._view, aspect=self.map_aspect())
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        view = self._view
        self.loader.begin_frame()
        pending = 0
        tiled: list[tuple[DisplayGrid, Fetch]] = []
        for layer in self.stack:
            if not layer.visible or layer.problem:
                continue
            painter.setOpacity(layer.opacity)
            if isinstance(layer, ImageLayer):
                tiled.append((layer.source.display, self._image_fetch(layer)))
                pending += self._draw_tiles(painter, *tiled[-1])
            elif isinstance(layer, ResultLayer) and layer.source is not None:
                tiled.append((layer.source.display, self._class_fetch(layer, layer.source)))
                pending += self._draw_tiles(painter, *tiled[-1])
            elif isinstance(layer, ResultLayer) and layer.preview is not None:
                self._draw_preview(painter, layer)
            elif isinstance(layer, VectorLayer):
                pending += self._draw_vector(painter, layer)
        painter.setOpacity(1.0)
        for overlay in self.overlays:
            overlay(painter, view)
        if self.selection is not None:
            draw_selection(painter, self._screen_rect(self.selection))
        if not len(self.stack):
            draw_hint(painter, QRectF(self.rect()))
        if len(self.stack):
            draw_scale_bar(painter, view, self._metres_per_pixel(view))
        painter.end()
        if pending == 0:
            for grid, fetch in tiled:
                self._prefetch(grid, fetch)
        self.loader.end_frame()
        self.pending = pending
        self.frames += 1
        self.last_paint_ms = (time.perf_counter() - start) * 1000.0
        if pending == 0:
            self.frameComplete.emit(self.last_paint_ms)

    def _screen_rect(self, bounds: Bounds) -> QRectF:
        x0, y0 = self._view.to_screen(bounds[0], bounds[3])
        x1, y1 = self._view.to_screen(bounds[2], bounds[1])
        return QRectF(QPointF(x0, y0), QPointF(x1, y1))

    def _draw_tiles(self, painter: QPainter, grid: DisplayGrid, fetch: Fetch) -> int:
        view = self._view
        if not intersects(grid.bounds, view.bounds):
            return 0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              view.res_x > grid.pixel_size)
        dpr = self.devicePixelRatioF()  # sharp on HiDPI
        level = grid.level_for(view.res_x / dpr, view.res / dpr)
        pending = 0
        # display pixel -> screen: the grid and the view are both north-up
        t = grid.transform
        sx, ox = t.a / view.res_x, (t.c - view.cx) / view.res_x + view.width / 2.0
        sy, oy = -t.e / view.res, (view.cy - t.f) / view.res + view.height / 2.0
        for tx, ty in grid.tiles(level, view.bounds):
            window, _ = grid.tile_window(level, tx, ty)
            col, row = window.col_off, window.row_off
            target = QRectF(QPointF(ox + sx * col, oy + sy * row),
                            QPointF(ox + sx * (col + window.width),
                                    oy + sy * (row + window.height)))
            failures = self.loader.failed_hits
            image = fetch(level, tx, ty, "get")
            if image is not None:
                painter.drawImage(target, image)
                continue
            if self.loader.failed_hits == failures:
                pending += 1  # failed tiles are not waited for (the status bar says why)
            self._draw_fallback(painter, grid, fetch, level, tx, ty, target)
        return pending

    def _draw_fallback(self, painter: QPainter, grid: DisplayGrid, fetch: Fetch, level: int,
                       tx: int, ty: int, target: QRectF) -> None:
        """Draw the matching part of a coarser cached tile while the right one loads."""
        window, _ = grid.tile_window(level, tx, ty)
        parent, k = level * 2, 2
        while parent <= grid.max_level():
            image = fetch(parent, tx // k, ty // k, "peek")
            if image is not None:
                source = QRectF((tx % k) * TILE / k, (ty % k) * TILE / k,
                                window.width / parent, window.height / parent)
                painter.drawImage(target, image, source)
                return
            parent, k = parent * 2, k * 2

    def _prefetch(self, grid: DisplayGrid, fetch: Fetch) -> None:
        """After a complete frame, queue (at low priority) the tiles the next zoom step or
        pan will need: the finer level under the view, a ring around it, the coarser level.
        They are dropped again as soon as the view changes before they start."""
        view = self._view
        level = grid.level_for(view.res_x / self.devicePixelRatioF(),
                               view.res / self.devicePixelRatioF())
        minx, miny, maxx, maxy = view.bounds
        w, h = (maxx - minx) / 2, (maxy - miny) / 2
        ring = (minx - w, miny - h, maxx + w, maxy + h)
        wanted = [(level, t) for t in grid.tiles(level, ring)]
        if level > 1:
            wanted += [(level // 2, t) for t in grid.tiles(level // 2, view.bounds)]
        if level * 2 <= grid.max_level():
            wanted += [(level * 2, t) for t in grid.tiles(level * 2, view.bounds)]
        for lvl, (tx, ty) in wanted[:PREFETCH_MAX]:
            fetch(lvl, tx, ty, "prefetch")

    def _image_fetch(self, layer: ImageLayer) -> Fetch:
        source, bands, stretch = layer.source, layer.bands, layer.stretch
        assert stretch is not None

        def fetch(level: int, tx: int, ty: int, mode: str) -> QImage | None:
            key = ("img", source.uid, bands, level, tx, ty)
            if mode == "peek":
                return self.loader.peek(key)
            load = self.loader.get if mode == "get" else self.loader.prefetch
            return load(key, lambda: rgba_to_qimage(
                load_image_tile(source, bands, stretch, level, tx, ty)))
        return fetch

    def _class_fetch(self, layer: ResultLayer, source: RasterSource) -> Fetch:
        threshold = threshold_to_byte(layer.threshold, layer.full_scale)
        band, color = layer.band, layer.color

        def fetch(level: int, tx: int, ty: int, mode: str) -> QImage | None:
            raw_key = ("prob", source.uid, level, tx, ty)
            if mode == "prefetch":
                self.loader.prefetch(raw_key, lambda: load_probability_tile(source, level, tx,
                                                                             ty))
                return None
            key = ("cls", layer.id, source.uid, band, threshold, color, level, tx, ty)
            image: QImage | None = self._rendered.get(key)
            if image is not None:
                return image
            raw = (self.loader.get(raw_key, lambda: load_probability_tile(source, level, tx, ty))
                   if mode == "get" else self.loader.peek(raw_key))
            if raw is None:
                return None
            probabilities, valid = raw
            image = rgba_to_qimage(threshold_rgba(probabilities[band - 1], valid, threshold,
                                                  color))
            self._rendered.put(key, image)
            return image
        return fetch

    def _draw_preview(self, painter: QPainter, layer: ResultLayer) -> None:
        """The live overlay of a running job: only blocks that arrived are re-rendered."""
        preview = layer.preview
        assert preview is not None
        threshold = threshold_to_byte(layer.threshold, layer.full_scale)
        key = (id(preview), layer.band, threshold, layer.color)
        state = self._previews.get(layer.id)
        if state is None or state.key != key:
            rgba, version = preview.render(layer.band, threshold, layer.color)
            h, w = rgba.shape[:2]
            image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
            self._previews[layer.id] = state = _Preview(key, rgba, image, version)
        elif state.version != preview.version:
            state.version = preview.update(state.rgba, state.version, layer.band, threshold,
                                           layer.color)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(self._screen_rect(preview.grid.bounds), state.image)

    def _announce_loaded(self, layer: VectorLayer) -> None:
        """Tell the stack's listeners (the layers panel shows the feature count) that a
        vector layer is loaded; called after the paint that loaded it."""
        if layer in self.stack:
            self.stack.update(layer, features=layer.features)

    def _draw_vector(self, painter: QPainter, layer: VectorLayer) -> int:
        crs = self.stack.crs
        key = ("vec", layer.id, crs.to_wkt() if crs is not None else None)
        path, view_crs, name = layer.path, layer.view_crs, layer.layer
        data: VectorData | None = self.loader.get(key, lambda: load_vector(path, view_crs, name))
        if data is None:
            return 0 if self.loader.failure(key) else 1
        if layer.extent is None and data.extent is not None:
            layer.extent, layer.features = data.extent, data.features
            layer.geometry_type = data.geometry_type
            QTimer.singleShot(0, lambda: self._announce_loaded(layer))
        if data.extent is not None and not intersects(data.extent, self._view.bounds):
            return 0
        draw_vector(painter, data, self._view, layer.color)
        return 0

    # --- interaction ------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        first = self._view.width <= 1
        self._view = self._view.resized(event.size().width(), event.size().height())
        if first:
            self.full_extent()
        super().resizeEvent(event)
        self.viewChanged.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.tool is not None and self.tool.mouse("press", event):
            return
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            return
        pos = event.position()
        if event.button() == Qt.MouseButton.LeftButton and (self.draw_mode or event.modifiers()
                                                          & Qt.KeyboardModifier.ShiftModifier):
            self._select_from = self._view.to_world(pos.x(), pos.y())
            self.selection = None
            self.setCursor(Qt.CursorShape.CrossCursor)
            return
        self._drag = pos
        self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = event.position()
        if self.tool is not None and self._drag is None and self.tool.mouse("move", event):
            self.cursorMoved.emit(*self._view.to_world(pos.x(), pos.y()))
            return
        if self._select_from is not None:
            (x0, y0), (x1, y1) = self._select_from, self._view.to_world(pos.x(), pos.y())
            self.selection = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            self.update()
        elif self._drag is not None:
            delta = pos - self._drag
            self._drag = pos
            self.set_view(self._view.panned(delta.x(), delta.y()))
        self.cursorMoved.emit(*self._view.to_world(pos.x(), pos.y()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.tool is not None and self._drag is None and self.tool.mouse("release", event):
            return
        if self._select_from is not None:
            self._select_from = None
            box = self.selection
            if box is not None and min(box[2] - box[0], box[3] - box[1]) < 3 * self._view.res:
                self.selection = None  # a click clears it
            self.selectionChanged.emit()
            self.update()
            self.set_draw_mode(False)  # one extent per click of Draw area
        self._drag = None
        if not self.draw_mode:
            self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.tool is None or not self.tool.mouse("double", event):
            self.mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if self.tool is None or not self.tool.key(event):
            super().keyPressEvent(event)

    def set_draw_mode(self, on: bool) -> None:
        """Let the next plain drag draw the run extent (as Shift+drag does)."""
        if on == self.draw_mode:
            return
        self.draw_mode = on
        if on:
            self.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.unsetCursor()
        self.drawModeChanged.emit(on)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120.0
        if steps:
            pos = event.position()
            self.set_view(self._view.zoomed(1.25**steps, pos.x(), pos.y()))

    def render_to_image(self) -> QImage:
        """The canvas as drawn now (for tests and the benchmark)."""
        return self.grab().toImage()

    def is_idle(self) -> bool:
        return not self.loader.busy and self.pending == 0

    def frame_ready(self) -> bool:
        """Paint now; True when that frame had every visible tile (poll it to wait)."""
        before = self.frames
        self.repaint()
        if self.frames == before:  # not exposed (yet): paint into a pixmap instead
            self.grab()
        return self.frames > before and self.is_idle()
