"""``unet-gis vectorize`` and the flags shared with ``predict --vector``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from tests.vector.conftest import bar, write_probabilities
from unet_gis.cli.main import main
from unet_gis.cli.vectorize import add_vector_arguments, options_from_args
from unet_gis.vector.options import VectorizeOptions


def test_vectorize_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    road = bar(np.zeros((120, 760)), 50, 70, 46, 713)
    vehicle = bar(np.zeros_like(road), 10, 18, 10, 26)
    prob = write_probabilities(tmp_path / "p.tif", road, vehicle)
    assert main(["vectorize", str(prob), "-o", str(tmp_path / "out.shp"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 vehicles, road area 1,201 m², centerlines 0.20 km; wrote ")
    assert (tmp_path / "out_road_centerlines.shp").exists()
    assert main(["vectorize", str(prob), "-o", str(tmp_path / "out.shp"), "--quiet"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_bad_flags_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["vectorize", "p.tif", "-o", "o.gpkg", "--threshold", "road=2"])
    assert "CLASS=PROBABILITY" in capsys.readouterr().err
    assert main(["vectorize", str(tmp_path / "none.tif"), "-o", str(tmp_path / "o.gpkg")]) == 1
    assert "Cannot open" in capsys.readouterr().err


def test_shared_flags_build_options() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--overwrite", action="store_true")
    add_vector_arguments(parser)
    args = parser.parse_args(["--classes", "road", "--no-centerlines", "--points",
                              "--threshold", "road=0.4, vehicle=0.6", "--min-area", "5",
                              "--simplify", "0", "--format", "gpkg", "--overwrite",
                              "--workers", "3"])
    assert options_from_args(args) == VectorizeOptions(
        classes=("road",), centerlines=False, points=True,
        thresholds=(("road", 0.4), ("vehicle", 0.6)), min_area_m2=5.0, simplify_m=0.0,
        format="gpkg", overwrite=True, workers=3)
    # the command line picks the number of processes by itself
    assert options_from_args(parser.parse_args([])) == VectorizeOptions(workers=0)
