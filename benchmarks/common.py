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


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_kib(pid: int | str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # the process has just ended
        pass
    return 0


def _children(pid: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(entry.name)
    return found


class TotalRssSampler:
    """Peak of this process's RSS plus its child processes' (worker pools), sampled.

    ``ru_maxrss`` cannot do it: a child started with fork+exec inherits its parent's
    peak, and the children's figures are never summed.  Sampling every ``interval``
    seconds may miss a spike shorter than that.
    """

    def __init__(self, interval: float = 0.05) -> None:
        import os
        import threading

        self.pid = os.getpid()
        self.interval = interval
        self.peak_kib = 0
        self.workers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            children = _children(self.pid)
            self.workers = max(self.workers, len(children))
            total = _rss_kib(self.pid) + sum(_rss_kib(child) for child in children)
            self.peak_kib = max(self.peak_kib, total)

    def __enter__(self) -> TotalRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024
