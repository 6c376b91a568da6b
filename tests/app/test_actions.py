"""Everyday actions: drop files, recent files, run over the current view, About, sample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rasterio
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.app.test_main_window import RUN_TIMEOUT_MS, open_image
from tests.conftest import random_rgb
from unet_gis import __version__
from unet_gis.app.dialogs.about import AboutDialog, about_html
from unet_gis.app.dialogs.run import RunChoice, RunDialog
from unet_gis.app.jobs import load_model, output_folder, plan_output
from unet_gis.app.layers.model import ImageLayer, VectorLayer
from unet_gis.app.main_window import MainWindow
from unet_gis.resources import sample_scene


def test_dropped_files_open_and_become_recent(window: MainWindow,
                                              make_geotiff: Callable[..., Path]) -> None:
    paths = [make_geotiff(random_rgb(40, 50), name=f"drop{i}.tif") for i in range(2)]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert [lr.name for lr in window.stack] == ["drop0.tif", "drop1.tif"]
    recent = [a.text() for a in window.recent_menu.actions()]
    assert recent[:2] == [str(paths[1].resolve()), str(paths[0].resolve())]


def test_run_over_the_current_view_only(qtbot: Any, window: MainWindow,
                                        make_geotiff: Callable[..., Path],
                                        tiny_checkpoint: Path) -> None:
    layer = open_image(window, make_geotiff(random_rgb(400, 400, seed=8)))
    window.canvas.zoom(4.0)  # the view now shows about the middle quarter
    request = window.run_request(RunChoice(layer.id, tiny_checkpoint, "cpu", "view", None,
                                           None, None))
    assert request.aoi_bounds is not None
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    assert window.runs.submit(request)
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"]
    with rasterio.open(window.runs.last_result.output) as out:
        assert out.width < 400 and out.height < 400
        vx0, vy0, vx1, vy1 = window.canvas.view.bounds
        b = out.bounds
        pixel = out.res[0]
        assert b.left >= vx0 - pixel and b.right <= vx1 + pixel
        assert b.bottom >= vy0 - pixel and b.top <= vy1 + pixel


def test_run_dialog_shows_the_model_and_blocks_without_one(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path) -> None:
    layer = open_image(window, make_geotiff(random_rgb(40, 50)))
    dialog = RunDialog([layer], layer, tiny_checkpoint, "cpu", window)
    qtbot.addWidget(dialog)
    assert "road, vehicle" in dialog.model_info.text() and "0.3 m" in dialog.model_info.text()
    assert dialog.buttons.buttons()[0].isEnabled()
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"PK\x03\x04junk")
    dialog._set_model(bad)
    assert "Cannot use this model" in dialog.model_info.text()
    choice = dialog.choice()
    assert choice.layer_id == layer.id and choice.device == "cpu" and choice.tile is None
    assert choice.precision == "auto"
    dialog.precision.setCurrentIndex(dialog.precision.findData("fp32"))
    assert dialog.choice().precision == "fp32"
    assert not choice.tta and "8" in dialog.tta.text()  # off by default, its cost shown
    dialog.tta.setChecked(True)
    dialog._set_model(tiny_checkpoint)
    request = window.run_request(dialog.choice())
    assert request.tta
    assert "test-time augmentation" in plan_output(request, load_model(request)).device


def test_run_uses_every_core_and_the_chosen_precision(
        window: MainWindow, make_geotiff: Callable[..., Path], tiny_checkpoint: Path) -> None:
    import os

    layer = open_image(window, make_geotiff(random_rgb(40, 50)))
    request = window.run_request(RunChoice(layer.id, tiny_checkpoint, "cpu", "layer", None,
                                           None, None, "bf16"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert request.threads == cores  # no core left idle: the run has a lower priority
    assert request.precision == "bf16"


def test_about_names_version_and_attributions(qtbot: Any) -> None:
    text = about_html()
    assert __version__ in text and "SpaceNet" in text and "CC BY-SA 4.0" in text
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    assert "unet-gis" in dialog.text.toPlainText()


def test_results_for_the_shipped_sample_go_to_the_data_folder(tmp_path: Path) -> None:
    assert output_folder(sample_scene(), tmp_path) == tmp_path / "results" / sample_scene().stem
    image = tmp_path / "scene.tif"
    assert output_folder(image, tmp_path / "data") == tmp_path / "scene_unet_gis"


def test_vector_layer_in_another_crs_is_reprojected(qtbot: Any, window: MainWindow,
                                                   make_geotiff: Callable[..., Path],
                                                   tmp_path: Path) -> None:
    import numpy as np
    import shapely
    from pyogrio.raw import write

    image = open_image(window, make_geotiff(random_rgb(100, 100)))  # UTM 11N
    b = image.bounds()
    assert b is not None
    from pyproj import Transformer

    to_ll = Transformer.from_crs("EPSG:32611", "EPSG:4326", always_xy=True)
    x0, y0 = to_ll.transform(b[0] + 3, b[1] + 3)
    x1, y1 = to_ll.transform(b[2] - 3, b[3] - 3)
    wkb = np.array([shapely.to_wkb(shapely.box(x0, y0, x1, y1))], dtype=object)
    path = tmp_path / "box.geojson"
    write(path, wkb, field_data=[], fields=[], crs="EPSG:4326", geometry_type="Polygon",
          driver="GeoJSON")
    window.open_files([path])
    vector = window.stack.of_kind("vector")[0]
    assert isinstance(vector, VectorLayer)
    qtbot.waitUntil(window.canvas.frame_ready, timeout=10_000)
    assert vector.extent is not None and vector.features == 1
    assert abs(vector.extent[0] - (b[0] + 3)) < 1.0 and abs(vector.extent[3] - (b[3] - 3)) < 1.0
    assert isinstance(window.stack.of_kind("image")[0], ImageLayer)


def test_shift_drag_draws_the_run_extent(qtbot: Any, window: MainWindow,
                                         make_geotiff: Callable[..., Path],
                                         tiny_checkpoint: Path) -> None:
    from PySide6.QtCore import QPoint

    layer = open_image(window, make_geotiff(random_rgb(300, 300, seed=9)))
    canvas = window.canvas
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     centre - QPoint(60, 40))
    qtbot.mouseMove(canvas, centre + QPoint(60, 40))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                       centre + QPoint(60, 40))
    selection = canvas.selection
    assert selection is not None
    assert selection[2] - selection[0] > 100 * canvas.view.res
    request = window.run_request(RunChoice(layer.id, tiny_checkpoint, "cpu", "rect", None,
                                           None, None))
    assert request.aoi_bounds == selection
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    window.runs.submit(request)
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    with rasterio.open(window.runs.last_result.output) as out:
        assert out.width < 300 and abs(out.bounds.left - selection[0]) <= out.res[0]
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     centre)
    assert canvas.selection is None  # a shift-click clears it


def test_status_bar_follows_the_cursor(qtbot: Any, window: MainWindow,
                                       make_geotiff: Callable[..., Path]) -> None:
    from PySide6.QtCore import QPoint

    open_image(window, make_geotiff(random_rgb(60, 60)))
    qtbot.mouseMove(window.canvas, QPoint(30, 30))
    qtbot.waitUntil(lambda: "EPSG:32611" in window.position.text(), timeout=5000)
    assert "lat 36." in window.position.text()


def test_images_without_crs_run_and_line_up_in_pixel_space(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    layer = open_image(window, make_geotiff(random_rgb(256, 320, seed=12), crs=None,
                                            transform=rasterio.Affine.identity()))
    assert layer.problem is None and window.stack.crs is None
    image_bounds = layer.bounds()
    assert image_bounds == (0.0, -256.0, 320.0, 0.0)  # y = -row: north up on screen
    window.canvas.set_view(window.canvas.view.fitted((100, -200, 260, -60), margin=0))
    request = window.run_request(RunChoice(layer.id, tiny_checkpoint, "cpu", "view", None,
                                           None, None))
    assert request.aoi_bounds is not None
    left, bottom, right, top = request.aoi_bounds  # columns and rows of the image
    assert left <= 100 <= right and top <= 60 and bottom >= 200
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    window.runs.submit(request)
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"], window.run_panel.detail.text()
    result = window.stack.of_kind("result")[0]
    assert result.problem is None
    b = result.bounds()
    assert b is not None
    assert b[0] >= 0 and b[2] <= 320 and b[1] >= -256 and b[3] <= 0  # inside the image
    assert b[0] <= 100 and b[2] >= 260 and b[1] <= -200 and b[3] >= -60  # covers the view


@pytest.mark.slow
def test_a_failed_runs_model_is_not_remembered(
        qtbot: Any, app_paths: Any, boxes: Any, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path) -> None:
    from unet_gis.app.main_window import MainWindow
    from unet_gis.app.settings import SettingsStore

    image = make_geotiff(random_rgb(40, 50))

    def launch_and_run(model: Path) -> str:
        """``unet-gis gui IMAGE --run --model MODEL``, then close: how the run ended."""
        window = MainWindow(paths=app_paths, model=str(model), device="cpu")
        qtbot.addWidget(window)
        window.runs.interactive = False
        ended: list[str] = []
        window.runs.runEnded.connect(ended.append)
        window.open_files([image])
        window.start_run(ask=False)
        qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
        window.close()
        return ended[0]

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    assert launch_and_run(bad) == "failed"
    assert SettingsStore(app_paths.settings_file).load().model_path != str(bad.resolve())
    assert launch_and_run(tiny_checkpoint) == "finished"  # a run that works is remembered
    assert SettingsStore(app_paths.settings_file).load().model_path == str(
        tiny_checkpoint.resolve())
