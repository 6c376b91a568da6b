"""Predict on a Dask cluster with the local engine's signature and the same output.

The client plans every scene (errors before any work is sent), keeps a bounded window
of tasks in flight across scenes, reports progress as tasks finish anywhere, and fetches
and writes results strictly in order, one task's blocks at a time: client memory stays
flat, finished-but-unwritten results wait on the workers, and at most one output file
is open.  Cancelling cancels the futures and removes the scene being written.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasterio.windows import Window

from unet_gis.distributed.assemble import SceneOutput
from unet_gis.distributed.cluster import (
    CONNECT_TIMEOUT_S,
    WORKER_TIMEOUT_S,
    ClusterSession,
    open_cluster,
)
from unet_gis.distributed.plan import task_regions
from unet_gis.distributed.tasks import ModelRef, RegionResult, SceneJob, compute_region
from unet_gis.errors import UserError
from unet_gis.inference.engine import EngineOptions, PredictResult, plan_predict
from unet_gis.inference.output import BlockCallback
from unet_gis.inference.plan import RunPlan
from unet_gis.inference.progress import CancelToken, ProgressCallback, ProgressReporter, check
from unet_gis.model.checkpoint import LoadedModel, file_sha256
from unet_gis.raster.grid import count_cores
from unet_gis.raster.io import as_source, source_name

if TYPE_CHECKING:
    from distributed import Client, Future

log = logging.getLogger(__name__)

TARGET_TASK_PIXELS = 16 * 1024 * 1024  # ~1-2 s of a GPU's time: worth a task's overhead
POLL_S = 0.1
DEFAULT_OPTIONS = EngineOptions()


@dataclass(frozen=True)
class ClusterOptions:
    """How work is cut and queued; ``None`` means "decide from the model and cluster"."""

    cores_per_task: int | None = None  # default: about TARGET_TASK_PIXELS of cores
    max_in_flight: int | None = None  # default: 2 per worker thread, plus 2
    connect_timeout: float = CONNECT_TIMEOUT_S
    worker_timeout: float = WORKER_TIMEOUT_S


def predict_on_cluster(image: str | Path, output: str | Path, model: LoadedModel,
                       options: EngineOptions = DEFAULT_OPTIONS,
                       progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None,
                       on_block: BlockCallback | None = None, *,
                       cluster: str | ClusterSession,
                       tuning: ClusterOptions = ClusterOptions()) -> PredictResult:
    """:func:`unet_gis.inference.engine.predict`, computed on a Dask cluster.

    ``cluster`` is an open :class:`ClusterSession` (reused; keep one for many runs) or an
    address (``tcp://host:8786``, ``local[:N]``) connected for this call only.  ``model``
    must come from a file every worker can read at the same path; so must ``image`` (or
    it is a GDAL ``/vsi…`` path).  ``on_block`` and ``progress`` run on the calling thread.
    """
    return predict_scenes_on_cluster([(image, output)], model, options, progress, cancel,
                                     on_block, cluster=cluster, tuning=tuning)[0]


def predict_scenes_on_cluster(scenes: Sequence[tuple[str | Path, str | Path]],
                              model: LoadedModel, options: EngineOptions = DEFAULT_OPTIONS,
                              progress: ProgressCallback | None = None,
                              cancel: CancelToken | None = None,
                              on_block: BlockCallback | None = None, *,
                              cluster: str | ClusterSession,
                              tuning: ClusterOptions = ClusterOptions()) -> list[PredictResult]:
    """Predict several ``(image, output)`` pairs in one run; their tasks share the cluster.

    Progress counts cores over all scenes.  Outputs are finished in order; on cancel or
    error the scene being written leaves nothing, scenes already finished stay.
    """
    start = time.perf_counter()
    ref = _model_ref(model)
    plans = [plan_predict(as_source(image), Path(output), model.spec, options)
             for image, output in scenes]
    outputs = [p.output.resolve() for p in plans]
    if len(set(outputs)) != len(outputs):
        raise UserError("Two images would write the same output file; give them different "
                        "names.")
    if isinstance(cluster, ClusterSession):
        session_context: Any = contextlib.nullcontext(cluster)
    else:
        session_context = open_cluster(cluster, tuning.connect_timeout, tuning.worker_timeout)
    with session_context as session:
        return _Run(session, plans, ref, options, tuning, progress, cancel, on_block,
                    start).execute()


def _model_ref(model: LoadedModel) -> ModelRef:
    if model.path is None:
        raise UserError("A cluster run loads the model on every worker from its file; save "
                        "it with save_checkpoint() to a path the workers share.")
    return ModelRef.of(model.path, model.spec.to_json())


@dataclass(frozen=True)
class _Unit:
    key: str
    scene: int
    job: SceneJob
    region: Window

    @property
    def pixels(self) -> int:
        return int(self.region.width * self.region.height)


class _Run:
    def __init__(self, session: ClusterSession, plans: list[RunPlan], ref: ModelRef,
                 options: EngineOptions, tuning: ClusterOptions,
                 progress: ProgressCallback | None, cancel: CancelToken | None,
                 on_block: BlockCallback | None, start: float) -> None:
        self.session, self.plans, self.options = session, plans, options
        self.cancel, self.on_block, self.start = cancel, on_block, start
        threads = sum(session.worker_threads().values()) or 1
        self.window = tuning.max_in_flight or 2 * threads + 2
        self.cores_per_task = tuning.cores_per_task
        self.per_host = tuple(sorted(session.processes_per_host().items()))
        self.reporter = ProgressReporter("predict", sum(p.cores for p in plans), progress)
        self.regions = [list(task_regions(p.region, p.spec.tile - 2 * p.spec.halo,
                                          self._cores_per_task(p))) for p in plans]
        self.ref = ref
        self.tasks = 0
        self.bytes = 0
        self.worker_seconds = 0.0

    def _cores_per_task(self, plan: RunPlan) -> int:
        core = plan.spec.tile - 2 * plan.spec.halo
        return self.cores_per_task or max(1, TARGET_TASK_PIXELS // (core * core))

    def _job(self, plan: RunPlan) -> SceneJob:
        image = str(plan.image.resolve() if isinstance(plan.image, Path) else plan.image)
        return SceneJob(image, plan.plan, plan.bands, plan.scaler, plan.masked, plan.spec.tile,
                        plan.spec.halo, plan.geometry, self.ref, self.options.device,
                        self.options.batch_size, self.options.readers, self.options.threads,
                        self.per_host, self.options.precision, self.options.backend)

    def _units(self) -> Iterator[_Unit]:
        token = uuid.uuid4().hex[:12]
        for index, (plan, regions) in enumerate(zip(self.plans, self.regions, strict=True)):
            job = self._job(plan)
            for number, region in enumerate(regions):
                yield _Unit(f"unet-gis-{token}-{index}-{number}", index, job, region)

    def execute(self) -> list[PredictResult]:
        feeder = _Feeder(self.session.client, self._units(), self.window, self.reporter,
                         self.cancel)
        results: list[PredictResult] = []
        finished = self.start
        try:
            for plan, regions in zip(self.plans, self.regions, strict=True):
                skipped, devices = 0, set()
                with SceneOutput(plan, self.options.overviews, self.on_block) as out:
                    for _ in regions:
                        result = feeder.next()
                        self.tasks += 1
                        self.bytes += result.nbytes
                        self.worker_seconds += result.seconds
                        for core, probabilities, valid in result.blocks:
                            out.write(core, probabilities, valid)
                        skipped += result.skipped
                        devices.add(result.device)
                    out.finish(self.cancel, "; ".join(sorted(devices)),
                               file_sha256(self.ref.path))
                now = time.perf_counter()
                results.append(self._result(plan, now - finished, skipped, devices))
                log.info("%s: %d tasks so far, %.1f MB of blocks fetched, %.1f s of worker "
                         "time", source_name(plan.image), self.tasks, self.bytes / 1e6,
                         self.worker_seconds)
                finished = now
        finally:
            feeder.close()
        return results

    def _result(self, plan: RunPlan, seconds: float, skipped: int,
                devices: set[str]) -> PredictResult:
        for message in plan.warnings:
            log.warning(message)
        region = plan.region
        device = f"{self.session.description}: {'; '.join(sorted(devices))}"
        return PredictResult(plan.output, int(region.width), int(region.height), plan.pixels,
                             seconds, device, plan.bands.description, plan.scaler.description,
                             plan.plan.working.gsd_m, plan.plan.resampled, plan.cores,
                             skipped, plan.warnings)


class _Feeder:
    """Keeps ``window`` tasks in flight and hands their results back in submission order."""

    def __init__(self, client: Client, units: Iterator[_Unit], window: int,
                 reporter: ProgressReporter, cancel: CancelToken | None) -> None:
        self.client, self.units, self.window = client, units, window
        self.reporter, self.cancel = reporter, cancel
        self.pending: deque[tuple[Future[Any], _Unit]] = deque()
        self.counted: set[str] = set()

    def _top_up(self) -> None:
        while len(self.pending) < self.window:
            unit = next(self.units, None)
            if unit is None:
                return
            future = self.client.submit(compute_region, unit.job, unit.region, key=unit.key)
            self.pending.append((future, unit))

    def _report(self) -> None:
        """Advance progress for every task that finished, wherever it sits in the queue."""
        for future, unit in self.pending:
            if unit.key not in self.counted and future.status == "finished":
                self.counted.add(unit.key)
                self.reporter.advance(_cores(unit), unit.pixels)

    def next(self) -> RegionResult:
        self._top_up()
        if not self.pending:
            raise RuntimeError("no task left to wait for")
        # Wait on an event, not on result(timeout=...): each timeout's traceback would
        # keep this frame, and with it the future and its result, alive until a GC run.
        done = threading.Event()
        self.pending[0][0].add_done_callback(lambda _: done.set())
        while not done.wait(POLL_S):
            check(self.cancel)
            self._report()
            self._top_up()
        check(self.cancel)
        self._report()
        future, unit = self.pending.popleft()
        self.counted.discard(unit.key)
        try:
            result: RegionResult = future.result()
        except UserError:
            raise
        except concurrent.futures.CancelledError as exc:
            raise UserError("The Dask scheduler cancelled the work (was it restarted?); "
                            "run again.") from exc
        except OSError as exc:
            raise UserError(f"Lost the connection to the Dask scheduler ({exc}).") from exc
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                raise UserError(
                    f"Dask workers kept dying while computing part of {unit.job.image} "
                    "(out of memory? a crash in GDAL or CUDA?); see the worker logs.") from exc
            raise
        return result

    def close(self) -> None:
        """Cancel whatever is still queued (after an error or a cancel)."""
        futures = [future for future, _ in self.pending]
        self.pending.clear()
        if futures:
            with contextlib.suppress(Exception):
                self.client.cancel(futures)


def _cores(unit: _Unit) -> int:
    return count_cores(unit.region, unit.job.tile, unit.job.halo)

