"""``--output-grid input``: the probability raster on the input's own pixel grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import MaskFlags
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject

from tests.conftest import write_geotiff
from unet_gis.errors import UserError
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.probability import NODATA


def _one_metre_scene(folder: Path, nodata_corner: bool = False) -> Path:
    """A 1 m scene (the model works at 0.3 m): a bright cross on a dark field."""
    data = np.full((3, 120, 150), 40, np.uint8)
    data[:, 50:60, :] = 220
    data[:, :, 70:80] = 220
    profile = {"transform": from_origin(600000.0, 4000000.0, 1.0, 1.0)}
    if nodata_corner:
        data[:, :30, :30] = 0
        profile["nodata"] = 0
    return write_geotiff(folder / "scene.tif", data, **profile)


@pytest.mark.parametrize("nodata_corner", [False, True])
def test_input_grid_matches_the_input_and_the_model_grid_resampled(
        tmp_path: Path, tiny_model: LoadedModel, nodata_corner: bool) -> None:
    scene = _one_metre_scene(tmp_path, nodata_corner)
    on_model = tmp_path / "model.tif"
    on_input = tmp_path / "input.tif"
    base = EngineOptions(device="cpu", overviews=True)
    predict(scene, on_model, tiny_model, base)
    predict(scene, on_input, tiny_model, EngineOptions(device="cpu", output_grid="input"))
    assert not list(tmp_path.glob(".*"))  # no temporary left behind
    with rasterio.open(scene) as src, rasterio.open(on_input) as out, \
            rasterio.open(on_model) as model_grid:
        assert (out.width, out.height) == (src.width, src.height)
        assert out.transform == src.transform and out.crs == src.crs
        assert model_grid.width == 500  # 150 m at 0.3 m
        assert out.tags() == model_grid.tags()
        assert out.scales == model_grid.scales and out.descriptions == model_grid.descriptions
        assert out.overviews(1) == [] or out.overviews(1)[0] == 2
        assert out.count == model_grid.count == 2 and out.nodata == NODATA
        assert all(flags == [MaskFlags.nodata] for flags in out.mask_flag_enums)
        # the same probabilities, averaged onto the 1 m pixels from valid pixels only
        expected = np.full((model_grid.count, src.height, src.width), NODATA, np.uint8)
        reproject(model_grid.read(), expected, src_transform=model_grid.transform,
                  src_crs=model_grid.crs, dst_transform=src.transform, dst_crs=src.crs,
                  resampling=Resampling.bilinear, src_nodata=NODATA, dst_nodata=NODATA)
        got = out.read()
        inner = (slice(None), slice(35, -5), slice(35, -5))  # away from nodata and borders
        assert np.abs(got[inner].astype(int) - expected[inner]).max() <= 2
        valid = out.dataset_mask() > 0
        assert (got[:, valid] < NODATA).all() and (got[:, ~valid] == NODATA).all()
        # next to the nodata corner too: no nodata value leaks into a probability
        both = valid & (expected[0] != NODATA)
        assert np.abs(got[:, both].astype(int) - expected[:, both]).max() <= 2
        if nodata_corner:
            assert not valid[:28, :28].any() and valid[35:, 35:].all()


def test_unknown_output_grid_is_a_user_error(tmp_path: Path, tiny_model: LoadedModel) -> None:
    scene = _one_metre_scene(tmp_path)
    with pytest.raises(UserError, match="output-grid"):
        predict(scene, tmp_path / "p.tif", tiny_model, EngineOptions(output_grid="native"))
