"""Setting up a run: everything decided before the first tile is read.

``plan_run`` checks the paths, opens the raster once and decides the bands, the working
grid, the input scaling (percentiles measured once for the whole raster), the region and
the output profile.  The local engine and the Dask client both start here, so a cluster
run reads and scales exactly what a local run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from unet_gis.fileio import check_output_path
from unet_gis.inference.aoi import Aoi, resolve_aoi
from unet_gis.inference.reader import has_nodata
from unet_gis.model.spec import ModelSpec
from unet_gis.raster.grid import GridPlan, block_size, count_cores, plan_grid
from unet_gis.raster.io import (
    BandChoice,
    InputScaler,
    RasterSource,
    build_scaler,
    choose_bands,
    open_raster,
    source_name,
    source_stem,
)
from unet_gis.raster.probability import probability_profile


@dataclass(frozen=True)
class RunPlan:
    """One image's run, decided on the calling thread before any work starts."""

    image: RasterSource  # as the user named it (it goes in the output's source tag)
    output: Path
    spec: ModelSpec  # with the run's tile and halo
    plan: GridPlan
    bands: BandChoice
    scaler: InputScaler
    masked: bool  # some output pixels are nodata (input nodata or a vector AOI)
    region: Window  # in working-grid pixels
    geometry: Any | None  # AOI geometry in the grid's CRS
    profile: dict[str, Any]
    block: int
    cores: int
    warnings: tuple[str, ...]

    @property
    def pixels(self) -> int:
        return int(self.region.width * self.region.height)


def default_output_path(image: RasterSource, outdir: Path) -> Path:
    """``OUTDIR/<image name>_probabilities.tif`` (torch-free, so the GUI thread may call it)."""
    return outdir / f"{source_stem(image)}_probabilities.tif"


def plan_run(image: RasterSource, output: Path, spec: ModelSpec, *, tile: int | None = None,
             halo: int | None = None, bands: tuple[int, ...] | None = None,
             aoi: Aoi | None = None, overwrite: bool = False) -> RunPlan:
    """Check the paths, open the raster and decide bands, grid, scaling, region, profile."""
    spec = spec.with_tiling(tile, halo)
    check_output_path(output, overwrite,
                      inputs=(image,) if isinstance(image, Path) else ())
    warnings: list[str] = []
    with open_raster(image) as dataset:
        band_choice = choose_bands(dataset, spec, bands)
        plan = plan_grid(dataset, spec.gsd_m)
        scaler = build_scaler(dataset, band_choice, spec)
        masked = has_nodata(dataset, band_choice)
        # float rasters: NaN and inf pixels are nodata (many are written without a nodata
        # value), so their output has a mask too
        floating = np.dtype(dataset.dtypes[band_choice.indexes[0] - 1]).kind == "f"
        masked = masked or floating
    if scaler.non_finite_seen:
        warnings.append(f"{source_name(image)} has NaN or infinite pixels and no nodata value "
                        "for them: they are treated as nodata.")
    if plan.source.crs is None:
        warnings.append(f"{source_name(image)} has no CRS: it runs in pixel space at the model's "
                        f"{spec.gsd_m} m, and the outputs have no georeferencing.")
    if plan.resampled and plan.source.gsd_m is not None:
        warnings.append(f"resampled from {plan.source.gsd_m[0]:.2f} m to the model's "
                        f"{spec.gsd_m:.2f} m on the fly")
    grid = plan.working
    resolved = resolve_aoi(aoi, grid)
    region = resolved.region
    block = block_size(spec.tile - 2 * spec.halo)
    profile = probability_profile(spec, block)
    profile.update(width=int(region.width), height=int(region.height), crs=grid.crs,
                   transform=window_transform(region, grid.transform))
    return RunPlan(image, output, spec, plan, band_choice, scaler,
                   masked or resolved.geometry is not None, region, resolved.geometry,
                   profile, block, count_cores(region, spec.tile, spec.halo),
                   tuple(warnings))
