"""Finished features to layers: clean-up, measures, attribute tables, running totals.

:class:`LayerBuilder` receives finished polygons and lines batch by batch (as the strips
of tiles are done), turns them into attribute tables in the raster's CRS and appends
them to a :class:`~unet_gis.vector.export.LayerStore`; it keeps only the totals for the
summary line.

Each layer has a *key* (``vehicles``, ``roads``, ``road_centerlines``,
``vehicle_points``, or the class name) that names its file in per-layer formats and
keys the summary's feature counts, and a *name*, ``<scene>_<key>``, that it carries in
a GeoPackage, so that layers from several scenes stay apart in one GIS project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from unet_gis.inference.progress import CancelToken, check
from unet_gis.model.spec import ClassSpec
from unet_gis.raster.probability import FULL_SCALE, to_probability
from unet_gis.vector.export import LayerSchema, LayerStore
from unet_gis.vector.measure import FloatArray, GeomArray, Georef
from unet_gis.vector.options import VectorizeOptions, VectorSummary
from unet_gis.vector.polygons import clean_polygons

if TYPE_CHECKING:
    import geopandas as gpd

_PLURAL = {"vehicle": "vehicles", "road": "roads"}
_POLYGON_FIELDS = ("area_m2", "score")
_LINE_FIELDS = ("length_m", "score")
#: Numeric field -> (Shapefile field width, decimals): values are rounded to these
#: decimals in every format, so a GIS shows 8.36 m², not 8.359999999999999.
FIELD_FORMATS = {"area_m2": (14, 2), "length_m": (12, 2), "score": (5, 3)}
_PROBABILITIES_SUFFIX = "_probabilities"


def polygon_layer_name(cls: str) -> str:
    """The key of class ``cls``'s polygon layer."""
    return _PLURAL.get(cls, cls)


def scene_name(probabilities: Path) -> str:
    """The scene a probability raster shows: its stem without ``_probabilities``
    (``unet-gis predict`` writes ``<image>_probabilities.tif``)."""
    return probabilities.stem.removesuffix(_PROBABILITIES_SUFFIX) or probabilities.stem


def _rounded(name: str, values: FloatArray) -> FloatArray:
    return np.round(values, FIELD_FORMATS[name][1])


@dataclass(frozen=True)
class _Layer:
    key: str
    spec: ClassSpec
    geometry_type: str
    fields: tuple[str, ...]


def with_role(classes: Iterable[ClassSpec], role: str) -> frozenset[str]:
    """Names of the classes whose role (see :data:`~unet_gis.model.spec.CLASS_ROLES`) is
    ``role``: ``objects`` are split and counted, a ``network`` also gets centerlines."""
    return frozenset(c.name for c in classes if c.kind == role)


def layer_names(classes: Iterable[ClassSpec], centerlines: bool, points: bool) -> list[str]:
    """The keys of the layers a run writes, in order (they name the files)."""
    return [layer.key for layer in _layers(list(classes), centerlines, points)]


def _layers(classes: list[ClassSpec], centerlines: bool, points: bool) -> list[_Layer]:
    """Every layer, in order."""
    layers: list[_Layer] = []
    for spec in classes:
        cls = spec.name
        layers.append(_Layer(polygon_layer_name(cls), spec, "Polygon", _POLYGON_FIELDS))
        if points and spec.kind == "objects":
            layers.append(_Layer(f"{cls}_points", spec, "Point", _POLYGON_FIELDS))
        if centerlines and spec.kind == "network":
            layers.append(_Layer(f"{cls}_centerlines", spec, "LineString", _LINE_FIELDS))
    return layers


def _table(cls: str, geoms: GeomArray, columns: Mapping[str, FloatArray],
           georef: Georef) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    data = {"class": pd.Series([cls] * len(geoms), dtype=object)}
    for name, values in columns.items():
        data[name] = pd.Series(np.asarray(values, dtype=np.float64))
    crs = georef.crs.to_wkt() if georef.crs is not None else None
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(georef.to_map(geoms), crs=crs),
                            crs=crs)


def _scores(sums: FloatArray, counts: FloatArray, full_scale: int) -> FloatArray:
    """Mean probabilities (0-1) from sums of stored probabilities and pixel counts."""
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.asarray(to_probability(means, full_scale))


class LayerBuilder:
    """Turns batches of finished pixel-space features into rows of the output layers."""

    def __init__(self, georef: Georef, options: VectorizeOptions,
                 thresholds: Mapping[str, float], classes: Iterable[ClassSpec],
                 cancel: CancelToken | None, scene: str = "",
                 full_scale: int = FULL_SCALE) -> None:
        self.georef = georef
        self.full_scale = full_scale  # the raster's stored value of probability 1
        self.scene = scene
        self.options = options
        self.thresholds = dict(thresholds)
        self.cancel = cancel
        chosen = [c for c in classes if c.name in self.thresholds]
        self.objects = with_role(chosen, "objects")
        self.networks = with_role(chosen, "network")
        self.layers = _layers(chosen, options.centerlines, options.points)
        self.features = {layer.key: 0 for layer in self.layers}
        self.totals = {"road_area_m2": 0.0, "centerline_m": 0.0}

    def schemas(self) -> list[LayerSchema]:
        """Every layer with an empty table of its columns."""
        empty = np.empty(0, dtype=object)
        return [LayerSchema(
            layer.key, f"{self.scene}_{layer.key}" if self.scene else layer.key,
            layer.geometry_type,
            _table(layer.spec.name, empty, {f: np.empty(0) for f in layer.fields},
                   self.georef),
            layer.spec, tuple((f, *FIELD_FORMATS[f]) for f in layer.fields))
            for layer in self.layers]

    def polygons(self, store: LayerStore, cls: str, geoms: GeomArray, sums: FloatArray,
                 counts: FloatArray) -> None:
        """Clean, measure and write a batch of whole polygons of class ``cls``."""
        if len(geoms) == 0:
            return
        # instances arrive cleaned and simplified per component (polygons.instance_pieces)
        instances = cls in self.objects
        geoms, scores = clean_polygons(
            geoms, _scores(sums, counts, self.full_scale),
            0.0 if instances else self.georef.px2(self.options.min_area_m2),
            0.0 if instances else self.georef.px(self.options.simplify_m))
        check(self.cancel)
        area = shapely.area(self.georef.to_metric(self.georef.to_map(geoms)))
        columns = {"area_m2": _rounded("area_m2", area), "score": _rounded("score", scores)}
        self._append(store, polygon_layer_name(cls), _table(cls, geoms, columns, self.georef))
        if cls in self.networks:
            self.totals["road_area_m2"] += float(columns["area_m2"].sum())
        if self.options.points and instances and len(geoms):
            self._append(store, f"{cls}_points",
                         _table(cls, shapely.centroid(geoms), columns, self.georef))

    def lines(self, store: LayerStore, cls: str, geoms: GeomArray, sums: FloatArray,
              counts: FloatArray) -> None:
        """Measure and write a batch of finished centerlines of class ``cls``."""
        if len(geoms) == 0:
            return
        length = shapely.length(self.georef.to_metric(self.georef.to_map(geoms)))
        columns = {"length_m": _rounded("length_m", length),
                   "score": _rounded("score", _scores(sums, counts, self.full_scale))}
        self._append(store, f"{cls}_centerlines", _table(cls, geoms, columns, self.georef))
        self.totals["centerline_m"] += float(columns["length_m"].sum())

    def _append(self, store: LayerStore, name: str, frame: gpd.GeoDataFrame) -> None:
        store.append(name, frame)
        self.features[name] += len(frame)

    def summary(self, outputs: tuple[Path, ...],
                layers: Mapping[str, str] | None = None) -> VectorSummary:
        """The run's summary; ``layers`` is key -> layer name as written."""
        messages = []
        if self.georef.pixel_space:
            messages.append("The raster has no coordinate system: coordinates, areas and "
                            "lengths are in pixels.")
        for cls, value in self.thresholds.items():
            if self.features[polygon_layer_name(cls)] == 0:
                messages.append(f"Nothing of class {cls!r} at or above {value:.2f}: its "
                                "layers are empty.")
        return VectorSummary(
            vehicles=sum(self.features[polygon_layer_name(c)] for c in self.objects),
            road_area_m2=self.totals["road_area_m2"],
            centerline_km=self.totals["centerline_m"] / 1000,
            pixel_units=self.georef.pixel_space,
            features=dict(self.features), outputs=outputs, messages=tuple(messages),
            layers=dict(layers or {}))
