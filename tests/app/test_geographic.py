"""Geographic rasters keep their ground aspect on the canvas, with overlays aligned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyogrio.raw import write
from pyproj import Geod
from rasterio.transform import from_origin

from tests.app.conftest import qimage_rgb
from tests.app.test_summary import write_probabilities
from tests.conftest import write_geotiff
from unet_gis.app.geo import ViewState, ground_aspect
from unet_gis.app.layers.model import ImageLayer, ResultLayer, VectorLayer
from unet_gis.app.main_window import MainWindow

LON, LAT = 8.0, 49.0
COLS, ROWS = 600, 400  # 0.20 m x 0.30 m pixels: 120 m x 120 m on the ground
SQUARE = (50, 550, 33, 366)  # cols, rows of a 100 m x 100 m square (500 x 333 px)


def degrees_per_pixel() -> tuple[float, float]:
    geod = Geod(ellps="WGS84")
    dlon = 1e-3 * 0.20 / geod.inv(LON, LAT, LON + 1e-3, LAT)[2]
    dlat = 1e-3 * 0.30 / geod.inv(LON, LAT, LON, LAT + 1e-3)[2]
    return dlon, dlat


def box(image: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) screen pixels where ``image`` is true."""
    rows, cols = np.nonzero(image)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    dlon, dlat = degrees_per_pixel()
    transform = from_origin(LON, LAT + ROWS * dlat, dlon, dlat)
    c0, c1, r0, r1 = SQUARE
    data = np.zeros((3, ROWS, COLS), np.uint8)
    data[:, r0:r1, c0:c1] = 255
    image = write_geotiff(tmp_path / "geo.tif", data, crs="EPSG:4326", transform=transform)
    bands = np.zeros((3, ROWS, COLS), np.uint8)
    bands[2, r0:r1, c0:c1] = 255
    probabilities = write_probabilities(tmp_path / "geo_probabilities.tif", bands,
                                        "EPSG:4326", transform)
    left, top = transform * (c0, r0)
    right, bottom = transform * (c1, r1)
    square = shapely.box(left, bottom, right, top).exterior
    vector = tmp_path / "square.geojson"
    write(vector, np.array([shapely.to_wkb(square)], dtype=object), field_data=[], fields=[],
          crs="EPSG:4326", geometry_type="LineString", driver="GeoJSON")
    return {"image": image, "probabilities": probabilities, "vector": vector}


def test_ground_aspect_is_the_cosine_of_the_latitude() -> None:
    from rasterio.crs import CRS

    assert ground_aspect(CRS.from_epsg(4326), (7.9, 48.9, 8.1, 49.1)) == pytest.approx(
        np.cos(np.radians(49.0)))
    assert ground_aspect(CRS.from_epsg(32632), (0, 0, 10, 10)) == 1.0
    assert ground_aspect(None, (0, 0, 10, 10)) == 1.0
    view = ViewState(8.0, 49.0, 1e-5, 400, 300, aspect=0.5)
    assert view.to_world(*view.to_screen(8.001, 49.002)) == pytest.approx((8.001, 49.002))
    assert view.fitted((8.0, 49.0, 8.004, 49.001)).bounds[2] >= 8.004
    panned = view.panned(10, 0)
    assert panned.to_screen(8.0, 49.0)[0] == pytest.approx(view.to_screen(8.0, 49.0)[0] + 10)


def test_a_ground_square_looks_square_and_overlays_line_up(
        qtbot: Any, window: MainWindow, scene: dict[str, Path]) -> None:
    for name in ("image", "probabilities", "vector"):
        assert window.open_files([scene[name]]) == [scene[name]]
    canvas = window.canvas
    canvas.full_extent()
    assert canvas.view.aspect == pytest.approx(np.cos(np.radians(LAT)), abs=1e-3)

    def draw(*kinds: type) -> np.ndarray:
        for layer in window.stack:
            window.stack.update(layer, visible=isinstance(layer, kinds), opacity=1.0)
        qtbot.waitUntil(canvas.frame_ready, timeout=10_000)
        return qimage_rgb(canvas.render_to_image())

    shown = draw(ImageLayer)
    left, top, right, bottom = box((shown > 250).all(axis=-1))
    width, height = right - left, bottom - top
    assert width > 100 and height > 100
    assert width / height == pytest.approx(1.0, abs=0.02)  # 100 m x 100 m on the ground

    pond = next(lr for lr in window.stack if isinstance(lr, ResultLayer) and
                lr.class_name == "pond")
    overlay = draw(ResultLayer)
    coloured = (overlay == pond.color).all(axis=-1)
    assert box(coloured) == pytest.approx((left, top, right, bottom), abs=1)

    outline = draw(VectorLayer)
    vector = next(lr for lr in window.stack if isinstance(lr, VectorLayer))
    red = (np.abs(outline.astype(int) - vector.color).sum(axis=-1) < 60)
    assert box(red) == pytest.approx((left, top, right, bottom), abs=2)
