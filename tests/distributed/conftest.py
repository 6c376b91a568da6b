"""A shared LocalCluster (2 worker processes, 1 thread each, 1 GiB) and scene helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio

from unet_gis.raster.probability import DEVICE_TAG

from ..conftest import random_rgb, write_geotiff

# Dask logs, and sometimes warns, while workers and comms shut down; only those are let
# through here, every other warning is still an error.
DASK_SHUTDOWN_WARNINGS = (
    "ignore:.*[Cc]lient.*closed.*:UserWarning",
    "ignore:Port .* is already in use:UserWarning",
    "ignore::ResourceWarning:distributed.*",
    "ignore:.*leaked semaphore.*:UserWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            for spec in DASK_SHUTDOWN_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    """``local:2``: two worker processes, one thread each, small memory."""
    pytest.importorskip("distributed")
    from unet_gis.distributed import open_cluster

    with open_cluster("local:2", memory_limit="1GiB") as session:
        yield session


def odd_scene(path: Path, height: int, width: int, seed: int) -> Path:
    """uint8 RGB of odd size with nodata=0: a whole nodata corner (cores skipped), a hole
    inside a core and a ragged nodata edge."""
    raw = random_rgb(height, width, seed=seed)
    raw[:, : height // 3, : width // 2] = 0
    raw[:, height // 2: height // 2 + 9, width // 3: width // 3 + 13] = 0
    for row in range(height):
        raw[:, row, width - 1 - row % 17:] = 0
    return write_geotiff(path, raw, nodata=0)


def uint16_scene(path: Path, height: int, width: int, seed: int) -> Path:
    """uint16 without nodata: scaled by percentiles the client measures once."""
    raw = random_rgb(height, width, seed=seed).astype(np.uint16) * 37 + 100
    return write_geotiff(path, raw)


def assert_same_raster(expected: Path, actual: Path) -> None:
    """Bit-identical pixels, masks and overviews; same profile, georeferencing, tags."""
    with rasterio.open(expected) as a, rasterio.open(actual) as b:
        assert a.profile == b.profile
        assert (a.crs, a.transform) == (b.crs, b.transform)
        # where it ran (device, threads, precision) is recorded but is not the data
        tags_a, tags_b = a.tags(), b.tags()
        assert tags_a.pop(DEVICE_TAG) and tags_b.pop(DEVICE_TAG)
        assert tags_a == tags_b
        assert a.descriptions == b.descriptions
        assert a.block_shapes == b.block_shapes
        assert a.mask_flag_enums == b.mask_flag_enums
        np.testing.assert_array_equal(a.read(), b.read())
        np.testing.assert_array_equal(a.read_masks(), b.read_masks())
        assert a.overviews(1) == b.overviews(1)
        for factor in a.overviews(1):
            shape = (a.count, max(1, a.height // factor), max(1, a.width // factor))
            np.testing.assert_array_equal(a.read(out_shape=shape), b.read(out_shape=shape))
