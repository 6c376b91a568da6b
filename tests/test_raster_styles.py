"""Raster outputs carry their look: QGIS styles beside them, class names where GDAL reads."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import rasterio

from tests.conftest import random_rgb
from tests.vector.conftest import write_probabilities
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.styles import hex_color
from unet_gis.vector.vectorize import vectorize


def _qml(path: Path) -> ET.Element:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE qgis")
    return ET.fromstring(text.split("\n", 1)[1])


def test_probability_raster_opens_as_a_ramp_of_its_road_class(
        make_geotiff, tiny_model: LoadedModel, tmp_path: Path) -> None:
    image = make_geotiff(random_rgb(96, 96), name="scene.tif")
    out = tmp_path / "scene_probabilities.tif"
    predict(image, out, tiny_model, EngineOptions(device="cpu", overviews=False))
    root = _qml(tmp_path / "scene_probabilities.qml")
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None
    assert renderer.get("type") == "singlebandpseudocolor"
    road = next(c for c in tiny_model.spec.classes if c.kind == "network")
    band = [c.name for c in tiny_model.spec.classes].index(road.name) + 1
    assert renderer.get("band") == str(band)
    items = renderer.findall("rastershader/colorrampshader/item")
    values = [float(i.get("value", "nan")) for i in items]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0
    assert road.threshold in values  # the threshold is a stop of the ramp
    assert {i.get("color") for i in items} == {hex_color(road.color)}
    assert items[0].get("alpha") == "0"  # nothing shows where there is no road
    with rasterio.open(out) as dst:  # the ramp is in 0-1 because the bands say so
        assert dst.count == len(tiny_model.spec.classes)
        assert dst.scales[band - 1] == 1 / 254  # probability 1 is stored as 254


def test_class_mask_is_paletted_labelled_and_named_for_gdal(tmp_path: Path) -> None:
    road = np.zeros((64, 64), np.float32)
    road[20:30, :] = 0.9
    vehicle = np.zeros((64, 64), np.float32)
    vehicle[22:26, 10:16] = 0.9
    prob = write_probabilities(tmp_path / "p.tif", road, vehicle)
    mask = tmp_path / "mask.tif"
    vectorize(prob, mask)
    with rasterio.open(prob) as src:
        from unet_gis.raster.probability import read_probability_info

        info = read_probability_info(src)
    root = _qml(tmp_path / "mask.qml")
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None and renderer.get("type") == "paletted"
    entries = {int(e.get("value", "-1")): e for e in renderer.findall("colorPalette/paletteEntry")}
    assert entries[0].get("label") == "background" and entries[0].get("alpha") == "0"
    for band, cls in enumerate(info.classes, start=1):
        assert entries[band].get("label") == cls.name
        assert entries[band].get("color") == hex_color(cls.color)
        assert entries[band].get("alpha") == "255"
    pam = ET.parse(tmp_path / "mask.tif.aux.xml").getroot()
    categories = [c.text for c in pam.findall("PAMRasterBand/CategoryNames/Category")]
    assert categories == ["background", *info.class_names]
    rows = pam.findall("PAMRasterBand/GDALRasterAttributeTable/Row")
    assert [r.findall("F")[1].text for r in rows] == categories
    with rasterio.open(mask) as dst:  # the data itself is unchanged by the sidecars
        ids = dst.read(1)
        assert ids[23, 12] == 2 and ids[28, 40] == 1 and ids[5, 5] == 0
    if shutil.which("gdalinfo"):  # and GDAL itself reads the names
        described = subprocess.run(["gdalinfo", str(mask)], capture_output=True, text=True,
                                   check=True).stdout
        assert "Categories:" in described and "2: vehicle" in described
