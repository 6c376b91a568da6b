"""Geometry in pixel space, measures in metres.

The vectorizer builds every geometry in *global pixel coordinates* (column, row; pixel
``(r, c)`` covers ``[c, c+1] x [r, r+1]``).  Pixel corners are small integers and pixel
centres half-integers, so pieces cut at window edges meet on bit-identical coordinates and
merge exactly; only the finished geometries are moved into the raster's CRS.

Lengths and areas are measured in a local projected CRS in metres (the raster's own CRS
when it is projected in metres, else the UTM zone of the raster's centre), so they are
right even when the raster is in longitude/latitude.  A raster without a CRS is measured
in pixel units and the summary says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from rasterio.crs import CRS
from rasterio.io import DatasetReader

from unet_gis.raster.io import north_up_transform

GeomArray = NDArray[np.object_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Georef:
    """Where pixels are on the ground and how to measure them.

    ``metric_crs`` is ``None`` when the raster has no CRS (pixel space); measures are then
    in pixels.  ``pixel_m`` is the side of a pixel in metres near the raster's centre and
    turns user tolerances given in metres into pixels.
    """

    transform: Affine
    crs: CRS | None
    metric_crs: ProjCRS | None
    pixel_m: float

    @property
    def pixel_space(self) -> bool:
        return self.metric_crs is None

    def px(self, metres: float) -> float:
        """A distance in metres as a distance in pixels."""
        return metres / self.pixel_m

    def px2(self, square_metres: float) -> float:
        """An area in square metres as an area in pixels."""
        return square_metres / self.pixel_m**2

    def to_map(self, geoms: GeomArray) -> GeomArray:
        """Move pixel-space geometries into the raster's CRS."""
        t = self.transform
        matrix = np.array([[t.a, t.d], [t.b, t.e]])
        offset = np.array([t.c, t.f])
        return np.asarray(shapely.transform(geoms, lambda xy: xy @ matrix + offset),
                          dtype=object)

    def to_metric(self, geoms_map: GeomArray) -> GeomArray:
        """Map geometries (raster CRS) in the metric CRS (unchanged in pixel space)."""
        if self.metric_crs is None or self.crs is None:
            return geoms_map
        transformer = Transformer.from_crs(ProjCRS.from_user_input(self.crs.to_wkt()),
                                           self.metric_crs, always_xy=True)
        if transformer.name == "noop":
            return geoms_map
        return np.asarray(shapely.transform(
            geoms_map, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))),
            dtype=object)


#: A projected CRS measures true metres only where its scale factor is ~1: Web Mercator
#: is 1.24 at 36° N (lengths x1.24, areas x1.54), so it is measured in UTM instead.
MAX_SCALE_ERROR = 0.005


def metric_crs_for(crs: CRS, lonlat_centre: tuple[float, float]) -> ProjCRS:
    """The raster's CRS if it is projected in metres with a scale factor within 0.5 % of 1
    at the data's centre, else the UTM zone of its centre."""
    proj = ProjCRS.from_user_input(crs.to_wkt())
    lon, lat = lonlat_centre
    if proj.is_projected:
        units = {axis.unit_name for axis in proj.axis_info}
        if units <= {"metre", "meter"} and _true_scale(proj, lon, lat):
            return proj
    found = query_utm_crs_info(datum_name="WGS 84",
                               area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return ProjCRS.from_epsg(int(found[0].code))


def _true_scale(proj: ProjCRS, lon: float, lat: float) -> bool:
    from pyproj import Proj

    try:
        factors = Proj(proj).get_factors(lon, lat)
        scales = (factors.meridional_scale, factors.parallel_scale)
    except Exception:  # a projection PROJ cannot differentiate: measure in UTM
        return False
    return all(np.isfinite(f) and abs(f - 1.0) <= MAX_SCALE_ERROR for f in scales)


def georef_of(dataset: DatasetReader, pixel_space: bool) -> Georef:
    """The :class:`Georef` of an open raster (pixel space when it has no CRS)."""
    transform = dataset.transform
    if pixel_space or dataset.crs is None:  # y = -row, where the app and QGIS draw it
        return Georef(north_up_transform(None, transform), None, None, 1.0)
    crs = dataset.crs
    proj = ProjCRS.from_user_input(crs.to_wkt())
    col, row = dataset.width / 2, dataset.height / 2
    corners = np.array([transform * (col, row), transform * (col + 1, row),
                        transform * (col, row + 1)], dtype=float)
    to_lonlat = Transformer.from_crs(proj, ProjCRS.from_epsg(4326), always_xy=True)
    lon, lat = to_lonlat.transform(corners[0, 0], corners[0, 1])
    metric = metric_crs_for(crs, (lon, lat))
    to_metric = Transformer.from_crs(proj, metric, always_xy=True)
    mx, my = to_metric.transform(corners[:, 0], corners[:, 1])
    u = np.array([mx[1] - mx[0], my[1] - my[0]])
    v = np.array([mx[2] - mx[0], my[2] - my[0]])
    pixel_m = float(np.sqrt(abs(u[0] * v[1] - u[1] * v[0])))
    return Georef(transform, crs, metric, pixel_m)
