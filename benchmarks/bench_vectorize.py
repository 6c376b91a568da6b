"""Vectorizer throughput and peak RSS against a naive whole-array baseline.

Usage::

    python benchmarks/bench_vectorize.py [--size 16384] [--keep DIR]

Generates a ``size``² road/vehicle probability raster (a curvy road grid with diagonal
avenues, soft edges, speckle noise and a few thousand vehicles, some parked in touching
pairs), written window by window, then measures, each variant in a fresh process so its
peak RSS is its own:

1. ``polygons``: ``vectorize`` with roads and vehicles as polygons (no centerlines), with
   its default number of worker processes (one per core for a raster this large);
2. ``centerlines``: ``vectorize`` with road centerlines as well (polygons included);
   ``polygons-1`` and ``centerlines-1`` are the same in one process;
3. ``naive-polygons``: read both bands whole, ``rasterio.features.shapes`` + a Python
   loop building the attribute rows, GeoPackage via geopandas;
4. ``naive-centerlines``: whole road band, ``skeletonize``, the same pixel-segment line
   merge with no clean-up (what ``skan``-style tools do on a whole array).

Prints Mpx/s and peak RSS of each and the ratios.  With worker processes, the peak of the
main process and the peak of the main process plus its workers (sampled every 50 ms) are
printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).parent))
from common import TotalRssSampler, peak_rss_mib, run_child

from unet_gis.model.spec import default_spec
from unet_gis.raster.probability import (
    probability_profile,
    tag_probability_raster,
    to_stored,
)

BLOCK = 512


def _roads(size: int, rng: np.random.Generator) -> list[tuple[str, float, float, float]]:
    """(axis, offset, width, phase) for a curvy grid plus diagonals."""
    roads = []
    for axis in ("h", "v"):
        position = float(rng.uniform(200, 800))
        while position < size:
            roads.append((axis, position, float(rng.uniform(16, 34)),
                          float(rng.uniform(0, 2 * np.pi))))
            position += float(rng.uniform(700, 1600))
    for _ in range(max(1, size // 4096)):
        roads.append(("d", float(rng.uniform(-size / 2, size / 2)), 24.0, 0.0))
    return roads


def _road_distance(road: tuple[str, float, float, float], rows: np.ndarray,
                   cols: np.ndarray) -> np.ndarray:
    """Distance (px) from each pixel to the road's axis, minus half its width."""
    axis, offset, width, phase = road
    if axis == "h":
        centre = offset + 40 * np.sin(cols / 900 + phase)
        return np.abs(rows - centre) - width / 2
    if axis == "v":
        centre = offset + 40 * np.sin(rows / 900 + phase)
        return np.abs(cols - centre) - width / 2
    return np.abs(rows - cols - offset) / np.sqrt(2) - width / 2


def generate(path: Path, size: int, seed: int = 0) -> int:
    """Write the benchmark raster; return the number of vehicles painted."""
    rng = np.random.default_rng(seed)
    roads = _roads(size, rng)
    cars = []  # (row, col, horizontal): on road edges, some in touching pairs
    for _ in range(size * size // 80_000):
        axis, offset, width, phase = roads[int(rng.integers(0, len(roads)))]
        along = float(rng.uniform(0, size))
        side = offset + (width / 2 - 5) * rng.choice([-1, 1])
        if axis == "h":
            car = (side + 40 * np.sin(along / 900 + phase), along, True)
        elif axis == "v":
            car = (along, side + 40 * np.sin(along / 900 + phase), False)
        else:
            continue
        cars.append(car)
        if rng.random() < 0.2:  # a neighbour touching it, nose to tail, offset sideways
            cars.append((car[0] + (3 if car[2] else 17), car[1] + (17 if car[2] else 3),
                         car[2]))
    car_array = np.array([(r, c, h) for r, c, h in cars], dtype=float)
    profile = probability_profile(default_spec(), BLOCK)
    profile.update(width=size, height=size, crs="EPSG:32611",
                   transform=from_origin(600000, 4000000, 0.3, 0.3))
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, BLOCK):
            rows = np.arange(row, min(row + BLOCK, size), dtype=float)[:, None] + 0.5
            for col in range(0, size, BLOCK):
                cols = np.arange(col, min(col + BLOCK, size), dtype=float)[None, :] + 0.5
                distance = np.full((len(rows), cols.shape[1]), np.inf)
                for road in roads:
                    distance = np.minimum(distance, _road_distance(road, rows, cols))
                road_p = 1 / (1 + np.exp(distance / 1.5)) * 0.97
                road_p += rng.normal(0, 0.04, road_p.shape)
                road_p[rng.random(road_p.shape) < 2e-4] = 0.8  # speckle
                vehicle_p = np.zeros_like(road_p)
                near = car_array[(np.abs(car_array[:, 0] - row - BLOCK / 2) < BLOCK)
                                 & (np.abs(car_array[:, 1] - col - BLOCK / 2) < BLOCK)]
                for r, c, horizontal in near:
                    half_r, half_c = (4, 8) if horizontal else (8, 4)
                    inside = (np.abs(rows - r) < half_r) & (np.abs(cols - c) < half_c)
                    vehicle_p[inside] = 0.93
                block = np.stack([road_p, vehicle_p])
                dst.write(to_stored(np.clip(block, 0.0, 1.0)).astype(np.uint8),
                          window=Window(col, row, cols.shape[1], len(rows)))
        tag_probability_raster(dst, default_spec(), source=None, pixel_space=False)
    return len(cars)


def _naive_polygons(prob: Path, out: Path) -> dict[str, int]:
    import geopandas as gpd
    import shapely
    from rasterio.features import shapes

    rows: dict[str, list] = {"class": [], "area_m2": [], "score": [], "geometry": []}
    with rasterio.open(prob) as ds:
        data = ds.read()
        for band, name in enumerate(("road", "vehicle")):
            mask = data[band] >= 128
            labels = np.zeros(mask.shape, dtype=np.int32)
            for geojson, _ in shapes(mask.astype(np.uint8), mask=mask,
                                     transform=ds.transform):
                geometry = shapely.geometry.shape(geojson)
                rows["class"].append(name)
                rows["area_m2"].append(geometry.area)
                rows["score"].append(0.0)
                rows["geometry"].append(geometry)
            del labels
        frame = gpd.GeoDataFrame(rows, crs=ds.crs.to_wkt())
    frame.to_file(out, engine="pyogrio")
    return {"features": len(frame)}


def _naive_centerlines(prob: Path, out: Path) -> dict[str, int]:
    import geopandas as gpd
    import shapely
    from skimage.morphology import skeletonize

    with rasterio.open(prob) as ds:
        skeleton = skeletonize(ds.read(1) >= 128)
        transform = ds.transform
        crs = ds.crs.to_wkt()
    rr, cc = np.nonzero(skeleton)
    pad = np.pad(skeleton, 1)
    segments = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        linked = pad[rr + 1 + dr, cc + 1 + dc]
        p = np.column_stack([cc[linked], rr[linked]]) + 0.5
        segments.append(np.stack([p, p + (dc, dr)], axis=1))
    lines = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(
        shapely.linestrings(np.concatenate(segments)))))
    matrix = np.array([[transform.a, transform.d], [transform.b, transform.e]])
    lines = shapely.transform(lines, lambda xy: xy @ matrix + (transform.c, transform.f))
    gpd.GeoDataFrame({"length_m": shapely.length(lines)}, geometry=lines, crs=crs).to_file(
        out, engine="pyogrio")
    return {"features": len(lines)}


def child(variant: str, prob: Path, out: Path) -> None:
    with TotalRssSampler() as sampler:
        result = _measure(variant, prob, out)
    result["peak_rss_mib"] = peak_rss_mib()
    result["total_peak_rss_mib"] = sampler.peak_mib
    result["workers"] = sampler.workers
    print(json.dumps(result))


def _measure(variant: str, prob: Path, out: Path) -> dict[str, object]:
    start = time.perf_counter()
    if not variant.startswith("naive"):
        from unet_gis.vector.options import VectorizeOptions
        from unet_gis.vector.vectorize import vectorize

        kind, _, workers = variant.partition("-")
        summary = vectorize(prob, out, VectorizeOptions(centerlines=kind == "centerlines",
                                                        workers=int(workers or 0)))
        result: dict[str, object] = dict(summary.features)
        result["summary"] = summary.line()
    elif variant == "naive-polygons":
        result = dict(_naive_polygons(prob, out))
    else:
        result = dict(_naive_centerlines(prob, out))
    result["seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--keep", type=Path, help="folder to keep the raster and outputs in")
    parser.add_argument("--variants", nargs="+",
                        default=["polygons", "polygons-1", "naive-polygons", "centerlines",
                                 "centerlines-1", "naive-centerlines"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--prob", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.prob, args.out)
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        prob = folder / f"bench_{args.size}_probabilities.tif"
        start = time.perf_counter()
        cars = generate(prob, args.size)
        mpx = args.size * args.size / 1e6
        print(f"raster {args.size}² ({mpx:.0f} Mpx, {cars} vehicles) generated in "
              f"{time.perf_counter() - start:.0f} s")
        results = {}
        for variant in args.variants:
            out = folder / f"{variant}.gpkg"
            out.unlink(missing_ok=True)
            results[variant] = r = run_child([__file__, "--child", variant, "--prob",
                                              str(prob), "--out", str(out)])
            extra = r.get("summary", f"{r.get('features')} features")
            workers = (f", with {r['workers']} child processes {r['total_peak_rss_mib']:.0f} MiB"
                       if r["workers"] else "")
            print(f"{variant:18s} {mpx / r['seconds']:7.2f} Mpx/s  {r['seconds']:7.1f} s  "
                  f"peak RSS {r['peak_rss_mib']:5.0f} MiB{workers}  ({extra})")
        for ours in ("polygons", "polygons-1", "centerlines", "centerlines-1"):
            naive = "naive-" + ours.partition("-")[0]
            if ours in results and naive in results:
                a, b = results[ours], results[naive]
                workers = (f" ({a['total_peak_rss_mib']:.0f} MiB with its child processes)"
                           if a["workers"] else "")
                print(f"{ours}: {b['seconds'] / a['seconds']:.2f}x the naive speed, "
                      f"peak RSS {a['peak_rss_mib']:.0f} MiB{workers} vs "
                      f"{b['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
