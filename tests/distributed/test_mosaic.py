"""``predict TILES --mosaic --cluster local:1`` writes the raster a local mosaic run writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from unet_gis.cli.main import main

from ..conftest import random_rgb, write_geotiff
from .conftest import assert_same_raster

pytest.importorskip("distributed")

RES = 0.3


def tiles(folder: Path, image: np.ndarray, side: int, gap: tuple[int, int]) -> Path:
    """``image`` cut into side² GeoTIFFs on one grid, the tile at ``gap`` left out."""
    folder.mkdir()
    for row in range(0, image.shape[1], side):
        for col in range(0, image.shape[2], side):
            if (row // side, col // side) != gap:
                write_geotiff(folder / f"t_{row // side}_{col // side}.tif",
                              image[:, row:row + side, col:col + side],
                              transform=from_origin(600000.0 + col * RES,
                                                    4000000.0 - row * RES, RES, RES))
    return folder


@pytest.mark.slow  # starts its own one-worker cluster
def test_a_mosaic_on_one_local_worker_equals_a_local_run(
        tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """12 tiles of 70 px (smaller than the model's tile, one missing: a no-data gap) as one
    mosaic, locally and on ``local:1``: bit-identical pixels, mask, tags and overviews."""
    folder = tiles(tmp_path / "tiles", random_rgb(210, 280, seed=5), 70, gap=(1, 2))
    outputs = {}
    for where, extra in (("local", []), ("cluster", ["--cluster", "local:1"])):
        out = tmp_path / where
        out.mkdir()
        code = main(["predict", str(folder), "--mosaic", "city", "-o", str(out), "--model",
                     str(tiny_checkpoint), "--device", "cpu", "--quiet", *extra])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        outputs[where] = out / "city_probabilities.tif"
    assert "Dask" in captured.out  # the second run did go to the cluster
    assert_same_raster(outputs["local"], outputs["cluster"])
    with rasterio.open(outputs["cluster"]) as dst:
        assert (dst.width, dst.height) == (280, 210)
        mask = dst.dataset_mask()
        assert (mask[70:140, 140:210] == 0).all() and mask[:70].all()
