"""Worker side: load the model once per worker, run the local pipeline on one rectangle.

A task is pure: the same job and rectangle always give the same blocks, and it writes
nothing, so Dask may run it again on another worker when one dies.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from unet_gis.errors import UserError
from unet_gis.inference.backend import Backend, create_backend
from unet_gis.inference.engine import default_batch_size, run_pipeline
from unet_gis.inference.memory import reuse_freed_memory
from unet_gis.inference.progress import ProgressReporter
from unet_gis.inference.reader import TileReader
from unet_gis.model.checkpoint import load_checkpoint
from unet_gis.raster.grid import GridPlan
from unet_gis.raster.io import BandChoice, InputScaler, as_source

Block = tuple[Window, "np.ndarray | None", "np.ndarray | None"]
"""(core window in the working grid, uint8 probabilities or None, valid mask or None)."""


@dataclass(frozen=True)
class ModelRef:
    """The checkpoint every worker loads, and the spec the client expects it to hold.

    A bundled model is named relative to the package's resources, so workers find their
    own copy wherever unet-gis is installed there.
    """

    path: str
    spec_json: str
    bundled: str | None = None  # path under resources/, for models shipped with unet-gis

    @classmethod
    def of(cls, path: str | Path, spec_json: str) -> ModelRef:
        from unet_gis.resources import resource_root

        resolved = Path(path).resolve()
        try:
            bundled: str | None = resolved.relative_to(resource_root().resolve()).as_posix()
        except ValueError:
            bundled = None
        return cls(str(resolved), spec_json, bundled)

    def local_path(self) -> Path:
        """Where this worker finds the file."""
        if self.bundled is not None:
            from unet_gis.resources import resource_path

            return resource_path(*self.bundled.split("/"))
        return Path(self.path)


@dataclass(frozen=True)
class SceneJob:
    """What a worker needs to compute any rectangle of one scene (small: a few kB)."""

    image: str  # absolute path or GDAL /vsi path, as the worker will open it
    plan: GridPlan
    bands: BandChoice
    scaler: InputScaler
    masked: bool
    tile: int
    halo: int
    geometry: Any | None
    model: ModelRef
    device: str
    batch_size: int | None
    readers: int
    threads: int | None
    processes_per_host: tuple[tuple[str, int], ...] = ()
    precision: str = "auto"
    backend: str = "torch"


@dataclass
class RegionResult:
    blocks: list[Block]
    skipped: int
    device: str
    seconds: float = 0.0  # spent in the task on the worker, model loading included

    @property
    def nbytes(self) -> int:
        return sum((0 if p is None else p.nbytes) + (0 if v is None else v.nbytes)
                   for _, p, v in self.blocks)


class _Collector:
    """A :class:`~unet_gis.inference.output.CoreSink` that keeps blocks to send back."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def write(self, core: Window, probabilities: np.ndarray | None,
              valid: np.ndarray | None) -> None:
        self.blocks.append((core, None if probabilities is None else
                            np.ascontiguousarray(probabilities),
                            None if valid is None else np.ascontiguousarray(valid)))


_models: dict[tuple[Any, ...], Backend] = {}
_models_lock = threading.Lock()


def load_model(ref: ModelRef, device: str, threads: int | None,
               precision: str = "auto", backend: str = "torch") -> Backend:
    """The worker's copy of the network, loaded once per file version and device."""
    path = ref.local_path()
    try:
        stat = path.stat()
    except OSError:
        raise UserError(f"The model file {path} is not readable on Dask worker "
                        f"{_worker_name()}; put it on a filesystem every worker shares, "
                        "at the same path.") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size, device, threads, precision, backend)
    with _models_lock:
        if key not in _models:
            loaded = load_checkpoint(path)
            if loaded.spec.to_json() != ref.spec_json:
                raise UserError(f"The model file {path} on Dask worker {_worker_name()} "
                                "is not the one the client loaded (different spec); the "
                                "workers must see the same file.")
            runner = create_backend(loaded, device, precision, threads, backend)
            for stale in [k for k in _models if k[0] == str(path)]:
                del _models[stale]  # a retrained file replaces the old weights
            _models[key] = runner
        return _models[key]


def compute_region(job: SceneJob, region: Window) -> RegionResult:
    """Run the local engine's pipeline over ``region`` (whole cores) of ``job``'s scene."""
    start = time.perf_counter()
    reuse_freed_memory()  # the worker keeps its pages for the next region
    if not job.image.startswith("/vsi") and not os.path.exists(job.image):
        raise UserError(f"Dask worker {_worker_name()} cannot see {job.image}; the raster "
                        "must be on a filesystem every worker shares (same path), or a "
                        "GDAL path such as /vsis3/ or /vsicurl/.")
    backend = load_model(job.model, job.device, _threads(job), job.precision, job.backend)
    batch_size = job.batch_size or default_batch_size(backend.device)
    reader = TileReader(as_source(job.image), job.plan, job.bands, job.scaler, job.masked)
    collector = _Collector()
    try:
        skipped = run_pipeline(reader, collector, backend, job.tile, job.halo,
                               region, batch_size, job.readers, job.geometry,
                               job.plan.working, ProgressReporter("predict", 0, None), None)
    finally:
        reader.close()
    return RegionResult(collector.blocks, skipped, backend.device.description,
                        time.perf_counter() - start)


def _threads(job: SceneJob) -> int | None:
    """Torch threads: as asked, else this host's cores shared by its worker processes."""
    if job.threads or job.device not in ("auto", "cpu"):  # GPUs: one process each
        return job.threads
    host = _worker_host()
    sharing = dict(job.processes_per_host).get(host, 1) if host else 1
    return max(1, (os.cpu_count() or 1) // max(1, sharing))


def _worker_host() -> str | None:
    try:
        from distributed import get_worker
        from distributed.comm import get_address_host

        return str(get_address_host(get_worker().address))
    except (ImportError, ValueError):
        return None


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "(not in a worker)"
