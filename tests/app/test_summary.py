"""The results summary: counts by class role, metric areas (geographic too), live updates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pyproj import Geod
from rasterio.transform import from_origin

from tests.app.test_main_window import open_image, run
from tests.conftest import PROJECTED, UTM_11N, random_rgb, tiny_spec
from unet_gis.app.main_window import MainWindow
from unet_gis.app.summary import Summary, read_summary_data, summarize
from unet_gis.model.spec import ClassSpec
from unet_gis.raster.probability import FULL_SCALE, tag_probability_raster

# names that say nothing: what each class is comes from its role
CLASSES = (ClassSpec("lane", (255, 170, 0), 0.5, role="network"),
           ClassSpec("car", (230, 30, 200), 0.5, role="objects"),
           ClassSpec("pond", (0, 90, 255), 0.5, role="surface"))


def write_probabilities(path: Path, bands: np.ndarray, crs: Any = UTM_11N,
                        transform: Any = PROJECTED["transform"]) -> Path:
    spec = tiny_spec(classes=CLASSES[:len(bands)])
    profile = {"driver": "GTiff", "width": bands.shape[2], "height": bands.shape[1],
               "count": len(bands), "dtype": "uint8", "crs": crs, "transform": transform}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands)
        tag_probability_raster(dst, spec, "scene.tif", pixel_space=False)
    return path


def scene(tmp_path: Path) -> Path:
    bands = np.zeros((3, 200, 300), np.uint8)
    bands[0, 50:60, :] = 200  # a lane 10 px (3 m) wide and 300 px (90 m) long
    for i in range(5):  # five cars of 8 x 8 px (5.76 m²)
        bands[1, 100:108, 20 + 30 * i:28 + 30 * i] = 220
    bands[1, 150:158, 20:28] = 100  # a sixth, below 0.5
    bands[1, 180, 250] = 250  # a speck under the 2 m² minimum area
    bands[2, 120:160, 200:250] = 254  # a pond of 2000 px (180 m²)
    return write_probabilities(tmp_path / "scene_probabilities.tif", bands)


def by_name(summary: Summary) -> dict[str, Any]:
    return {c.name: c for c in summary.classes}


def test_counts_areas_and_lengths_follow_the_roles(tmp_path: Path) -> None:
    data = read_summary_data(scene(tmp_path))
    assert data.decimation == 1 and data.metric
    found = by_name(summarize(data, {}, min_area_m2=2.0))
    assert found["car"].objects == 5 and found["car"].length is None
    assert found["pond"].area == pytest.approx(180.0) and found["pond"].objects is None
    assert found["lane"].area == pytest.approx(270.0)
    assert found["lane"].length == pytest.approx(90.0, rel=0.1)
    lower = by_name(summarize(data, {"car": 0.3}, min_area_m2=2.0))
    assert lower["car"].objects == 6
    assert by_name(summarize(data, {"car": 0.3}, min_area_m2=0.0))["car"].objects == 7
    lines = summarize(data, {}, min_area_m2=2.0).lines()
    assert lines == ["lane: 270 m², about 0.09 km long", "car: 5 objects", "pond: 180 m²"]


def test_areas_are_metric_on_a_geographic_grid(tmp_path: Path) -> None:
    """0.20 m x 0.30 m pixels at 49° N in EPSG:4326: 100 pixels are 6 m²."""
    geod = Geod(ellps="WGS84")
    lon, lat = 8.0, 49.0
    dlon = 1e-3 * 0.2 / geod.inv(lon, lat, lon + 1e-3, lat)[2]
    dlat = 1e-3 * 0.3 / geod.inv(lon, lat, lon, lat + 1e-3)[2]
    bands = np.zeros((3, 100, 100), np.uint8)
    bands[2, 40:50, 40:50] = 255
    path = write_probabilities(tmp_path / "geo_probabilities.tif", bands, "EPSG:4326",
                               from_origin(lon - 50 * dlon, lat + 50 * dlat, dlon, dlat))
    found = by_name(summarize(read_summary_data(path), {}))
    assert found["pond"].area == pytest.approx(6.0, rel=0.01)


def test_large_rasters_are_read_decimated_and_say_about(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unet_gis.app import summary

    monkeypatch.setattr(summary, "MAX_PIXELS", 150 * 100)
    data = read_summary_data(scene(tmp_path))
    assert data.decimation == 2 and data.probabilities.shape[1:] == (100, 150)
    found = summarize(data, {}, min_area_m2=2.0)
    assert by_name(found)["pond"].area == pytest.approx(180.0, rel=0.05)
    assert found.lines()[1] == "car: about 5 objects"


def test_summary_after_a_run_follows_the_sliders(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path) -> None:
    open_image(window, make_geotiff(random_rgb(160, 200, seed=4)))
    summaries: list[Summary] = []
    window.summary.updated.connect(summaries.append)
    results = run(qtbot, window, tiny_checkpoint)
    qtbot.waitUntil(lambda: bool(summaries), timeout=30_000)
    text = window.summary.text.text()
    assert "road: " in text and "m²" in text and "km long" in text
    assert "vehicle: " in text and "objects" in text
    road = next(r for r in results if r.class_name == "road")
    assert road.path == summaries[-1].path
    with rasterio.open(road.path) as dataset:  # a threshold inside this random model's range
        band = dataset.read(1)
    everything = int(band.min() / FULL_SCALE * 100)  # below every pixel: all road
    fewer = round(float(np.percentile(band, 65)) / FULL_SCALE * 100)

    def settle(value: int) -> dict[str, Any]:
        count = len(summaries)
        window.layers_panel.rows[road.id].slider.setValue(value)
        # counted off the GUI thread: the new summary can only arrive through the event
        # loop, so none has yet (asserting runner.running raced a worker that had finished)
        assert len(summaries) == count
        qtbot.waitUntil(lambda: len(summaries) > count and not window.summary.runner.running,
                        timeout=30_000)
        assert window.summary.last is not None
        return by_name(window.summary.last)

    middle = settle(everything)
    assert middle["road"].area == pytest.approx(160 * 200 * 0.09)
    assert middle["road"].length > 0
    higher = settle(max(fewer, everything + 1))
    assert higher["road"].area < middle["road"].area
    assert higher["vehicle"].objects == middle["vehicle"].objects  # its slider did not move


def test_an_opened_probability_raster_is_summarised(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    summaries: list[Summary] = []
    window.summary.updated.connect(summaries.append)
    path = scene(tmp_path)
    assert window.open_files([path]) == [path]
    qtbot.waitUntil(lambda: bool(summaries), timeout=30_000)
    assert window.summary.text.text().splitlines() == [
        "lane: 270 m², about 0.09 km long", "car: 5 objects", "pond: 180 m²"]
    for layer in list(window.stack):
        window.stack.remove(layer)
    assert window.summary.path is None and "after a run" in window.summary.text.text()
