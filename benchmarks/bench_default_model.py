"""Engine speed with the bundled default model on a larger raster.

Builds a 4096 x 4096 px RGB GeoTIFF at 0.3 m (mirrored copies of the bundled sample, so no
resampling happens) and runs ``unet-gis predict`` on it, printing megapixels per second.

    python benchmarks/bench_default_model.py [--side 4096] [--threads 2] [--runs 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from unet_gis.resources import resource_path


def make_raster(path: Path, side: int) -> Path:
    with rasterio.open(resource_path("samples", "spacenet_vegas_img0.tif")) as src:
        rgb = src.read([1, 2, 3])[:, :1150]  # above the watermark
    tile = np.concatenate([rgb, rgb[:, ::-1]], 1)
    tile = np.concatenate([tile, tile[:, :, ::-1]], 2)
    reps = (1, side // tile.shape[1] + 1, side // tile.shape[2] + 1)
    data = np.tile(tile, reps)[:, :side, :side]
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3,
                       dtype="uint8", crs="EPSG:32611",
                       transform=from_origin(666000.0, 4012000.0, 0.3, 0.3), tiled=True,
                       blockxsize=512, blockysize=512, compress="deflate") as dst:
        dst.write(data)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--model", help="checkpoint (default: the bundled model)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = make_raster(Path(tmp) / "bench.tif", args.side)
        for run in range(args.runs):
            out = Path(tmp) / f"out{run}"
            out.mkdir()
            command = ["unet-gis", "predict", str(image), "-o", str(out), "--quiet",
                       "--device", "cpu"]
            if args.model:
                command += ["--model", args.model]
            began = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - began
            print(result.stdout.strip())
            print(f"run {run + 1}: {args.side * args.side / 1e6:.1f} Mpx, {wall:.1f} s wall "
                  f"including start-up = {args.side * args.side / 1e6 / wall:.2f} Mpx/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
