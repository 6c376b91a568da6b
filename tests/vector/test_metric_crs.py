"""Measures are true metres in every CRS: Web Mercator is measured in UTM, checked against
geodesic lengths and areas (pyproj Geod) at several latitudes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer
from rasterio.crs import CRS
from shapely.geometry import LineString, Polygon

from unet_gis.vector.measure import Georef, metric_crs_for

GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize("lat", [0.5, 36.0, 52.5, 64.0])
def test_web_mercator_lengths_and_areas_match_geodesics(lat: float) -> None:
    lon = 10.0
    mercator = CRS.from_epsg(3857)
    metric = metric_crs_for(mercator, (lon, lat))
    assert metric.to_epsg() != 3857 or lat < 1.0  # only near the equator is it true scale
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    # a 300 m x 200 m block and a 500 m street, built in lon/lat, stored in Web Mercator
    dlat, dlon = 300 / 111_000, 200 / (111_000 * np.cos(np.radians(lat)))
    ring = [(lon, lat), (lon + dlon, lat), (lon + dlon, lat + dlat), (lon, lat + dlat)]
    block = Polygon([to_merc.transform(x, y) for x, y in ring])
    street = LineString([to_merc.transform(lon, lat), to_merc.transform(lon + dlon * 2.5, lat)])
    georef = Georef(None, mercator, metric, 1.0)  # type: ignore[arg-type]
    block_m, street_m = georef.to_metric(np.array([block, street], dtype=object))
    area_true = abs(GEOD.geometry_area_perimeter(Polygon(ring))[0])
    length_true = GEOD.geometry_length(LineString([(lon, lat), (lon + dlon * 2.5, lat)]))
    assert shapely.area(block_m) == pytest.approx(area_true, rel=0.01)
    assert shapely.length(street_m) == pytest.approx(length_true, rel=0.005)


def test_true_scale_projected_crs_is_kept() -> None:
    utm = CRS.from_epsg(32611)
    assert metric_crs_for(utm, (-117.0, 36.0)) == ProjCRS.from_epsg(32611)
    assert metric_crs_for(CRS.from_epsg(4326), (-117.0, 36.0)).to_epsg() == 32611
