"""Label sources: colour masks, extra masks on other sources' images, ignored band edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from unet_gis.training.config import parse_config
from unet_gis.training.rasterize import IGNORE
from unet_gis.training.sources import build_scene_arrays
from unet_gis.training.train import make_spec

ROAD, LAND, UNLABELLED = (110, 193, 228), (132, 41, 246), (155, 155, 155)


def _spec():  # 0.3 m, like the bundled model
    return make_spec(("road", "vehicle"), 0.3, 4, 2, (0.5,) * 3, (0.25,) * 3)


def _write_tile(root: Path) -> None:
    """A Dubai-like tile: images/ and masks/ side by side, an RGB colour mask."""
    (root / "tile1" / "images").mkdir(parents=True)
    (root / "tile1" / "masks").mkdir()
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(root / "tile1/images/a.jpg")
    mask = np.zeros((40, 60, 3), np.uint8)
    mask[:] = LAND
    mask[10:20, :] = ROAD          # a 10-px (3 m) road band
    mask[:, 50:] = UNLABELLED      # ignore
    Image.fromarray(mask).save(root / "tile1/masks/a.png")


def test_colour_masks_beside_images_with_ignored_edges(tmp_path: Path) -> None:
    _write_tile(tmp_path)
    raw = {"sources": [{
        "name": "dubai", "kind": "mask", "images": ["tile*/images/*.jpg"],
        "labels": "../masks", "gsd_m": 0.3, "classes": ["road"],
        "colors": {"road": [list(ROAD)]}, "ignore_colors": [list(UNLABELLED)],
        "edge_ignore_m": {"road": [0.3, 0.6]}}]}
    config = parse_config(raw, tmp_path)
    source = config.sources[0]
    _, labels = build_scene_arrays(source, source.images[0], _spec())
    road = labels[0]
    assert labels.shape == (2, 40, 60)
    assert (labels[1] == IGNORE).all()                    # vehicles: not labelled
    assert (road[:, 50:] == IGNORE).all()                 # "Unlabeled" colour
    column = road[:, 25]
    assert (column[11:19] == 1).all()                     # band interior: road
    assert column[10] == IGNORE and column[19] == IGNORE  # 0.3 m inside the edge
    assert (column[8:10] == IGNORE).all() and (column[20:22] == IGNORE).all()  # 0.6 m out
    assert column[7] == 0 and column[22] == 0 and (column[:7] == 0).all()


def test_extra_masks_label_a_class_on_another_sources_images(tmp_path: Path) -> None:
    (tmp_path / "cars").mkdir()
    (tmp_path / "roads").mkdir()
    for name in ("f1", "f2"):
        Image.fromarray(np.full((30, 30, 3), 120, np.uint8)).save(tmp_path / f"cars/{name}.png")
        (tmp_path / f"cars/{name}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    road = np.zeros((30, 30), np.uint8)
    road[:, :10] = 1
    road[:, 10:12] = 255
    Image.fromarray(road).save(tmp_path / "roads/f1.png")  # only f1 has road labels
    raw = {"sources": [{
        "name": "cars", "kind": "yolo", "images": ["cars/*.png"], "labels": "cars",
        "gsd_m": 0.3, "classes": ["vehicle"], "yolo_classes": {"0": "vehicle"},
        "extra_masks": {"road": "roads"}}]}
    source = parse_config(raw, tmp_path).sources[0]
    with_roads = build_scene_arrays(source, source.images[0], _spec())[1]
    without = build_scene_arrays(source, source.images[1], _spec())[1]
    assert (with_roads[0][:, :10] == 1).all() and (with_roads[0][:, 10:12] == IGNORE).all()
    assert (with_roads[0][:, 12:] == 0).all()
    assert (without[0] == IGNORE).all()                  # no mask: roads stay unknown
    assert (with_roads[1] == 1).any() and (with_roads[1] == 0).any()  # vehicles as before


def test_percentile_scaling_stretches_training_images_as_the_engine_does(tmp_path: Path) -> None:
    """``[model] input_scaling = "percentile"``: a dull image is stretched between its own
    percentiles in training, and the engine scales the same file the same way."""
    import rasterio

    from unet_gis.raster.io import build_scaler, choose_bands

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(3)
    dull = rng.integers(100, 141, (50, 50, 3)).astype(np.uint8)   # a 40-level hazy image
    dull[..., 2] //= 2                                            # blue darker still
    Image.fromarray(dull).save(tmp_path / "images/a.png")
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "masks/a.png")
    source = {"name": "s", "kind": "mask", "images": ["images/*.png"], "labels": "masks",
              "gsd_m": 0.3, "classes": ["road"], "values": {"road": [255]}}
    config = parse_config({"model": {"input_scaling": "percentile"}, "sources": [source]},
                          tmp_path)
    assert config.model.input_scaling == "percentile"
    stretched_spec = make_spec(("road", "vehicle"), 0.3, 4, 2, (0.5,) * 3, (0.25,) * 3,
                               scaling_mode="percentile")
    rgb, _ = build_scene_arrays(config.sources[0], config.sources[0].images[0], stretched_spec)
    plain, _ = build_scene_arrays(config.sources[0], config.sources[0].images[0], _spec())
    assert (plain == dull).all()                                   # uint8 / 255: as is
    for band in range(3):                                          # 2-98 %: nearly 0-255
        assert np.percentile(rgb[..., band], 2) <= 8 and np.percentile(rgb[..., band], 98) >= 247
    with rasterio.open(tmp_path / "images/a.png") as dataset:
        scaler = build_scaler(dataset, choose_bands(dataset, stretched_spec), stretched_spec)
        engine = scaler(dataset.read())
    training = (rgb.transpose(2, 0, 1) / 255.0 - 0.5) / 0.25       # what the chips feed
    assert np.abs(engine - training).max() <= 1 / 255 / 0.25 + 1e-6  # one uint8 step


def test_unknown_input_scaling_is_a_one_line_error(tmp_path: Path) -> None:
    import pytest

    from unet_gis.errors import UserError

    with pytest.raises(UserError, match="input_scaling must be one of dtype_range, percentile"):
        parse_config({"model": {"input_scaling": "fixed"}, "sources": [{}]}, tmp_path)
