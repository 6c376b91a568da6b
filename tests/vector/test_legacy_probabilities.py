"""Probability rasters written before nodata (×255, scale 1/255, internal mask) still read
as they did: the full scale comes from the band scale, invalid pixels from the mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio

from tests.vector.conftest import write_probabilities
from unet_gis.app.summary import read_summary_data, summarize
from unet_gis.raster.probability import open_probability_raster, threshold_to_byte
from unet_gis.vector.vectorize import vectorize


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sure road, a road just below its 0.5 threshold and a sure road under nodata."""
    road = np.zeros((96, 128), np.float64)
    road[10:20, :] = 0.9
    road[40:50, :] = 0.497  # 127 of 255 (below 128), but 127 of 254 would be at 0.5
    road[70:80, :] = 0.9
    valid = np.ones(road.shape, bool)
    valid[60:90, :] = False
    return road, np.zeros_like(road), valid


@pytest.mark.parametrize("legacy", [True, False], ids=["scale-1/255-mask", "nodata"])
def test_old_and_new_rasters_threshold_and_score_alike(tmp_path: Path, legacy: bool) -> None:
    road, vehicle, valid = _scene()
    prob = write_probabilities(tmp_path / "p.tif", road, vehicle, valid=valid, legacy=legacy)
    with rasterio.open(prob) as src:
        assert (src.scales[0], src.nodata) == ((1 / 255, None) if legacy else (1 / 254, 255))
    dataset, info = open_probability_raster(prob)
    dataset.close()
    assert info.full_scale == (255 if legacy else 254)
    assert threshold_to_byte(0.5, info.full_scale) == (128 if legacy else 127)

    out = tmp_path / "v.gpkg"
    vectorize(prob, out)
    roads = pyogrio.read_dataframe(out, layer="p_roads")
    assert len(roads) == 1  # only the sure road: not the 0.497 one, not the one at nodata
    assert roads.geometry.iloc[0].bounds[3] - roads.geometry.iloc[0].bounds[1] == \
        pytest.approx(10 * 0.3, rel=0.05)
    assert roads["score"].iloc[0] == pytest.approx(0.9, abs=0.0025)

    mask = tmp_path / "m.tif"
    vectorize(prob, mask)
    with rasterio.open(mask) as src:
        ids = src.read(1)
    assert (ids[10:20] == 1).all() and (ids[40:50] == 0).all() and (ids[60:90] == 255).all()

    summary = summarize(read_summary_data(prob), {})
    road_area = next(c for c in summary.classes if c.name == "road").area
    assert road_area == pytest.approx(10 * 128 * 0.09)
