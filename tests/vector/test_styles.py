"""QGIS and SLD styles from a class and a geometry type, and the GeoPackage style table."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from unet_gis.model.spec import ClassSpec
from unet_gis.vector import styles
from unet_gis.vector.styles import LayerStyle, qml, sld, store_in_geopackage

CAR = ClassSpec("vehicle", (230, 30, 200), role="objects")
ROAD = ClassSpec("road", (255, 170, 0), role="network")
WATER = ClassSpec("water", (0, 90, 255), role="surface")
SLD = "{http://www.opengis.net/sld}"


def _symbol_layer(text: str) -> tuple[str | None, str | None, dict[str, str]]:
    """(symbol type, symbol layer class, properties) of a single-symbol QML."""
    assert text.startswith("<!DOCTYPE qgis")
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "qgis" and root.get("version") == styles.QGIS_VERSION
    symbol = root.find("renderer-v2[@type='singleSymbol']/symbols/symbol")
    assert symbol is not None and symbol.get("alpha") == "1"
    layer = symbol.find("layer")
    assert layer is not None
    options = {str(o.get("name")): str(o.get("value")) for o in layer.findall("Option/Option")}
    props = {str(p.get("k")): str(p.get("v")) for p in layer.findall("prop")}
    assert options == props  # the QGIS >= 3.22 form and the older one agree
    return symbol.get("type"), layer.get("class"), options


def _rgba(text: str) -> tuple[int, ...]:
    return tuple(int(c) for c in text.split(","))


def test_vehicles_are_a_see_through_fill_with_a_solid_outline() -> None:
    kind, layer_class, props = _symbol_layer(qml(CAR, "Polygon"))
    assert (kind, layer_class) == ("fill", "SimpleFill")
    alpha = round(255 * styles.FILL_OPACITY)
    assert _rgba(props["color"]) == (230, 30, 200, alpha) and 0 < alpha < 255
    assert _rgba(props["outline_color"]) == (230, 30, 200, 255)
    assert props["outline_style"] == "solid"
    assert float(props["outline_width"]) == styles.OUTLINE_MM
    assert props["outline_width_unit"] == "MM"


@pytest.mark.parametrize("spec", [ROAD, WATER])
def test_surfaces_are_a_see_through_fill_without_outline(spec: ClassSpec) -> None:
    kind, layer_class, props = _symbol_layer(qml(spec, "Polygon"))
    assert (kind, layer_class) == ("fill", "SimpleFill")
    assert _rgba(props["color"]) == (*spec.color, round(255 * styles.FILL_OPACITY))
    assert props["outline_style"] == "no"


def test_centerlines_are_solid_lines_of_the_class_colour() -> None:
    kind, layer_class, props = _symbol_layer(qml(ROAD, "LineString"))
    assert (kind, layer_class) == ("line", "SimpleLine")
    assert _rgba(props["line_color"]) == (255, 170, 0, 255)
    assert float(props["line_width"]) == styles.LINE_MM == 0.6
    assert props["line_width_unit"] == "MM" and props["line_style"] == "solid"


def test_points_are_circles_of_the_class_colour() -> None:
    kind, layer_class, props = _symbol_layer(qml(CAR, "Point"))
    assert (kind, layer_class) == ("marker", "SimpleMarker")
    assert props["name"] == "circle" and _rgba(props["color"]) == (230, 30, 200, 255)
    assert float(props["size"]) == styles.MARKER_MM and props["size_unit"] == "MM"


def test_qml_declares_the_geometry_type() -> None:
    for geometry, code in (("Point", "0"), ("LineString", "1"), ("Polygon", "2")):
        root = ET.fromstring(qml(ROAD, geometry).split("\n", 1)[1])
        assert root.findtext("layerGeometryType") == code
        assert root.findtext("layerOpacity") == "1"


def _css(element: ET.Element) -> dict[str, str | None]:
    return {str(p.get("name")): p.text for p in element.findall(f"{SLD}CssParameter")}


def test_sld_polygons_lines_and_points() -> None:
    rule_path = f"{SLD}NamedLayer/{SLD}UserStyle/{SLD}FeatureTypeStyle/{SLD}Rule"
    car = ET.fromstring(sld(CAR, "Polygon", "scene_vehicles").encode())
    assert car.get("version") == "1.0.0"
    assert car.findtext(f"{SLD}NamedLayer/{SLD}Name") == "scene_vehicles"
    polygon = car.find(f"{rule_path}/{SLD}PolygonSymbolizer")
    assert polygon is not None
    fill, stroke = polygon.find(f"{SLD}Fill"), polygon.find(f"{SLD}Stroke")
    assert fill is not None and stroke is not None
    assert _css(fill) == {"fill": "#e61ec8", "fill-opacity": str(styles.FILL_OPACITY)}
    assert _css(stroke)["stroke"] == "#e61ec8"

    road = ET.fromstring(sld(ROAD, "Polygon", "roads").encode())
    assert road.find(f"{rule_path}/{SLD}PolygonSymbolizer/{SLD}Stroke") is None

    line = ET.fromstring(sld(ROAD, "LineString", "lines").encode()).find(
        f"{rule_path}/{SLD}LineSymbolizer/{SLD}Stroke")
    assert line is not None and _css(line)["stroke"] == "#ffaa00"
    # SLD sizes are pixels of 0.28 mm
    assert float(str(_css(line)["stroke-width"])) == pytest.approx(0.6 / 0.28, abs=0.01)

    point = ET.fromstring(sld(CAR, "Point", "points").encode()).find(
        f"{rule_path}/{SLD}PointSymbolizer/{SLD}Graphic")
    assert point is not None and point.findtext(f"{SLD}Mark/{SLD}WellKnownName") == "circle"
    mark_fill = point.find(f"{SLD}Mark/{SLD}Fill")
    assert mark_fill is not None and _css(mark_fill) == {"fill": "#e61ec8"}


def test_unknown_geometry_has_no_style() -> None:
    with pytest.raises(ValueError, match="MultiPolygon"):
        qml(ROAD, "MultiPolygon")
    with pytest.raises(ValueError, match="MultiPolygon"):
        sld(ROAD, "MultiPolygon", "x")


def test_layer_styles_table_is_what_qgis_reads(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:32611")
    for layer in ("scene_vehicle_points", "a_layer_with_a_name_longer_than_thirty"):
        frame.to_file(path, layer=layer, engine="pyogrio")
    store_in_geopackage(path, [LayerStyle("scene_vehicle_points", CAR, "Point"),
                               LayerStyle("a_layer_with_a_name_longer_than_thirty", ROAD,
                                          "Point")])
    with sqlite3.connect(path) as db:
        columns = [row[1:3] for row in db.execute("PRAGMA table_info(layer_styles)")]
        rows = db.execute("SELECT f_table_catalog, f_table_schema, f_table_name, "
                          "f_geometry_column, styleName, useAsDefault, update_time "
                          "FROM layer_styles ORDER BY id").fetchall()
    assert columns == [
        ("id", "INTEGER"), ("f_table_catalog", "TEXT(256)"), ("f_table_schema", "TEXT(256)"),
        ("f_table_name", "TEXT(256)"), ("f_geometry_column", "TEXT(256)"),
        ("styleName", "TEXT(30)"), ("styleQML", "TEXT"), ("styleSLD", "TEXT"),
        ("useAsDefault", "BOOLEAN"), ("description", "TEXT"), ("owner", "TEXT(30)"),
        ("ui", "TEXT(30)"), ("update_time", "DATETIME")]
    assert [row[:6] for row in rows] == [
        ("", "", "scene_vehicle_points", "geom", "scene_vehicle_points", 1),
        ("", "", "a_layer_with_a_name_longer_than_thirty", "geom",
         "a_layer_with_a_name_longer_tha", 1)]
    assert all(row[6].endswith("Z") and "T" in row[6] for row in rows)  # ISO 8601
    info = pyogrio.read_info(path, layer="layer_styles")  # GDAL sees a valid table
    assert info["features"] == 2 and info["geometry_type"] is None
    assert info["fid_column"] == "id"
