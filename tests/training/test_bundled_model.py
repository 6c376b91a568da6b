"""The bundled default model: loads, matches its spec, and finds the sample scene's roads.

The sample scene (SpaceNet AOI_2_Vegas_img0) was part of the model's training data (rows
above the watermark), so this checks the shipped file and the engine path, not
generalisation; MODEL_CARD.md gives the scores on held-out scenes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import load_checkpoint, read_metadata
from unet_gis.model.zoo import default_model_path
from unet_gis.raster.probability import FULL_SCALE, threshold_to_byte
from unet_gis.resources import resource_path
from unet_gis.training.metrics import pixel_scores, relaxed_scores
from unet_gis.training.rasterize import burn_geometries, read_label_geometries

# measured on the shipped weights: recall 0.90, relaxed F1 0.83, contrast 0.57 (road
# probability on labelled road pixels minus elsewhere); bounds leave a margin
MIN_ROAD_RECALL = 0.75
MIN_ROAD_RELAXED_F1 = 0.70
MIN_ROAD_CONTRAST = 0.40


@pytest.fixture(scope="module")
def model_path() -> Path:
    path = default_model_path()
    if not path.is_file():
        pytest.fail(f"the bundled model {path} is missing")
    return path


def test_bundled_model_loads_and_matches_its_spec(model_path: Path) -> None:
    assert model_path.stat().st_size <= 30 * 1024 * 1024
    model = load_checkpoint(model_path)  # checks every weight's shape against the spec
    spec = model.spec
    assert spec.class_names == ("road", "vehicle")
    assert spec.bands == ("red", "green", "blue")
    assert spec.gsd_m == pytest.approx(0.3)
    assert "CC-BY-SA-4.0" in spec.license
    head = dict(model.network.named_parameters())["head.weight"]
    assert head.shape[0] == len(spec.classes) and spec.training.get("epochs", 0) >= 1
    assert "unet_gis.training" in read_metadata(model_path)


@pytest.mark.slow
def test_bundled_model_finds_the_sample_roads(model_path: Path, tmp_path: Path) -> None:
    image = resource_path("samples", "spacenet_vegas_img0.tif")
    labels = resource_path("samples", "spacenet_vegas_img0_roads.geojson")
    model = load_checkpoint(model_path)
    out = tmp_path / "prob.tif"
    predict(image, out, model, EngineOptions(device="cpu", overviews=False))
    with rasterio.open(out) as src:
        road_prob = src.read(1)
        transform, crs = src.transform, src.crs
    shapes = read_label_geometries(labels, None, 2.0, crs)
    truth = burn_geometries(shapes, road_prob.shape[0], road_prob.shape[1], transform) > 0
    valid = np.ones_like(truth)
    valid[int(valid.shape[0] * 1150 / 1300):] = False  # the watermark rows
    pred = road_prob >= threshold_to_byte(0.5)
    recall = pixel_scores(pred, truth, valid).recall
    relaxed = relaxed_scores(pred, truth, 2.0, model.spec.gsd_m, valid)
    contrast = (road_prob[truth & valid].mean() - road_prob[~truth & valid].mean()) / FULL_SCALE
    assert recall >= MIN_ROAD_RECALL, recall
    assert relaxed.f1 >= MIN_ROAD_RELAXED_F1, relaxed.f1
    assert contrast >= MIN_ROAD_CONTRAST, contrast
