"""Options and summary of a vectorize run: light, so the CLI and the app import them freely."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from unet_gis.errors import UserError

#: Every output format: name -> (what users call it, file suffix).  ``tif`` is the
#: class-id mask GeoTIFF; the others are vector formats (drivers in vector/export.py).
OUTPUT_FORMATS: dict[str, tuple[str, str]] = {
    "shp": ("Shapefile", ".shp"),
    "gpkg": ("GeoPackage", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "tif": ("Mask GeoTIFF", ".tif"),
}


@dataclass(frozen=True)
class VectorizeOptions:
    """What to extract and how; lengths in metres, areas in square metres.

    ``classes=None`` takes every class of the raster; ``thresholds`` overrides the
    raster's default thresholds per class name.  ``window`` is the tile core in pixels,
    ``margin`` the context added around it (must exceed the largest vehicle and half the
    widest road, in pixels).  ``workers`` is the number of processes working on tiles;
    0 picks the number of cores for large rasters (see :mod:`unet_gis.vector.tiles`).
    """

    classes: tuple[str, ...] | None = None
    thresholds: tuple[tuple[str, float], ...] = ()
    centerlines: bool = True
    points: bool = False
    min_area_m2: float = 2.0
    simplify_m: float = 0.3
    spur_m: float = 8.0
    gap_m: float = 2.0
    min_length_m: float = 10.0
    format: str | None = None
    overwrite: bool = False
    window: int = 1024
    margin: int = 64
    workers: int = 1

    def __post_init__(self) -> None:
        for label in ("min_area_m2", "simplify_m", "spur_m", "gap_m", "min_length_m"):
            value = getattr(self, label)
            # NaN passed "< 0" and then dropped every feature (the worker, the library)
            if not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
                raise UserError(f"{label} must be a finite number of at least 0, got "
                                f"{value!r}.")
        if self.workers < 0:
            raise UserError("The number of workers must be 0 (automatic) or more.")
        if self.window < 16 or self.margin < 0:
            raise UserError("The window must be at least 16 pixels and the margin >= 0.")


@dataclass(frozen=True)
class VectorSummary:
    """What was written: counts and measures for the summary line, and any warnings.

    ``features`` counts the features of each layer by its key (``vehicles``, ``roads``,
    ``road_centerlines``, ...); ``layers`` gives each key's layer name as written (in a
    GeoPackage ``<scene>_<key>``, else the layer file's stem).
    """

    vehicles: int = 0
    road_area_m2: float = 0.0
    centerline_km: float = 0.0
    pixel_units: bool = False
    features: dict[str, int] = field(default_factory=dict)
    outputs: tuple[Path, ...] = ()
    messages: tuple[str, ...] = ()
    layers: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        if self.pixel_units:
            return (f"{self.vehicles} vehicles, road area {self.road_area_m2:,.0f} px², "
                    f"centerlines {self.centerline_km * 1000:,.0f} px (pixel units)")
        return (f"{self.vehicles} vehicles, road area {self.road_area_m2:,.0f} m², "
                f"centerlines {self.centerline_km:,.2f} km")
