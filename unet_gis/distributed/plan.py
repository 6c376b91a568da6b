"""Client side: plan a scene as the local engine does, and cut it into task rectangles.

``plan_scene`` follows the set-up half of :func:`unet_gis.inference.engine.predict` call
for call (the same public pieces, in the same order), so a cluster run reads the same
bands, on the same grid, scaled by the same percentiles (measured once, here).
TODO(lead): move it into the engine as a public ``plan_run`` that ``predict`` calls too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from unet_gis.fileio import check_output_path
from unet_gis.inference.aoi import resolve_aoi
from unet_gis.inference.engine import EngineOptions
from unet_gis.inference.reader import has_nodata
from unet_gis.model.spec import ModelSpec
from unet_gis.raster.grid import GridPlan, block_size, count_cores, plan_grid
from unet_gis.raster.io import BandChoice, InputScaler, build_scaler, choose_bands, open_raster
from unet_gis.raster.probability import probability_profile


@dataclass(frozen=True)
class ScenePlan:
    """Everything about one scene that the client decides before any task runs."""

    image: Path  # as the user named it (it goes in the output's source tag)
    output: Path
    spec: ModelSpec  # with the run's tile and halo
    plan: GridPlan
    bands: BandChoice
    scaler: InputScaler
    masked: bool
    region: Window  # in working-grid pixels
    geometry: Any | None  # AOI geometry in the grid's CRS
    profile: dict[str, Any]
    block: int
    cores: int
    warnings: tuple[str, ...]

    @property
    def pixels(self) -> int:
        return int(self.region.width * self.region.height)


def plan_scene(image: Path, output: Path, spec: ModelSpec, options: EngineOptions) -> ScenePlan:
    """Check the paths, open the raster and decide bands, grid, scaling, region, profile."""
    spec = spec.with_tiling(options.tile, options.halo)
    check_output_path(output, options.overwrite, inputs=(image,))
    warnings: list[str] = []
    with open_raster(image) as dataset:
        bands = choose_bands(dataset, spec, options.bands)
        plan = plan_grid(dataset, spec.gsd_m)
        scaler = build_scaler(dataset, bands, spec)
        masked = has_nodata(dataset, bands)
    if plan.source.crs is None:
        warnings.append(f"{image.name} has no CRS: it runs in pixel space at the model's "
                        f"{spec.gsd_m} m, and the outputs have no georeferencing.")
    if plan.resampled:
        warnings.append(f"resampled from {plan.source.gsd_m[0]:.2f} m to the model's "  # type: ignore[index]
                        f"{spec.gsd_m:.2f} m on the fly")
    grid = plan.working
    aoi = resolve_aoi(options.aoi, grid)
    region = aoi.region
    block = block_size(spec.tile - 2 * spec.halo)
    profile = probability_profile(spec, block)
    profile.update(width=int(region.width), height=int(region.height), crs=grid.crs,
                   transform=window_transform(region, grid.transform))
    return ScenePlan(image, output, spec, plan, bands, scaler,
                     masked or aoi.geometry is not None, region, aoi.geometry, profile, block,
                     count_cores(region, spec.tile, spec.halo), tuple(warnings))


def task_regions(region: Window, core: int, cores_per_task: int) -> Iterator[Window]:
    """Cut ``region`` into rectangles of whole cores, row-major, about ``cores_per_task``
    cores each (a whole row of cores is split when it alone is longer).

    Every rectangle starts a whole number of cores from the region's origin and keeps the
    region's right and bottom edges, so ``tile_windows`` over a rectangle yields exactly
    the windows ``tile_windows`` over the whole region yields there.
    """
    rows = math.ceil(region.height / core)
    cols = math.ceil(region.width / core)
    per_row = max(1, min(cols, cores_per_task))
    row_step = max(1, cores_per_task // per_row)
    row0, col0 = int(region.row_off), int(region.col_off)
    for r in range(0, rows, row_step):
        for c in range(0, cols, per_row):
            top, left = row0 + r * core, col0 + c * core
            bottom = min(row0 + (r + row_step) * core, row0 + int(region.height))
            right = min(col0 + (c + per_row) * core, col0 + int(region.width))
            yield Window(left, top, right - left, bottom - top)
