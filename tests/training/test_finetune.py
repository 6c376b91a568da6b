"""Fine-tuning on a user's labels: storage, masking, the loop, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.conftest import tiny_spec, write_geotiff
from unet_gis.errors import UserError
from unet_gis.model.checkpoint import load_checkpoint, save_checkpoint
from unet_gis.model.unet import build_unet
from unet_gis.training.finetune import FinetuneSettings, finetune, labelled_image
from unet_gis.training.labels import LabelSet, labels_path, load_labels, save_labels
from unet_gis.training.rasterize import IGNORE

UTM = CRS.from_epsg(32611)
X0, Y0, GSD = 600000.0, 4000000.0, 0.3
SIDE = 384
BANDS = (60, 180, 300)  # rows/cols of the roads' middles, 24 px wide


def _scene(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    image = rng.integers(20, 90, (3, SIDE, SIDE)).astype(np.uint8)
    for m in BANDS:
        image[:, m - 12:m + 12, :] = rng.integers(170, 230, (3, 24, SIDE))
        image[:, :, m - 12:m + 12] = rng.integers(170, 230, (3, SIDE, 24))
    return write_geotiff(folder / "town.tif", image, crs=UTM,
                         transform=from_origin(X0, Y0, GSD, GSD))


def _box(r0: int, r1: int, c0: int, c1: int) -> shapely.Polygon:
    return shapely.box(X0 + c0 * GSD, Y0 - r1 * GSD, X0 + c1 * GSD, Y0 - r0 * GSD)


def _labels(image: Path) -> Path:
    roads = [_box(m - 12, m + 12, 0, SIDE) for m in BANDS] + \
        [_box(0, SIDE, m - 12, m + 12) for m in BANDS]
    checked = [_box(0, 192, 0, 192), _box(0, 192, 192, 384), _box(192, 384, 0, 192),
               _box(192, 384, 192, 384), _box(120, 240, 120, 240)]
    return save_labels(labels_path(image), LabelSet(UTM, {"road": roads, "vehicle": []},
                                                    checked))


@pytest.fixture
def random_model(tmp_path: Path) -> Path:
    import torch

    torch.manual_seed(1)
    spec = tiny_spec()
    return save_checkpoint(tmp_path / "random.safetensors",
                           build_unet(3, 2, spec.architecture), spec)


def test_labels_round_trip_in_the_image_crs(tmp_path: Path) -> None:
    image = _scene(tmp_path)
    path = _labels(image)
    assert path == tmp_path / "town_labels.gpkg"
    loaded = load_labels(path, ("road", "vehicle"))
    assert loaded.crs == UTM and len(loaded.classes["road"]) == 6
    assert loaded.classes["vehicle"] == [] and len(loaded.checked) == 5
    assert not list(tmp_path.glob(".*"))  # the atomic save left no temporary
    with pytest.raises(UserError, match="does not know"):
        load_labels(path, ("building",))


def test_unknown_outside_checked_areas_and_held_out_never_trained(tmp_path: Path) -> None:
    image = _scene(tmp_path)
    labels = LabelSet(UTM, {"road": [_box(50, 70, 0, 384)]}, [_box(0, 100, 0, 200),
                                                             _box(200, 300, 0, 100)])
    item = labelled_image(image, labels, tiny_spec(), 0.2)
    road = item.train.labels[0]
    assert road[60, 300] == 1  # labelled outside a checked area: still a road
    assert road[10, 10] == 0  # checked, not labelled: background
    assert road[150, 300] == IGNORE  # neither: unknown
    assert (item.train.labels[:, 200:300, 0:100] == IGNORE).all()  # the kept-aside area
    assert (item.holdout.labels[:, 200:300, 0:100] == 0).all()
    assert (item.holdout.labels[:, :100, :] == IGNORE).all()
    with pytest.raises(UserError, match="outside"):
        far = LabelSet(UTM, {"road": [shapely.box(0, 0, 10, 10)]}, [shapely.box(0, 0, 5, 5)])
        labelled_image(image, far, tiny_spec(), 0.2)
    with pytest.raises(UserError, match="checked area"):
        labelled_image(image, LabelSet(UTM, {"road": [_box(50, 70, 0, 384)]}), tiny_spec(), 0.2)


@pytest.mark.slow
def test_finetune_raises_the_held_out_road_score(tmp_path: Path, random_model: Path) -> None:
    image = _scene(tmp_path)
    labels = _labels(image)
    out = tmp_path / "tuned.safetensors"
    settings = FinetuneSettings(minutes=60, max_steps=100, batch_size=4, crop=96, lr=3e-3,
                                device="cpu")
    result = finetune([(image, labels)], random_model, out, settings)
    assert result.steps == 100
    assert result.before["road"] < 0.6, result.before
    assert result.after["road"] > 0.85, result.after
    tuned = load_checkpoint(out)
    record = tuned.spec.training or {}
    assert record["kind"] == "finetune" and record["source_model"] == "random.safetensors"
    assert record["labels"][0]["labels"] == "town_labels.gpkg"
    assert record["after"]["road"] == result.after["road"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".unet-gis-finetune")]


def test_cli_guards_are_one_line(tmp_path: Path, random_model: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from unet_gis.cli.main import main

    image = _scene(tmp_path)
    code = main(["finetune", str(image), "--init", str(random_model), "-o",
                 str(tmp_path / "new.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "town_labels.gpkg does not exist" in err[0]
    _labels(image)
    code = main(["finetune", str(image), "--init", str(random_model), "-o",
                 str(random_model)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "already exists" in err[-1]


def test_importing_lines_buffers_them_to_the_road_width(tmp_path: Path) -> None:
    import geopandas as gpd

    from unet_gis.training.labels import import_labels

    line = shapely.LineString([(X0, Y0 - 30), (X0 + 100, Y0 - 30)])
    path = tmp_path / "streets.geojson"
    gpd.GeoDataFrame(geometry=[line], crs=UTM).to_file(path)
    (road,) = import_labels(path, "road", line_width_m=8.0, crs=UTM)
    assert road.geom_type == "Polygon"
    assert road.area == pytest.approx(100 * 8.0 + np.pi * 4**2, rel=0.01)  # 8 m, round caps
    with pytest.raises(UserError, match="no geometries"):
        empty = tmp_path / "empty.geojson"
        gpd.GeoDataFrame(geometry=[], crs=UTM).to_file(empty)
        import_labels(empty, "road", crs=UTM)
