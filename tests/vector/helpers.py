"""Small helpers shared by the vector tests."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from unet_gis.vector.options import VectorizeOptions, VectorSummary
from unet_gis.vector.vectorize import vectorize


def run(prob: Path, window: int = 1024, **options: object
        ) -> tuple[VectorSummary, dict[str, gpd.GeoDataFrame]]:
    """Vectorize ``prob`` into a GeoPackage beside it and read every layer back."""
    out = prob.with_name(f"{prob.stem}_{window}.gpkg")
    summary = vectorize(prob, out, VectorizeOptions(window=window, **options))  # type: ignore[arg-type]
    layers = {key: gpd.read_file(out, layer=summary.layers[key]) for key in summary.features}
    return summary, layers


def in_metres(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in a metric CRS (its UTM zone when geographic)."""
    return frame.to_crs(frame.estimate_utm_crs()) if frame.crs.is_geographic else frame


def shared_vertex(lines: gpd.GeoSeries) -> tuple[float, float] | None:
    """The one vertex that every line starts or ends at, if there is one."""
    ends = [{tuple(np.asarray(line.coords)[0]), tuple(np.asarray(line.coords)[-1])}
            for line in lines]
    common = set.intersection(*ends)
    return next(iter(common)) if len(common) == 1 else None


def node_degrees(lines: gpd.GeoSeries) -> dict[tuple[float, float], int]:
    degrees: dict[tuple[float, float], int] = {}
    for line in lines:
        for end in (shapely.get_point(line, 0), shapely.get_point(line, -1)):
            key = (end.x, end.y)
            degrees[key] = degrees.get(key, 0) + 1
    return degrees
