"""Odd inputs and bad numbers: a clear one-line error, or a right answer with a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from unet_gis.cli.main import main
from unet_gis.errors import UserError
from unet_gis.training.config import parse_config

from ..conftest import random_rgb, write_geotiff


def _one_error_line(capsys, *args: str) -> tuple[int, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.startswith("unet-gis: error")]
    assert len(err) == 1, err
    return code, err[0]


def test_float_raster_with_nan_and_no_nodata(tmp_path: Path, tiny_checkpoint: Path,
                                             capsys) -> None:
    data = random_rgb(96, 128, seed=2).astype(np.float32) * 7.0
    data[:, 10:40, 20:60] = np.nan          # 5 %+ of the scene
    data[1, 70, 5] = np.inf
    image = write_geotiff(tmp_path / "float.tif", data)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["predict", str(image), "-o", str(out), "--model", str(tiny_checkpoint),
                 "--quiet", "--device", "cpu"]) == 0
    assert "NaN or infinite pixels" in capsys.readouterr().err
    with rasterio.open(out / "float_probabilities.tif") as dst:
        valid = dst.read_masks(1) > 0
        values = dst.read()
    assert not valid[10:40, 20:60].any() and not valid[70, 5]
    assert valid.mean() > 0.85
    inside = values[:, valid]
    assert inside.std() > 0  # real probabilities, not an all-zero raster


@pytest.mark.parametrize("args, fragment", [
    (["--batch-size", "-3"], "--batch-size"),
    (["--batch-size", "0"], "--batch-size"),
    (["--tile", "nan"], "--tile"),
    (["--aoi", "nan,1,2,3"], "finite"),
])
def test_predict_numbers_are_checked(capsys, tmp_path: Path, tiny_checkpoint: Path,
                                     args: list[str], fragment: str) -> None:
    image = write_geotiff(tmp_path / "s.tif", random_rgb(32, 32))
    code, line = _one_error_line(capsys, "predict", image, "-o", tmp_path, "--model",
                                 tiny_checkpoint, *args)
    assert code != 0 and fragment in line


def test_vectorize_numbers_are_checked(capsys, tmp_path: Path) -> None:
    code, line = _one_error_line(capsys, "vectorize", tmp_path / "p.tif", "-o",
                                 tmp_path / "v.gpkg", "--min-area", "nan")
    assert code == 2 and "--min-area" in line and "finite" in line


def test_output_folder_that_is_a_file(capsys, tmp_path: Path, tiny_checkpoint: Path) -> None:
    image = write_geotiff(tmp_path / "s.tif", random_rgb(32, 32))
    code, line = _one_error_line(capsys, "predict", image, "-o", image, "--model",
                                 tiny_checkpoint)
    assert code == 1 and "is a file" in line


def test_misspelt_config_section_is_an_error(tmp_path: Path) -> None:
    raw = {"trainig": {"epochs": 3}, "sources": []}
    with pytest.raises(UserError, match="Unknown section.*trainig"):
        parse_config(raw, tmp_path)


def test_evaluate_json_folder_is_checked_first(capsys, tmp_path: Path) -> None:
    code, line = _one_error_line(capsys, "evaluate", "default", tmp_path / "cfg.toml",
                                 "--json", tmp_path / "no" / "such" / "s.json")
    assert code == 1 and "does not exist" in line and "--json" in line


def test_every_command_keeps_gdal_virtual_paths() -> None:
    from unet_gis.cli.main import build_parser

    url = "/vsicurl/http://example.com/scene.tif"
    for args in (["info", url], ["predict", url, "-o", "."]):
        parsed = build_parser().parse_args(args)
        value = parsed.image if args[0] == "info" else parsed.images[0]
        assert str(value) == url  # not Path's "/vsicurl/http:/example.com/…"


def test_truncated_tiff_is_one_line_without_gdal_chatter(tmp_path: Path) -> None:
    import subprocess
    import sys

    from rasterio.transform import from_origin

    big = tmp_path / "big.tif"
    with rasterio.open(big, "w", driver="GTiff", width=100_000, height=100_000, count=3,
                       dtype="uint8", tiled=True, sparse_ok=True, crs="EPSG:32611",
                       transform=from_origin(0, 0, 0.3, 0.3)):
        pass
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(big.read_bytes()[:4000])
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "unet_gis", "predict", str(truncated), "-o",
                           str(out), "--aoi", "0,0,10,10"], capture_output=True, text=True,
                          timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("unet-gis: error: "), done.stderr
    assert list(out.iterdir()) == []


def test_evaluate_warns_when_labels_miss_the_image(capsys, tmp_path: Path,
                                                  tiny_checkpoint: Path) -> None:
    import json as json_module

    image = write_geotiff(tmp_path / "scene.tif", random_rgb(64, 64))
    far_away = tmp_path / "roads.geojson"  # a road 1000 km away from the image
    far_away.write_text(json_module.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {
            "type": "LineString", "coordinates": [[-100.0, 45.0], [-100.0, 45.01]]}}],
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}}))
    assert main(["evaluate", str(tiny_checkpoint), str(image), str(far_away),
                 "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "labels mark no road inside the image" in err
