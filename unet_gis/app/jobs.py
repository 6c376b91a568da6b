"""Job requests (frozen snapshots taken on the GUI thread) and the plain work they run.

Nothing here imports Qt: :class:`unet_gis.app.workers.JobRunner` runs these functions on
a thread and turns their callbacks into throttled signals.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unet_gis.inference.progress import CancelToken, ProgressCallback
from unet_gis.vector.options import OUTPUT_FORMATS

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class RunRequest:
    """Everything a model run needs, fixed when the user clicks Run."""

    image: Path
    output: Path
    model: Path | None = None  # None: the bundled default
    device: str = "auto"
    aoi_bounds: Bounds | None = None  # in the image's CRS
    tile: int | None = None
    halo: int | None = None
    batch_size: int | None = None
    threads: int | None = None
    precision: str = "auto"
    tta: bool = False  # test-time augmentation (8x the compute)


@dataclass(frozen=True)
class OutputGrid:
    """The probability raster's grid, known before the first block is written."""

    width: int
    height: int
    transform: Any
    crs: Any
    classes: tuple[tuple[str, tuple[int, int, int], float], ...]
    device: str


@dataclass(frozen=True)
class ExportRequest:
    probabilities: Path
    output: Path
    format: str  # shp, gpkg, geojson, tif
    classes: tuple[str, ...]
    thresholds: tuple[tuple[str, float], ...] = ()
    centerlines: bool = True
    simplify_m: float = 0.3
    min_area_m2: float = 2.0
    overwrite: bool = False


FORMAT_SUFFIX = {name: suffix for name, (_, suffix) in OUTPUT_FORMATS.items()}
FORMAT_LABEL = {name: label for name, (label, _) in OUTPUT_FORMATS.items()}


def writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (the one test of it in the app)."""
    return folder.is_dir() and os.access(folder, os.W_OK)


def output_folder(image: Path, data_dir: Path) -> Path:
    """A per-image folder next to the image if writable, else under the user's data folder
    (always there for the shipped sample scene: the install is not ours to write in)."""
    from unet_gis.resources import is_resource

    if is_resource(image):
        return data_dir / "results" / image.stem
    beside = image.parent / f"{image.stem}_unet_gis"
    if beside.is_dir() and writable(beside):
        return beside
    if not beside.exists() and writable(image.parent):
        return beside
    return data_dir / "results" / image.stem


def output_note(image: Path, data_dir: Path) -> str:
    """Why the default results folder is not beside ``image`` (else "")."""
    from unet_gis.resources import is_resource

    folder = output_folder(image, data_dir)
    if folder.parent == image.parent:
        return ""
    if is_resource(image):
        return "the sample scene's folder belongs to the installation"
    beside = image.parent / f"{image.stem}_unet_gis"
    return f"{beside if beside.exists() else image.parent} is not writable"


@dataclass(frozen=True)
class MosaicRequest:
    """Tiles (files or folders) to open as one VRT mosaic."""

    inputs: tuple[Path, ...]
    data_dir: Path


@dataclass(frozen=True)
class MosaicResult:
    vrt: Path
    tiles: int
    fallback: str  # why the VRT is in the data folder, or ""


def mosaic_target(first_tile: Path, data_dir: Path) -> tuple[Path, str]:
    """``<folder>_mosaic.vrt`` beside the first tile, else in the data folder (and why)."""
    folder = first_tile.parent
    name = f"{folder.name or 'tiles'}_mosaic.vrt"
    if writable(folder):
        return folder / name, ""
    return data_dir / "mosaics" / name, f"{folder} is not writable"


def build_mosaic_job(request: MosaicRequest, announce: Callable[[int], None]) -> MosaicResult:
    """Expand the inputs, write the VRT (reading every tile's header) and check it opens."""
    from unet_gis.raster.mosaic import build_mosaic, expand_inputs

    tiles = expand_inputs(request.inputs)
    vrt, fallback = mosaic_target(tiles[0], request.data_dir)
    tiles = [t for t in tiles if t != vrt.resolve()]  # a mosaic built here before
    if not tiles:
        from unet_gis.errors import UserError

        raise UserError("No tiles given (the folders named hold no rasters).")
    announce(len(tiles))
    vrt.parent.mkdir(parents=True, exist_ok=True)
    build_mosaic(tiles, vrt)
    return MosaicResult(vrt, len(tiles), fallback)


def planned_output(image: Path, data_dir: Path, folder: Path | None = None) -> Path:
    """Where the run will write: in ``folder``, else the default :func:`output_folder`
    (the engine's naming; checked again in :func:`run_model`).

    Computed without importing the engine, which would stall the GUI thread.
    """
    from unet_gis.inference.plan import default_output_path

    if folder is not None and folder.exists() and not writable(folder):
        from unet_gis.errors import UserError

        raise UserError(f"The output folder {folder} is not writable; choose another.")
    return default_output_path(image, folder or output_folder(image, data_dir))


def cpu_threads() -> int:
    """Every core: the run's threads have a lower priority than the GUI thread (see
    :func:`unet_gis.app.workers.lower_priority`), so the GUI stays responsive without
    leaving a core idle (which halved speed on 2-core laptops)."""
    from unet_gis.inference.device import all_cores

    return all_cores()


def load_model(request: RunRequest) -> Any:
    from unet_gis.model.checkpoint import load_checkpoint
    from unet_gis.model.zoo import resolve_model_path

    return load_checkpoint(resolve_model_path(request.model))


def plan_output(request: RunRequest, model: Any) -> OutputGrid:
    """The output grid the engine will write (same public functions the engine uses)."""
    import rasterio

    from unet_gis.inference.aoi import Aoi, resolve_aoi
    from unet_gis.inference.choices import device_line
    from unet_gis.inference.device import select_device
    from unet_gis.raster.grid import plan_grid
    from unet_gis.raster.io import open_raster

    with open_raster(request.image) as dataset:
        plan = plan_grid(dataset, model.spec.gsd_m)
    grid = plan.working
    aoi = Aoi(bounds=request.aoi_bounds) if request.aoi_bounds else None
    region = resolve_aoi(aoi, grid).region
    transform = rasterio.windows.transform(region, grid.transform)
    device = device_line(select_device(request.device, request.threads,
                                       request.precision).description, request.tta)
    classes = tuple((c.name, tuple(c.color), c.threshold) for c in model.spec.classes)
    return OutputGrid(int(region.width), int(region.height), transform, grid.crs,
                      classes, device)


def run_model(request: RunRequest, model: Any, progress: ProgressCallback,
              cancel: CancelToken, on_block: Callable[..., None]) -> Any:
    from unet_gis.inference.aoi import Aoi
    from unet_gis.inference.engine import EngineOptions, predict
    from unet_gis.inference.plan import default_output_path

    folder = request.output.parent
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    output = default_output_path(request.image, folder)
    Path(f"{output}.ovr").unlink(missing_ok=True)  # overviews of the raster it replaces
    options = EngineOptions(device=request.device, precision=request.precision,
                            tta=request.tta, tile=request.tile, halo=request.halo,
                            batch_size=request.batch_size, threads=request.threads,
                            aoi=Aoi(bounds=request.aoi_bounds) if request.aoi_bounds else None,
                            overwrite=True,
                            # the app builds them in a child process afterwards: rasterio's
                            # build_overviews holds the GIL and would freeze the GUI
                            overviews=False)
    try:
        return predict(request.image, output, model, options, progress=progress,
                       cancel=cancel, on_block=on_block)
    except BaseException:
        if created:  # a failed or cancelled first run leaves no empty results folder
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def run_export(request: ExportRequest, progress: ProgressCallback, cancel: CancelToken) -> Any:
    from unet_gis.vector.options import VectorizeOptions
    from unet_gis.vector.vectorize import vectorize

    options = VectorizeOptions(classes=request.classes, thresholds=request.thresholds,
                               centerlines=request.centerlines, min_area_m2=request.min_area_m2,
                               simplify_m=request.simplify_m, format=request.format,
                               overwrite=request.overwrite, workers=0)
    return vectorize(request.probabilities, request.output, options, progress=progress,
                     cancel=cancel)


def existing_outputs(request: ExportRequest) -> list[Path]:
    """Files the export would replace (to confirm before starting)."""
    from unet_gis.vector.export import FORMATS, files_of, layer_paths
    from unet_gis.vector.layers import layer_names

    if request.format == "tif":
        return [request.output] if request.output.exists() else []
    import rasterio

    from unet_gis.raster.probability import read_probability_info

    with rasterio.open(request.probabilities) as dataset:  # tags only: instant
        classes = read_probability_info(dataset).classes
    chosen = [c for c in classes if not request.classes or c.name in request.classes]
    names = layer_names(chosen, request.centerlines, False)
    targets = set(layer_paths(request.output, request.format, names).values())
    assert request.format in FORMATS
    return sorted(f for t in targets for f in files_of(t, request.format) if f.exists())


