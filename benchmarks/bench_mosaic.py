"""A mosaic of tiles vs the same pixels as one GeoTIFF: throughput ratio and peak RSS.

    python benchmarks/bench_mosaic.py [--tiles 64] [--tile-size 1024] [--width 16]

Generates ``--tiles`` GeoTIFFs of ``--tile-size``² on one grid (a square layout) and the
same pixels as one GeoTIFF, then runs the engine on each in a fresh process (a random
U-Net of ``--width``, or ``--model``): the mosaic's throughput over the single raster's
(goal >= 0.9) and its peak RSS over the single raster's (goal: within 10 %).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mib, run_child

ORIGIN = (600000.0, 4000000.0)


def generate(folder: Path, tiles: int, side: int) -> tuple[Path, list[Path]]:
    """The whole raster and its tiles (same pixels: smooth structure, not noise)."""
    per_row = math.isqrt(tiles)
    size = per_row * side
    whole = folder / "whole.tif"
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32611", "transform": from_origin(*ORIGIN, 0.3, 0.3),
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate"}
    rows, cols = np.mgrid[0:side, 0:side]
    paths = []
    with rasterio.open(whole, "w", **profile) as dst:
        for r in range(per_row):
            for c in range(per_row):
                block = np.stack([(rows * (1 + k) + cols * (3 - k) + 37 * (r + c)) % 256
                                  for k in range(3)]).astype(np.uint8)
                dst.write(block, window=Window(c * side, r * side, side, side))
                tile_profile = profile | {
                    "width": side, "height": side,
                    "transform": from_origin(ORIGIN[0] + c * side * 0.3,
                                             ORIGIN[1] - r * side * 0.3, 0.3, 0.3)}
                path = folder / "tiles" / f"t_{r:02d}_{c:02d}.tif"
                path.parent.mkdir(exist_ok=True)
                with rasterio.open(path, "w", **tile_profile) as tile:
                    tile.write(block)
                paths.append(path)
    return whole, paths


def child(image: str, width: int, model_path: str | None) -> None:
    from unet_gis.inference.engine import EngineOptions, predict
    from unet_gis.model.checkpoint import LoadedModel, load_checkpoint
    from unet_gis.model.spec import Architecture, default_spec
    from unet_gis.model.unet import build_unet

    if model_path:
        model = load_checkpoint(model_path)
    else:
        import torch

        torch.manual_seed(0)
        spec = default_spec(architecture=Architecture(base_width=width, depth=4))
        model = LoadedModel(build_unet(3, 2, spec.architecture).eval(), spec)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = predict(image, Path(tmp) / "p.tif", model, EngineOptions())
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "pixels": result.pixels, "rss_mib": peak_rss_mib(),
                      "device": result.device}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=64)
    parser.add_argument("--tile-size", type=int, default=1024)
    parser.add_argument("--width", type=int, default=16, help="random U-Net width")
    parser.add_argument("--model", help="a checkpoint instead of a random U-Net")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.width, args.model)
        return
    from unet_gis.raster.mosaic import build_mosaic

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory(prefix="unet-gis-mosaic-") as tmp:
        folder = Path(tmp)
        whole, tiles = generate(folder, args.tiles, args.tile_size)
        vrt = build_mosaic([folder / "tiles"], folder / "mosaic.vrt")
        extra = ["--width", str(args.width)] + (["--model", args.model] if args.model else [])
        script = str(Path(__file__).resolve())
        results = {}
        for name, image in (("one GeoTIFF", whole), ("mosaic", vrt), ("one GeoTIFF again",
                                                                      whole)):
            results[name] = run_child([script, "--child", str(image), *extra])
            r = results[name]
            print(f"{name}: {r['pixels'] / 1e6:.0f} Mpx in {r['seconds']:.1f} s = "
                  f"{r['pixels'] / r['seconds'] / 1e6:.2f} Mpx/s, peak RSS "
                  f"{r['rss_mib']:.0f} MiB ({r['device']})")
    single = min(results["one GeoTIFF"]["seconds"], results["one GeoTIFF again"]["seconds"])
    mosaic = results["mosaic"]
    rss = max(results["one GeoTIFF"]["rss_mib"], results["one GeoTIFF again"]["rss_mib"])
    print(f"{len(tiles)} tiles of {args.tile_size}²: mosaic throughput = "
          f"{single / mosaic['seconds']:.2f} of one GeoTIFF (goal >= 0.9); peak RSS "
          f"{mosaic['rss_mib'] / rss:.2f} of one GeoTIFF (goal <= 1.10)")


if __name__ == "__main__":
    main()
