"""`unet-gis train` and `unet-gis evaluate` end to end on tiny generated sources."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from shapely.geometry import LineString

from unet_gis.cli.main import main
from unet_gis.model.checkpoint import load_checkpoint
from unet_gis.raster.probability import FULL_SCALE
from unet_gis.training.config import load_config
from unet_gis.training.train import epoch_path, state_path

from .conftest import synthetic_scene


def _write_sources(root: Path) -> None:
    # a georeferenced raster (UTM, 0.3 m) with one road centerline
    image, _ = synthetic_scene(128, 3)
    image[60:74] = 40
    transform = from_origin(666000.0, 4012000.0, 0.3, 0.3)
    with rasterio.open(root / "scene.tif", "w", driver="GTiff", width=128, height=128,
                       count=3, dtype="uint8", crs="EPSG:32611", transform=transform) as dst:
        dst.write(image.transpose(2, 0, 1))
    y = 4012000.0 - 67 * 0.3
    line = LineString([(666000.0, y), (666000.0 + 128 * 0.3, y)])
    gpd.GeoDataFrame(geometry=[line], crs="EPSG:32611").to_file(root / "roads.geojson",
                                                                driver="GeoJSON")
    # plain images at 0.15 m with YOLO boxes, and at 0.6 m with masks
    (root / "cars").mkdir()
    (root / "masks").mkdir()
    (root / "plain").mkdir()
    for n in range(2):
        image, labels = synthetic_scene(192, 10 + n)
        Image.fromarray(image).save(root / "cars" / f"car{n}.png")
        from scipy import ndimage

        objects, count = ndimage.label(labels[1])
        lines = []
        for sl in ndimage.find_objects(objects):
            r, c = sl
            lines.append(f"0 {(c.start + c.stop) / 2 / 192} {(r.start + r.stop) / 2 / 192} "
                         f"{(c.stop - c.start) / 192} {(r.stop - r.start) / 192}")
        (root / "cars" / f"car{n}.txt").write_text("\n".join(lines) + "\n")
        Image.fromarray(image).save(root / "plain" / f"p{n}.png")
        Image.fromarray(labels[0] * 255).save(root / "masks" / f"p{n}.png")


CONFIG = """
data_root = "."
[model]
classes = ["road", "vehicle"]
gsd_m = 0.3
base_width = 4
depth = 2
tile = 128
halo = 32
[training]
epochs = 1
steps_per_epoch = 2
batch_size = 2
crop = 32
val_chips = 2
val_crop = 32
cache_dir = "{cache}"
class_balance = {{ road = 0.4, vehicle = 0.4 }}
[[sources]]
name = "geo"
kind = "vector"
images = ["scene.tif"]
labels = {{ road = "roads.geojson" }}
buffer_m = {{ road = 2.0 }}
classes = ["road"]
[[sources]]
name = "cars"
kind = "yolo"
images = ["cars/*.png"]
labels = "cars"
gsd_m = 0.15
classes = ["vehicle"]
yolo_classes = {{ 0 = "vehicle" }}
val_patterns = ["car1.png"]
[[sources]]
name = "plain"
kind = "mask"
images = ["plain/*.png"]
labels = "masks"
gsd_m = 0.6
classes = ["road"]
values = {{ road = [255] }}
split = "val"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    _write_sources(tmp_path)
    path = tmp_path / "train.toml"
    path.write_text(CONFIG.format(cache=(tmp_path / "cache").as_posix()))
    return path


def test_config_splits_and_errors(config_file: Path, tmp_path: Path) -> None:
    config = load_config(config_file)
    cars = next(s for s in config.sources if s.name == "cars")
    assert [cars.split_of(p) for p in cars.images] == ["train", "val"]
    bad = tmp_path / "bad.toml"
    bad.write_text(config_file.read_text().replace('kind = "yolo"', 'kind = "boxes"'))
    from unet_gis.errors import UserError

    with pytest.raises(UserError, match="kind must be"):
        load_config(bad)


def test_train_resume_and_evaluate(config_file: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.safetensors"
    log = tmp_path / "no" / "such" / "folder" / "train.log"  # created, not a traceback
    assert main(["train", str(config_file), "-o", str(out), "--device", "cpu",
                 "--precision", "fp32", "--log", str(log)]) == 0
    assert "training on CPU" in log.read_text() and "fp32" in log.read_text()
    assert out.is_file() and state_path(out).is_file() and epoch_path(out, 1).is_file()
    first = load_checkpoint(out).spec.training
    assert first["epochs"] == 1 and "data_sha256" in first and first["config_sha256"]
    assert any(k.endswith("scene.tif") for k in first["data_sha256"])
    # resume: one more epoch continues the step count and the history
    assert main(["train", str(config_file), "-o", str(out), "--epochs", "2",
                 "--resume", str(out)]) == 0
    second = load_checkpoint(out).spec.training
    assert second["epochs"] == 2 and second["steps"] == 4 and len(second["history"]) == 2
    assert second["history"][0] == first["history"][0]

    report = tmp_path / "report.json"
    assert main(["evaluate", str(out), str(config_file), "--json", str(report)]) == 0
    text = capsys.readouterr().out
    assert "road" in text and "vehicle" in text
    scores = json.loads(report.read_text())
    assert set(scores["classes"]) == {"road", "vehicle"}
    assert "relaxed" in scores["classes"]["road"]
    assert "objects" in scores["classes"]["vehicle"]
    assert {s["source"] for s in scores["scenes"]} == {"cars", "plain"}

    # IMAGE LABELS mode with a vector file
    single = tmp_path / "single.json"
    assert main(["evaluate", str(out), str(tmp_path / "scene.tif"),
                 str(tmp_path / "roads.geojson"), "--json", str(single)]) == 0
    one = json.loads(single.read_text())
    assert one["classes"]["road"]["pixel"]["tp"] + one["classes"]["road"]["pixel"]["fn"] > 0


def test_a_leg_may_change_the_input_scaling(config_file: Path, tmp_path: Path) -> None:
    """``--init`` from a model scaled by dtype range with a config that asks for percentile
    scaling: the new model scales per image (as its config says), keeps the start's
    per-band mean and std and its weights' shapes."""
    first = tmp_path / "first.safetensors"
    assert main(["train", str(config_file), "-o", str(first), "--device", "cpu",
                 "--precision", "fp32"]) == 0
    start = load_checkpoint(first).spec.scaling
    assert start.mode == "dtype_range"
    stretched = tmp_path / "percentile.toml"
    stretched.write_text(config_file.read_text().replace(
        "tile = 128", 'tile = 128\ninput_scaling = "percentile"'))
    leg = tmp_path / "leg.safetensors"
    assert main(["train", str(stretched), "-o", str(leg), "--device", "cpu",
                 "--precision", "fp32", "--init", str(first)]) == 0
    scaling = load_checkpoint(leg).spec.scaling
    assert scaling.mode == "percentile"
    assert scaling.mean == start.mean and scaling.std == start.std


def test_evaluate_scores_a_perfect_prediction(tmp_path: Path) -> None:
    """The comparison itself is right: labels scored against themselves are perfect."""
    from unet_gis.training.evaluate import score_class

    labels = np.zeros((50, 50), np.uint8)
    labels[20:26, 10:25] = 1
    labels[:, :3] = 255
    prob = (labels == 1).astype(np.uint8) * FULL_SCALE
    result = score_class(prob, labels, 0.5, 0.3, True, True, 2.0)
    assert result is not None
    assert result.pixel.iou == 1.0 and result.relaxed is not None and result.relaxed.f1 == 1.0
    assert result.objects is not None and result.objects.f1 == 1.0
