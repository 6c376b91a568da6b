"""Helpers shared by the benchmark scripts: generated rasters and peak RSS of a child."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window


def generate_rgb_geotiff(path: Path, size: int, block: int = 512, seed: int = 0,
                         overviews: bool = False) -> Path:
    """A ``size``² RGB uint8 GeoTIFF at 0.3 m in UTM 11N, written window by window."""
    rng = np.random.default_rng(seed)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32611", "transform": from_origin(600000, 4000000, 0.3, 0.3),
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
               "BIGTIFF": "IF_SAFER"}
    base = rng.integers(0, 256, (3, block, block), dtype=np.uint8)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, block):
            for col in range(0, size, block):
                h, w = min(block, size - row), min(block, size - col)
                shift = int(rng.integers(0, 256))
                dst.write((base[:, :h, :w] + shift).astype(np.uint8),
                          window=Window(col, row, w, h))
        if overviews:
            dst.build_overviews([2, 4, 8, 16, 32, 64])
    return path


def run_child(args: list[str]) -> dict:
    """Run ``python args…`` and return the JSON its last stdout line prints, plus peak RSS."""
    code = [sys.executable, *args]
    completed = subprocess.run(code, check=True, capture_output=True, text=True)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def peak_rss_mib(children: bool = False) -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB), or
    with ``children`` that of its largest finished child process."""
    import resource

    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024
