"""File → Open tiles as mosaic: a VRT built off the GUI thread, opened, run and exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rasterio
from rasterio.transform import from_origin

from tests.app.conftest import Boxes
from tests.app.test_main_window import RUN_TIMEOUT_MS, run
from tests.conftest import random_rgb, write_geotiff
from unet_gis.app import jobs
from unet_gis.app.layers.model import ImageLayer, ResultLayer
from unet_gis.app.main_window import MainWindow

SIDE = 64  # pixels per tile side, 0.3 m pixels


def make_tiles(folder: Path, n: int = 2) -> list[Path]:
    """``n`` x ``n`` touching tiles of SIDE px in UTM 11N."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in range(n):
        for col in range(n):
            transform = from_origin(666000.0 + col * SIDE * 0.3, 4012000.0 - row * SIDE * 0.3,
                                    0.3, 0.3)
            paths.append(write_geotiff(folder / f"tile_{row}_{col}.tif",
                                       random_rgb(SIDE, SIDE, seed=row * n + col),
                                       transform=transform))
    return paths


def open_mosaic(qtbot: Any, window: MainWindow, inputs: list[Path]) -> list[str]:
    ended: list[str] = []
    window.mosaics.ended.connect(ended.append)
    layers_before = len(window.stack)
    assert window.open_mosaic(inputs)
    # the headers are read on a worker thread: whether or not it has finished yet, its
    # result reaches the GUI thread only through the event loop, so nothing has ended or
    # opened before the loop runs (a build on the GUI thread would have ended by now)
    assert not ended
    assert len(window.stack) == layers_before
    qtbot.waitUntil(lambda: bool(ended), timeout=30_000)
    return ended


def test_tiles_open_as_one_layer_that_runs_and_exports(
        qtbot: Any, window: MainWindow, tmp_path: Path, tiny_checkpoint: Path) -> None:
    tiles = make_tiles(tmp_path / "sheets")
    assert open_mosaic(qtbot, window, tiles) == ["finished"]
    images = [lr for lr in window.stack if isinstance(lr, ImageLayer)]
    assert len(images) == 1
    vrt = tmp_path / "sheets" / "sheets_mosaic.vrt"
    assert images[0].path == vrt and images[0].name == vrt.name
    assert (images[0].source.width, images[0].source.height) == (2 * SIDE, 2 * SIDE)
    assert str(vrt.parent) in window.statusBar().currentMessage()
    assert "4 tiles" in window.statusBar().currentMessage()

    results = run(qtbot, window, tiny_checkpoint)
    assert {r.path for r in results} == {results[0].path}  # one probability raster
    output = results[0].path
    assert output is not None and output.parent == tmp_path / "sheets" / "sheets_mosaic_unet_gis"
    with rasterio.open(output) as dataset:
        assert (dataset.width, dataset.height) == (2 * SIDE, 2 * SIDE)
        assert dataset.read_masks(1).all()  # every tile was predicted, seams included

    ended: list[str] = []
    window.exports.exportEnded.connect(ended.append)
    request = jobs.ExportRequest(output, tmp_path / "out.gpkg", "gpkg", ("road", "vehicle"),
                                 (("road", 0.5), ("vehicle", 0.5)), min_area_m2=0.0)
    window.exports.start(request)
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"], window.export_panel.detail.text()
    assert (tmp_path / "out.gpkg").is_file()


def test_a_folder_twice_and_a_read_only_folder(
        qtbot: Any, window: MainWindow, tmp_path: Path, app_paths: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "survey"
    make_tiles(folder)
    assert open_mosaic(qtbot, window, [folder]) == ["finished"]
    assert open_mosaic(qtbot, window, [folder]) == ["finished"]  # its own VRT is no tile
    assert "4 tiles" in window.statusBar().currentMessage()

    read_only = tmp_path / "dvd"
    make_tiles(read_only)
    real = jobs.writable
    monkeypatch.setattr(jobs, "writable", lambda p: p != read_only and real(p))
    assert open_mosaic(qtbot, window, [read_only]) == ["finished"]
    vrt = app_paths.data_dir / "mosaics" / "dvd_mosaic.vrt"
    assert vrt.is_file() and not (read_only / "dvd_mosaic.vrt").exists()
    message = window.statusBar().currentMessage()
    assert str(vrt.parent) in message and "not writable" in message
    layer = window.stack.of_kind("image")[-1]
    assert isinstance(layer, ImageLayer) and layer.path == vrt


def test_tiles_in_two_crs_are_refused_in_one_line(
        qtbot: Any, window: MainWindow, boxes: Boxes, tmp_path: Path) -> None:
    tiles = make_tiles(tmp_path / "mixed")
    write_geotiff(tiles[-1], random_rgb(SIDE, SIDE), crs="EPSG:32612")
    assert open_mosaic(qtbot, window, tiles) == ["failed"]
    (error,) = boxes.of("warning")
    assert "tile_1_1.tif" in error[2] and "\n" not in error[2]
    assert not [lr for lr in window.stack if isinstance(lr, ImageLayer | ResultLayer)]
    assert not any(p.suffix == ".vrt" for p in (tmp_path / "mixed").iterdir())
