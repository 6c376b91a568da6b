"""The main window end to end: open, run, live thresholds, cancel, queue, errors, export."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from PySide6.QtCore import QTimer

from tests.app.conftest import Boxes, background_rgb, qimage_rgb
from tests.conftest import random_rgb
from unet_gis.app.geo import ViewState
from unet_gis.app.layers.model import ImageLayer, ResultLayer, VectorLayer
from unet_gis.app.main_window import MainWindow
from unet_gis.raster.probability import FULL_SCALE, threshold_to_byte

RUN_TIMEOUT_MS = 90_000


def open_image(window: MainWindow, path: Path) -> ImageLayer:
    assert window.open_files([path]) == [path]
    layer = window.stack.of_kind("image")[-1]
    assert isinstance(layer, ImageLayer)
    return layer


def run(qtbot: Any, window: MainWindow, model: Path) -> list[ResultLayer]:
    window.settings.model_path = str(model)
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    window.start_run()
    assert window.runs.busy
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"], window.run_panel.detail.text()
    return [lr for lr in window.stack if isinstance(lr, ResultLayer)]


def show_one_to_one(qtbot: Any, window: MainWindow, layer: ResultLayer) -> np.ndarray:
    """Only ``layer``, opaque, one screen pixel per raster pixel from the top-left corner."""
    for other in window.stack:
        window.stack.update(other, visible=other is layer)
    window.stack.update(layer, opacity=1.0)
    canvas = window.canvas
    qtbot.wait(50)  # let the layout settle: a resize keeps the centre, not the corner
    assert layer.source is not None
    t = layer.source.transform
    w, h = canvas.width(), canvas.height()
    canvas.set_view(ViewState(t.c + w / 2 * t.a, t.f + h / 2 * t.e, t.a, w, h))
    qtbot.waitUntil(canvas.frame_ready, timeout=10_000)
    return qimage_rgb(canvas.render_to_image())


def expected_overlay(path: Path, band: int, threshold: float, shape: tuple[int, int]
                     ) -> np.ndarray:
    with rasterio.open(path) as dataset:
        probabilities = dataset.read(band)
        valid = dataset.read_masks(band) > 0
    h, w = min(shape[0], probabilities.shape[0]), min(shape[1], probabilities.shape[1])
    return ((probabilities >= threshold_to_byte(threshold)) & valid)[:h, :w]


def test_open_and_run_overlay_matches_probability_raster(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    image = make_geotiff(random_rgb(300, 420, seed=1))
    open_image(window, image)
    results = run(qtbot, window, tiny_checkpoint)
    assert [r.class_name for r in results] == ["road", "vehicle"]
    output = results[0].path
    assert output is not None and output.is_file()
    assert output.parent == image.parent / f"{image.stem}_unet_gis"
    assert "CPU" in window.device_label.text()
    road = results[0]
    with rasterio.open(output) as dataset:
        band = dataset.read(1)
    # thresholds inside this random model's range, so that both kinds of pixel occur
    low, high = (round(np.percentile(band, q) / FULL_SCALE * 100) for q in (35, 65))
    high = max(high, low + 1)
    slider = window.layers_panel.rows[road.id].slider
    slider.setValue(low)
    assert road.threshold == pytest.approx(low / 100)
    shown = show_one_to_one(qtbot, window, road)
    rows, cols = min(280, shown.shape[0] - 40), min(420, shown.shape[1])  # above the scale bar
    assert rows > 100 and cols > 100
    expected = expected_overlay(output, 1, road.threshold, (rows, cols))
    assert 0 < expected.mean() < 1, "the test needs both kinds of pixel"
    region = shown[:rows, :cols]
    is_road = (region == road.color).all(axis=-1)
    is_background = (region == background_rgb()).all(axis=-1)
    assert (is_road | is_background).all()
    assert np.array_equal(is_road, expected)

    # the threshold slider re-renders from the stored probabilities, without a run
    slider.setValue(high)
    assert road.threshold == pytest.approx(high / 100)
    qtbot.waitUntil(window.canvas.frame_ready, timeout=10_000)
    moved = qimage_rgb(window.canvas.render_to_image())[:rows, :cols]
    now_road = (moved == road.color).all(axis=-1)
    assert not np.array_equal(now_road, is_road)
    assert np.array_equal(now_road, expected_overlay(output, 1, high / 100, (rows, cols)))
    assert window.settings.thresholds["road"] == pytest.approx(high / 100)
    assert not window.runs.busy


def test_corrupt_file_shows_an_error_and_the_app_keeps_working(
        window: MainWindow, boxes: Boxes, tmp_path: Path,
        make_geotiff: Callable[..., Path]) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 this is not really a TIFF")
    assert window.open_files([bad, tmp_path / "missing.tif"]) == []
    warnings = boxes.of("warning")
    assert len(warnings) == 2
    assert "broken.tif" in warnings[0][2] and "Traceback" not in warnings[0][2]
    assert "does not exist" in warnings[1][2]
    assert len(window.stack) == 0
    open_image(window, make_geotiff(random_rgb(50, 60)))
    assert len(window.stack) == 1


def test_truncated_file_says_so_in_the_status_bar_and_in_one_run_error(
        qtbot: Any, window: MainWindow, boxes: Boxes, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A TIFF cut in half opens (its header is whole) but its tiles cannot be read: the map
    and the run each say so in words, with no traceback in the log."""
    good = make_geotiff(random_rgb(1024, 1024, seed=5), name="whole.tif", tiled=True,
                        blockxsize=256, blockysize=256)
    cut = good.with_name("cut.tif")
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    caplog.set_level("WARNING")
    open_image(window, cut)
    reasons: list[str] = []
    window.canvas.loader.tileFailed.connect(reasons.append)
    window.canvas.full_extent()
    qtbot.waitUntil(lambda: bool(reasons), timeout=10_000)
    assert reasons[0].startswith("Could not read cut.tif here: the file may be truncated")
    assert "See previous exception" not in reasons[0]
    qtbot.waitUntil(lambda: "cut.tif" in window.statusBar().currentMessage(), timeout=5_000)
    window.settings.model_path = str(tiny_checkpoint)
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    window.start_run()
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["failed"]
    errors = boxes.of("warning")
    assert len(errors) == 1 and "may be truncated or corrupt" in errors[0][2]
    assert not [r for r in caplog.records if r.exc_info], "a traceback reached the log"
    assert not list(cut.parent.glob("cut_unet_gis/*.tif"))


def test_cancel_leaves_no_output_and_returns_to_idle(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    image = make_geotiff(random_rgb(1536, 1536, seed=2))
    open_image(window, image)
    window.settings.model_path = str(tiny_checkpoint)
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    window.start_run()
    qtbot.waitUntil(lambda: window.run_panel.bar.value() > 0, timeout=RUN_TIMEOUT_MS)
    assert window.cancel_action.isEnabled()
    assert window.stack.of_kind("result"), "the overlay layers appear during the run"
    start = time.monotonic()
    window.run_panel.cancel_button.click()
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert time.monotonic() - start < 5.0, "cancel must stop promptly"
    assert ended == ["cancelled"]
    folder = image.parent / f"{image.stem}_unet_gis"
    assert not list(folder.glob("*")), "no partial output, no temporary files"
    assert not window.runs.busy and not window.cancel_action.isEnabled()
    assert not window.run_panel.cancel_button.isEnabled()
    assert "Cancelled" in window.run_panel.detail.text()
    assert not window.stack.of_kind("result")


def test_gui_stays_responsive_during_a_run(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    import gc

    open_image(window, make_geotiff(random_rgb(1024, 1024, seed=4)))
    # what earlier tests left on the heap is not the app's: collect it now, so that a full
    # collection of the whole suite's garbage does not land inside the measured run
    gc.collect()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    blocks: list[int] = []
    window.runs.runner.items.connect(lambda: blocks.append(1))
    results = run(qtbot, window, tiny_checkpoint)
    # the result's overviews are built afterwards, in a child process
    source = results[0].source
    assert source is not None
    qtbot.waitUntil(lambda: bool(results[0].source and results[0].source.overviews),
                    timeout=60_000)
    assert Path(f"{source.path}.ovr").is_file()
    timer.stop()
    gaps = np.diff(ticks)
    assert len(ticks) > 20
    assert gaps.max() < 0.100, f"event loop blocked for {gaps.max() * 1000:.0f} ms"
    assert blocks, "the overlay fills in while blocks finish"


def test_second_run_is_queued_and_closing_cancels(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    first = open_image(window, make_geotiff(random_rgb(128, 128), name="a.tif"))
    open_image(window, make_geotiff(random_rgb(1536, 1536), name="b.tif"))
    window.settings.model_path = str(tiny_checkpoint)
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    window.layers_panel.list.setCurrentRow(1)  # a.tif (rows are top first)
    assert window.current_image() is first
    window.start_run()
    window.layers_panel.list.setCurrentRow(0)  # b.tif, queued behind a.tif
    window.start_run()
    assert len(window.runs.queue) == 1
    qtbot.waitUntil(lambda: ended == ["finished"], timeout=RUN_TIMEOUT_MS)
    assert window.runs.busy  # b.tif is running now
    window.close()
    assert not window.runs.runner.running
    assert not (first.path.parent / "b_unet_gis" / "b_probabilities.tif").exists()


def test_export_writes_files_and_adds_them_as_layers(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path) -> None:
    from unet_gis.app.jobs import ExportRequest

    open_image(window, make_geotiff(random_rgb(128, 128, seed=5)))
    results = run(qtbot, window, tiny_checkpoint)
    probabilities = results[0].path
    assert probabilities is not None
    ended: list[str] = []
    window.exports.exportEnded.connect(ended.append)
    with rasterio.open(probabilities) as dataset:  # thresholds that find something
        road, vehicle = (float(np.percentile(b, 50)) / FULL_SCALE for b in dataset.read())
    request = ExportRequest(probabilities, tmp_path / "out" / "scene.gpkg", "gpkg",
                            ("road", "vehicle"), (("road", road), ("vehicle", vehicle)),
                            centerlines=True, min_area_m2=0.0)
    (tmp_path / "out").mkdir()
    window.exports.start(request)
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"], window.export_panel.detail.text()
    summary = window.exports.last_summary
    assert summary.outputs and all(Path(p).is_file() for p in summary.outputs)
    from pyogrio import list_layers

    names = {str(n) for n, kind in list_layers(summary.outputs[0]) if kind}  # no tables
    scene = probabilities.stem.removesuffix("_probabilities")
    roads_layer = f"{scene}_roads"
    assert {roads_layer, f"{scene}_vehicles", f"{scene}_road_centerlines"} <= names
    assert summary.vehicles > 0 and summary.road_area_m2 > 0
    vectors = [lr for lr in window.stack if isinstance(lr, VectorLayer)]
    assert {v.layer for v in vectors} == names
    roads = next(v for v in vectors if v.layer == roads_layer)
    panel = window.layers_panel  # selected before the layer is loaded: updated after
    panel.list.setCurrentRow([lr.id for lr in panel.stack][::-1].index(roads.id))
    assert panel.current() is roads and roads.features == 0
    qtbot.waitUntil(window.canvas.frame_ready, timeout=10_000)
    assert all(v.features > 0 and v.problem is None for v in vectors if v.layer == roads_layer)
    assert "vehicles" in window.export_panel.detail.text()
    qtbot.waitUntil(lambda: f"{roads.features} features Polygon" in panel.info.text())


def test_big_raster_without_overviews_gets_them_in_the_background(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path]) -> None:
    data = np.zeros((1, 4096, 4096), np.uint8)
    data[0, ::7] = 200
    path = make_geotiff(data, name="flat.tif", tiled=True, blockxsize=256, blockysize=256)
    before = path.read_bytes()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    layer = open_image(window, path)
    assert layer.source.overviews == ()
    assert "building" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: bool(layer.source.overviews), timeout=60_000)
    timer.stop()
    gaps = np.diff(ticks)
    assert gaps.max() < 0.100, f"the build froze the GUI for {gaps.max() * 1000:.0f} ms"
    assert Path(f"{path}.ovr").is_file()
    assert sorted(p.name for p in path.parent.glob(".flat*")) == [], "no temporary files"
    assert path.read_bytes() == before, "the user's file is not modified"
    assert "ready" in window.statusBar().currentMessage()
    qtbot.waitUntil(window.canvas.frame_ready, timeout=10_000)


def test_mask_export_is_shown_with_its_palette(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path) -> None:
    from unet_gis.app.jobs import ExportRequest

    open_image(window, make_geotiff(random_rgb(128, 128, seed=6)))
    probabilities = run(qtbot, window, tiny_checkpoint)[0].path
    assert probabilities is not None
    ended: list[str] = []
    window.exports.exportEnded.connect(ended.append)
    window.exports.start(ExportRequest(probabilities, tmp_path / "mask.tif", "tif",
                                       ("road", "vehicle"), (("road", 0.0), ("vehicle", 1.0))))
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"], window.export_panel.detail.text()
    mask = window.stack.of_kind("image")[-1]
    assert isinstance(mask, ImageLayer) and mask.path == tmp_path / "mask.tif"
    assert mask.source.colormap is not None
    for other in window.stack:
        window.stack.update(other, visible=other is mask)
    window.stack.update(mask, opacity=1.0)
    window.canvas.zoom_to(mask.bounds())
    qtbot.waitUntil(window.canvas.frame_ready, timeout=10_000)
    shown = qimage_rgb(window.canvas.render_to_image())
    road = window.stack.of_kind("result")[0]
    assert isinstance(road, ResultLayer)
    h, w = shown.shape[:2]
    assert (shown[h // 2, w // 2] == road.color).all()  # every pixel is road
