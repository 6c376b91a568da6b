"""Turning a path into layers (no Qt): imagery, probability rasters, vector files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unet_gis.app.canvas.sources import RasterSource
from unet_gis.app.layers.model import ImageLayer, Layer, ResultLayer, VectorLayer
from unet_gis.errors import UserError
from unet_gis.raster.probability import CLASSES_TAG, full_scale_of

VECTOR_SUFFIXES = {".shp", ".gpkg", ".geojson", ".json", ".fgb", ".kml"}
# colours for exported layers, by the name the vectorizer gives them
VECTOR_COLOURS = {"centerline": (255, 255, 255), "road": (255, 170, 0),
                  "vehicle": (230, 30, 200)}


def vector_layers(path: Path) -> list[tuple[str | None, Any]]:
    """(layer name or None for single-layer files, CRS) for every map layer in ``path``
    (tables without geometry, such as a GeoPackage's ``layer_styles``, are left out)."""
    from pyogrio import list_layers, read_info
    from rasterio.crs import CRS

    try:
        names = [str(name) for name, kind in list_layers(path) if kind is not None]
        found = []
        for name in names:
            info = read_info(path, layer=name)
            crs = CRS.from_user_input(info["crs"]) if info.get("crs") else None
            found.append((name if len(names) > 1 else None, crs))
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise UserError(f"{path.name} is not a vector file GDAL can read ({exc}).") from exc
    if not found:
        raise UserError(f"{path.name} has no layers.")
    return found


def vector_colour(name: str, classes: dict[str, tuple[int, int, int]]) -> tuple[int, int, int]:
    """The colour of a layer named ``name``; the key found last in it wins, since layer
    names end in their kind after the scene's name (``road_survey_vehicles``)."""
    stem = name.lower()
    found = [(stem.rfind(key), key) for key in VECTOR_COLOURS if key in stem]
    if not found:
        return (0, 200, 255)
    key = max(found)[1]
    colour = VECTOR_COLOURS[key]
    return classes.get(key, colour) if key != "centerline" else colour


def layers_for(path: Path, thresholds: dict[str, float],
               colours: dict[str, tuple[int, int, int]] | None = None
               ) -> tuple[list[Layer], Any, bool]:
    """(layers, their CRS, whether the CRS is known) for ``path``; raises UserError."""
    if path.suffix.lower() in VECTOR_SUFFIXES:
        found = vector_layers(path)
        vectors: list[Layer] = [
            VectorLayer(name=f"{path.stem}: {name}" if name else path.stem, path=path,
                        layer=name, color=vector_colour(name or path.stem, colours or {}))
            for name, _ in found]
        return vectors, found[0][1], True
    source = RasterSource(path)
    if CLASSES_TAG in source.tags:
        import rasterio

        with rasterio.open(path) as dataset:  # 254 today, 255 in rasters from before nodata
            full_scale = full_scale_of(dataset)
        try:
            classes = json.loads(source.tags[CLASSES_TAG])
            layers: list[Layer] = [
                ResultLayer(name=f"{c['name']} — {path.stem.removesuffix('_probabilities')}",
                            class_name=c["name"], band=band, color=tuple(c["color"]),
                            threshold=thresholds.get(c["name"], float(c["threshold"])),
                            source=source, full_scale=full_scale)
                for band, c in enumerate(classes, start=1)]
        except (ValueError, KeyError, TypeError) as exc:
            source.close()
            raise UserError(f"{path.name} has damaged class metadata ({exc}).") from exc
        return layers, source.crs, True
    return [ImageLayer(name=path.name, source=source)], source.crs, True
