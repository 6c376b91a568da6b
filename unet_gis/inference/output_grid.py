"""``--output-grid input``: the probability raster on the input's own pixel grid.

The engine always works on the model's grid (the input resampled to the model's GSD, same
bounds and CRS).  By default the probability raster stays on that grid: it keeps exactly
what the model saw (centerlines and small vehicles of a 1 m scene are traced at 0.3 m) and
stays small for very sharp imagery.  With ``input`` the finished raster is resampled back
(bilinear over valid pixels only; nodata where most of the source was nodata), block by
block through a warped view, so memory stays flat, and raster algebra against the input
lines up pixel for pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window, from_bounds
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from unet_gis.inference.plan import RunPlan
from unet_gis.inference.progress import CancelToken, check
from unet_gis.raster.grid import Grid, build_overviews, overview_factors
from unet_gis.raster.probability import NODATA

BLOCK = 512


def input_region(run: RunPlan) -> Window:
    """The run's region (model-grid pixels) as a window of the input's grid."""
    working, source = run.plan.working, run.plan.source
    left, bottom, right, top = window_bounds(run.region, working.transform)
    window = from_bounds(left, bottom, right, top, source.transform)
    window = window.round_offsets().round_lengths()
    return window.intersection(Window(0, 0, source.width, source.height))


def resample_to_input(model_grid: Path, out_path: Path, run: RunPlan,
                      cancel: CancelToken | None, overviews: bool) -> None:
    """Write ``model_grid`` (a finished probability raster) resampled onto the input grid."""
    source: Grid = run.plan.source
    region = input_region(run)
    transform = window_transform(region, source.transform)
    width, height = int(region.width), int(region.height)
    # the source's nodata (255) is left out of the bilinear weights, so probabilities
    # next to nodata come from valid pixels only; the alpha band is the share of valid
    # source pixels under each output pixel
    with rasterio.open(model_grid) as src, \
            WarpedVRT(src, crs=src.crs, transform=transform, width=width, height=height,
                      resampling=Resampling.bilinear, src_nodata=NODATA, nodata=NODATA,
                      add_alpha=run.masked) as view:
        profile = dict(run.profile, width=width, height=height, transform=transform,
                       crs=src.crs, blockxsize=BLOCK, blockysize=BLOCK)
        with rasterio.open(out_path, "w", **profile) as dst:
            for row in range(0, height, BLOCK):
                for col in range(0, width, BLOCK):
                    check(cancel)
                    window = Window(col, row, min(BLOCK, width - col), min(BLOCK, height - row))
                    data = view.read(list(range(1, src.count + 1)), window=window)
                    if run.masked:  # valid where most of the source under it was valid
                        valid = view.read(src.count + 1, window=window) > 127
                        data = np.where(valid, data, NODATA).astype(np.uint8)
                    dst.write(data, window=window)
            dst.update_tags(**src.tags())
            dst.scales, dst.offsets = src.scales, src.offsets
            for band in range(1, src.count + 1):
                dst.set_band_description(band, src.descriptions[band - 1] or "")
            if overviews:
                check(cancel)
                factors = overview_factors(width, height, BLOCK)
                if factors:
                    build_overviews(dst, factors)
