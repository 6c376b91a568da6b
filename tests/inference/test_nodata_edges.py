"""No false roads along no-data wedges: the bundled sample warped to UTM, as a GIS user's
reprojected orthophoto, gets no road where the wedges begin that the unwarped scene lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rasterio.windows import Window
from scipy import ndimage

from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel, load_checkpoint
from unet_gis.model.zoo import default_model_path
from unet_gis.raster.io import fill_nodata
from unet_gis.raster.probability import threshold_to_byte

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / \
    "spacenet_vegas_img0.tif"


def test_fill_mirrors_across_the_edge_and_fades_to_the_mean() -> None:
    image = np.tile(np.arange(40, dtype=np.float32) / 10, (3, 40, 1))  # rising to the right
    valid = np.ones((40, 40), bool)
    valid[:, 30:] = False                      # a no-data strip on the right
    filled = fill_nodata(image, valid)
    assert np.array_equal(filled[:, valid], image[:, valid])
    # mirrored across the edge (column 30 -> 28, 31 -> 27), fading with the distance
    assert filled[0, 5, 30] == pytest.approx(2.8 * np.exp(-1 / 32), rel=1e-5)
    assert filled[0, 5, 31] == pytest.approx(2.7 * np.exp(-2 / 32), rel=1e-5)
    assert np.all(fill_nodata(image, np.zeros((40, 40), bool)) == 0)


def _crop_and_warp(folder: Path) -> tuple[Path, Path]:
    """The sample's top-left 700² (a street along the top edge), and that crop warped from
    lon/lat to UTM 11N with an alpha band: thin no-data wedges along every side."""
    crop, warped = folder / "crop.tif", folder / "warped.tif"
    with rasterio.open(SAMPLE) as src:
        window = Window(0, 0, 700, 700)
        profile = src.profile | {"width": 700, "height": 700,
                                 "transform": src.window_transform(window)}
        with rasterio.open(crop, "w", **profile) as dst:
            dst.write(src.read(window=window))
    with rasterio.open(crop) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:32611", src.width, src.height, *src.bounds, resolution=0.3)
        profile = src.profile | {"crs": "EPSG:32611", "transform": transform,
                                 "width": width, "height": height}
        with rasterio.open(warped, "w", **profile) as dst:
            for band in range(1, src.count + 1):  # the alpha band warps to 0 outside
                reproject(rasterio.band(src, band), rasterio.band(dst, band),
                          resampling=Resampling.bilinear)
    return crop, warped


@pytest.mark.slow
def test_no_false_roads_along_no_data_wedges(tmp_path: Path) -> None:
    model: LoadedModel = load_checkpoint(default_model_path())
    crop, warped = _crop_and_warp(tmp_path)
    options = EngineOptions(device="cpu", overviews=False)
    predict(crop, tmp_path / "crop_p.tif", model, options)
    predict(warped, tmp_path / "warped_p.tif", model, options)
    with rasterio.open(tmp_path / "warped_p.tif") as w, \
            rasterio.open(tmp_path / "crop_p.tif") as c:
        valid = w.dataset_mask() > 0
        assert 0.01 < (~valid).mean() < 0.2  # there are wedges
        road_warped = w.read(1)
        road_unwarped = np.zeros_like(road_warped)
        reproject(c.read(1), road_unwarped, src_transform=c.transform, src_crs=c.crs,
                  dst_transform=w.transform, dst_crs=w.crs, resampling=Resampling.nearest)
    level = threshold_to_byte(model.spec.classes[0].threshold)
    near_wedge = valid & (ndimage.distance_transform_edt(valid) <= 2.0 / 0.3)  # 2 m
    # road the unwarped scene has nowhere near (3 m): a road that runs into the wedge may
    # come out a little wider at its end, but no new road may appear along the wedge
    far_from_road = ndimage.distance_transform_edt(road_unwarped < level) > 3.0 / 0.3
    false = (road_warped >= level) & far_from_road & near_wedge
    labels, count = ndimage.label(false)
    largest = max(ndimage.sum(false, labels, range(1, count + 1)), default=0)
    # a flat fill gave 2,036 such pixels here, in pieces up to 939 px (85 m²) along the
    # top wedge; the mirrored fill 75
    assert false.sum() < 150, false.sum()
    assert largest < 100, largest  # no piece over 9 m²: nothing longer than a few metres
