"""Formats, round trips, empty layers, and every kind of bad input or interruption."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio

from tests.vector.conftest import MakeRaster, bar, write_probabilities
from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.progress import CancelToken, Progress
from unet_gis.vector.options import VectorizeOptions
from unet_gis.vector.vectorize import vectorize

FIELDS = {"vehicles": ["class", "area_m2", "score"], "roads": ["class", "area_m2", "score"],
          "road_centerlines": ["class", "length_m", "score"],
          "vehicle_points": ["class", "area_m2", "score"]}
TYPES = {"vehicles": "Polygon", "roads": "Polygon", "road_centerlines": "LineString",
         "vehicle_points": "Point"}


def _scene(make_raster: MakeRaster) -> Path:
    road = np.zeros((200, 400))
    bar(road, 90, 110, 20, 380)
    bar(road, 20, 180, 190, 210)
    vehicle = np.zeros_like(road)
    bar(vehicle, 30, 38, 30, 46)
    bar(vehicle, 140, 148, 300, 316)
    return make_raster(road, vehicle)


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "geojson"])
def test_round_trip(make_raster: MakeRaster, fmt: str, crs_case: tuple[str, object]) -> None:
    prob = _scene(make_raster)
    out = prob.with_name(f"out.{fmt}")
    summary = vectorize(prob, out, VectorizeOptions(points=True))
    assert summary.vehicles == 2 and summary.features["road_centerlines"] == 4
    expected_epsg = 4326 if fmt == "geojson" else int(crs_case[0].split(":")[1])
    if fmt == "gpkg":
        assert summary.outputs == (out,)
        assert sorted(pyogrio.list_layers(out)[:, 0]) == sorted(FIELDS)
        sources = {name: (out, name) for name in FIELDS}
    else:
        sources = {name: (out.with_name(f"out_{name}.{fmt}"), None) for name in FIELDS}
        assert sorted(summary.outputs) == sorted(path for path, _ in sources.values())
    for name, (path, layer) in sources.items():
        frame = gpd.read_file(path, layer=layer)
        assert frame.crs.to_epsg() == expected_epsg
        assert list(frame.columns) == [*FIELDS[name], "geometry"]
        assert set(frame.geom_type) == {TYPES[name]}
        assert len(frame) == summary.features[name]
        assert frame.is_valid.all()
        if fmt == "shp":
            assert path.with_suffix(".prj").exists()
            assert path.with_suffix(".cpg").read_text().strip() == "UTF-8"
    assert not [p for p in prob.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["shp", "gpkg"])
def test_empty_result_writes_empty_layers_with_schema(tmp_path: Path, fmt: str) -> None:
    prob = write_probabilities(tmp_path / "p.tif", np.zeros((100, 100)))
    out = tmp_path / f"out.{fmt}"
    summary = vectorize(prob, out)
    assert summary.vehicles == 0 and summary.road_area_m2 == 0 and summary.centerline_km == 0
    assert any("'road'" in m and "empty" in m for m in summary.messages)
    assert any("'vehicle'" in m for m in summary.messages)
    for name in ("vehicles", "roads", "road_centerlines"):
        path, layer = (out, name) if fmt == "gpkg" else (tmp_path / f"out_{name}.shp", None)
        info = pyogrio.read_info(path, layer=layer)
        assert info["features"] == 0
        assert list(info["fields"]) == FIELDS[name]
        assert info["geometry_type"] == TYPES[name]


def test_existing_output_is_refused_before_any_work(tmp_path: Path) -> None:
    prob = write_probabilities(tmp_path / "p.tif", bar(np.zeros((50, 50)), 10, 30, 5, 45))
    existing = tmp_path / "out_roads.dbf"
    existing.write_text("precious")
    with pytest.raises(UserError, match="already exists"):
        vectorize(prob, tmp_path / "out.shp")
    assert existing.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_roads.dbf", "p.tif"]
    vectorize(prob, tmp_path / "out.shp", VectorizeOptions(overwrite=True))
    assert len(gpd.read_file(tmp_path / "out_roads.shp")) == 1


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "tif"])
def test_cancel_leaves_nothing(tmp_path: Path, fmt: str) -> None:
    road = bar(np.zeros((300, 300)), 100, 120, 0, 300)
    prob = write_probabilities(tmp_path / "p.tif", road)
    token = CancelToken()
    reports: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        reports.append(progress)
        token.cancel()

    with pytest.raises(Cancelled):
        vectorize(prob, tmp_path / f"out.{fmt}", VectorizeOptions(window=64),
                  progress=on_progress, cancel=token)
    assert len(reports) == 1
    assert sorted(os.listdir(tmp_path)) == ["p.tif"]


def test_progress_reports_every_window(tmp_path: Path) -> None:
    prob = write_probabilities(tmp_path / "p.tif", bar(np.zeros((130, 130)), 10, 30, 0, 130))
    reports: list[Progress] = []
    vectorize(prob, tmp_path / "out.gpkg", VectorizeOptions(window=64), progress=reports.append)
    assert [r.done for r in reports] == list(range(1, 11))
    assert reports[-1].fraction == 1.0 and reports[-2].pixels == 130 * 130


def test_not_a_probability_raster(tmp_path: Path) -> None:
    plain = tmp_path / "image.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=8, height=8, count=1,
                       dtype="uint8", crs="EPSG:32611",
                       transform=rasterio.Affine(1, 0, 0, 0, -1, 0)) as dst:
        dst.write(np.zeros((1, 8, 8), dtype=np.uint8))
    with pytest.raises(UserError, match="not a probability raster"):
        vectorize(plain, tmp_path / "out.gpkg")


def test_unknown_class(tmp_path: Path) -> None:
    prob = write_probabilities(tmp_path / "p.tif", np.zeros((20, 20)))
    with pytest.raises(UserError, match="Unknown class 'building'"):
        vectorize(prob, tmp_path / "out.gpkg", VectorizeOptions(classes=("building",)))
    with pytest.raises(UserError, match="Unknown class 'cars'"):
        vectorize(prob, tmp_path / "out.gpkg", VectorizeOptions(thresholds=(("cars", 0.5),)))


def test_unwritable_output(tmp_path: Path) -> None:
    prob = write_probabilities(tmp_path / "p.tif", np.zeros((20, 20)))
    with pytest.raises(UserError, match="does not exist"):
        vectorize(prob, tmp_path / "missing" / "out.gpkg")
    with pytest.raises(UserError, match="format"):
        vectorize(prob, tmp_path / "out.xyz")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.raises(UserError, match="not writable"):
            vectorize(prob, locked / "out.shp")


def test_thresholds_override_the_raster_defaults(tmp_path: Path) -> None:
    road = bar(np.zeros((60, 60)), 10, 30, 0, 60, value=0.6)
    prob = write_probabilities(tmp_path / "p.tif", road)
    low = vectorize(prob, tmp_path / "a.gpkg")
    high = vectorize(prob, tmp_path / "b.gpkg", VectorizeOptions(thresholds=(("road", 0.7),)))
    assert low.features["roads"] == 1 and high.features["roads"] == 0


def test_pixel_space_raster_is_measured_in_pixels(tmp_path: Path) -> None:
    road = bar(np.zeros((60, 100)), 10, 30, 0, 100)
    prob = write_probabilities(tmp_path / "p.tif", road, crs=None,
                               transform=rasterio.Affine.identity())
    summary = vectorize(prob, tmp_path / "out.gpkg", VectorizeOptions(centerlines=False))
    assert summary.pixel_units and "pixel" in summary.messages[0]
    assert summary.road_area_m2 == pytest.approx(2000, rel=0.01)
    # at y = -row, where the app and QGIS draw a raster that is not georeferenced
    roads = gpd.read_file(tmp_path / "out.gpkg", layer="roads")
    assert tuple(roads.total_bounds) == pytest.approx((0, -30, 100, -10))
    assert "px" in summary.line()
    with pytest.raises(UserError, match="GeoJSON"):
        vectorize(prob, tmp_path / "out.geojson")


def test_class_mask_geotiff_paints_vehicles_over_roads(tmp_path: Path) -> None:
    road = bar(np.zeros((600, 600)), 100, 140, 0, 600)
    vehicle = bar(np.zeros_like(road), 110, 118, 50, 66)
    valid = np.ones(road.shape, dtype=bool)
    valid[:, 500:] = False
    prob = write_probabilities(tmp_path / "p.tif", road, vehicle, valid=valid)
    summary = vectorize(prob, tmp_path / "mask.tif")
    with rasterio.open(tmp_path / "mask.tif") as mask:
        ids = mask.read(1)
        assert mask.profile["tiled"] and mask.overviews(1) == [2]
        assert mask.colormap(1)[1][:3] == (255, 170, 0)
        assert mask.nodata == 255
    assert ids[114, 58] == 2 and ids[105, 10] == 1 and ids[0, 0] == 0 and ids[120, 550] == 255
    assert summary.features == {"vehicle_pixels": 128, "road_pixels": 500 * 40 - 128}


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_format_flag_names_files_without_an_extension(tmp_path: Path, fmt: str) -> None:
    prob = write_probabilities(tmp_path / "p.tif", bar(np.zeros((50, 50)), 10, 30, 5, 45))
    summary = vectorize(prob, tmp_path / "out", VectorizeOptions(format=fmt))
    suffix = f".{fmt}"
    assert summary.outputs and all(p.suffix == suffix and p.exists() for p in summary.outputs)
    assert len(gpd.read_file(summary.outputs[0], layer="roads" if fmt == "gpkg" else None))
