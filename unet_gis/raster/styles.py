"""Raster styles that travel with the data: QGIS ``.qml`` sidecars and GDAL category names.

QGIS loads ``NAME.qml`` beside ``NAME.tif`` as the layer's default style, and GDAL (hence
QGIS, ArcGIS and every GDAL reader) reads ``NAME.tif.aux.xml`` for category names and a
raster attribute table.  So:

- the probability raster opens as one class (the first network class, e.g. road) drawn as
  a ramp from transparent to the class colour, fully transparent below
  :data:`RAMP_START` and half-opaque at the class threshold, instead of a false-colour
  composite of the class bands;
- the class mask opens as a paletted layer whose entries are labelled with the class
  names, background and nodata transparent, with the same names as GDAL categories and a
  thematic attribute table (value, class, colour).

Sidecars are written after the raster is complete, each atomically; a failure to write
one costs the style, never the data.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from unet_gis.fileio import atomic_path
from unet_gis.model.spec import ClassSpec

log = logging.getLogger(__name__)

#: QGIS version stamped into the QML; 3.22 (Debian 12's) and later read this schema.
QGIS_VERSION = "3.22.0"
#: Probabilities below this are fully transparent in the probability ramp.
RAMP_START = 0.1
#: Alpha (0-255) of the ramp at the class threshold and at probability 1.
ALPHA_AT_THRESHOLD = 140
ALPHA_AT_ONE = 230
#: GDAL raster-attribute-table field types and usages (gdal.h: GFT_*, GFU_*).
_GFT_INTEGER, _GFT_STRING = 0, 2
_GFU_GENERIC, _GFU_NAME, _GFU_MINMAX = 0, 2, 5
_GFU_RED, _GFU_GREEN, _GFU_BLUE, _GFU_ALPHA = 6, 7, 8, 9


def hex_color(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb[:3])


def display_class(classes: Sequence[ClassSpec]) -> tuple[int, ClassSpec]:
    """The (1-based band, class) a probability raster shows by default: the first network
    class (what most users look for first), else the first class."""
    for band, cls in enumerate(classes, start=1):
        if cls.kind == "network":
            return band, cls
    return 1, classes[0]


def _qgis_root() -> ET.Element:
    return ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": "AllStyleCategories",
                               "hasScaleBasedVisibilityFlag": "0"})


def _pipe(root: ET.Element, renderer: dict[str, str]) -> ET.Element:
    pipe = ET.SubElement(root, "pipe")
    element = ET.SubElement(pipe, "rasterrenderer",
                            {"opacity": "1", "alphaBand": "-1", "nodataColor": "", **renderer})
    ET.SubElement(element, "rasterTransparency")
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0",
                                                "gamma": "1"})
    ET.SubElement(pipe, "huesaturation", {"saturation": "0", "grayscaleMode": "0",
                                          "colorizeOn": "0", "colorizeStrength": "100",
                                          "colorizeRed": "255", "colorizeGreen": "128",
                                          "colorizeBlue": "128", "invertColors": "0"})
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(root, "blendMode").text = "0"
    return element


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + \
        ET.tostring(root, encoding="unicode") + "\n"


def probability_qml(classes: Sequence[ClassSpec]) -> str:
    """QML: the display class's band (values 0-1 through the band's scale) as a ramp;
    nodata (nothing predicted) stays transparent through the raster's nodata value."""
    band, cls = display_class(classes)
    root = _qgis_root()
    renderer = _pipe(root, {"type": "singlebandpseudocolor", "band": str(band),
                            "classificationMin": "0", "classificationMax": "1"})
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader", {
        "colorRampType": "INTERPOLATED", "classificationMode": "1", "clip": "0",
        "minimumValue": "0", "maximumValue": "1", "labelPrecision": "2"})
    color = hex_color(cls.color)
    stops = [(0.0, 0, "0"), (RAMP_START, 0, f"{RAMP_START:g}"),
             (cls.threshold, ALPHA_AT_THRESHOLD, f"{cls.threshold:.2f}: {cls.name} threshold"),
             (1.0, ALPHA_AT_ONE, f"1: {cls.name}")]
    for value, alpha, label in sorted(stops, key=lambda s: s[0]):
        ET.SubElement(shader, "item", {"value": f"{value:g}", "color": color,
                                       "alpha": str(alpha), "label": label})
    return _text(root)


def mask_entries(classes: Sequence[ClassSpec]) -> list[tuple[int, str, tuple[int, ...]]]:
    """(value, name, RGBA) of a class mask: 0 background, class ``i`` is value ``i``."""
    entries: list[tuple[int, str, tuple[int, ...]]] = [(0, "background", (0, 0, 0, 0))]
    for value, cls in enumerate(classes, start=1):
        entries.append((value, cls.name, (*cls.color[:3], 255)))
    return entries


def class_mask_qml(classes: Sequence[ClassSpec]) -> str:
    """QML: a paletted layer labelled with the class names; background transparent."""
    root = _qgis_root()
    renderer = _pipe(root, {"type": "paletted", "band": "1"})
    palette = ET.SubElement(renderer, "colorPalette")
    for value, name, rgba in mask_entries(classes):
        ET.SubElement(palette, "paletteEntry", {"value": str(value), "color": hex_color(rgba),
                                                "alpha": str(rgba[3]), "label": name})
    return _text(root)


def class_mask_pam(classes: Sequence[ClassSpec]) -> str:
    """GDAL PAM XML (``.aux.xml``): category names and a thematic attribute table."""
    root = ET.Element("PAMDataset")
    band = ET.SubElement(root, "PAMRasterBand", {"band": "1"})
    entries = mask_entries(classes)
    names = ET.SubElement(band, "CategoryNames")
    for _value, name, _rgba in entries:
        ET.SubElement(names, "Category").text = name
    table = ET.SubElement(band, "GDALRasterAttributeTable", {"tableType": "thematic"})
    fields = [("Value", _GFT_INTEGER, _GFU_MINMAX), ("Class", _GFT_STRING, _GFU_NAME),
              ("Red", _GFT_INTEGER, _GFU_RED), ("Green", _GFT_INTEGER, _GFU_GREEN),
              ("Blue", _GFT_INTEGER, _GFU_BLUE), ("Alpha", _GFT_INTEGER, _GFU_ALPHA)]
    for index, (name, kind, usage) in enumerate(fields):
        field = ET.SubElement(table, "FieldDefn", {"index": str(index)})
        ET.SubElement(field, "Name").text = name
        ET.SubElement(field, "Type").text = str(kind)
        ET.SubElement(field, "Usage").text = str(usage)
    for row, (value, name, rgba) in enumerate(entries):
        element = ET.SubElement(table, "Row", {"index": str(row)})
        for cell in (value, name, *rgba):
            ET.SubElement(element, "F").text = str(cell)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def qml_path(raster: Path) -> Path:
    return raster.with_suffix(".qml")


def pam_path(raster: Path) -> Path:
    return raster.with_name(raster.name + ".aux.xml")


def write_sidecar(path: Path, text: str) -> bool:
    """Write a style sidecar atomically; on failure log it and return False."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        log.warning("could not write the style %s: %s", path.name, exc)
        return False
    return True


def style_probability_raster(raster: Path, classes: Sequence[ClassSpec]) -> None:
    write_sidecar(qml_path(raster), probability_qml(classes))


def style_class_mask(raster: Path, classes: Sequence[ClassSpec]) -> None:
    write_sidecar(qml_path(raster), class_mask_qml(classes))
    write_sidecar(pam_path(raster), class_mask_pam(classes))
