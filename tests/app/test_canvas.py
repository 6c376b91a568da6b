"""Canvas pieces: view geometry, tiles from overviews, stretch/nodata, LRU, CRS alignment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.windows import Window

from tests.app.conftest import background_rgb, qimage_rgb
from tests.conftest import random_rgb
from unet_gis.app.canvas.render import PreviewRaster, load_image_tile, threshold_rgba
from unet_gis.app.canvas.sources import TILE, RasterSource, Stretch
from unet_gis.app.canvas.tiles import LruCache
from unet_gis.app.canvas.view import MapCanvas
from unet_gis.app.geo import ViewState, nice_length, scale_bar
from unet_gis.app.layers.model import ImageLayer, LayerStack
from unet_gis.app.workers import Throttle


def test_zoom_keeps_the_point_under_the_cursor() -> None:
    view = ViewState(100.0, 200.0, 2.0, 800, 600)
    before = view.to_world(123, 456)
    after = view.zoomed(1.7, 123, 456)
    assert after.to_world(123, 456) == pytest.approx(before)
    assert after.res == pytest.approx(2.0 / 1.7)
    panned = view.panned(10, -20)
    assert panned.to_world(110, 280) == pytest.approx(view.to_world(100, 300))


def test_fit_shows_the_whole_extent() -> None:
    view = ViewState(width=400, height=300).fitted((10, 20, 410, 120))
    minx, miny, maxx, maxy = view.bounds
    assert minx <= 10 and maxx >= 410 and miny <= 20 and maxy >= 120


def test_scale_bar_uses_round_lengths() -> None:
    assert nice_length(173) == 100 and nice_length(0.37) == pytest.approx(0.2)
    length, label = scale_bar(0.3, 0.3)
    assert label == "20 m" and length == pytest.approx(20 / 0.3)
    assert scale_bar(30.0, 30.0)[1] == "2 km"


def test_lru_cache_is_bounded_by_bytes() -> None:
    cache = LruCache(max_bytes=3000)
    for i in range(10):
        cache.put(i, np.zeros(1000, np.uint8))
    assert cache.bytes <= 3000 and len(cache) == 3
    assert cache.get(9) is not None and cache.get(0) is None


def test_throttle() -> None:
    throttle = Throttle(0.1)
    assert throttle.ready(0.0) and not throttle.ready(0.05) and throttle.ready(0.11)


def big_with_overviews(path: Path, size: int = 4096) -> Path:
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32611", "transform": from_origin(666000, 4012000, 0.3, 0.3),
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 1024):
            dst.write(np.full((3, 1024, size), row // 16, np.uint8),
                      window=Window(0, row, size, 1024))
        dst.build_overviews([2, 4, 8, 16], Resampling.average)
    return path


def test_zoomed_out_tiles_come_from_overviews(tmp_path: Path) -> None:
    source = RasterSource(big_with_overviews(tmp_path / "big.tif"))
    grid = source.display
    assert source.overviews == (2, 4, 8, 16)
    level = grid.level_for(0.3 * 16)
    assert level == 16
    tiles = grid.tiles(level, grid.bounds)
    assert tiles == [(0, 0)]  # 4096 px at 1/16 is one 256 px tile
    data, valid = source.read(level, 0, 0, [1, 2, 3], mask=True)
    assert data.shape == (3, 256, 256) and valid is None
    full = grid.tiles(1, grid.bounds)
    assert len(full) == (4096 // TILE) ** 2
    source.close()


def test_uint16_is_stretched_and_nodata_is_transparent(
        make_geotiff: Callable[..., Path]) -> None:
    data = np.zeros((3, 64, 64), np.uint16)
    data[:, :, :32] = 1000
    data[:, :, 32:] = 3000
    data[:, :8, :] = 0  # nodata
    source = RasterSource(make_geotiff(data, nodata=0))
    stretch = Stretch(source, (1, 2, 3))
    assert not stretch.identity
    rgba = load_image_tile(source, (1, 2, 3), stretch, 1, 0, 0)
    assert rgba.shape == (64, 64, 4)
    assert (rgba[:8, :, 3] == 0).all() and (rgba[8:, :, 3] == 255).all()
    assert rgba[20, 5, 0] < 30 and rgba[20, 50, 0] > 225  # 2-98 % stretch spans the range
    source.close()


def test_threshold_rgba_and_preview() -> None:
    probabilities = np.array([[0, 127, 128, 255]], np.uint8)
    rgba = threshold_rgba(probabilities, None, 128, (1, 2, 3))
    assert rgba[0, :, 3].tolist() == [0, 0, 255, 255]
    preview = PreviewRaster(3000, 1000, from_origin(0, 0, 1, 1), None, 2)
    assert preview.factor == 3 and preview.valid.shape == (334, 1000)
    block = np.full((2, 512, 512), 200, np.uint8)
    row, col, probs, ok = preview.sample(Window(513, 300, 512, 512), block, None)
    preview.apply(row, col, probs, ok)
    assert preview.valid.sum() == probs.shape[1] * probs.shape[2]
    assert (preview.probabilities[:, row, col] == 200).all()


def draw(qtbot: Any, canvas: MapCanvas) -> np.ndarray:
    qtbot.waitUntil(canvas.frame_ready, timeout=10000)
    return qimage_rgb(canvas.render_to_image())


def test_canvas_draws_pixels_one_to_one(qtbot: Any, make_geotiff: Callable[..., Path]) -> None:
    data = random_rgb(300, 400, seed=3)
    stack = LayerStack()
    canvas = MapCanvas(stack)
    qtbot.addWidget(canvas)
    canvas.resize(320, 240)
    canvas.show()
    source = RasterSource(make_geotiff(data))
    stack.add(ImageLayer(name="img", source=source), crs=source.crs)
    t = source.transform
    canvas.set_view(ViewState(t.c + 160 * t.a + 50 * t.a, t.f + 120 * t.e + 20 * t.e, t.a,
                              320, 240))
    shown = draw(qtbot, canvas)
    # screen pixel (x, y) is raster pixel (50 + x, 20 + y); the scale bar sits bottom-left
    expected = np.moveaxis(data[:, 20:20 + 200, 50:50 + 320], 0, -1)
    assert np.array_equal(shown[:200], expected)
    canvas.set_view(canvas.view.panned(1000, 0))  # nothing on screen any more
    assert (draw(qtbot, canvas)[:200] == background_rgb()).all()


def test_layers_in_different_crs_line_up(qtbot: Any, tmp_path: Path,
                                         make_geotiff: Callable[..., Path]) -> None:
    utm = make_geotiff(random_rgb(200, 200), name="utm.tif")
    with rasterio.open(utm) as src:
        from rasterio.vrt import WarpedVRT

        with WarpedVRT(src, crs="EPSG:4326") as vrt:
            profile = {"driver": "GTiff", "width": vrt.width, "height": vrt.height,
                       "count": 3, "dtype": "uint8", "crs": "EPSG:4326",
                       "transform": vrt.transform}
            with rasterio.open(tmp_path / "geo.tif", "w", **profile) as dst:
                dst.write(vrt.read())
    stack = LayerStack()
    first = ImageLayer(name="utm", source=RasterSource(utm))
    stack.add(first, crs=first.source.crs)
    second = ImageLayer(name="geo", source=RasterSource(tmp_path / "geo.tif"))
    stack.add(second, crs=second.source.crs)
    assert second.problem is None and second.source.warped
    a, b = first.bounds(), second.bounds()
    assert a is not None and b is not None
    assert np.allclose(a, b, atol=2 * 0.3)  # within two pixels, in metres
    bare = make_geotiff(random_rgb(20, 20), name="bare.tif", crs=None,
                        transform=rasterio.Affine.identity())
    third = ImageLayer(name="bare", source=RasterSource(bare))
    stack.add(third, crs=None)
    assert third.problem and "cannot be aligned" in third.problem
    canvas = MapCanvas(stack)
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    canvas.full_extent()
    shown = draw(qtbot, canvas)
    assert (shown != background_rgb()).any()
    for layer in list(stack):
        stack.remove(layer)


def test_choosing_bands_changes_the_composite(qtbot: Any,
                                              make_geotiff: Callable[..., Path]) -> None:
    data = random_rgb(120, 160, seed=11)
    stack = LayerStack()
    canvas = MapCanvas(stack)
    qtbot.addWidget(canvas)
    canvas.resize(240, 200)
    canvas.show()
    qtbot.waitExposed(canvas)
    source = RasterSource(make_geotiff(data))
    layer = ImageLayer(name="img", source=source)
    stack.add(layer, crs=source.crs)
    t = source.transform
    w, h = canvas.width(), canvas.height()
    canvas.set_view(ViewState(t.c + w / 2 * t.a, t.f + h / 2 * t.e, t.a, w, h))
    assert np.array_equal(draw(qtbot, canvas)[:100, :160, 0], data[0, :100])
    stack.update(layer, bands=(3, 2, 1))
    swapped = draw(qtbot, canvas)
    assert np.array_equal(swapped[:100, :160, 0], data[2, :100])
    assert np.array_equal(swapped[:100, :160, 2], data[0, :100])


def test_cursor_position_text() -> None:
    from rasterio.crs import CRS

    from unet_gis.app.geo import format_position

    text = format_position(CRS.from_epsg(32611), 666000.0, 4012000.0)
    assert "EPSG:32611" in text and "lat 36.2386" in text and "lon -115.1526" in text
    both = format_position(CRS.from_epsg(4326), -115.17, 36.24, CRS.from_epsg(32611))
    assert "layer: 664440.8, 4012121.3 (EPSG:32611)" in both
    assert format_position(None, 12.4, -7.6) == "col 12, row 8 (no CRS)"


def test_unreadable_tiles_do_not_stall_the_frame(qtbot: Any,
                                                 make_geotiff: Callable[..., Path]) -> None:
    stack = LayerStack()
    canvas = MapCanvas(stack)
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    path = make_geotiff(random_rgb(100, 100))
    source = RasterSource(path)
    stack.add(ImageLayer(name="img", source=source), crs=source.crs)
    reasons: list[str] = []
    canvas.loader.tileFailed.connect(reasons.append)
    path.write_bytes(b"gone")  # the file changes under the app's feet
    qtbot.waitUntil(canvas.frame_ready, timeout=10_000)
    assert reasons


def test_vector_polygons_are_filled_inside_only(qtbot: Any, tmp_path: Path) -> None:
    """Small polygons in degrees (1e-6 precision) fill their inside and nothing else."""
    import shapely
    from pyogrio.raw import write

    from unet_gis.app.layers.model import VectorLayer

    lon, lat, d = -115.17, 36.24, 2.7e-6  # one 0.3 m pixel, in degrees
    boxes = [shapely.box(lon + i * 40 * d, lat, lon + (i * 40 + 10) * d, lat + 10 * d)
             for i in range(5)]
    path = tmp_path / "cars.geojson"
    write(path, np.array([shapely.to_wkb(b) for b in boxes], dtype=object), field_data=[],
          fields=[], crs="EPSG:4326", geometry_type="Polygon", driver="GeoJSON")
    stack = LayerStack()
    canvas = MapCanvas(stack)
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    from rasterio.crs import CRS

    layer = VectorLayer(name="cars", path=path, color=(255, 0, 0))
    stack.add(layer, crs=CRS.from_epsg(4326))
    qtbot.waitUntil(canvas.frame_ready, timeout=10_000)
    w, h = canvas.width(), canvas.height()
    canvas.set_view(ViewState(lon + 100 * d, lat + 5 * d, d / 2, w, h))  # 2 px per pixel
    shown = draw(qtbot, canvas)
    red = (shown[..., 0] > 200) & (shown[..., 1] < 120)
    tinted = (shown != background_rgb()).any(axis=-1)
    x0, y0 = canvas.view.to_screen(lon + 2 * d, lat + 8 * d)  # inside the first box
    assert tinted[int(y0), int(x0)]
    below = canvas.view.to_screen(lon + 5 * d, lat - 20 * d)  # under it: nothing drawn
    column = tinted[int(below[1]):h - 40, int(below[0])]
    assert not column.any(), "fill leaks below the polygon"
    assert red.any()


def test_tiles_arriving_while_others_load_repaint_at_most_once_an_interval(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A paint per arriving tile kept the GUI thread busy during zooms; the last tile of a
    frame still repaints at once, so a complete frame is not delayed."""
    from unet_gis.app.canvas import view as view_module

    canvas = MapCanvas(LayerStack())
    qtbot.addWidget(canvas)
    canvas.resize(300, 200)
    canvas.show()
    qtbot.waitExposed(canvas)
    qtbot.waitUntil(lambda: canvas.frames > 0)
    monkeypatch.setattr(view_module, "REPAINT_INTERVAL_MS", 300)
    loading = {"busy": True}
    monkeypatch.setattr(type(canvas.loader), "busy", property(lambda _: loading["busy"]))
    canvas.repaint()
    before = canvas.frames
    for _ in range(10):  # ten tiles arrive, others still loading
        canvas.loader.changed.emit()
        qtbot.wait(5)
    assert canvas.frames == before  # none painted yet: the interval is not over
    qtbot.waitUntil(lambda: canvas.frames == before + 1, timeout=2000)  # then one paint
    qtbot.wait(350)
    assert canvas.frames == before + 1
    loading["busy"] = False  # the frame's last tile: painted at once
    canvas.loader.changed.emit()
    qtbot.waitUntil(lambda: canvas.frames == before + 2, timeout=100)


def test_tiles_are_premultiplied_argb_for_the_paint_engine() -> None:
    from PySide6.QtGui import QImage

    from unet_gis.app.canvas.tiles import rgba_to_qimage

    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (200, 100, 50, 255)
    rgba[1, 2] = (200, 100, 50, 0)  # transparent
    image = rgba_to_qimage(rgba)
    assert image.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert (image.width(), image.height()) == (3, 2)
    assert image.pixelColor(0, 0).getRgb() == (200, 100, 50, 255)
    assert image.pixelColor(2, 1).alpha() == 0
