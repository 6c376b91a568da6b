"""Labels become the right pixels: buffered lines, YOLO boxes, masked classes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from shapely.geometry import LineString

from unet_gis.model.spec import default_spec
from unet_gis.training.config import SourceConfig
from unet_gis.training.losses import masked_bce_dice
from unet_gis.training.rasterize import IGNORE, POSITIVE, burn_boxes
from unet_gis.training.sources import build_scene_arrays

UTM = "EPSG:32611"


def _raster(path: Path, crs: str, transform: rasterio.Affine, size: int = 200) -> Path:
    data = np.full((3, size, size), 120, np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3,
                       dtype="uint8", crs=crs, transform=transform) as dst:
        dst.write(data)
    return path


def _band_width_px(mask: np.ndarray, axis: int) -> float:
    """Median width of a straight band across ``axis`` (0: rows per column)."""
    counts = mask.sum(axis=axis)
    middle = counts[len(counts) // 4: 3 * len(counts) // 4]
    return float(np.median(middle))


@pytest.mark.parametrize("crs", ["projected", "geographic"])
def test_centerline_buffered_2m_each_side_is_4m_wide(tmp_path: Path, crs: str) -> None:
    if crs == "projected":
        transform = from_origin(666000.0, 4012000.0, 0.3, 0.3)
        raster_crs = UTM
        px_m = 0.3
        mid_x = 666000.0 + 30.0
        line = LineString([(mid_x, 4012000.0 - 1), (mid_x, 4012000.0 - 59)])
        line_crs = UTM
    else:
        # 3.3e-6 degrees of longitude at 36.24 N is about 0.296 m
        transform = from_origin(-115.17, 36.24, 3.3e-6, 2.7e-6)
        raster_crs = "EPSG:4326"
        px_m = 3.3e-6 * 111_319.49 * np.cos(np.radians(36.2397))
        mid_x = -115.17 + 100 * 3.3e-6
        line = LineString([(mid_x, 36.24 - 2e-6), (mid_x, 36.24 - 199 * 2.7e-6)])
        line_crs = "EPSG:4326"
    image = _raster(tmp_path / "img.tif", raster_crs, transform)
    labels = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(geometry=[line], crs=line_crs).to_file(labels, driver="GeoJSON")
    source = SourceConfig(name="t", kind="vector", images=(image,), classes=("road",),
                          labels={"road": labels}, buffer_m={"road": 2.0})
    spec = default_spec()
    rgb, out = build_scene_arrays(source, image, spec)
    assert rgb.shape == (200, 200, 3)
    road = out[0] == POSITIVE
    width_m = _band_width_px(road, axis=1) * px_m
    assert abs(width_m - 4.0) <= px_m + 1e-6, width_m
    # the band is where the line is
    col = int(round((mid_x - transform.c) / transform.a))
    assert road[100, col - 1: col + 2].all()
    # vehicles are not labelled by this source: ignored everywhere
    assert (out[1] == IGNORE).all()


def test_solaris_reference_mask_matches(data_root: Path) -> None:
    """Our 2 m buffer of the SpaceNet PAN scene's centerlines matches solaris' 4 m mask."""
    folder = data_root / "spacenet3_vegas_roads" / "AOI_2_Vegas_pan_scene"
    image = folder / "road_mask_input.tif"
    source = SourceConfig(name="pan", kind="vector", images=(image,), classes=("road",),
                          labels={"road": folder / "sample_roads_for_masking.geojson"},
                          buffer_m={"road": 2.0})
    _, out = build_scene_arrays(source, image, default_spec())
    with rasterio.open(folder / "sample_road_raster_mask.tif") as src:
        reference = src.read(1) > 0
    ours = out[0] == POSITIVE
    iou = (ours & reference).sum() / (ours | reference).sum()
    assert iou > 0.85, iou


def test_yolo_boxes_land_on_the_right_pixels(tmp_path: Path) -> None:
    # a 200x100 px image at 0.15 m: at the model's 0.3 m it becomes 100x50
    from PIL import Image

    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(images / "a.png")
    # one box: x 40..100, y 20..60 in source pixels (class 0), one of an unmapped class 4
    (labels / "a.txt").write_text("0 0.35 0.4 0.3 0.4\n4 0.9 0.9 0.1 0.1\n")
    source = SourceConfig(name="y", kind="yolo", images=(images / "a.png",),
                          classes=("vehicle",), label_dir=labels, gsd_m=0.15,
                          yolo_classes={0: "vehicle"})
    rgb, out = build_scene_arrays(source, images / "a.png", default_spec())
    assert rgb.shape == (50, 100, 3)
    vehicle = out[1]
    rows, cols = np.nonzero(vehicle == POSITIVE)
    # at 0.3 m the box spans x 20..50, y 10..30; its inscribed ellipse is centred at (35, 20)
    assert rows.min() >= 10 and rows.max() < 30 and cols.min() >= 20 and cols.max() < 50
    assert abs(rows.mean() - 19.5) < 0.6 and abs(cols.mean() - 34.5) < 0.6
    assert vehicle[20, 35] == POSITIVE
    assert vehicle[10, 20] == IGNORE  # box corner: the rim is ignored
    assert vehicle[5, 5] == 0 and vehicle[45, 90] == 0  # unmapped class stays background
    assert (out[0] == IGNORE).all()  # roads are not labelled by a vehicle source


def test_burn_boxes_clamps_and_ignores_rim() -> None:
    out = burn_boxes([(-2.0, -2.0, 8.0, 8.0)], 20, 20)
    assert out[7, 0] == IGNORE and out[0, 0] == POSITIVE
    assert out[3, 3] == POSITIVE and out[15, 15] == 0
    assert out.shape == (20, 20)


def test_masked_class_contributes_no_loss() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 16, 16, requires_grad=True)
    targets = torch.zeros(2, 2, 16, 16, dtype=torch.uint8)
    targets[:, 0, 4:8] = 1
    targets[:, 1] = IGNORE  # the source does not label class 1
    targets[0, 0, :2] = IGNORE  # and some ignored pixels of class 0
    loss, per_class = masked_bce_dice(logits, targets, [2.0, 1.0])
    loss.backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[:, 1] == 0)
    assert torch.all(logits.grad[0, 0, :2] == 0)
    assert torch.any(logits.grad[:, 0] != 0)
    assert np.isnan(per_class[1])
    # changing the masked logits changes nothing
    other = logits.detach().clone()
    other[:, 1] = 50.0
    other[0, 0, :2] = -50.0
    again, _ = masked_bce_dice(other, targets, [2.0, 1.0])
    assert torch.isclose(again, loss.detach())


def test_background_beyond_marks_far_pixels_of_an_unlabelled_class(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    Image.fromarray(np.full((60, 60, 3), 90, np.uint8)).save(tmp_path / "img" / "a.png")
    mask = np.zeros((60, 60), np.uint8)
    mask[:, 5:8] = 255  # a road 3 m wide at 1 m
    Image.fromarray(mask).save(tmp_path / "mask" / "a.png")
    source = SourceConfig(name="m", kind="mask", images=(tmp_path / "img" / "a.png",),
                          classes=("road",), label_dir=tmp_path / "mask", gsd_m=1.0,
                          values={"road": (255,)}, background_beyond_m={"vehicle": 10.0})
    _, out = build_scene_arrays(source, tmp_path / "img" / "a.png", default_spec())
    assert out.shape == (2, 200, 200)  # 60 m at 0.3 m
    vehicle = out[1]
    # near the road (within 10 m) vehicles are unknown; beyond, they are background
    assert (vehicle[:, 20:40] == IGNORE).all()
    assert (vehicle[:, 100:] == 0).all()
