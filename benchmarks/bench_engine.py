"""Engine throughput against the model's raw forward speed and MONAI, plus peak RSS.

Usage::

    python benchmarks/bench_engine.py [--size 3072] [--rss-sizes 4096 16384]

Prints, measured in one run on the same device:

1. raw forward throughput on exactly the tiles the engine feeds the model (the limit);
2. the engine end to end (read, infer, write) and its ratio to (1) — goal >= 0.85;
3. MONAI ``sliding_window_inference`` (25 % overlap, gaussian blending) on the same model
   and image, and the engine's speed-up over it;
4. peak RSS of the engine (each in a fresh process) for the RSS sizes — goal: the largest
   within 10 % of the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import generate_rgb_geotiff, peak_rss_mib, run_child  # noqa: E402

from unet_gis.inference.device import select_device  # noqa: E402
from unet_gis.inference.engine import EngineOptions, infer_tiles, predict  # noqa: E402
from unet_gis.inference.reader import TileData  # noqa: E402
from unet_gis.model.checkpoint import LoadedModel  # noqa: E402
from unet_gis.model.spec import Architecture, default_spec  # noqa: E402
from unet_gis.model.unet import build_unet  # noqa: E402
from unet_gis.raster.grid import tile_windows  # noqa: E402
from unet_gis.raster.io import build_scaler, choose_bands, open_raster  # noqa: E402


def make_model(width: int, tile: int, halo: int) -> LoadedModel:
    torch.manual_seed(0)
    spec = default_spec(architecture=Architecture(width, 4, True), tile=tile, halo=halo)
    return LoadedModel(build_unet(3, 2, spec.architecture).eval(), spec)


def raw_forward_seconds(model: LoadedModel, image: Path, batch: int, device: str) -> float:
    """Time only the model on the same tiles, already in memory."""
    choice = select_device(device)
    network = model.network.to(choice.device).to(memory_format=torch.channels_last)
    spec = model.spec
    with open_raster(image) as ds:
        windows = list(tile_windows(rasterio.windows.Window(0, 0, ds.width, ds.height),
                                    spec.tile, spec.halo))
        scaler = build_scaler(ds, choose_bands(ds, spec), spec)
    rng = np.random.default_rng(0)
    tile = scaler(rng.integers(0, 256, (3, spec.tile, spec.tile)).astype(np.uint8))
    tiles = [TileData(w, tile, None) for w in windows]
    infer_tiles(network, choice, tiles[:batch], batch)  # warm-up
    start = time.perf_counter()
    for i in range(0, len(tiles), batch):
        infer_tiles(network, choice, tiles[i:i + batch], batch)
    return time.perf_counter() - start


def monai_seconds(model: LoadedModel, image: Path, device: str) -> float | None:
    try:
        from monai.inferers import sliding_window_inference
    except ImportError:
        return None
    choice = select_device(device)
    network = model.network.to(choice.device).to(memory_format=torch.channels_last)
    spec = model.spec
    start = time.perf_counter()
    with open_raster(image) as ds:  # MONAI needs the whole image in memory
        bands = choose_bands(ds, spec)
        scaler = build_scaler(ds, bands, spec)
        data = torch.from_numpy(scaler(ds.read(list(bands.indexes))))[None]
        georef = {"crs": ds.crs, "transform": ds.transform}
    with torch.inference_mode():
        logits = sliding_window_inference(data, roi_size=(spec.tile, spec.tile),
                                          sw_batch_size=2, predictor=network, overlap=0.25,
                                          mode="gaussian")
    probabilities = (torch.sigmoid(logits) * 255 + 0.5).to(torch.uint8).numpy()[0]
    with tempfile.TemporaryDirectory() as tmp, rasterio.open(
            Path(tmp) / "monai.tif", "w", driver="GTiff", width=probabilities.shape[2],
            height=probabilities.shape[1], count=2, dtype="uint8", tiled=True,
            compress="deflate", **georef) as dst:
        dst.write(probabilities)
    return time.perf_counter() - start


def engine_child(image: str, width: int, tile: int, halo: int, device: str) -> None:
    """Run in a fresh process: the engine alone, then print JSON with time and peak RSS."""
    model = make_model(width, tile, halo)
    with tempfile.TemporaryDirectory() as tmp:
        result = predict(image, Path(tmp) / "p.tif", model, EngineOptions(device=device))
    print(json.dumps({"seconds": result.seconds, "pixels": result.pixels,
                      "rss_mib": peak_rss_mib(), "device": result.device}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=3072, help="throughput raster side")
    parser.add_argument("--rss-sizes", type=int, nargs="*", default=[4096, 16384])
    parser.add_argument("--width", type=int, default=16, help="U-Net base width")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--halo", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine_child(args.child, args.width, args.tile, args.halo, args.device)
        return
    device = select_device(args.device)
    print(f"machine: {os.cpu_count()} CPU cores; {device.description}")
    workdir = Path(tempfile.mkdtemp(prefix="unet-gis-bench-"))
    image = generate_rgb_geotiff(workdir / "bench.tif", args.size)
    model = make_model(args.width, args.tile, args.halo)
    pixels = args.size**2
    batch = 8 if device.is_cuda else 2
    child = [__file__, "--width", str(args.width), "--tile", str(args.tile), "--halo",
             str(args.halo), "--device", args.device, "--child"]
    engine = run_child([*child, str(image)])
    raw = raw_forward_seconds(model, image, batch, args.device)
    monai = monai_seconds(model, image, args.device)
    raw_rate, engine_rate = pixels / raw / 1e6, pixels / engine["seconds"] / 1e6
    print(f"model: U-Net width {args.width}, depth 4; tile {args.tile}, halo {args.halo}; "
          f"raster {args.size}x{args.size}")
    print(f"1. raw forward on the engine's tiles: {raw_rate:.3f} Mpx/s")
    print(f"2. engine end to end:                 {engine_rate:.3f} Mpx/s "
          f"= {engine_rate / raw_rate:.2f} of the raw forward (goal >= 0.85)")
    if monai is None:
        print("3. MONAI not installed (pip install '.[bench]')")
    else:
        monai_rate = pixels / monai / 1e6
        print(f"3. MONAI sliding_window_inference:     {monai_rate:.3f} Mpx/s; engine is "
              f"{engine_rate / monai_rate:.2f}x faster")
    rss = {}
    for size in args.rss_sizes:
        rss_image = generate_rgb_geotiff(workdir / f"rss_{size}.tif", size)
        rss[size] = run_child([__file__, "--width", "4", "--tile", str(args.tile), "--halo",
                               str(args.halo), "--device", args.device, "--child",
                               str(rss_image)])["rss_mib"]
        rss_image.unlink()
        print(f"4. engine peak RSS at {size}x{size}: {rss[size]:.0f} MiB")
    if len(rss) > 1:
        small, large = rss[min(rss)], rss[max(rss)]
        print(f"   largest/smallest peak RSS: {large / small:.3f} (goal <= 1.10)")
    image.unlink()


if __name__ == "__main__":
    main()
