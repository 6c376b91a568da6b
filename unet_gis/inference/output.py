"""Writing the probability raster: cores as they finish, then tags and overviews."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from rasterio.io import DatasetWriter
from rasterio.windows import Window

from unet_gis.inference.plan import RunPlan
from unet_gis.inference.progress import CancelToken, check
from unet_gis.raster.grid import build_overviews, overview_factors
from unet_gis.raster.probability import NODATA, tag_probability_raster

BlockCallback = Callable[[Window, np.ndarray, "np.ndarray | None"], None]
"""Called on the writer thread with (window in the output, uint8 probabilities with
:data:`~unet_gis.raster.probability.NODATA` where not valid, valid mask or None)."""


class CoreSink(Protocol):
    """Where the pipeline puts finished cores: a file locally, a list on a Dask worker."""

    def write(self, core: Window, probabilities: np.ndarray | None,
              valid: np.ndarray | None) -> None: ...


class BlockWriter:
    """Owns the output dataset; every core is written once, from a single thread."""

    def __init__(self, dst: DatasetWriter, region: Window,
                 on_block: BlockCallback | None) -> None:
        self.dst, self.region, self.on_block = dst, region, on_block
        self.wrote_nodata = False  # whether any pixel holds NODATA (overviews' fast path)

    def write(self, core: Window, probabilities: np.ndarray | None,
              valid: np.ndarray | None) -> None:
        """Write one core (``None`` probabilities: a skipped, all-nodata core)."""
        window = Window(core.col_off - self.region.col_off, core.row_off - self.region.row_off,
                        core.width, core.height)
        shape = (self.dst.count, int(core.height), int(core.width))
        data = np.full(shape, NODATA, np.uint8) if probabilities is None else probabilities
        if valid is not None:  # invalid pixels hold the raster's nodata value, not a mask
            data = np.where(valid, data, NODATA).astype(np.uint8)
        if not self.wrote_nodata:
            self.wrote_nodata = bool((data == NODATA).any())
        self.dst.write(data, window=window)
        if self.on_block is not None:
            self.on_block(window, data, valid)


def finish_output(dst: DatasetWriter, run: RunPlan, overviews: bool,
                  cancel: CancelToken | None, device: str | None = None,
                  model_sha256: str | None = None, wrote_nodata: bool = True) -> None:
    """Tag the classes, spec, model and device line, then build overviews (unless
    cancelled; faster when the writer saw no nodata pixel, ``wrote_nodata`` False)."""
    tag_probability_raster(dst, run.spec, str(run.image), run.plan.source.crs is None, device,
                           model_sha256)
    if overviews:
        check(cancel)
        factors = overview_factors(int(run.region.width), int(run.region.height), run.block)
        if factors:
            build_overviews(dst, factors, nodata_free=not wrote_nodata)
