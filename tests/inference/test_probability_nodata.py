"""Invalid pixels of a probability raster are its nodata value, not a mask band.

QGIS's GDAL provider shows a GeoTIFF's per-dataset mask as an extra alpha band, so a
2-class raster with a mask opened in QGIS as 3 bands.  Probabilities are stored as
round(p * 254) with nodata 255 instead, by every backend and writer.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from shutil import which

import numpy as np
import pytest
import rasterio
import torch
from rasterio.enums import MaskFlags

from unet_gis.inference.backend import create_backend
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.probability import FULL_SCALE, NODATA, to_stored

from ..conftest import PROJECTED, random_rgb, tiny_spec


class Constant(torch.nn.Module):
    """Logits of +30 for every class: probability 1 as far as float32 can tell."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :2] * 0.0 + 30.0


def _masked_input(make_geotiff, tmp_path: Path,
                  kind: str) -> tuple[Path, EngineOptions, np.ndarray]:
    """A 160 x 130 scene with invalid pixels (nodata, alpha, or cores outside an AOI),
    the options to run it with and where the output must be invalid."""
    raw = random_rgb(160, 130, seed=3)
    options = EngineOptions(device="cpu", overviews=True)
    invalid = np.zeros((160, 130), bool)
    if kind == "nodata":
        raw[:, :, :40] = 0
        invalid[:, :40] = True
        return make_geotiff(raw, nodata=0), options, invalid
    if kind == "alpha":
        alpha = np.full((1, 160, 130), 255, np.uint8)
        alpha[:, :, :40] = 0
        invalid[:, :40] = True
        return make_geotiff(np.concatenate([raw, alpha]), photometric="RGB",
                            alpha="YES"), options, invalid
    import geopandas as gpd
    from shapely.geometry import Polygon

    from unet_gis.inference.aoi import Aoi

    x0, y0 = PROJECTED["transform"].c, PROJECTED["transform"].f
    # an L along the top and left edges: the 64-px cores it misses are nodata
    ell = Polygon([(x0, y0), (x0 + 39, y0), (x0 + 39, y0 - 6), (x0 + 6, y0 - 6),
                   (x0 + 6, y0 - 48), (x0, y0 - 48)])
    aoi = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame(geometry=[ell], crs=PROJECTED["crs"]).to_file(aoi)
    invalid[64:, 64:] = True
    return make_geotiff(raw), replace(options, aoi=Aoi.parse(str(aoi))), invalid


@pytest.mark.parametrize("kind", ["nodata", "alpha", "aoi"])
def test_masked_input_gives_one_band_per_class_and_nodata(
        make_geotiff, tmp_path: Path, tiny_model: LoadedModel, kind: str) -> None:
    image, options, invalid = _masked_input(make_geotiff, tmp_path, kind)
    out = tmp_path / "p.tif"
    predict(image, out, tiny_model, options)
    classes = len(tiny_model.spec.classes)
    with rasterio.open(out) as dst:
        assert (dst.height, dst.width) == invalid.shape
        assert dst.count == classes == 2
        assert dst.nodata == NODATA == 255
        assert dst.mask_flag_enums == tuple([MaskFlags.nodata] for _ in range(classes))
        assert dst.scales == (1 / 254,) * classes and dst.offsets == (0.0,) * classes
        data = dst.read()
        valid = dst.read_masks(1) > 0
        masked = dst.read(masked=True)
        assert dst.overviews(1) == [2]
        overview = dst.read(1, out_shape=(80, 65))  # from the overview
    np.testing.assert_array_equal(valid, ~invalid)
    assert (data[:, valid] < NODATA).all() and (data[:, ~valid] == NODATA).all()
    assert data[:, valid].max() > 0  # real probabilities, not an empty raster
    np.testing.assert_array_equal(masked.mask, np.broadcast_to(~valid, masked.shape))
    # the overview honours nodata: nodata where all is nodata, a probability elsewhere
    quads = invalid.reshape(80, 2, 65, 2)
    assert (overview[quads.all(axis=(1, 3))] == NODATA).all()
    assert (overview[~quads.any(axis=(1, 3))] < NODATA).all()
    if which("gdalinfo"):  # what QGIS's GDAL provider sees: no mask band at all
        info = subprocess.run(["gdalinfo", str(out)], capture_output=True, text=True,
                              check=True).stdout
        assert "PER_DATASET" not in info and "ALPHA" not in info
        assert info.count("NoData Value=255") == classes


@pytest.mark.parametrize(("backend", "tta"), [("torch", False), ("torch", True),
                                              ("onnx", False)])
def test_probability_one_is_stored_as_full_scale_by_every_backend(
        backend: str, tta: bool) -> None:
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    model = LoadedModel(Constant(), tiny_spec())
    runner = create_backend(model, "cpu", "fp32", 1, backend, tta)
    stored = runner.infer(np.zeros((2, 3, 64, 64), np.float32))
    assert stored.dtype == np.uint8 and stored.shape == (2, 2, 64, 64)
    assert (stored == FULL_SCALE).all()  # never the nodata value


def test_stored_values_round_to_the_full_scale() -> None:
    p = np.array([0.0, 0.4 / 254, 0.6 / 254, 0.5, 253.4 / 254, 1.0])
    expected = [0, 0, 1, 127, 253, 254]
    assert to_stored(p).astype(np.uint8).tolist() == expected
    assert to_stored(torch.from_numpy(p)).to(torch.uint8).tolist() == expected
