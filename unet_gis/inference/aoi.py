"""Area of interest: a bounding box or a vector file, turned into a pixel region."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasterio.windows import Window

from unet_gis.errors import UserError
from unet_gis.raster.grid import Grid


@dataclass(frozen=True)
class Aoi:
    """``bounds`` (minx, miny, maxx, maxy) in the raster's CRS, or a vector ``path``."""

    bounds: tuple[float, float, float, float] | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Aoi:
        """``"minx,miny,maxx,maxy"`` or a path to a vector file."""
        parts = text.split(",")
        if len(parts) == 4:
            try:
                minx, miny, maxx, maxy = (float(p) for p in parts)
            except ValueError:
                pass
            else:
                if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
                    raise UserError(f"--aoi {text}: every bound must be a finite number.")
                if minx >= maxx or miny >= maxy:
                    raise UserError(f"--aoi {text}: min must be below max.")
                return cls(bounds=(minx, miny, maxx, maxy))
        path = Path(text)
        if not path.exists():
            raise UserError(f"--aoi {text} is neither minx,miny,maxx,maxy nor an existing "
                            "vector file.")
        return cls(path=path)


@dataclass(frozen=True)
class ResolvedAoi:
    """The pixel region to process and, for a vector AOI, its geometry in the grid's CRS."""

    region: Window
    geometry: Any | None  # shapely geometry in the grid's CRS


def resolve_aoi(aoi: Aoi | None, grid: Grid) -> ResolvedAoi:
    full = Window(0, 0, grid.width, grid.height)
    if aoi is None:
        return ResolvedAoi(full, None)
    geometry = None
    if aoi.path is not None:
        geometry = _read_geometry(aoi.path, grid)
        bounds = geometry.bounds
    else:
        assert aoi.bounds is not None
        bounds = aoi.bounds
    # through the inverse transform: also right for rasters whose rows grow upward (GDAL's
    # identity transform of images without georeferencing), where from_bounds refuses
    inverse = ~grid.transform
    corners = [inverse * (x, y) for x in (bounds[0], bounds[2]) for y in (bounds[1], bounds[3])]
    cols, rows = [c for c, _ in corners], [r for _, r in corners]
    col0, row0 = math.floor(min(cols)), math.floor(min(rows))
    col1, row1 = math.ceil(max(cols)), math.ceil(max(rows))
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, grid.width), min(row1, grid.height)
    if col1 <= col0 or row1 <= row0:
        raise UserError("The area of interest does not overlap the raster (is it in the "
                        "raster's CRS?).")
    return ResolvedAoi(Window(col0, row0, col1 - col0, row1 - row0), geometry)


def _read_geometry(path: Path, grid: Grid) -> Any:
    import geopandas as gpd

    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise UserError(f"Cannot read the area of interest {path.name} ({exc}).") from exc
    if frame.empty:
        raise UserError(f"The area of interest {path.name} has no features.")
    if grid.crs is not None and frame.crs is not None:
        frame = frame.to_crs(grid.crs)
    return frame.geometry.union_all()
