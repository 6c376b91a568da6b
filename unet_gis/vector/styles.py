"""Layer styles that travel with the data: QGIS QML, OGC SLD, a GeoPackage's ``layer_styles``.

Every layer is drawn in its class's colour from the model spec, so the outputs look the
same in QGIS, in another GIS and in the app without anyone picking colours:

- objects (vehicles): a semi-transparent fill with a solid outline, so touching
  instances stay apart;
- network and surface polygons (roads, buildings): a semi-transparent fill only (they
  are merged areas, an outline adds nothing);
- centerlines: a solid line :data:`LINE_MM` wide; points: a small circle.

:func:`qml` and :func:`sld` are pure functions of the class and the geometry type;
:func:`store_in_geopackage` writes them into the ``layer_styles`` table that QGIS reads
(and loads by default) when it opens a GeoPackage layer.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from unet_gis.model.spec import ClassSpec

#: Opacity of polygon fills (0..1): the imagery stays visible underneath.
FILL_OPACITY = 0.4
#: Outline of object polygons, centerline width, point size and outline, in millimetres.
OUTLINE_MM = 0.4
LINE_MM = 0.6
MARKER_MM = 2.0
MARKER_OUTLINE_MM = 0.2
MARKER_OUTLINE = (35, 35, 35)
#: SLD sizes are in pixels of 0.28 mm (the "standardized rendering pixel" of SLD/SE).
_SLD_PIXEL_MM = 0.28
#: The QGIS version whose QML schema is written; QGIS 3.22 (Debian 12) and later read it.
QGIS_VERSION = "3.22.0"

#: geometry type -> (QGIS symbol type, symbol layer class, QGIS layerGeometryType)
_SYMBOLS = {"Polygon": ("fill", "SimpleFill", 2), "LineString": ("line", "SimpleLine", 1),
            "Point": ("marker", "SimpleMarker", 0)}
_NO_SCALE = "3x:0,0,0,0,0,0"
_SLD = "http://www.opengis.net/sld"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _rgba(color: tuple[int, int, int], opacity: float = 1.0) -> str:
    return ",".join(str(int(c)) for c in (*color, round(255 * opacity)))


def _hex(color: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in color)


def _symbol_props(spec: ClassSpec, geometry_type: str) -> dict[str, str]:
    """The symbol layer's properties, as QGIS names them (all values are strings)."""
    offset = {"offset": "0,0", "offset_unit": "MM", "offset_map_unit_scale": _NO_SCALE}
    if geometry_type == "Polygon":
        outline = spec.kind == "objects"
        return {"style": "solid", "color": _rgba(spec.color, FILL_OPACITY),
                "outline_style": "solid" if outline else "no",
                "outline_color": _rgba(spec.color), "outline_width": str(OUTLINE_MM),
                "outline_width_unit": "MM", "border_width_map_unit_scale": _NO_SCALE,
                "joinstyle": "miter", **offset}
    if geometry_type == "LineString":
        return {"line_style": "solid", "line_color": _rgba(spec.color),
                "line_width": str(LINE_MM), "line_width_unit": "MM",
                "width_map_unit_scale": _NO_SCALE, "capstyle": "round",
                "joinstyle": "round", "use_custom_dash": "0", "draw_inside_polygon": "0",
                **offset, "offset": "0"}
    if geometry_type == "Point":
        return {"name": "circle", "color": _rgba(spec.color), "size": str(MARKER_MM),
                "size_unit": "MM", "size_map_unit_scale": _NO_SCALE, "angle": "0",
                "scale_method": "diameter", "outline_style": "solid",
                "outline_color": _rgba(MARKER_OUTLINE), "outline_width": str(MARKER_OUTLINE_MM),
                "outline_width_unit": "MM", "joinstyle": "bevel",
                "horizontal_anchor_point": "1", "vertical_anchor_point": "1", **offset}
    raise ValueError(f"No style for geometry type {geometry_type!r}.")


def _no_data_defined(parent: ET.Element) -> None:
    holder = ET.SubElement(ET.SubElement(parent, "data_defined_properties"), "Option",
                           type="Map")
    ET.SubElement(holder, "Option", type="QString", name="name", value="")
    ET.SubElement(holder, "Option", name="properties")
    ET.SubElement(holder, "Option", type="QString", name="type", value="collection")


def qml(spec: ClassSpec, geometry_type: str) -> str:
    """A QGIS 3 style (``.qml``) drawing ``geometry_type`` features of class ``spec``.

    The symbol layer's properties are written twice: as the ``<Option type="Map">`` that
    QGIS 3.22 and later read and write, and as the older ``<prop k= v=>`` pairs, as QGIS
    3.22 itself does, so that any QGIS 3 reads them.
    """
    props = _symbol_props(spec, geometry_type)  # raises for an unknown geometry type
    symbol_type, layer_class, geometry_code = _SYMBOLS[geometry_type]
    root = ET.Element("qgis", version=QGIS_VERSION)
    renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0",
                             forceraster="0", enableorderby="0", referencescale="-1")
    symbol = ET.SubElement(ET.SubElement(renderer, "symbols"), "symbol", type=symbol_type,
                           name="0", alpha="1", clip_to_extent="1", force_rhr="0")
    _no_data_defined(symbol)
    layer = ET.SubElement(symbol, "layer", {"class": layer_class, "enabled": "1",
                                            "locked": "0", "pass": "0"})
    options = ET.SubElement(layer, "Option", type="Map")
    for key, value in sorted(props.items()):
        ET.SubElement(options, "Option", type="QString", name=key, value=value)
    for key, value in sorted(props.items()):
        ET.SubElement(layer, "prop", k=key, v=value)
    _no_data_defined(layer)
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    for tag, text in (("blendMode", "0"), ("featureBlendMode", "0"), ("layerOpacity", "1"),
                      ("layerGeometryType", str(geometry_code))):
        ET.SubElement(root, tag).text = text
    ET.indent(root)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode") + "\n")


def _css(parent: ET.Element, tag: str, values: dict[str, str]) -> None:
    holder = ET.SubElement(parent, f"{{{_SLD}}}{tag}")
    for name, value in values.items():
        ET.SubElement(holder, f"{{{_SLD}}}CssParameter", name=name).text = value


def _px(mm: float) -> str:
    return f"{mm / _SLD_PIXEL_MM:.2f}"


def sld(spec: ClassSpec, geometry_type: str, layer_name: str) -> str:
    """The same style as :func:`qml` as an OGC SLD 1.0 document (GeoServer, ArcGIS, QGIS)."""
    if geometry_type not in _SYMBOLS:
        raise ValueError(f"No style for geometry type {geometry_type!r}.")
    ET.register_namespace("", _SLD)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(f"{{{_SLD}}}StyledLayerDescriptor", {
        "version": "1.0.0", f"{{{_XSI}}}schemaLocation":
            f"{_SLD} http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd"})
    named = ET.SubElement(root, f"{{{_SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{_SLD}}}Name").text = layer_name
    style = ET.SubElement(named, f"{{{_SLD}}}UserStyle")
    ET.SubElement(style, f"{{{_SLD}}}Name").text = layer_name
    ET.SubElement(style, f"{{{_SLD}}}Title").text = spec.name
    rule = ET.SubElement(ET.SubElement(style, f"{{{_SLD}}}FeatureTypeStyle"), f"{{{_SLD}}}Rule")
    ET.SubElement(rule, f"{{{_SLD}}}Name").text = spec.name
    colour = _hex(spec.color)
    if geometry_type == "Polygon":
        symbolizer = ET.SubElement(rule, f"{{{_SLD}}}PolygonSymbolizer")
        _css(symbolizer, "Fill", {"fill": colour, "fill-opacity": str(FILL_OPACITY)})
        if spec.kind == "objects":
            _css(symbolizer, "Stroke", {"stroke": colour, "stroke-width": _px(OUTLINE_MM),
                                        "stroke-linejoin": "mitre"})
    elif geometry_type == "LineString":
        symbolizer = ET.SubElement(rule, f"{{{_SLD}}}LineSymbolizer")
        _css(symbolizer, "Stroke", {"stroke": colour, "stroke-width": _px(LINE_MM),
                                    "stroke-linejoin": "round", "stroke-linecap": "round"})
    else:
        graphic = ET.SubElement(ET.SubElement(rule, f"{{{_SLD}}}PointSymbolizer"),
                                f"{{{_SLD}}}Graphic")
        mark = ET.SubElement(graphic, f"{{{_SLD}}}Mark")
        ET.SubElement(mark, f"{{{_SLD}}}WellKnownName").text = "circle"
        _css(mark, "Fill", {"fill": colour})
        _css(mark, "Stroke", {"stroke": _hex(MARKER_OUTLINE),
                              "stroke-width": _px(MARKER_OUTLINE_MM)})
        ET.SubElement(graphic, f"{{{_SLD}}}Size").text = _px(MARKER_MM)
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


@dataclass(frozen=True)
class LayerStyle:
    """The style of one GeoPackage layer, as a row of ``layer_styles``."""

    layer: str
    spec: ClassSpec
    geometry_type: str


#: QGIS's own schema for the table (what it creates when saving a style to a GeoPackage);
#: the default update time is GDAL's spelling of CURRENT_TIMESTAMP, an ISO 8601 DATETIME
#: as the GeoPackage standard asks.
_LAYER_STYLES = """CREATE TABLE layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256),
    f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256),
    styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN,
    description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"""


def store_in_geopackage(path: Path, styles: Sequence[LayerStyle]) -> None:
    """Add a ``layer_styles`` table with each layer's default style to GeoPackage ``path``.

    The table is registered in ``gpkg_contents`` as ``attributes`` (as GDAL does for the
    tables it writes), so the file stays a valid GeoPackage; QGIS applies the rows with
    ``useAsDefault`` when it opens a layer.
    """
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(_LAYER_STYLES)
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                   "description) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                   "'Default styles of the layers (QGIS)')")
        for style in styles:
            row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE "
                             "table_name = ?", (style.layer,)).fetchone()
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, "
                "description, owner, ui) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL)",
                (style.layer, row[0] if row else "", style.layer[:30],
                 qml(style.spec, style.geometry_type),
                 sld(style.spec, style.geometry_type, style.layer),
                 f"unet-gis: class {style.spec.name} ({style.spec.kind})"))
