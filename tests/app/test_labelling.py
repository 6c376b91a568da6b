"""Labelling mode: draw polygons, boxes and checked areas with the mouse, select, delete,
undo/redo, atomic saves and reloading when the image is opened again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.app.conftest import Boxes, qimage_rgb
from tests.conftest import random_rgb
from unet_gis.app.labelling.document import CHECKED
from unet_gis.app.layers.model import ImageLayer
from unet_gis.app.main_window import MainWindow
from unet_gis.training.labels import labels_path, load_labels

LEFT = Qt.MouseButton.LeftButton
NO_KEYS = Qt.KeyboardModifier.NoModifier


def screen(window: MainWindow, x: float, y: float) -> QPoint:
    sx, sy = window.canvas.view.to_screen(x, y)
    return QPoint(round(sx), round(sy))


def world(window: MainWindow, point: QPoint) -> tuple[float, float]:
    return window.canvas.view.to_world(point.x(), point.y())


def open_labelled(window: MainWindow, image: Path) -> ImageLayer:
    assert window.open_files([image]) == [image]
    layer = window.stack.of_kind("image")[-1]
    assert isinstance(layer, ImageLayer)
    return layer


def drag(window: MainWindow, start: QPoint, end: QPoint) -> None:
    canvas = window.canvas
    QTest.mousePress(canvas, LEFT, NO_KEYS, start)
    QTest.mouseMove(canvas, (start + end) / 2)
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, LEFT, NO_KEYS, end)


def centre_fraction(window: MainWindow, layer: ImageLayer, fx: float, fy: float) -> QPoint:
    """The screen point at (fx, fy) of the image's extent (0, 0 = top left)."""
    bounds = layer.bounds()
    assert bounds is not None
    minx, miny, maxx, maxy = bounds
    return screen(window, minx + fx * (maxx - minx), maxy - fy * (maxy - miny))


def test_draw_undo_redo_delete_save_and_reload(
        qtbot: Any, window: MainWindow, boxes: Boxes, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    window.settings.model_path = str(tiny_checkpoint)
    image = make_geotiff(random_rgb(300, 420, seed=2), name="scene.tif")
    layer = open_labelled(window, image)
    qtbot.wait(50)
    labelling = window.labelling
    window.commands["label"].trigger()
    assert labelling.active and window.canvas.tool is labelling.tool
    assert labelling.dock.isVisible()
    panel = labelling.panel
    assert [panel.target.itemText(i) for i in range(panel.target.count())] == \
        ["road", "vehicle", "checked area"]
    canvas = window.canvas

    # a road polygon: three clicks and a double-click
    panel.choose("road")
    assert labelling.tool.mode == "polygon"
    corners = [centre_fraction(window, layer, fx, fy)
               for fx, fy in ((0.2, 0.2), (0.6, 0.2), (0.6, 0.4), (0.2, 0.4))]
    for point in corners[:-1]:
        QTest.mouseClick(canvas, LEFT, NO_KEYS, point)
    QTest.mouseDClick(canvas, LEFT, NO_KEYS, corners[-1])
    document = labelling.current
    assert document is not None and document.count("road") == 1
    road = document.labels.classes["road"][0]
    assert road.geom_type == "Polygon" and len(road.exterior.coords) == 5  # closed, 4 corners
    minx, miny, maxx, maxy = road.bounds
    (x0, y1), (x1, y0) = world(window, corners[0]), world(window, corners[2])
    tolerance = 1.01 * canvas.view.res
    assert abs(minx - x0) < tolerance and abs(maxx - x1) < tolerance
    assert abs(miny - y0) < tolerance and abs(maxy - y1) < tolerance

    # a vehicle box (drag) and a point (click)
    panel.choose("vehicle")
    assert labelling.tool.mode == "box"
    box_from, box_to = (centre_fraction(window, layer, 0.7, 0.6),
                        centre_fraction(window, layer, 0.8, 0.7))
    drag(window, box_from, box_to)
    QTest.mouseClick(canvas, LEFT, NO_KEYS, centre_fraction(window, layer, 0.1, 0.9))
    vehicles = document.labels.classes["vehicle"]
    assert [g.geom_type for g in vehicles] == ["Polygon", "Point"]
    assert vehicles[0].area == pytest.approx(
        abs((box_to.x() - box_from.x()) * (box_to.y() - box_from.y())) * canvas.view.res ** 2,
        rel=0.01)

    # a checked area; undo it, redo it
    panel.choose(CHECKED)
    assert labelling.tool.mode == "rect"
    drag(window, centre_fraction(window, layer, 0.05, 0.05),
         centre_fraction(window, layer, 0.95, 0.95))
    assert document.count(CHECKED) == 1
    labelling.undo_action.trigger()
    assert document.count(CHECKED) == 0
    labelling.redo_action.trigger()
    assert document.count(CHECKED) == 1

    # select the point and delete it (key), undo the delete, delete it again (button)
    panel.select.setChecked(True)
    assert labelling.tool.mode == "select"
    QTest.mouseClick(canvas, LEFT, NO_KEYS, centre_fraction(window, layer, 0.1, 0.9))
    assert labelling.selected is not None and labelling.selected.layer == "vehicle"
    assert labelling.selected.geometry.geom_type == "Point"
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert [g.geom_type for g in vehicles] == ["Polygon"]
    labelling.undo_action.trigger()
    assert [g.geom_type for g in vehicles] == ["Polygon", "Point"]
    QTest.mouseClick(canvas, LEFT, NO_KEYS, centre_fraction(window, layer, 0.1, 0.9))
    panel.delete.click()
    assert [g.geom_type for g in vehicles] == ["Polygon"]

    # the canvas shows them: the road's fill tints the image under it
    qtbot.waitUntil(canvas.frame_ready, timeout=10_000)
    inside = centre_fraction(window, layer, 0.4, 0.3)
    with_labels = qimage_rgb(canvas.render_to_image())[inside.y(), inside.x()]
    overlays, canvas.overlays = canvas.overlays, []
    without = qimage_rgb(canvas.render_to_image())[inside.y(), inside.x()]
    canvas.overlays = overlays
    assert np.abs(with_labels.astype(int) - without.astype(int)).max() > 10

    # saved (debounced) to <image>_labels.gpkg, atomically, in the image's CRS
    path = labels_path(image)
    qtbot.waitUntil(lambda: path.is_file() and not labelling._dirty, timeout=10_000)
    saved = load_labels(path, ("road", "vehicle"))
    assert saved.crs == layer.source.crs
    assert len(saved.classes["road"]) == 1 and len(saved.classes["vehicle"]) == 1
    assert len(saved.checked) == 1
    assert saved.classes["road"][0].equals_exact(road, 1e-6)
    assert not [p for p in image.parent.iterdir() if p.name.startswith(".")]

    # close the image: labelling stops; open it again: the labels come back
    window.stack.remove(layer)
    assert not labelling.active and not window.commands["label"].isChecked()
    assert image not in labelling.documents
    layer = open_labelled(window, image)
    reloaded = labelling.documents[image]
    assert reloaded.count("road") == 1 and reloaded.count("vehicle") == 1
    assert reloaded.count(CHECKED) == 1
    window.commands["label"].trigger()
    assert labelling.current is reloaded
    assert "1 road, 1 vehicle, 1 checked" in panel.count.text()
    window.docks[-1].raise_()  # the Run and export tab: labelling goes on
    assert labelling.active
    labelling.dock.close()  # its close button ends it
    assert not labelling.active and window.canvas.tool is None
    assert not window.commands["label"].isChecked()
    assert not boxes.shown


def test_label_without_an_image_says_so(window: MainWindow, boxes: Boxes) -> None:
    window.commands["label"].trigger()
    assert not window.labelling.active and not window.commands["label"].isChecked()
    assert boxes.of("information")


def _label_a_road(window: MainWindow, layer: ImageLayer) -> list[QPoint]:
    """Turn labelling on and draw one road quadrilateral; its corners on screen."""
    window.commands["label"].trigger()
    window.labelling.panel.choose("road")
    corners = [centre_fraction(window, layer, fx, fy)
               for fx, fy in ((0.2, 0.2), (0.6, 0.2), (0.6, 0.4), (0.2, 0.4))]
    for point in corners[:-1]:
        QTest.mouseClick(window.canvas, LEFT, NO_KEYS, point)
    QTest.mouseDClick(window.canvas, LEFT, NO_KEYS, corners[-1])
    return corners


def _vertices(geometry: Any) -> set[tuple[float, float]]:
    return {(round(x, 6), round(y, 6)) for x, y in geometry.exterior.coords}


def test_dragging_a_corner_moves_it_as_one_undo_step(
        qtbot: Any, window: MainWindow, boxes: Boxes, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    window.settings.model_path = str(tiny_checkpoint)
    image = make_geotiff(random_rgb(300, 420, seed=4), name="corner.tif")
    layer = open_labelled(window, image)
    qtbot.wait(50)
    labelling, canvas = window.labelling, window.canvas
    corners = _label_a_road(window, layer)
    document = labelling.current
    assert document is not None
    original = document.labels.classes["road"][0]
    res = canvas.view.res

    labelling.panel.select.setChecked(True)
    # a click on a corner (no drag) selects the road and changes nothing
    QTest.mouseClick(canvas, LEFT, NO_KEYS, corners[2])
    assert labelling.selected is not None and labelling.selected.geometry is original
    assert document.labels.classes["road"][0] is original
    # a drag from inside (not on a corner) moves nothing either
    drag(window, centre_fraction(window, layer, 0.4, 0.3),
         centre_fraction(window, layer, 0.45, 0.35))
    assert document.labels.classes["road"][0] is original

    # press 2 px off the corner (within the click tolerance), drag, release
    target = centre_fraction(window, layer, 0.75, 0.55)
    drag(window, corners[2] + QPoint(2, -1), target)
    moved = document.labels.classes["road"][0]
    assert document.count("road") == 1 and moved is not original
    old_corner = world(window, corners[2])
    new_corner = world(window, target)
    coords = np.asarray(moved.exterior.coords)
    assert np.hypot(*(coords - new_corner).T).min() < 1.01 * res  # the corner went there
    assert np.hypot(*(coords - old_corner).T).min() > 10 * res  # and left its old place
    assert len(_vertices(moved) & _vertices(original)) == 3  # the other corners stayed
    assert moved.area > original.area
    assert labelling.selected is not None and labelling.selected.geometry is moved

    # one undo puts it back exactly; redo moves it again
    assert labelling.undo_action.text() == "Undo Move a vertex of road"
    labelling.undo_action.trigger()
    assert document.labels.classes["road"][0].equals_exact(original, 0)
    labelling.redo_action.trigger()
    assert document.labels.classes["road"][0].equals_exact(moved, 0)
    labelling.undo_action.trigger()
    labelling.redo_action.trigger()

    # the saved GeoPackage has the moved corner
    path = labels_path(image)
    qtbot.waitUntil(lambda: path.is_file() and not labelling._dirty, timeout=10_000)
    saved = load_labels(path, ("road", "vehicle")).classes["road"]
    assert len(saved) == 1 and saved[0].equals_exact(moved, 1e-6)
    assert not boxes.shown


def test_import_a_vector_file_as_labels(
        qtbot: Any, window: MainWindow, boxes: Boxes, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd
    import shapely
    from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

    window.settings.model_path = str(tiny_checkpoint)
    image = make_geotiff(random_rgb(300, 420, seed=5), name="streets.tif")
    layer = open_labelled(window, image)
    qtbot.wait(50)
    labelling = window.labelling
    window.commands["label"].trigger()
    document = labelling.current
    assert document is not None
    minx, miny, maxx, maxy = layer.bounds() or (0, 0, 0, 0)
    ymid = (miny + maxy) / 2
    street = shapely.LineString([(minx + 10, ymid), (minx + 90, ymid)])  # 80 m, image CRS
    lot = shapely.box(minx + 20, miny + 10, minx + 40, miny + 30)
    vector = tmp_path / "streets.geojson"  # stored in degrees: imported in the image's CRS
    gpd.GeoDataFrame(geometry=[street, lot], crs=document.labels.crs).to_crs(
        "EPSG:4326").to_file(vector)
    asked: list[str] = []

    def choose(parent: Any, caption: str, folder: str, pattern: str) -> tuple[str, str]:
        asked.append(pattern)
        return str(vector), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose)
    labelling.panel.import_button.click()
    dialog = labelling.import_dialog
    assert dialog is not None and dialog.isVisible() and asked and "*.geojson" in asked[0]
    assert [dialog.target.itemText(i) for i in range(dialog.target.count())] == \
        ["road", "vehicle", "checked area"]
    dialog.target.setCurrentIndex(dialog.target.findData("road"))
    dialog.width_m.setValue(8.0)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    roads = document.labels.classes["road"]
    assert len(roads) == 2 and document.count("vehicle") == 0
    band = next(g for g in roads if g.area > 500)  # the street, buffered 4 m each side
    assert band.area == pytest.approx(80 * 8 + np.pi * 4 ** 2, rel=0.02)
    assert band.centroid.distance(street.centroid) < 0.1
    square = next(g for g in roads if g.area < 500)  # the polygon, as it was
    assert square.symmetric_difference(lot).area < 0.01
    assert "2 road" in labelling.panel.count.text()

    # one undo removes the whole import, redo brings it back
    labelling.undo_action.trigger()
    assert document.count("road") == 0
    labelling.redo_action.trigger()
    assert document.count("road") == 2
    path = labels_path(image)
    qtbot.waitUntil(lambda: path.is_file() and not labelling._dirty, timeout=10_000)
    assert len(load_labels(path, ("road", "vehicle")).classes["road"]) == 2

    # as checked areas; an empty file says so and adds nothing
    assert labelling.import_file(vector, CHECKED, 8.0) == 2 and document.count(CHECKED) == 2
    empty = tmp_path / "empty.geojson"
    gpd.GeoDataFrame(geometry=[], crs="EPSG:4326").to_file(empty)
    assert labelling.import_file(empty, "vehicle", 3.0) == 0
    assert document.count("vehicle") == 0
    assert "no geometries" in boxes.of("warning")[-1][2]
