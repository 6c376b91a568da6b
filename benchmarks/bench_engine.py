"""CPU (or GPU) speed: raw forward in each precision, the engine, ONNX Runtime, MONAI, RSS.

Usage::

    python benchmarks/bench_engine.py [--size 3072] [--rss-sizes 4096 16384]
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/bench_engine.py   # an ordinary laptop CPU

Prints, measured in one run on the same device, with the bundled model (``--model``):

1. raw forward throughput on exactly the tiles the engine feeds the model, in fp32
   contiguous, fp32 channels_last and bf16 channels_last, and ONNX Runtime (CPU execution
   provider, fp32) when installed (``pip install '.[bench]'``);
2. the engine end to end (read, infer, write, overviews) with ``--precision auto`` and
   its ratio to the raw forward at the precision it chose — goal >= 0.9 — measured on a
   second run in its process, as the raw forward is timed after a warm-up (the first run,
   with oneDNN's one-off kernel set-up, is printed too);
3. MONAI ``sliding_window_inference`` (25 % overlap, gaussian blending) on the same model,
   image and precision, and the engine's speed-up over it — goal >= 1.5;
4. peak RSS of the engine (each in a fresh process) for the RSS sizes — goal: the largest
   within 10 % of the smallest.

Throughputs count output (raster) pixels, so the halo's extra work is inside every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from unet_gis.inference.memory import reuse_freed_memory

reuse_freed_memory()  # before torch and numpy start threads, as `unet-gis` does
# ruff: noqa: E402 (the imports below come after that call on purpose)

import numpy as np
import rasterio
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import generate_rgb_geotiff, peak_rss_mib, run_child

from unet_gis.inference.backend import TorchBackend
from unet_gis.inference.device import DeviceChoice, select_device
from unet_gis.inference.engine import EngineOptions, default_batch_size, predict
from unet_gis.model.checkpoint import LoadedModel, load_checkpoint
from unet_gis.model.spec import Architecture, default_spec
from unet_gis.model.unet import build_unet
from unet_gis.model.zoo import default_model_path
from unet_gis.raster.grid import tile_windows
from unet_gis.raster.probability import to_stored


def load_model(path: str | None, width: int | None, tile: int | None = None) -> LoadedModel:
    """The bundled (or given) model; ``width``: a random U-Net of that width instead."""
    if width:
        torch.manual_seed(0)
        spec = default_spec(architecture=Architecture(width, 4, True))
        model = LoadedModel(build_unet(3, 2, spec.architecture).eval(), spec)
    else:
        model = load_checkpoint(path or default_model_path())
    if tile:
        model = LoadedModel(model.network, model.spec.with_tiling(tile))
    return model


def engine_tiles(model: LoadedModel, size: int) -> np.ndarray:
    """As many standardised tiles (random pixels) as the engine runs on a size² raster."""
    spec = model.spec
    count = len(list(tile_windows(rasterio.windows.Window(0, 0, size, size), spec.tile,
                                  spec.halo)))
    rng = np.random.default_rng(0)
    tile = rng.normal(0, 1, (count, 3, spec.tile, spec.tile)).astype(np.float32)
    return tile


def time_batches(infer: Callable[[np.ndarray], object], tiles: np.ndarray, batch: int,
                 streams: int = 1) -> float:
    """Seconds to run ``infer`` on every batch, ``streams`` batches at a time (threads)."""
    from concurrent.futures import ThreadPoolExecutor

    batches = [tiles[i:i + batch] for i in range(0, len(tiles), batch)]
    with ThreadPoolExecutor(streams) as pool:
        list(pool.map(infer, batches[:streams]))  # warm-up: kernel selection, first touch
        start = time.perf_counter()
        list(pool.map(infer, batches))
        return time.perf_counter() - start


def raw_forward_seconds(model: LoadedModel, tiles: np.ndarray, batch: int,
                        device: DeviceChoice, channels_last: bool = True) -> float:
    """Only the model (through the engine's backend, as many tiles at once as the engine
    runs) on the engine's tiles, in memory; ``channels_last=False``: plain torch, one
    contiguous forward pass at a time with every thread."""
    if not channels_last:
        network = model.network.to(device.device).eval().to(
            memory_format=torch.contiguous_format)

        def contiguous(x: np.ndarray) -> object:
            with torch.inference_mode(), device.autocast():
                return network(torch.from_numpy(x).to(device.device))
        return time_batches(contiguous, tiles, batch)
    backend = TorchBackend(model.network, device)
    return time_batches(backend.infer, tiles, batch, backend.streams)


def onnx_seconds(model: LoadedModel, tiles: np.ndarray, batch: int, threads: int,
                 workdir: Path) -> float | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = workdir / "model.onnx"
    network = model.network.cpu().eval().to(memory_format=torch.contiguous_format)
    example = torch.from_numpy(tiles[:batch])
    torch.onnx.export(network, (example,), str(path), dynamo=False, input_names=["x"],
                      output_names=["logits"], opset_version=17)
    streams = 2 if threads >= 2 else 1  # as the torch backend runs: two passes at once
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads // streams)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def infer(x: np.ndarray) -> object:
        if x.shape[0] != batch:
            x = np.concatenate([x, np.zeros((batch - x.shape[0], *x.shape[1:]), x.dtype)])
        return session.run(None, {"x": x})[0]
    return time_batches(infer, tiles, batch, streams)


def monai_seconds(model: LoadedModel, image: Path, device: DeviceChoice) -> float | None:
    try:
        from monai.inferers import sliding_window_inference
    except ImportError:
        return None
    from unet_gis.raster.io import build_scaler, choose_bands, open_raster

    network = model.network.to(device.device).to(memory_format=torch.channels_last)
    spec = model.spec
    start = time.perf_counter()
    with open_raster(image) as ds:  # MONAI needs the whole image in memory
        bands = choose_bands(ds, spec)
        scaler = build_scaler(ds, bands, spec)
        data = torch.from_numpy(scaler(ds.read(list(bands.indexes))))[None]
        georef = {"crs": ds.crs, "transform": ds.transform}
    with torch.inference_mode(), device.autocast():
        logits = sliding_window_inference(data, roi_size=(spec.tile, spec.tile),
                                          sw_batch_size=2, predictor=network, overlap=0.25,
                                          mode="gaussian")
    probabilities = to_stored(torch.sigmoid(logits.float())).to(torch.uint8).numpy()[0]
    with tempfile.TemporaryDirectory() as tmp, rasterio.open(
            Path(tmp) / "monai.tif", "w", driver="GTiff", width=probabilities.shape[2],
            height=probabilities.shape[1], count=2, dtype="uint8", tiled=True,
            compress="deflate", **georef) as dst:
        dst.write(probabilities)
    return time.perf_counter() - start


def engine_child(image: str, model_path: str | None, width: int | None, tile: int | None,
                 device: str, precision: str) -> None:
    """Run in a fresh process: the engine alone, then print JSON with time and peak RSS."""
    model = load_model(model_path, width, tile)
    options = EngineOptions(device=device, precision=precision)
    with tempfile.TemporaryDirectory() as tmp:
        cold = predict(image, Path(tmp) / "cold.tif", model, options)
        # again in the same process: oneDNN's kernels for these shapes exist now, as they
        # do after the first tiles of a large raster
        warm = predict(image, Path(tmp) / "warm.tif", model, options)
    print(json.dumps({"seconds": warm.seconds, "cold_seconds": cold.seconds,
                      "pixels": warm.pixels, "rss_mib": peak_rss_mib(),
                      "device": warm.device}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=3072, help="throughput raster side")
    parser.add_argument("--rss-sizes", type=int, nargs="*", default=[4096, 16384])
    parser.add_argument("--model", help="checkpoint (default: the bundled model)")
    parser.add_argument("--width", type=int, help="a random U-Net of this width instead")
    parser.add_argument("--tile", type=int, help="tile size (default: the model's)")
    parser.add_argument("--rss-width", type=int, default=4,
                        help="U-Net width for the (long) RSS runs; 0: the --model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine_child(args.child, args.model, args.width, args.tile, args.device,
                     args.precision)
        return
    device = select_device(args.device, None, args.precision)
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(not set)')}")
    print(f"engine device: {device.description}")
    workdir = Path(tempfile.mkdtemp(prefix="unet-gis-bench-"))
    image = generate_rgb_geotiff(workdir / "bench.tif", args.size)
    model = load_model(args.model, args.width, args.tile)
    pixels = args.size**2
    batch = default_batch_size(device)
    model_args = (["--model", args.model] if args.model else []) + \
        (["--width", str(args.width)] if args.width else []) + \
        (["--tile", str(args.tile)] if args.tile else [])
    child = [__file__, *model_args, "--device", args.device, "--precision", args.precision,
             "--child"]
    engine = run_child([*child, str(image)])
    tiles = engine_tiles(model, args.size)
    spec = model.spec
    print(f"model: {spec.name}, U-Net width {spec.architecture.base_width}, depth "
          f"{spec.architecture.depth}; tile {spec.tile}, halo {spec.halo}; raster "
          f"{args.size}x{args.size} = {len(tiles)} tiles, batch {batch}")
    raws: dict[str, float] = {}
    if device.device.type == "cpu":
        threads = torch.get_num_threads()
        fp32 = select_device("cpu", threads, "fp32")
        bf16 = select_device("cpu", threads, "bf16")
        torch.set_num_threads(threads)
        raws["fp32"] = pixels / raw_forward_seconds(model, tiles, batch, fp32, False) / 1e6
        print(f"1a. raw forward fp32, contiguous, 1 pass of {threads} threads: "
              f"{raws['fp32']:.3f} Mpx/s")
        raws["fp32"] = pixels / raw_forward_seconds(model, tiles, batch, fp32) / 1e6
        print(f"1b. raw forward fp32, channels_last, the engine's backend: "
              f"{raws['fp32']:.3f} Mpx/s")
        raws["bf16"] = pixels / raw_forward_seconds(model, tiles, batch, bf16) / 1e6
        print(f"1c. raw forward bf16, channels_last, the engine's backend: "
              f"{raws['bf16']:.3f} Mpx/s")
        torch.set_num_threads(threads)
        onnx = onnx_seconds(model, tiles, batch, threads, workdir)
        if onnx is None:
            print("1d. ONNX Runtime not installed (pip install '.[bench]')")
        else:
            print(f"1d. ONNX Runtime fp32 (CPU EP):       {pixels / onnx / 1e6:.3f} Mpx/s")
    else:
        raws[device.precision] = pixels / raw_forward_seconds(model, tiles, batch, device) / 1e6
        print(f"1. raw forward {device.precision}: {raws[device.precision]:.3f} Mpx/s")
    engine_rate = pixels / engine["seconds"] / 1e6
    cold_rate = pixels / engine["cold_seconds"] / 1e6
    chosen = device.precision
    print(f"2. engine end to end ({engine['device']}): {engine_rate:.3f} Mpx/s "
          f"= {engine_rate / raws[chosen]:.2f} of the raw forward in {chosen} (goal >= 0.9); "
          f"first run in a fresh process (kernel set-up included): {cold_rate:.3f} Mpx/s")
    monai = monai_seconds(model, image, device)
    if monai is None:
        print("3. MONAI not installed (pip install '.[bench]')")
    else:
        monai_rate = pixels / monai / 1e6
        print(f"3. MONAI sliding_window_inference ({chosen}): {monai_rate:.3f} Mpx/s; engine "
              f"is {engine_rate / monai_rate:.2f}x faster (goal >= 1.5)")
    rss = {}
    rss_model = (["--width", str(args.rss_width)] if args.rss_width else model_args) + \
        (["--tile", str(args.tile)] if args.tile and args.rss_width else [])
    for size in args.rss_sizes:
        rss_image = generate_rgb_geotiff(workdir / f"rss_{size}.tif", size)
        rss[size] = run_child([__file__, *rss_model, "--device", args.device, "--precision",
                               args.precision, "--child", str(rss_image)])["rss_mib"]
        rss_image.unlink()
        print(f"4. engine peak RSS at {size}x{size}: {rss[size]:.0f} MiB")
    if len(rss) > 1:
        small, large = rss[min(rss)], rss[max(rss)]
        print(f"   largest/smallest peak RSS: {large / small:.3f} (goal <= 1.10)")
    image.unlink()


if __name__ == "__main__":
    main()
