"""A model with other classes works without code changes: each class's role (objects,
network, surface) comes from the model spec, not from its name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import rasterio

from tests.vector.conftest import CRS_CASES
from unet_gis.model.spec import ClassSpec, default_spec
from unet_gis.raster.probability import probability_profile, tag_probability_raster
from unet_gis.vector.options import VectorizeOptions
from unet_gis.vector.vectorize import vectorize


def _raster(path: Path) -> Path:
    classes = (ClassSpec("building", (200, 60, 60), 0.5),               # surface by default
               ClassSpec("tree", (40, 160, 40), 0.5, role="objects"),   # counted one by one
               ClassSpec("river", (40, 90, 220), 0.5, role="network"))  # surface + lines
    spec = default_spec(classes=classes)
    data = np.zeros((3, 200, 200), np.uint8)
    data[0, 20:60, 20:80] = 230                  # one building
    for r, c in ((120, 30), (120, 50), (150, 100)):
        data[1, r:r + 12, c:c + 12] = 230        # three trees
    data[2, 90:100, :] = 230                     # a river across the raster
    crs, transform = CRS_CASES["utm"]
    profile = probability_profile(spec, 256) | {"width": 200, "height": 200, "crs": crs,
                                                "transform": transform, "count": 3}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        tag_probability_raster(dst, spec, None, False)
    return path


def test_roles_from_the_spec_decide_the_layers(tmp_path: Path) -> None:
    raster = _raster(tmp_path / "p.tif")
    out = tmp_path / "layers.gpkg"
    summary = vectorize(raster, out, VectorizeOptions(points=True, min_length_m=1.0))
    layers = {str(name) for name, kind in pyogrio.list_layers(out) if kind}
    assert layers == {"p_building", "p_tree", "p_tree_points", "p_river",
                      "p_river_centerlines"}
    trees = pyogrio.read_dataframe(out, layer="p_tree")
    assert len(trees) == 3 and summary.vehicles == 3  # objects are split and counted
    assert len(pyogrio.read_dataframe(out, layer="p_building")) == 1
    assert len(pyogrio.read_dataframe(out, layer="p_river_centerlines")) >= 1
    mask = tmp_path / "mask.tif"
    vectorize(raster, mask)
    with rasterio.open(mask) as dst:  # objects are painted over the network
        assert dst.tags()["UNET_GIS_PRIORITY"].split(",")[0] == "tree"
