"""Map canvas speed and memory on a 20000x20000 RGB GeoTIFF with overviews.

Measures, offscreen, on a 1280x800 canvas:

- open -> first full frame (every visible tile drawn),
- median time to a full frame after a pan (1/3 of the view, at 1:1 zoom),
- median time to a full frame after a zoom step (2x in, at varied points), back to back
  from the whole raster down to 1:1, so most steps need tiles nobody loaded yet,
- peak RSS of the viewing process (the raster is generated in a child process).

A frame is painted as the app paints it: on the canvas's own update requests (a view change,
tiles arriving); ``--forced-paints`` instead repaints in a tight loop while waiting (the
method before issue 16, which spent the CPU the loaders need on paints nobody sees).

Goals: first frame < 1 s, pan and zoom frames < 50 ms, RSS < 1 GB.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_canvas.py [--size 20000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def generate(path: Path, size: int, compress: str) -> None:
    """Write the raster window by window (never whole in memory), then its overviews."""
    import numpy as np
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3,
               "dtype": "uint8", "crs": "EPSG:32611",
               "transform": from_origin(600000.0, 4100000.0, 0.3, 0.3), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "photometric": "RGB",
               "BIGTIFF": "YES"}
    if compress != "none":
        profile["compress"] = compress
    tmp = path.with_suffix(".part.tif")
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 40, (3, 512, 512), dtype=np.uint8)
    with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(tmp, "w", **profile) as dst:
        for row in range(0, size, 512):
            h = min(512, size - row)
            for col in range(0, size, 512):
                w = min(512, size - col)
                block = noise[:, :h, :w].copy()
                block[0] += np.uint8((col * 200 // size) % 200)
                block[1] += np.uint8((row * 200 // size) % 200)
                block[2] += np.uint8(((row // 512 + col // 512) % 2) * 100)
                dst.write(block, window=Window(col, row, w, h))
        factors = [2**k for k in range(1, 8)]
        dst.build_overviews(factors, Resampling.average)
    tmp.rename(path)


FORCED_PAINTS = False  # --forced-paints


def wait_frame(app: object, canvas: object, timeout_s: float = 60.0) -> float:
    """Seconds until the canvas paints a frame with every visible tile."""
    start = time.perf_counter()
    complete: list[float] = []
    canvas.frameComplete.connect(complete.append)  # type: ignore[attr-defined]
    canvas.update()  # type: ignore[attr-defined]
    try:
        while not (canvas.frame_ready() if FORCED_PAINTS  # type: ignore[attr-defined]
                   else complete and canvas.is_idle()):  # type: ignore[attr-defined]
            if time.perf_counter() - start > timeout_s:
                raise TimeoutError("no complete frame")
            app.processEvents()  # type: ignore[attr-defined]
            time.sleep(0.0005)
    finally:
        canvas.frameComplete.disconnect(complete.append)  # type: ignore[attr-defined]
    return time.perf_counter() - start


def pause(app: object, seconds: float) -> None:
    """User think time between actions (lets the idle-time prefetch work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.002)


def measure(path: Path, steps: int, think_s: float) -> dict[str, float]:
    from PySide6.QtWidgets import QApplication

    from unet_gis.app.application import configure_gdal

    configure_gdal()
    app = QApplication.instance() or QApplication([])
    from unet_gis.app.canvas.sources import RasterSource
    from unet_gis.app.canvas.view import MapCanvas
    from unet_gis.app.geo import ViewState
    from unet_gis.app.layers.model import ImageLayer, LayerStack

    stack = LayerStack()
    canvas = MapCanvas(stack)
    canvas.resize(1280, 800)
    canvas.show()
    app.processEvents()
    start = time.perf_counter()
    source = RasterSource(path)
    stack.add(ImageLayer(name=path.name, source=source), crs=source.crs)
    canvas.full_extent()
    wait_frame(app, canvas)
    first = time.perf_counter() - start
    pans, zooms = [], []
    grid = source.display
    px = grid.pixel_size
    minx, miny, maxx, maxy = grid.bounds
    for step in range(steps):  # zoom from full extent to 1:1 at a different point each time
        canvas.full_extent()
        wait_frame(app, canvas)
        fx, fy = 0.15 + 0.7 * ((step * 0.37) % 1), 0.15 + 0.7 * ((step * 0.61) % 1)
        sx, sy = canvas.view.to_screen(minx + fx * (maxx - minx), maxy - fy * (maxy - miny))
        while canvas.view.res > px * 1.01:
            pause(app, think_s)
            canvas.set_view(canvas.view.zoomed(2.0, sx, sy))
            zooms.append(wait_frame(app, canvas))
    view = canvas.view
    canvas.set_view(ViewState(minx + 3000 * px, maxy - 3000 * px, px, view.width, view.height))
    wait_frame(app, canvas)
    for step in range(steps * 3):  # pan by a third of the view, along a square path
        dx, dy = [(427, 0), (0, 267), (-427, 0), (0, -267)][(step // 3) % 4]
        pause(app, think_s)
        canvas.set_view(canvas.view.panned(-dx, -dy))
        pans.append(wait_frame(app, canvas))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    canvas.loader.shutdown()
    source.close()
    return {"first_frame_s": first, "pan_median_ms": statistics.median(pans) * 1000,
            "pan_max_ms": max(pans) * 1000, "zoom_median_ms": statistics.median(zooms) * 1000,
            "zoom_max_ms": max(zooms) * 1000, "frames": len(pans) + len(zooms),
            "peak_rss_mb": rss_mb, "cache_mb": canvas.loader.cache.bytes / 2**20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/unet_gis_bench"))
    parser.add_argument("--compress", default="deflate", choices=("deflate", "lzw", "none"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--think", type=float, default=0.0, metavar="S",
                        help="pause between actions, as a user would (default 0: worst case)")
    parser.add_argument("--no-prefetch", action="store_true",
                        help="measure without the canvas's idle-time prefetch")
    parser.add_argument("--forced-paints", action="store_true",
                        help="wait for a frame by repainting in a tight loop (the old method)")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.dir / f"bench_{args.size}_{args.compress}.tif"
    if args.generate_only:
        generate(path, args.size, args.compress)
        return 0
    if not path.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ({args.size}x{args.size} RGB, overviews) ...", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--size", str(args.size), "--dir",
                        str(args.dir), "--compress", args.compress, "--generate-only"],
                       check=True)
        print(f"  generated in {time.perf_counter() - start:.0f} s, "
              f"{path.stat().st_size / 2**20:.0f} MB", flush=True)
    global FORCED_PAINTS
    FORCED_PAINTS = args.forced_paints
    if args.no_prefetch:
        import unet_gis.app.canvas.view as view_module

        view_module.PREFETCH_MAX = 0
    result = measure(path, args.steps, args.think)
    goals = {"first_frame_s": 1.0, "pan_median_ms": 50.0, "zoom_median_ms": 50.0,
             "peak_rss_mb": 1024.0}
    for key, value in result.items():
        goal = goals.get(key)
        verdict = "" if goal is None else \
            f" (goal < {goal:g}: {'met' if value < goal else 'MISSED'})"
        print(f"{key:>16}: {value:10.3f}{verdict}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown of Qt objects (PySide6 can crash there)


if __name__ == "__main__":
    raise SystemExit(main())
