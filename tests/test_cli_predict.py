"""`unet-gis predict` / `info`: clear one-line errors, non-zero exit, nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from unet_gis.cli.main import main

from .conftest import random_rgb


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("unet-gis: error")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_predict_writes_probabilities_and_a_summary(capsys, make_geotiff, tiny_checkpoint,
                                                    outdir) -> None:
    image = make_geotiff(random_rgb(150, 170), name="scene.tif")
    code, out, _ = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint,
                           "--device", "cpu", "--quiet")
    assert code == 0
    assert "150x170" not in out and "170x150 px" in out and "CPU" in out
    with rasterio.open(outdir / "scene_probabilities.tif") as dst:
        assert dst.count == 2 and dst.dtypes == ("uint8", "uint8")


def test_info_describes_raster_and_model_reading(capsys, make_geotiff, tiny_checkpoint) -> None:
    image = make_geotiff(random_rgb(30, 40))
    code, out, _ = run_cli(capsys, "info", image, "--model", tiny_checkpoint)
    assert code == 0
    assert "40 x 30 px, 3 band(s)" in out
    assert "EPSG:32611" in out and "GSD 0.300 x 0.300 m" in out
    assert "model reads: bands 1,2,3 (red, green, blue); uint8 / 255" in out


def test_not_a_raster(capsys, tmp_path, tiny_checkpoint, outdir) -> None:
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    code, _, err = run_cli(capsys, "predict", text, "-o", outdir, "--model", tiny_checkpoint)
    assert_one_line_error(code, err, "notes.tif", "not a raster")
    assert list(outdir.iterdir()) == []


def test_truncated_tiff(capsys, make_geotiff, tiny_checkpoint, outdir) -> None:
    image = make_geotiff(random_rgb(512, 512), tiled=True, blockxsize=64, blockysize=64)
    data = image.read_bytes()
    image.write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint,
                           "--quiet")
    assert_one_line_error(code, err, image.name)
    assert list(outdir.iterdir()) == []


def test_zero_sized_file(capsys, tmp_path, tiny_checkpoint, outdir) -> None:
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    code, _, err = run_cli(capsys, "predict", empty, "-o", outdir, "--model", tiny_checkpoint)
    assert_one_line_error(code, err, "empty.tif")


def test_complex_dtype(capsys, make_geotiff, tiny_checkpoint, outdir) -> None:
    image = make_geotiff(np.ones((3, 20, 20), np.complex64))
    code, _, err = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint)
    assert_one_line_error(code, err, "complex")


def test_fewer_bands_than_the_model_needs(capsys, make_geotiff, tiny_checkpoint, outdir) -> None:
    image = make_geotiff(random_rgb(20, 20)[:2])
    code, _, err = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint)
    assert_one_line_error(code, err, "2 usable band(s)", "needs 3")


def test_missing_output_folder(capsys, make_geotiff, tiny_checkpoint, tmp_path) -> None:
    image = make_geotiff(random_rgb(20, 20))
    code, _, err = run_cli(capsys, "predict", image, "-o", tmp_path / "nope", "--model",
                           tiny_checkpoint)
    assert_one_line_error(code, err, "does not exist")


def test_unwritable_output_folder(capsys, make_geotiff, tiny_checkpoint, tmp_path,
                                  monkeypatch) -> None:
    image = make_geotiff(random_rgb(20, 20))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    real_access = os.access
    # CI runs as root, who may write anywhere: make the permission check see the mode bits
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked
                        else real_access(p, mode))
    code, _, err = run_cli(capsys, "predict", image, "-o", locked, "--model", tiny_checkpoint)
    assert_one_line_error(code, err, "not writable")


def test_output_equal_to_input_is_refused(capsys, make_geotiff, tiny_checkpoint,
                                          tmp_path) -> None:
    image = make_geotiff(random_rgb(20, 20), name="x_probabilities.tif")
    original = image.read_bytes()
    # predict x_probabilities.tif into its own folder would write x_probabilities_probabilities;
    # the clash comes from naming the output after an input explicitly:
    from unet_gis.errors import UserError
    from unet_gis.inference.engine import EngineOptions, predict
    from unet_gis.model.checkpoint import load_checkpoint

    with pytest.raises(UserError, match="is the input"):
        predict(image, image, load_checkpoint(tiny_checkpoint),
                EngineOptions(device="cpu", overwrite=True))
    assert image.read_bytes() == original


def test_model_that_is_not_safetensors(capsys, make_geotiff, tmp_path, outdir) -> None:
    image = make_geotiff(random_rgb(20, 20))
    model = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(1)}, model)
    code, _, err = run_cli(capsys, "predict", image, "-o", outdir, "--model", model)
    assert_one_line_error(code, err, "pickle")


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("unet-gis ")


def test_predict_with_vector_output_writes_layers(capsys, make_geotiff, tiny_checkpoint,
                                                  outdir) -> None:
    import geopandas as gpd
    import pyogrio

    image = make_geotiff(random_rgb(96, 96), name="scene.tif")
    code, out, _ = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint,
                           "--device", "cpu", "--quiet", "--vector", outdir / "layers.gpkg",
                           "--threshold", "road=0.0,vehicle=1.0")
    assert code == 0
    assert "0 vehicles" in out and "road area" in out
    layers = {name for name, _ in pyogrio.list_layers(outdir / "layers.gpkg")}
    assert {"scene_roads", "scene_vehicles"} <= layers  # named after the scene
    roads = gpd.read_file(outdir / "layers.gpkg", layer="scene_roads")
    # threshold 0: every pixel is road, 96 x 96 px at 0.3 m
    assert roads.geometry.area.sum() == pytest.approx(96 * 96 * 0.09, rel=1e-6)


def test_predict_with_vector_output_warns_once_about_resampling(
        capsys, caplog, make_geotiff, tiny_checkpoint, outdir) -> None:
    from rasterio.transform import from_origin

    image = make_geotiff(random_rgb(48, 48), name="coarse.tif",
                         transform=from_origin(666000.0, 4012000.0, 1.0, 1.0))
    code, _, err = run_cli(capsys, "predict", image, "-o", outdir, "--model",
                           tiny_checkpoint, "--device", "cpu", "--quiet", "--vector",
                           outdir / "layers.gpkg")
    assert code == 0
    # printed by the command, and not logged as well (the log goes to stderr too)
    logged = [r for r in caplog.records if "resampled" in r.getMessage()]
    assert err.count("resampled from 1.00 m") == 1 and not logged, (err, logged)


def test_gdal_virtual_paths_are_read_as_given(capsys, make_geotiff, tiny_checkpoint,
                                              tmp_path, outdir) -> None:
    import zipfile

    image = make_geotiff(random_rgb(80, 60), name="zipped.tif")
    archive = tmp_path / "scenes.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(image, "zipped.tif")
    image.unlink()
    virtual = f"/vsizip//{str(archive).lstrip('/')}/zipped.tif"  # the `//` must survive
    code, out, err = run_cli(capsys, "predict", virtual, "-o", outdir, "--model",
                             tiny_checkpoint, "--device", "cpu", "--quiet")
    assert code == 0, err
    with rasterio.open(outdir / "zipped_probabilities.tif") as dst:
        assert (dst.width, dst.height) == (60, 80)
        # the metadata names the input by its file name only (no folders of this machine)
        assert dst.tags()["UNET_GIS_SOURCE"] == "zipped.tif"


@pytest.mark.parametrize("halo", ["60", "61"])
def test_halo_that_gives_a_ragged_core_is_a_one_line_error(capsys, make_geotiff,
                                                           tiny_checkpoint, outdir,
                                                           halo: str) -> None:
    image = make_geotiff(random_rgb(64, 64))
    # a 1024-pixel tile with halo 60 has a 904-pixel core: not whole 16-pixel blocks
    code, _, err = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint,
                           "--tile", "1024", "--halo", halo, "--quiet")
    assert_one_line_error(code, err, f"Halo {halo}", "multiple of 16", "56 or 64")
    assert list(outdir.iterdir()) == []


def test_precision_is_chosen_and_recorded(capsys, make_geotiff, tiny_checkpoint,
                                          outdir) -> None:
    image = make_geotiff(random_rgb(64, 64), name="p.tif")
    code, out, _ = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint,
                           "--device", "cpu", "--precision", "fp32", "--quiet")
    assert code == 0 and "fp32 (requested), channels_last" in out
    with rasterio.open(outdir / "p_probabilities.tif") as dst:
        assert "fp32" in dst.tags()["UNET_GIS_DEVICE"]


@pytest.mark.parametrize("tta", [False, True])
def test_test_time_augmentation_is_said_and_recorded(capsys, make_geotiff, tiny_checkpoint,
                                                     outdir, tta: bool) -> None:
    image = make_geotiff(random_rgb(64, 64), name="t.tif")
    code, out, _ = run_cli(capsys, "predict", image, "-o", outdir, "--model", tiny_checkpoint,
                           "--device", "cpu", "--precision", "fp32", "--quiet",
                           *(["--tta"] if tta else []))
    assert code == 0 and ("test-time augmentation" in out) == tta
    with rasterio.open(outdir / "t_probabilities.tif") as dst:
        assert ("test-time augmentation" in dst.tags()["UNET_GIS_DEVICE"]) == tta
