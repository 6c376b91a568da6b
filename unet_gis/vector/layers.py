"""Finished features to layers: clean-up, measures, attribute tables, running totals.

:class:`LayerBuilder` receives finished polygons and lines batch by batch (as the strips
of tiles are done), turns them into attribute tables in the raster's CRS and appends
them to a :class:`~unet_gis.vector.export.LayerStore`; it keeps only the totals for the
summary line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from unet_gis.inference.progress import CancelToken, check
from unet_gis.model.spec import ClassSpec
from unet_gis.vector.export import LayerSchema, LayerStore
from unet_gis.vector.measure import FloatArray, GeomArray, Georef
from unet_gis.vector.options import VectorizeOptions, VectorSummary
from unet_gis.vector.polygons import clean_polygons

if TYPE_CHECKING:
    import geopandas as gpd

_PLURAL = {"vehicle": "vehicles", "road": "roads"}
_POLYGON_FIELDS = ("area_m2", "score")
_LINE_FIELDS = ("length_m", "score")


def polygon_layer_name(cls: str) -> str:
    return _PLURAL.get(cls, cls)


def with_role(classes: Iterable[ClassSpec], role: str) -> frozenset[str]:
    """Names of the classes whose role (see :data:`~unet_gis.model.spec.CLASS_ROLES`) is
    ``role``: ``objects`` are split and counted, a ``network`` also gets centerlines."""
    return frozenset(c.name for c in classes if c.kind == role)


def layer_names(classes: Iterable[ClassSpec], centerlines: bool, points: bool) -> list[str]:
    """The layers a run writes, in order."""
    return [name for name, _, _, _ in _layers(list(classes), centerlines, points)]


def _layers(classes: list[ClassSpec], centerlines: bool,
            points: bool) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(layer name, class, geometry type, numeric fields) of each layer, in order."""
    layers: list[tuple[str, str, str, tuple[str, ...]]] = []
    for spec in classes:
        cls = spec.name
        layers.append((polygon_layer_name(cls), cls, "Polygon", _POLYGON_FIELDS))
        if points and spec.kind == "objects":
            layers.append((f"{cls}_points", cls, "Point", _POLYGON_FIELDS))
        if centerlines and spec.kind == "network":
            layers.append((f"{cls}_centerlines", cls, "LineString", _LINE_FIELDS))
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


def _scores(sums: FloatArray, counts: FloatArray) -> FloatArray:
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


class LayerBuilder:
    """Turns batches of finished pixel-space features into rows of the output layers."""

    def __init__(self, georef: Georef, options: VectorizeOptions,
                 thresholds: Mapping[str, float], classes: Iterable[ClassSpec],
                 cancel: CancelToken | None) -> None:
        self.georef = georef
        self.options = options
        self.thresholds = dict(thresholds)
        self.cancel = cancel
        chosen = [c for c in classes if c.name in self.thresholds]
        self.objects = with_role(chosen, "objects")
        self.networks = with_role(chosen, "network")
        self.layers = _layers(chosen, options.centerlines, options.points)
        self.features = {name: 0 for name, _, _, _ in self.layers}
        self.totals = {"road_area_m2": 0.0, "centerline_m": 0.0}

    def schemas(self) -> list[LayerSchema]:
        """Every layer with an empty table of its columns."""
        empty = np.empty(0, dtype=object)
        return [LayerSchema(name, kind, _table(cls, empty, {f: np.empty(0) for f in fields},
                                               self.georef))
                for name, cls, kind, fields in self.layers]

    def polygons(self, store: LayerStore, cls: str, geoms: GeomArray, sums: FloatArray,
                 counts: FloatArray) -> None:
        """Clean, measure and write a batch of whole polygons of class ``cls``."""
        if len(geoms) == 0:
            return
        # instances arrive cleaned and simplified per component (polygons.instance_pieces)
        instances = cls in self.objects
        geoms, scores = clean_polygons(
            geoms, _scores(sums, counts),
            0.0 if instances else self.georef.px2(self.options.min_area_m2),
            0.0 if instances else self.georef.px(self.options.simplify_m))
        check(self.cancel)
        area = shapely.area(self.georef.to_metric(self.georef.to_map(geoms)))
        columns = {"area_m2": np.round(area, 2), "score": np.round(scores, 3)}
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
        columns = {"length_m": np.round(length, 2), "score": np.round(_scores(sums, counts), 3)}
        self._append(store, f"{cls}_centerlines", _table(cls, geoms, columns, self.georef))
        self.totals["centerline_m"] += float(columns["length_m"].sum())

    def _append(self, store: LayerStore, name: str, frame: gpd.GeoDataFrame) -> None:
        store.append(name, frame)
        self.features[name] += len(frame)

    def summary(self, outputs: tuple[Path, ...]) -> VectorSummary:
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
            features=dict(self.features), outputs=outputs, messages=tuple(messages))
