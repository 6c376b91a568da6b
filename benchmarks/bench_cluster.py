"""Dask cluster runs against the local engine, the cost of a task, and what N nodes would do.

Usage::

    python benchmarks/bench_cluster.py [--size 2048] [--width 8] [--gpu-mpx-s 40]

Prints, measured in one run on this machine:

1. megapixels/s of the local engine, ``--cluster local:1`` and ``local:2`` on the same
   generated raster (warm workers: model loaded, torch imported), with ratios; each
   cluster output is checked to be bit-identical to the local one;
2. the per-task overhead: the same small raster through ``local:1`` as one task and as
   one task per core (tiny model), and the scheduler's no-op task rate;
3. bytes moved per task (job in, blocks out) and the client's write rate;
4. a paper scaling model for N GPU nodes from those figures.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).parent))
from common import generate_rgb_geotiff

from unet_gis.distributed import ClusterOptions, open_cluster, predict_on_cluster
from unet_gis.distributed.assemble import SceneOutput
from unet_gis.distributed.plan import task_regions
from unet_gis.distributed.run import TARGET_TASK_PIXELS
from unet_gis.distributed.tasks import ModelRef, SceneJob, compute_region
from unet_gis.inference.engine import EngineOptions, plan_predict, predict
from unet_gis.model.checkpoint import load_checkpoint, save_checkpoint
from unet_gis.model.spec import Architecture, default_spec
from unet_gis.model.unet import build_unet
from unet_gis.raster.grid import tile_windows


def save_model(folder: Path, name: str, width: int, depth: int, tile: int, halo: int) -> Path:
    torch.manual_seed(0)
    spec = default_spec(architecture=Architecture(width, depth, True), tile=tile, halo=halo)
    return save_checkpoint(folder / f"{name}.safetensors",
                           build_unet(3, 2, spec.architecture).eval(), spec)


def same_pixels(a: Path, b: Path) -> bool:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        return bool(np.array_equal(x.read(), y.read()) and x.profile == y.profile)


def noop(value: int) -> int:
    return value


class _RunStats(logging.Handler):
    """Collects the cluster run's own summary (tasks, MB fetched, worker seconds)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last: tuple[int, float, float] = (0, 0.0, 0.0)

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 4:
            self.last = record.args[1:]  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="raster side in pixels")
    parser.add_argument("--width", type=int, default=8, help="U-Net base width")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--halo", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per process, local engine and workers alike "
                             "(default: the cores, shared among a host's workers)")
    parser.add_argument("--gpu-mpx-s", type=float, default=40.0,
                        help="one GPU node's engine throughput for the paper model "
                             "(measure it with bench_engine.py on the GPU)")
    parser.add_argument("--nic-gbit", type=float, default=10.0, help="client network, Gbit/s")
    args = parser.parse_args()
    stats = _RunStats()
    run_log = logging.getLogger("unet_gis.distributed.run")
    run_log.setLevel(logging.INFO)
    run_log.addHandler(stats)
    folder = Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    model_path = save_model(folder, "model", args.width, 4, args.tile, args.halo)
    tiny_path = save_model(folder, "tiny", 4, 2, 128, 32)
    model, tiny = load_checkpoint(model_path), load_checkpoint(tiny_path)
    image = generate_rgb_geotiff(folder / "scene.tif", args.size)
    warm = generate_rgb_geotiff(folder / "warm.tif", 300, seed=1)
    small = generate_rgb_geotiff(folder / "small.tif", 512, seed=2)
    options = EngineOptions(device="cpu", threads=args.threads)
    mpx = args.size * args.size / 1e6
    print(f"raster {args.size}x{args.size} ({mpx:.1f} Mpx), U-Net width {args.width} depth 4, "
          f"tile {args.tile} halo {args.halo}; torch {torch.__version__}, CPU, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; torch "
          f"threads {args.threads or 'default'}")

    predict(warm, folder / "warm_local.tif", model, options)
    local_s = min(predict(image, folder / f"local_{i}.tif", model, options).seconds
                  for i in range(2))
    local_rate = mpx / local_s
    rates = {"local engine": local_rate}
    print(f"\n1. throughput (Mpx/s, warm, best of 2)\n   local engine     {local_rate:7.3f}")
    overhead: dict[str, float] = {}
    noop_rate = 0.0
    core = args.tile - 2 * args.halo
    for workers in (1, 2):
        start = time.perf_counter()
        with open_cluster(f"local:{workers}") as session:
            up = time.perf_counter() - start
            start = time.perf_counter()
            predict_on_cluster(warm, folder / f"warm_{workers}.tif", model, options,
                               cluster=session)
            first = time.perf_counter() - start
            # a task per row of cores: enough tasks to keep both workers busy
            tuning = ClusterOptions(cores_per_task=max(1, -(-args.size // core)))
            best = float("inf")
            for attempt in range(2):
                out = folder / f"cluster_{workers}_{attempt}.tif"
                result = predict_on_cluster(image, out, model, options, cluster=session,
                                            tuning=tuning)
                best = min(best, result.seconds)
            tasks, fetched_mb, worker_s = stats.last
            rates[f"local:{workers}"] = rate = mpx / best
            print(f"   local:{workers}          {rate:7.3f}  = {rate / local_rate:.2f}x local  "
                  f"(identical: {same_pixels(folder / 'local_0.tif', out)}; {tasks} tasks, "
                  f"{fetched_mb:.0f} MB fetched, worker time {worker_s:.1f} s of "
                  f"{result.seconds:.1f} s wall; cluster start {up:.1f} s, first run with "
                  f"model load {first:.1f} s)")
            if workers == 1:
                overhead = measure_overhead(session, small, tiny, folder, args.threads)
            else:
                noop_rate = measure_noop_rate(session)
    print(f"   local:2 / local:1 = {rates['local:2'] / rates['local:1']:.2f}x "
          "(2 cores, shared with the client and the scheduler)")

    print("\n2. per-task overhead (tiny model, 512x512 raster, 64 cores, local:1, best of 3)")
    print(f"   1 task: {overhead['one']:.3f} s;  64 tasks: {overhead['many']:.3f} s  ->  "
          f"{overhead['per_task'] * 1e3:.1f} ms per extra task")
    print(f"   scheduler no-op rate (local:2, 2000 tasks): {noop_rate:,.0f} tasks/s")
    setup = measure_worker_setup(small, tiny_path, tiny, folder)
    print(f"   worker-side part, measured without Dask: {setup * 1e3:.1f} ms per extra task")
    job_bytes, out_bytes_px, write_rates = measure_bytes(image, folder, model, options)
    write_rate = next(iter(write_rates.values()))
    cores_per_task = max(1, TARGET_TASK_PIXELS // (core * core))
    task_px = cores_per_task * core * core
    print("\n3. bytes moved per task (default cut: "
          f"{cores_per_task} cores of {core}px = {task_px / 1e6:.1f} Mpx)")
    print(f"   in: job {job_bytes / 1e3:.1f} kB (scaler, plan, bands, model path: no pixels; "
          "workers read their own windows)")
    print(f"   out: {out_bytes_px:.0f} B/px -> {task_px * out_bytes_px / 1e6:.0f} MB per task "
          "(uint8 per class, + 1 B/px valid mask when the input has nodata)")
    print(f"   input read by the worker: {3 * ((core + 2 * args.halo) / core) ** 2:.2f} B/px "
          f"(RGB uint8 x halo overhead {((core + 2 * args.halo) / core) ** 2:.2f})")
    for label, rate in write_rates.items():
        print(f"   client writes, {label}: {rate:.1f} Mpx/s")

    print(f"\n4. paper model for N GPU nodes at {args.gpu_mpx_s:g} Mpx/s each")
    nic = args.nic_gbit * 1e9 / 8
    limits = {
        "scheduler": noop_rate * task_px / 1e6,  # tasks/s it sustains x pixels per task
        "client network": nic / out_bytes_px / 1e6,
        "client writer": write_rate,
    }
    fast_writer = list(write_rates.values())[-1]
    print("   ceilings (Mpx/s): " + ", ".join(f"{k} {v:,.0f}" for k, v in limits.items())
          + f" (ZLEVEL=1: {fast_writer:,.0f})")
    print("   N    compute  predicted  bound by          with a ZLEVEL=1 writer")
    for nodes in (1, 2, 4, 8, 16, 32, 64):
        compute = nodes * args.gpu_mpx_s
        bound = min([("compute", compute), *limits.items()], key=lambda kv: kv[1])
        fast = min([("compute", compute), *{**limits, "client writer": fast_writer}.items()],
                   key=lambda kv: kv[1])
        print(f"   {nodes:<4} {compute:8,.0f} {bound[1]:10,.0f}  {bound[0]:<16} "
              f"{fast[1]:8,.0f}  {fast[0]}")
    print(f"   each task costs ~{overhead['per_task'] * 1e3:.0f} ms of overhead against "
          f"{task_px / 1e6 / args.gpu_mpx_s:.2f} s of GPU work at the default cut "
          f"({overhead['per_task'] / (task_px / 1e6 / args.gpu_mpx_s) * 100:.1f} %)")


def measure_overhead(session: object, small: Path, tiny: object, folder: Path,
                     threads: int | None) -> dict[str, float]:
    options = EngineOptions(device="cpu", overviews=False, threads=threads)
    times = {}
    for label, per_task in (("one", 10_000), ("many", 1)):
        best = float("inf")
        for attempt in range(3):
            out = folder / f"small_{label}_{attempt}.tif"
            start = time.perf_counter()
            predict_on_cluster(small, out, tiny, options, cluster=session,  # type: ignore[arg-type]
                               tuning=ClusterOptions(cores_per_task=per_task, max_in_flight=4))
            best = min(best, time.perf_counter() - start)
        times[label] = best
    cores = len(list(tile_windows(Window(0, 0, 512, 512), 128, 32)))
    times["per_task"] = (times["many"] - times["one"]) / (cores - 1)
    return times


def measure_noop_rate(session: object) -> float:
    client = session.client
    client.gather([client.submit(noop, i, pure=False) for i in range(50)])
    start = time.perf_counter()
    client.gather([client.submit(noop, i, pure=False) for i in range(2000)])
    return 2000 / (time.perf_counter() - start)


def measure_bytes(image: Path, folder: Path, model: object, options: EngineOptions
                  ) -> tuple[int, float, dict[str, float]]:
    """Pickled job size, output bytes per pixel, and the client's write rates (Mpx/s)."""
    plan = plan_predict(image, folder / "bytes.tif", model.spec, options)
    job = SceneJob(str(image), plan.plan, plan.bands, plan.scaler, plan.masked, plan.spec.tile,
                   plan.spec.halo, plan.geometry, ModelRef.of(folder / "model.safetensors",
                                                              plan.spec.to_json()),
                   "cpu", None, 2, None)
    region = next(task_regions(plan.region, plan.spec.tile - 2 * plan.spec.halo, 16))
    job_bytes = len(pickle.dumps((job, region)))
    out_bytes_px = len(plan.spec.classes) + 1  # worst case: masked
    with rasterio.open(folder / "local_0.tif") as src:
        blocks = [(w.core, src.read(window=w.core), None)
                  for w in tile_windows(plan.region, plan.spec.tile, plan.spec.halo)]
    rates: dict[str, float] = {}
    variants = {"as local (deflate 6)": plan.profile,
                "deflate ZLEVEL=1 (not the profile)": {**plan.profile, "zlevel": 1}}
    for label, profile in variants.items():
        variant = replace(plan, profile=profile, output=folder / f"write_{len(rates)}.tif")
        start = time.perf_counter()
        with SceneOutput(variant, False, None) as out:
            for core, data, valid in blocks:
                out.write(core, data, valid)
            written = time.perf_counter()
            out.finish(None)
        rates[label] = plan.pixels / 1e6 / (written - start)
    return job_bytes, out_bytes_px, rates


def measure_worker_setup(small: Path, tiny_path: Path, tiny: object, folder: Path
                         ) -> float:
    """Seconds a worker spends per extra task (pools, raster handles, a short last batch),
    without Dask: the same 64 cores as 64 calls versus one call, in this process."""
    plan = plan_predict(small, folder / "setup.tif", tiny.spec, EngineOptions())
    job = SceneJob(str(small), plan.plan, plan.bands, plan.scaler, plan.masked, plan.spec.tile,
                   plan.spec.halo, None, ModelRef.of(tiny_path, plan.spec.to_json()), "cpu",
                   None, 2, 1)
    core = plan.spec.tile - 2 * plan.spec.halo
    singles = list(task_regions(plan.region, core, 1))
    compute_region(job, singles[0])
    start = time.perf_counter()
    compute_region(job, plan.region)
    one = time.perf_counter() - start
    start = time.perf_counter()
    for region in singles:
        compute_region(job, region)
    return (time.perf_counter() - start - one) / (len(singles) - 1)


if __name__ == "__main__":
    main()
