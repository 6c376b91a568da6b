"""Overviews of the probability raster: GDAL's fast average where no pixel is nodata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.inference.output import BlockWriter
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.grid import build_overviews
from unet_gis.raster.probability import NODATA

from ..conftest import random_rgb


def _overviews(path: Path, shape: tuple[int, int]) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(out_shape=(src.count, *shape))


def test_a_run_without_nodata_gets_the_overviews_of_the_nodata_aware_average(
        make_geotiff, tmp_path: Path, tiny_model: LoadedModel) -> None:
    image = make_geotiff(random_rgb(300, 260, seed=5))
    out = predict(image, tmp_path / "p.tif", tiny_model,
                  EngineOptions(device="cpu", overviews=True)).output
    reference = tmp_path / "reference.tif"
    with rasterio.open(out) as src:
        profile = src.profile
        data = src.read()
        factors = src.overviews(1)
        assert src.nodata == NODATA and factors
        assert (data < NODATA).all()  # the fast path was allowed
    with rasterio.open(reference, "w", **profile) as dst:
        dst.write(data)
        build_overviews(dst, factors)  # GDAL's nodata-aware average
    for factor in factors:
        shape = (300 // factor, 260 // factor)
        assert np.array_equal(_overviews(out, shape), _overviews(reference, shape))


def test_the_fast_path_keeps_nodata_and_the_writer_knows_when_it_may_run(
        tmp_path: Path) -> None:
    profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "width": 64, "height": 64,
               "nodata": NODATA, "tiled": True, "blockxsize": 32, "blockysize": 32}
    with rasterio.open(tmp_path / "p.tif", "w", **profile) as dst:
        writer = BlockWriter(dst, Window(0, 0, 64, 64), None)
        writer.write(Window(0, 0, 32, 64), np.full((1, 64, 32), 200, np.uint8), None)
        assert not writer.wrote_nodata
        valid = np.ones((64, 32), bool)
        valid[:1] = False  # one row of nodata: each overview pixel of row 0 mixes
        writer.write(Window(32, 0, 32, 64), np.zeros((1, 64, 32), np.uint8), valid)
        assert writer.wrote_nodata
        build_overviews(dst, [2], Resampling.average, nodata_free=not writer.wrote_nodata)
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.nodata == NODATA
        overview = src.read(1, out_shape=(32, 32))
    # the 2 x 2 averages over (0, 0, nodata, nodata) stay 0 with nodata left out
    assert (overview[0, 16:] == 0).all() and (overview[:, :16] == 200).all()
