"""Formats, round trips, empty layers, and every kind of bad input or interruption."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio

from tests.vector.conftest import MakeRaster, bar, write_probabilities
from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.progress import CancelToken, Progress
from unet_gis.model.spec import default_spec
from unet_gis.vector import export
from unet_gis.vector.options import VectorizeOptions
from unet_gis.vector.vectorize import vectorize

FIELDS = {"vehicles": ["class", "area_m2", "score"], "roads": ["class", "area_m2", "score"],
          "road_centerlines": ["class", "length_m", "score"],
          "vehicle_points": ["class", "area_m2", "score"]}
TYPES = {"vehicles": "Polygon", "roads": "Polygon", "road_centerlines": "LineString",
         "vehicle_points": "Point"}
CLASS_OF = {"vehicles": "vehicle", "roads": "road", "road_centerlines": "road",
            "vehicle_points": "vehicle"}
COLOURS = {c.name: c.color for c in default_spec().classes}
SYMBOLS = {"Polygon": ("fill", "SimpleFill", "PolygonSymbolizer"),
           "LineString": ("line", "SimpleLine", "LineSymbolizer"),
           "Point": ("marker", "SimpleMarker", "PointSymbolizer")}
SLD = "{http://www.opengis.net/sld}"


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
        assert sorted(pyogrio.list_layers(out)[:, 0]) == sorted(
            [f"prob_{name}" for name in FIELDS] + ["layer_styles"])
        sources = {name: (out, f"prob_{name}") for name in FIELDS}
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
        path, layer = ((out, f"p_{name}") if fmt == "gpkg"
                       else (tmp_path / f"out_{name}.shp", None))
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
    roads = gpd.read_file(tmp_path / "out.gpkg", layer="p_roads")
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
    assert len(gpd.read_file(summary.outputs[0], layer="p_roads" if fmt == "gpkg" else None))


def _check_qml(text: str, name: str) -> None:
    """The QGIS style of layer ``name``: one symbol of its geometry, in its class colour."""
    root = ET.fromstring(text.split("\n", 1)[1])  # after the DOCTYPE line
    assert root.tag == "qgis" and root.get("version", "").startswith("3.")
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "singleSymbol"
    symbol = renderer.find("symbols/symbol")
    symbol_type, layer_class, _ = SYMBOLS[TYPES[name]]
    assert symbol is not None and symbol.get("type") == symbol_type
    layer = symbol.find("layer")
    assert layer is not None and layer.get("class") == layer_class
    options = {o.get("name"): o.get("value") for o in layer.findall("Option/Option")}
    assert options == {p.get("k"): p.get("v") for p in layer.findall("prop")}
    colour = options["line_color" if symbol_type == "line" else "color"]
    assert colour is not None
    assert tuple(int(c) for c in colour.split(",")[:3]) == COLOURS[CLASS_OF[name]]


def _check_sld(text: str, name: str, layer_name: str) -> None:
    root = ET.fromstring(text.encode())
    assert root.tag == f"{SLD}StyledLayerDescriptor"
    assert root.findtext(f"{SLD}NamedLayer/{SLD}Name") == layer_name
    rule = root.find(f"{SLD}NamedLayer/{SLD}UserStyle/{SLD}FeatureTypeStyle/{SLD}Rule")
    assert rule is not None
    symbolizer = rule.find(f"{SLD}{SYMBOLS[TYPES[name]][2]}")
    assert symbolizer is not None and len(rule) == 2  # its name and one symbolizer
    r, g, b = COLOURS[CLASS_OF[name]]
    assert f"#{r:02x}{g:02x}{b:02x}" in {p.text for p in symbolizer.iter(f"{SLD}CssParameter")}


@pytest.mark.parametrize("fmt", ["shp", "geojson"])
def test_each_layer_file_has_its_qgis_style_and_an_sld(tmp_path: Path, fmt: str) -> None:
    road = bar(np.zeros((100, 100)), 40, 60, 0, 100)
    prob = write_probabilities(tmp_path / "p.tif", road, bar(np.zeros_like(road), 5, 13, 5, 21))
    summary = vectorize(prob, tmp_path / f"out.{fmt}", VectorizeOptions(points=True))
    for name in FIELDS:
        layer_file = tmp_path / f"out_{name}.{fmt}"
        assert layer_file in summary.outputs and summary.layers[name] == layer_file.stem
        _check_qml(layer_file.with_suffix(".qml").read_text(encoding="utf-8"), name)
        _check_sld(layer_file.with_suffix(".sld").read_text(encoding="utf-8"), name,
                   layer_file.stem)


def test_geopackage_layers_carry_the_scene_their_styles_and_version_1_2(
        tmp_path: Path) -> None:
    road = bar(np.zeros((100, 100)), 40, 60, 0, 100)
    prob = write_probabilities(tmp_path / "scene_probabilities.tif", road,
                               bar(np.zeros_like(road), 5, 13, 5, 21))
    out = tmp_path / "out.gpkg"
    summary = vectorize(prob, out, VectorizeOptions(points=True))
    assert summary.layers == {name: f"scene_{name}" for name in FIELDS}
    layers = dict(pyogrio.list_layers(out))
    assert layers == {**{f"scene_{n}": TYPES[n] for n in FIELDS}, "layer_styles": None}
    styles = pyogrio.read_dataframe(out, layer="layer_styles")  # GDAL reads the table
    assert sorted(styles["f_table_name"]) == sorted(summary.layers.values())
    assert styles["useAsDefault"].all() and (styles["f_geometry_column"] == "geom").all()
    for name, layer in summary.layers.items():
        row = styles[styles["f_table_name"] == layer].iloc[0]
        _check_qml(row["styleQML"], name)
        _check_sld(row["styleSLD"], name, layer)
    with sqlite3.connect(out) as db:
        assert db.execute("PRAGMA application_id").fetchone() == (0x47504B47,)  # "GPKG"
        assert db.execute("PRAGMA user_version").fetchone() == (10200,)  # 1.2
        assert db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = "
                          "'layer_styles'").fetchone() == ("attributes",)
    assert not list(tmp_path.glob("*.qml")) and not list(tmp_path.glob("*.sld"))


def _dbf_fields(path: Path) -> dict[str, tuple[str, int, int, list[str]]]:
    """Name -> (type, width, decimals, the values as stored) of a .dbf (ogrinfo: 12.2)."""
    data = path.read_bytes()
    count, header_size, record_size = struct.unpack("<IHH", data[4:12])
    fields = {}
    offset = 1
    for at in range(32, header_size - 1, 32):
        descriptor = data[at:at + 32]
        width = descriptor[16]
        texts = [data[header_size + i * record_size + offset:][:width].decode().strip()
                 for i in range(count)]
        fields[descriptor[:11].split(b"\0")[0].decode()] = (
            chr(descriptor[11]), width, descriptor[17], texts)
        offset += width
    return fields


def test_numbers_are_rounded_alike_in_every_format(tmp_path: Path) -> None:
    road = np.zeros((200, 400))
    bar(road, 90, 110, 20, 380)
    bar(road, 20, 180, 190, 210)
    vehicle = bar(np.zeros_like(road), 30, 38, 30, 46)
    bar(vehicle, 140, 149, 300, 317, value=0.83)
    prob = write_probabilities(tmp_path / "p.tif", road, vehicle)
    options = VectorizeOptions(points=True, simplify_m=0.45)
    for fmt in ("shp", "gpkg", "geojson"):
        vectorize(prob, tmp_path / f"{fmt}.{fmt}", options)
    for name, fields in FIELDS.items():
        frames = [gpd.read_file(tmp_path / f"shp_{name}.shp"),
                  gpd.read_file(tmp_path / "gpkg.gpkg", layer=f"p_{name}"),
                  gpd.read_file(tmp_path / f"geojson_{name}.geojson")]
        for field in fields[1:]:
            places = 3 if field == "score" else 2
            values = frames[1][field].to_numpy()
            assert len(values) and np.array_equal(values, np.round(values, places))
            for frame in (frames[0], frames[2]):
                assert np.array_equal(frame[field].to_numpy(), values), (name, field)
        dbf = _dbf_fields(tmp_path / f"shp_{name}.dbf")
        measure = "length_m" if name == "road_centerlines" else "area_m2"
        assert dbf[measure][:3] == ("N", 12 if measure == "length_m" else 14, 2)
        assert dbf["score"][:3] == ("N", 5, 3)
        # as a GIS shows them: 54.15, not 54.149999999999999
        for field, places in ((measure, 2), ("score", 3)):
            values = frames[1][field].to_numpy()
            assert dbf[field][3] == [f"{v:.{places}f}" for v in values], (name, field)
    assert "54.15" in _dbf_fields(tmp_path / "shp_road_centerlines.dbf")["length_m"][3]


def test_geojson_features_have_stable_ids(tmp_path: Path) -> None:
    prob = write_probabilities(tmp_path / "p.tif", _scene_arrays()[0], _scene_arrays()[1])
    features = []
    for run in ("a", "b"):
        vectorize(prob, tmp_path / f"{run}.geojson", VectorizeOptions(window=128))
        features.append(json.loads((tmp_path / f"{run}_vehicles.geojson").read_text())
                        ["features"])
    ids = [feature["id"] for feature in features[0]]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) == 2
    assert features[0] == features[1]  # the same raster gives the same ids
    assert "fid" not in features[0][0]["properties"]


def _scene_arrays() -> tuple[np.ndarray, np.ndarray]:
    road = np.zeros((200, 400))
    bar(road, 90, 110, 20, 380)
    vehicle = bar(np.zeros_like(road), 30, 38, 30, 46)
    bar(vehicle, 140, 148, 300, 316)
    return road, vehicle


@pytest.mark.parametrize(("fmt", "broken"), [("gpkg", "store_in_geopackage"), ("shp", "sld")])
def test_a_failure_while_writing_styles_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, broken: str) -> None:
    prob = write_probabilities(tmp_path / "p.tif", bar(np.zeros((50, 50)), 10, 30, 5, 45))

    def fail(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(export, broken, fail)
    with pytest.raises(OSError, match="disk on fire"):
        vectorize(prob, tmp_path / f"out.{fmt}")
    assert sorted(os.listdir(tmp_path)) == ["p.tif"]


def test_an_existing_style_file_is_refused(tmp_path: Path) -> None:
    prob = write_probabilities(tmp_path / "p.tif", bar(np.zeros((50, 50)), 10, 30, 5, 45))
    (tmp_path / "out_roads.qml").write_text("my own style")
    with pytest.raises(UserError, match="out_roads.qml already exists"):
        vectorize(prob, tmp_path / "out.geojson")
    vectorize(prob, tmp_path / "out.geojson", VectorizeOptions(overwrite=True))
    assert "singleSymbol" in (tmp_path / "out_roads.qml").read_text()
