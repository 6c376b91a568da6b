"""A user's own labels for fine-tuning: one GeoPackage beside the image.

``<image>_labels.gpkg`` holds one layer per class of the model (road polygons, vehicle
boxes or points, ...) and ``checked_areas``: rectangles (any polygons) inside which
whatever is not labelled is background.  Outside them, unlabelled means unknown, and the
loss ignores it.  Geometries are in the image's CRS.  Saves are atomic (a temporary file
renamed over the old one), so a crash mid-save never loses the labels already there.

Lines are roads drawn as centerlines: they become bands :data:`LINE_WIDTH_M` wide; points
are vehicles marked by a click: discs of :data:`POINT_RADIUS_M`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasterio.crs import CRS

from unet_gis.errors import UserError
from unet_gis.fileio import atomic_path

CHECKED_LAYER = "checked_areas"
LINE_WIDTH_M = 6.0  # a two-lane street
POINT_RADIUS_M = 1.2  # half a car's width... and a bit


@dataclass
class LabelSet:
    """Geometries (shapely) per class, and the checked areas, in ``crs``."""

    crs: CRS | None
    classes: dict[str, list[Any]] = field(default_factory=dict)
    checked: list[Any] = field(default_factory=list)

    def count(self) -> int:
        return sum(len(g) for g in self.classes.values())


def labels_path(image: Path) -> Path:
    """Where the labels of ``image`` live: ``<image stem>_labels.gpkg`` beside it."""
    return image.with_name(f"{image.stem}_labels.gpkg")


def save_labels(path: Path, labels: LabelSet) -> Path:
    """Write ``labels`` atomically (every class layer, even empty, and checked areas)."""
    import geopandas as gpd

    layers: dict[str, list[Any]] = {**labels.classes, CHECKED_LAYER: labels.checked}
    with atomic_path(path) as tmp:
        for name, geometries in layers.items():
            frame = gpd.GeoDataFrame({"label": [name] * len(geometries)},
                                     geometry=list(geometries), crs=labels.crs)
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return path


def load_labels(path: Path, class_names: Sequence[str] | None = None) -> LabelSet:
    """Read a labels GeoPackage; layers that are neither a class nor checked areas are
    refused (a misspelt class would silently train nothing)."""
    import pyogrio

    if not path.is_file():
        raise UserError(f"{path} does not exist.")
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises several types for a bad file
        raise UserError(f"Cannot read labels {path.name} ({exc}).") from exc
    classes = [n for n in names if n != CHECKED_LAYER]
    if class_names is not None:
        unknown = [n for n in classes if n not in class_names]
        if unknown:
            raise UserError(f"{path.name} has labels for {', '.join(unknown)}, which the "
                            f"model does not know (it has {', '.join(class_names)}).")
    result = LabelSet(None)
    for name in names:
        frame = pyogrio.read_dataframe(path, layer=name)
        frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
        if frame.crs is not None:
            result.crs = CRS.from_user_input(frame.crs)
        geometries = list(frame.geometry)
        if name == CHECKED_LAYER:
            result.checked = geometries
        else:
            result.classes[name] = geometries
    return result


def import_labels(vector: Path, class_name: str, line_width_m: float = LINE_WIDTH_M,
                  crs: CRS | None = None) -> list[Any]:
    """Geometries of an existing vector file as labels of ``class_name`` in ``crs``: lines
    buffered to ``line_width_m``, points to discs (as in training)."""
    from unet_gis.training.rasterize import read_label_geometries

    shapes = read_label_geometries(vector, crs, line_width_m / 2, crs)
    if not shapes:
        raise UserError(f"{vector.name} has no geometries to use as {class_name} labels.")
    return shapes


def burnable(labels: LabelSet, radius_m: Mapping[str, float] | None = None,
             crs: CRS | None = None) -> dict[str, list[Any]]:
    """Each class's geometries as areas in ``crs``: lines and points buffered in metres."""
    import geopandas as gpd

    from unet_gis.training.rasterize import buffer_geometries

    out: dict[str, list[Any]] = {}
    for name, geometries in labels.classes.items():
        if not geometries:
            out[name] = []
            continue
        frame = gpd.GeoDataFrame(geometry=list(geometries), crs=labels.crs or crs)
        lines = frame.geom_type.isin(["LineString", "MultiLineString"])
        points = frame.geom_type.isin(["Point", "MultiPoint"])
        areas = list(buffer_geometries(frame[~lines & ~points], 0.0, crs))
        if lines.any():
            areas += buffer_geometries(frame[lines], (radius_m or {}).get(
                name, LINE_WIDTH_M / 2), crs)
        if points.any():
            areas += buffer_geometries(frame[points], POINT_RADIUS_M, crs)
        out[name] = areas
    return out
