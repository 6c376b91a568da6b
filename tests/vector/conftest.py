"""Synthetic probability rasters with known answers, in a projected and a geographic CRS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from numpy.typing import NDArray

from unet_gis.model.spec import default_spec
from unet_gis.raster.probability import (
    LEGACY_FULL_SCALE,
    NODATA,
    probability_profile,
    tag_probability_raster,
    to_stored,
)

GSD = 0.3
#: Degrees per 0.3 m near 36 deg N (WGS 84): latitude, longitude.
DEG_LAT = GSD / 110_950.0
DEG_LON = GSD / (111_320.0 * np.cos(np.radians(36.0)))

CRS_CASES = {
    "utm": ("EPSG:32611", Affine(GSD, 0, 500_000.0, 0, -GSD, 4_000_000.0)),
    "lonlat": ("EPSG:4326", Affine(DEG_LON, 0, -117.0, 0, -DEG_LAT, 36.0)),
}

MakeRaster = Callable[..., Path]


def write_probabilities(path: Path, road: NDArray, vehicle: NDArray | None = None, *,
                        crs: str | None = "EPSG:32611",
                        transform: Affine = CRS_CASES["utm"][1],
                        valid: NDArray | None = None, block: int = 256,
                        legacy: bool = False) -> Path:
    """Write a road/vehicle probability raster from two arrays of probabilities (0..1).

    As ``predict`` writes it (probability × 254, nodata 255), or with ``legacy`` as it
    did before nodata: probability × 255, band scale 1/255, invalid pixels in an internal
    mask (the layout QGIS opened with an extra band).
    """
    spec = default_spec()
    if vehicle is None:
        vehicle = np.zeros_like(road)
    height, width = road.shape
    profile = probability_profile(spec, block)
    profile.update(width=width, height=height, crs=crs, transform=transform)
    data = np.stack([road, vehicle]).astype(np.float64)
    if legacy:
        del profile["nodata"]
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), \
                rasterio.open(path, "w", **profile) as dst:
            dst.write(np.round(data * LEGACY_FULL_SCALE).astype(np.uint8))
            if valid is not None:
                dst.write_mask(np.where(valid, 255, 0).astype(np.uint8))
            tag_probability_raster(dst, spec, source=None, pixel_space=crs is None)
            dst.scales = (1 / LEGACY_FULL_SCALE,) * len(spec.classes)
        return path
    stored = to_stored(data).astype(np.uint8)
    if valid is not None:
        stored[:, ~valid] = NODATA
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(stored)
        tag_probability_raster(dst, spec, source=None, pixel_space=crs is None)
    return path


@pytest.fixture(params=sorted(CRS_CASES))
def crs_case(request: pytest.FixtureRequest) -> tuple[str, Affine]:
    """Each test using it runs in EPSG:32611 (0.3 m) and in EPSG:4326 near 36 deg N."""
    return CRS_CASES[request.param]


@pytest.fixture
def make_raster(tmp_path: Path, crs_case: tuple[str, Affine]) -> MakeRaster:
    crs, transform = crs_case

    def make(road: NDArray, vehicle: NDArray | None = None, name: str = "prob.tif",
             **kwargs: object) -> Path:
        return write_probabilities(tmp_path / name, road, vehicle, crs=crs,
                                   transform=transform, **kwargs)  # type: ignore[arg-type]

    return make


def bar(canvas: NDArray, r0: int, r1: int, c0: int, c1: int, value: float = 0.9) -> NDArray:
    canvas[r0:r1, c0:c1] = value
    return canvas
