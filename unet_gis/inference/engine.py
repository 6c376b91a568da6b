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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from rasterio.enums import Resampling
from rasterio.io import DatasetWriter
from rasterio.windows import Window

from unet_gis.fileio import atomic_path, check_output_path
from unet_gis.inference.aoi import Aoi, resolve_aoi
from unet_gis.inference.device import DeviceChoice, select_device
from unet_gis.inference.progress import CancelToken, ProgressCallback, ProgressReporter, check
from unet_gis.inference.reader import TileData, TileReader, has_nodata
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.grid import Grid, block_size, count_cores, plan_grid, tile_windows
from unet_gis.raster.io import build_scaler, choose_bands, open_raster
from unet_gis.raster.probability import probability_profile, tag_probability_raster

log = logging.getLogger(__name__)

BlockCallback = Callable[[Window, np.ndarray, "np.ndarray | None"], None]
"""Called on the writer thread with (window in the output, uint8 probabilities, valid mask)."""


@dataclass(frozen=True)
class EngineOptions:
    """How to run; ``None`` means "the model spec's default"."""

    device: str = "auto"
    tile: int | None = None
    halo: int | None = None
    batch_size: int | None = None
    bands: tuple[int, ...] | None = None
    aoi: Aoi | None = None
    overwrite: bool = False
    readers: int = 2
    threads: int | None = None
    overviews: bool = True


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


def default_output_path(image: Path, outdir: Path) -> Path:
    return outdir / f"{image.stem}_probabilities.tif"


def predict(image: str | Path, output: str | Path, model: LoadedModel,
            options: EngineOptions = EngineOptions(), progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None,
            on_block: BlockCallback | None = None) -> PredictResult:
    """Run ``model`` over ``image`` and write its probability raster to ``output``.

    Raises :class:`~unet_gis.errors.UserError` for bad input and
    :class:`~unet_gis.errors.Cancelled` when ``cancel`` is set; in both cases no output
    file is left behind.
    """
    image, output = Path(image), Path(output)
    start = time.perf_counter()
    spec = model.spec.with_tiling(options.tile, options.halo)
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
    masked = masked or aoi.geometry is not None
    device = select_device(options.device, options.threads)
    network = model.network.to(device.device).eval()
    network = network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    core = spec.tile - 2 * spec.halo
    block = block_size(core)
    profile = probability_profile(spec, block)
    profile.update(width=int(region.width), height=int(region.height), crs=grid.crs,
                   transform=rasterio.windows.transform(region, grid.transform))
    total = count_cores(region, spec.tile, spec.halo)
    reporter = ProgressReporter("predict", total, progress)
    batch_size = options.batch_size or (8 if device.is_cuda else 2)
    reader = TileReader(image, plan, bands, scaler, masked)
    skipped = 0
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), atomic_path(output, ".tif") as tmp, \
            rasterio.open(tmp, "w", **profile) as dst:
        writer = _Writer(dst, region, masked, on_block)
        try:
            skipped = _pipeline(reader, writer, network, device, spec.tile, spec.halo, region,
                                batch_size, options.readers, aoi.geometry, grid, reporter,
                                cancel)
        finally:
            reader.close()
        tag_probability_raster(dst, spec, str(image), plan.source.crs is None)
        if options.overviews:
            check(cancel)
            factors = _overview_factors(int(region.width), int(region.height), block)
            if factors:
                dst.build_overviews(factors, Resampling.average)
    seconds = time.perf_counter() - start
    for message in warnings:
        log.warning(message)
    return PredictResult(output, int(region.width), int(region.height),
                         int(region.width * region.height), seconds, device.description,
                         bands.description, scaler.description, grid.gsd_m, plan.resampled,
                         total, skipped, tuple(warnings))


def _overview_factors(width: int, height: int, block: int) -> list[int]:
    factors, factor = [], 2
    while max(width, height) / factor >= block:
        factors.append(factor)
        factor *= 2
    return factors


class _Writer:
    """Owns the output dataset; runs on a single thread."""

    def __init__(self, dst: DatasetWriter, region: Window, masked: bool,
                 on_block: BlockCallback | None) -> None:
        self.dst, self.region, self.masked, self.on_block = dst, region, masked, on_block

    def write(self, core: Window, probabilities: np.ndarray | None,
              valid: np.ndarray | None) -> None:
        window = Window(core.col_off - self.region.col_off, core.row_off - self.region.row_off,
                        core.width, core.height)
        shape = (self.dst.count, int(core.height), int(core.width))
        data = np.zeros(shape, np.uint8) if probabilities is None else probabilities
        if valid is not None:
            data = np.where(valid, data, 0).astype(np.uint8)
        self.dst.write(data, window=window)
        if self.masked:
            mask = np.full(shape[1:], 255, np.uint8) if valid is None else (
                valid.astype(np.uint8) * 255)
            self.dst.write_mask(mask, window=window)
        if self.on_block is not None:
            self.on_block(window, data, valid)


def _pipeline(reader: TileReader, writer: _Writer, network: torch.nn.Module,
              device: DeviceChoice, tile: int, halo: int, region: Window, batch_size: int,
              readers: int, geometry: Any | None, grid: Grid,
              reporter: ProgressReporter, cancel: CancelToken | None) -> int:
    """Stream every core through read -> batch/infer -> write; return cores skipped."""
    windows = iter(tile_windows(region, tile, halo))
    if geometry is not None:
        windows = (w for w in windows if _touches(w.core, geometry, grid))
        # cores outside the AOI are written as nodata below
    skipped = 0
    read_pool = ThreadPoolExecutor(max(1, readers), thread_name_prefix="unet-gis-read")
    write_pool = ThreadPoolExecutor(1, thread_name_prefix="unet-gis-write")
    reads: deque[Future[TileData]] = deque()
    writes: deque[Future[None]] = deque()
    prefetch = max(2 * batch_size, readers * 2)

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
            if batch and (len(batch) == batch_size or not reads):
                for tile_data, probabilities in zip(batch, infer_tiles(network, device, batch,
                                                                       batch_size), strict=True):
                    submit_write(tile_data.window.core, probabilities, tile_data.core_valid)
                reporter.advance(len(batch), sum(_pixels(t.window.core) for t in batch))
                batch = []
        while writes:
            writes.popleft().result()
    finally:
        read_pool.shutdown(wait=True, cancel_futures=True)
        write_pool.shutdown(wait=True, cancel_futures=True)
    return skipped


def _pixels(window: Window) -> int:
    return int(window.width * window.height)


def _touches(core: Window, geometry: Any, grid: Grid) -> bool:
    from shapely.geometry import box

    return bool(geometry.intersects(box(*rasterio.windows.bounds(core, grid.transform))))


def infer_tiles(network: torch.nn.Module, device: DeviceChoice, batch: list[TileData],
           batch_size: int) -> list[np.ndarray]:
    """Run one batch; return each tile's core probabilities as uint8 (0-255)."""
    stacked = torch.from_numpy(np.stack([t.image for t in batch]))  # type: ignore[misc]
    if device.is_cuda:
        if len(batch) < batch_size:  # keep the shape constant for cuDNN's autotuner
            padding = stacked.new_zeros((batch_size - len(batch), *stacked.shape[1:]))
            stacked = torch.cat([stacked, padding])
        stacked = stacked.pin_memory().to(device.device, non_blocking=True)
    else:
        stacked = stacked.to(device.device)
    stacked = stacked.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast(device.device.type, dtype=device.amp_dtype,
                                                enabled=device.amp_dtype is not None):
        logits = network(stacked)
    probabilities = (torch.sigmoid(logits.float()) * 255.0 + 0.5).to(torch.uint8)
    results = []
    for index, tile_data in enumerate(batch):
        r, c = tile_data.window.core_offset
        h, w = int(tile_data.window.core.height), int(tile_data.window.core.width)
        results.append(probabilities[index, :, r:r + h, c:c + w].cpu().numpy())
    return results
