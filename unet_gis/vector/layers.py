"""From merged pieces to finished layers: clean-up, measures, attribute tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import shapely

from unet_gis.inference.progress import CancelToken, check
from unet_gis.vector.centerlines import LinePieces
from unet_gis.vector.export import Layer
from unet_gis.vector.measure import GeomArray, Georef
from unet_gis.vector.options import VectorizeOptions, VectorSummary
from unet_gis.vector.polygons import FloatArray, Pieces, clean_polygons, merge_pieces
from unet_gis.vector.road_graph import RoadGraph

#: Classes whose objects are counted one by one (touching objects are split).
INSTANCE_CLASSES = frozenset({"vehicle"})
#: Classes that also get centerlines.
LINEAR_CLASSES = frozenset({"road"})
_PLURAL = {"vehicle": "vehicles", "road": "roads"}
#: Tile skeletons may differ by a pixel at a seam; ends this close are joined first.
SEAM_SNAP_PX = 2.0
#: Junctions closer than this (or than the road's half-width) become one vertex.
JUNCTION_MERGE_PX = 3.0


def polygon_layer_name(cls: str) -> str:
    return _PLURAL.get(cls, cls)


def layer_names(classes: Iterable[str], centerlines: bool, points: bool) -> list[str]:
    """The layers a run writes, in order."""
    names = []
    for cls in classes:
        names.append(polygon_layer_name(cls))
        if points and cls in INSTANCE_CLASSES:
            names.append(f"{cls}_points")
        if centerlines and cls in LINEAR_CLASSES:
            names.append(f"{cls}_centerlines")
    return names


def _table(cls: str, geoms: GeomArray, columns: dict[str, FloatArray],
           georef: Georef) -> object:
    import geopandas as gpd
    import pandas as pd

    data = {"class": pd.Series([cls] * len(geoms), dtype=object)}
    for name, values in columns.items():
        data[name] = pd.Series(np.asarray(values, dtype=np.float64))
    crs = georef.crs.to_wkt() if georef.crs is not None else None
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(georef.to_map(geoms), crs=crs),
                            crs=crs)


class LayerBuilder:
    """Turns the pieces gathered over all tiles into :class:`Layer` objects."""

    def __init__(self, georef: Georef, options: VectorizeOptions,
                 thresholds: Mapping[str, float], cancel: CancelToken | None) -> None:
        self.georef = georef
        self.options = options
        self.thresholds = dict(thresholds)
        self.cancel = cancel
        self.layers: list[Layer] = []
        self.messages: list[str] = []
        if georef.pixel_space:
            self.messages.append("The raster has no coordinate system: coordinates, "
                                 "areas and lengths are in pixels.")

    def _polygons(self, cls: str, geoms: GeomArray, sums: FloatArray,
                  counts: FloatArray) -> None:
        px = self.georef.px
        scores = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        geoms, scores = clean_polygons(geoms, scores, self.georef.px2(self.options.min_area_m2),
                                       px(self.options.simplify_m))
        check(self.cancel)
        area = shapely.area(self.georef.to_metric(self.georef.to_map(geoms)))
        columns = {"area_m2": np.round(area, 2), "score": np.round(scores, 3)}
        name = polygon_layer_name(cls)
        self.layers.append(Layer(name, _table(cls, geoms, columns, self.georef), "Polygon"))
        if self.options.points and cls in INSTANCE_CLASSES:
            centres = shapely.centroid(geoms) if len(geoms) else geoms
            self.layers.append(Layer(f"{cls}_points",
                                     _table(cls, centres, columns, self.georef), "Point"))
        if len(geoms) == 0:
            self.messages.append(f"Nothing of class {cls!r} at or above "
                                 f"{self.thresholds[cls]:.2f}: its layers are empty.")

    def _centerlines(self, cls: str, pieces: LinePieces) -> None:
        px = self.georef.px
        graph = RoadGraph()
        for coords, psum, count in zip(pieces.coords, pieces.sums, pieces.counts,
                                       strict=True):
            graph.add(coords, psum, count)
        graph.merge_degree2()
        graph.bridge_gaps(SEAM_SNAP_PX)
        graph.prune_spurs(px(self.options.spur_m))
        graph.contract_junctions(pieces.half_width, JUNCTION_MERGE_PX)
        graph.prune_spurs(px(self.options.spur_m))
        graph.extend_dead_ends(pieces.half_width)
        graph.bridge_gaps(px(self.options.gap_m))
        graph.drop_short_components(px(self.options.min_length_m))
        check(self.cancel)
        geoms, scores = graph.lines(px(self.options.simplify_m))
        length = shapely.length(self.georef.to_metric(self.georef.to_map(geoms)))
        columns = {"length_m": np.round(length, 2), "score": np.round(scores, 3)}
        self.layers.append(Layer(f"{cls}_centerlines",
                                 _table(cls, geoms, columns, self.georef), "LineString"))

    def build(self, regions: Mapping[str, tuple[Pieces, Pieces]],
              instances: Mapping[str, Pieces],
              lines: Mapping[str, LinePieces]) -> list[Layer]:
        """All layers, in the order of :func:`layer_names`."""
        for cls in self.thresholds:
            check(self.cancel)
            if cls in instances:
                self._polygons(cls, *instances[cls].arrays())
            else:
                closed, open_ = regions[cls]
                merged = merge_pieces(*open_.arrays())
                whole = closed.arrays()
                both = (np.concatenate([a, b]) for a, b in zip(whole, merged, strict=True))
                self._polygons(cls, *both)
            if cls in lines:
                self._centerlines(cls, lines[cls])
        return self.layers

    def summary(self, outputs: tuple[Path, ...]) -> VectorSummary:
        tables = {layer.name: layer.frame for layer in self.layers}
        vehicles = tables.get("vehicles")
        roads = tables.get("roads")
        lines = tables.get("road_centerlines")
        return VectorSummary(
            vehicles=0 if vehicles is None else len(vehicles),
            road_area_m2=0.0 if roads is None else float(roads["area_m2"].sum()),
            centerline_km=0.0 if lines is None else float(lines["length_m"].sum()) / 1000,
            pixel_units=self.georef.pixel_space,
            features={name: len(frame) for name, frame in tables.items()},
            outputs=outputs, messages=tuple(self.messages))
