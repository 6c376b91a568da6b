"""The sliding-window engine: read -> infer -> write, overlapped, flat in memory.

Each model input (tile) is a core of whole output blocks plus a halo; only the core's
predictions are kept, so every output block is written exactly once and nothing
accumulates.  Reader threads (each with its own GDAL handle) fill a bounded queue, the
calling thread owns torch and batches tiles, and one writer thread writes cores to a
temporary GeoTIFF that is renamed into place only when everything succeeded.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from unet_gis.errors import UserError
from unet_gis.fileio import atomic_path
from unet_gis.inference.aoi import Aoi
from unet_gis.inference.backend import Backend, create_backend
from unet_gis.inference.choices import OUTPUT_GRIDS, device_line
from unet_gis.inference.device import DeviceChoice
from unet_gis.inference.memory import release_freed_memory, reuse_freed_memory
from unet_gis.inference.output import BlockCallback, BlockWriter, CoreSink, finish_output
from unet_gis.inference.output_grid import resample_to_input
from unet_gis.inference.plan import RunPlan, plan_run
from unet_gis.inference.progress import CancelToken, ProgressCallback, ProgressReporter, check
from unet_gis.inference.reader import TileData, TileReader
from unet_gis.model.checkpoint import LoadedModel, model_sha256
from unet_gis.model.spec import ModelSpec
from unet_gis.raster.grid import Grid, tile_windows
from unet_gis.raster.io import GDAL_CACHE_MB, RasterSource, as_source
from unet_gis.raster.styles import style_probability_raster

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class EngineOptions:
    """How to run; ``None`` means "the model spec's default"."""

    device: str = "auto"
    precision: str = "auto"
    tta: bool = False  # average over flips and 90° rotations (8x the compute)
    backend: str = "torch"  # or "onnx" (optional, fp32 on the CPU)
    tile: int | None = None
    halo: int | None = None
    batch_size: int | None = None
    bands: tuple[int, ...] | None = None
    aoi: Aoi | None = None
    overwrite: bool = False
    readers: int = 2
    threads: int | None = None
    overviews: bool = True
    output_grid: str = "model"  # or "input" (see unet_gis.inference.output_grid)


@dataclass(frozen=True)
class PredictResult:
    """What a finished run produced, for the summary line and the app."""

    output: Path
    width: int
    height: int
    pixels: int
    seconds: float
    device: str
    bands: str
    scaling: str
    gsd_m: tuple[float, float] | None
    resampled: bool
    cores: int
    cores_skipped: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def megapixels_per_s(self) -> float:
        return self.pixels / 1e6 / self.seconds if self.seconds > 0 else 0.0


def plan_predict(image: RasterSource, output: Path, spec: ModelSpec,
                 options: EngineOptions) -> RunPlan:
    """The :class:`RunPlan` for ``options`` (also what a Dask client plans with)."""
    return plan_run(image, output, spec, tile=options.tile, halo=options.halo,
                    bands=options.bands, aoi=options.aoi, overwrite=options.overwrite)


def uncompressed_bytes(run: RunPlan) -> int:
    """The probability raster's size before compression, overviews included (4/3)."""
    pixels = int(run.region.width) * int(run.region.height)
    return pixels * int(run.profile["count"]) * 4 // 3


def default_batch_size(device: DeviceChoice) -> int:
    """8 tiles on a GPU; one on a CPU, where a second tile only spills the caches (measured
    slower per pixel on 2 cores, benchmarks/bench_engine.py)."""
    return 8 if device.is_cuda else 1


def predict(image: str | Path, output: str | Path, model: LoadedModel,
            options: EngineOptions = EngineOptions(), progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None,
            on_block: BlockCallback | None = None) -> PredictResult:
    """Run ``model`` over ``image`` and write its probability raster to ``output``.

    Raises :class:`~unet_gis.errors.UserError` for bad input and
    :class:`~unet_gis.errors.Cancelled` when ``cancel`` is set; in both cases no output
    file is left behind.
    """
    start = time.perf_counter()
    reuse_freed_memory()
    if options.output_grid not in OUTPUT_GRIDS:
        raise UserError(f"--output-grid must be one of {', '.join(OUTPUT_GRIDS)}, "
                        f"not {options.output_grid!r}.")
    run = plan_predict(as_source(image), Path(output), model.spec, options)
    backend = create_backend(model, options.device, options.precision, options.threads,
                             options.backend, options.tta)
    device = backend.device
    ran_on = device_line(device.description, options.tta)
    reporter = ProgressReporter("predict", run.cores, progress)
    reader = TileReader(run.image, run.plan, run.bands, run.scaler, run.masked)
    back_to_input = options.output_grid == "input" and run.plan.resampled
    with atomic_path(run.output, ".tif", uncompressed_bytes(run)) as final:
        # on the model's grid first; with --output-grid input, a temporary beside the
        # output (atomic_path removes it with the rest) that is then resampled back
        written = final.with_name(final.name + ".model-grid.tif") if back_to_input else final
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), \
                rasterio.open(written, "w", **run.profile) as dst:
            writer = BlockWriter(dst, run.region, on_block)
            try:
                skipped = run_pipeline(reader, writer, backend, run.spec.tile,
                                       run.spec.halo, run.region,
                                       options.batch_size or default_batch_size(device),
                                       options.readers, run.geometry, run.plan.working,
                                       reporter, cancel)
            finally:
                reader.close()
                release_freed_memory()
            finish_output(dst, run, options.overviews and not back_to_input, cancel,
                          ran_on, model_sha256(model), writer.wrote_nodata)
        if back_to_input:
            resample_to_input(written, final, run, cancel, options.overviews)
    style_probability_raster(run.output, run.spec.classes)
    for message in run.warnings:
        log.warning(message)
    return PredictResult(run.output, int(run.region.width), int(run.region.height),
                         run.pixels, time.perf_counter() - start, ran_on,
                         run.bands.description, run.scaler.description,
                         run.plan.working.gsd_m, run.plan.resampled, run.cores, skipped,
                         run.warnings)


def run_pipeline(reader: TileReader, writer: CoreSink, backend: Backend, tile: int, halo: int,
                 region: Window, batch_size: int, readers: int, geometry: Any | None,
                 grid: Grid, reporter: ProgressReporter, cancel: CancelToken | None) -> int:
    """Stream every core through read -> batch/infer -> write; return cores skipped.

    ``backend.streams`` batches are inferred at once, each on its own thread (on a CPU two
    single-threaded forward passes beat one two-threaded pass: each keeps its tile's
    activations in its own core's caches).
    """
    windows = iter(tile_windows(region, tile, halo))
    if geometry is not None:
        windows = (w for w in windows if _touches(w.core, geometry, grid))
        # cores outside the AOI are written as nodata below
    skipped = 0
    read_pool = ThreadPoolExecutor(max(1, readers), thread_name_prefix="unet-gis-read")
    write_pool = ThreadPoolExecutor(1, thread_name_prefix="unet-gis-write")
    streams = max(1, backend.streams)
    infer_pool = ThreadPoolExecutor(streams, thread_name_prefix="unet-gis-infer")
    reads: deque[Future[TileData]] = deque()
    writes: deque[Future[None]] = deque()
    inferring: deque[tuple[list[TileData], Future[list[np.ndarray]]]] = deque()
    prefetch = max(2 * batch_size * streams, readers * 2)

    def refill() -> None:
        while len(reads) < prefetch:
            window = next(windows, None)
            if window is None:
                return
            reads.append(read_pool.submit(reader.read, window))

    def submit_write(core: Window, data: np.ndarray | None, valid: np.ndarray | None) -> None:
        writes.append(write_pool.submit(writer.write, core, data, valid))
        while len(writes) > prefetch or (writes and writes[0].done()):
            writes.popleft().result()

    def finish_oldest() -> None:
        done, future = inferring.popleft()
        for tile_data, probabilities in zip(done, future.result(), strict=True):
            submit_write(tile_data.window.core, probabilities, tile_data.core_valid)
        reporter.advance(len(done), sum(_pixels(t.window.core) for t in done))

    try:
        if geometry is not None:
            for window in tile_windows(region, tile, halo):
                if not _touches(window.core, geometry, grid):
                    submit_write(window.core, None, np.zeros(
                        (int(window.core.height), int(window.core.width)), bool))
                    skipped += 1
                    reporter.advance(1, 0)
        refill()
        batch: list[TileData] = []
        while reads:
            check(cancel)
            item = reads.popleft().result()
            refill()
            if item.image is None:
                submit_write(item.window.core, None, item.core_valid)
                skipped += 1
                reporter.advance(1, _pixels(item.window.core))
            else:
                batch.append(item)
            while inferring and inferring[0][1].done():
                finish_oldest()
            if batch and (len(batch) == batch_size or not reads):
                while len(inferring) >= streams:
                    finish_oldest()
                inferring.append((batch, infer_pool.submit(infer_tiles, backend, batch,
                                                           batch_size)))
                batch = []
        while inferring:
            check(cancel)
            finish_oldest()
        while writes:
            writes.popleft().result()
    finally:
        infer_pool.shutdown(wait=True, cancel_futures=True)
        read_pool.shutdown(wait=True, cancel_futures=True)
        write_pool.shutdown(wait=True, cancel_futures=True)
    return skipped


def _pixels(window: Window) -> int:
    return int(window.width * window.height)


def _touches(core: Window, geometry: Any, grid: Grid) -> bool:
    from shapely.geometry import box

    return bool(geometry.intersects(box(*rasterio.windows.bounds(core, grid.transform))))


def infer_tiles(backend: Backend, batch: list[TileData], batch_size: int) -> list[np.ndarray]:
    """Run one batch; return each tile's core probabilities as uint8 (0-254)."""
    stacked = np.stack([t.image for t in batch])  # type: ignore[misc]
    probabilities = backend.infer(stacked, pad_to=batch_size)
    results = []
    for index, tile_data in enumerate(batch):
        r, c = tile_data.window.core_offset
        h, w = int(tile_data.window.core.height), int(tile_data.window.core.width)
        results.append(np.ascontiguousarray(probabilities[index, :, r:r + h, c:c + w]))
    return results
