"""``vectorize``: a probability raster to GIS layers, tile by tile, with progress and cancel.

Layers: ``vehicles`` (one polygon per vehicle, touching vehicles split), ``roads`` (the
road surface), ``road_centerlines`` (a graph of lines meeting at junction vertices),
optionally ``vehicle_points`` (centroids); any other class of the raster becomes a
polygon layer named after it.  In a GeoPackage the layers are named after the scene too
(``<scene>_vehicles``, see :func:`~unet_gis.vector.layers.scene_name`).  Attributes:
``class``, ``area_m2`` / ``length_m`` measured in metres (see
:mod:`unet_gis.vector.measure`) and ``score``, the mean probability.

Call :func:`vectorize` with a :class:`VectorizeOptions`; it returns a
:class:`VectorSummary`.
"""

from __future__ import annotations

from pathlib import Path

import rasterio

from unet_gis.errors import UserError
from unet_gis.inference.progress import CancelToken, ProgressCallback, ProgressReporter, check
from unet_gis.raster.io import GDAL_CACHE_MB
from unet_gis.raster.probability import ProbabilityInfo, open_probability_raster
from unet_gis.vector.centerlines import LinePieces
from unet_gis.vector.export import MASK_FORMAT, LayerStore, resolve_format
from unet_gis.vector.layers import LayerBuilder, scene_name
from unet_gis.vector.mask_raster import write_class_mask
from unet_gis.vector.masks import batched, iter_strips, read_tiles, tile_count
from unet_gis.vector.measure import georef_of
from unet_gis.vector.network import CenterlineNetwork
from unet_gis.vector.options import VectorizeOptions, VectorSummary
from unet_gis.vector.polygons import Pieces, SeamMerger
from unet_gis.vector.tiles import TileResult, TileWork, map_tiles, tile_pool, worker_count

#: Tiles read at once per worker: enough to keep the workers busy, few enough that memory
#: does not grow with the raster's width.
TILES_PER_READ = 4
#: Holes in the road mask smaller than this are filled before skeletonizing (cars, noise),
#: so they do not turn into little loops in the centerlines.
CENTERLINE_HOLE_M2 = 50.0


def _select(info: ProbabilityInfo, options: VectorizeOptions) -> dict[str, float]:
    """Class name -> threshold, checking every name against the raster."""
    names = options.classes or info.class_names
    for name in (*names, *(n for n, _ in options.thresholds)):
        info.band_of(name)
    chosen = {c.name: c.threshold for c in info.classes if c.name in names}
    for name, value in options.thresholds:
        if name in chosen:
            chosen[name] = value
    return chosen


def vectorize(prob_path: str | Path, out_path: str | Path,
              options: VectorizeOptions | None = None,
              progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> VectorSummary:
    """Extract vector layers (or a class-id mask for ``.tif``) from a probability raster.

    The raster is read one strip of tiles at a time, a few tiles per read; features are
    written as soon as they are whole, so memory holds those tiles and the features
    crossing the strip's lower seam only.
    """
    options = options or VectorizeOptions()
    prob_path, out_path = Path(prob_path), Path(out_path)
    fmt = resolve_format(out_path, options.format)
    dataset, info = open_probability_raster(prob_path)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), dataset:
        thresholds = _select(info, options)
        if fmt == MASK_FORMAT:
            return write_class_mask(dataset, info, thresholds, out_path, options.overwrite,
                                    options.window, progress, cancel)
        georef = georef_of(dataset, info.pixel_space)
        if georef.pixel_space and fmt == "geojson":
            raise UserError(f"{prob_path.name} has no coordinate system, and GeoJSON must "
                            "be longitude/latitude; write a GeoPackage or Shapefile instead.")
        builder = LayerBuilder(georef, options, thresholds, info.classes, cancel,
                               scene=scene_name(prob_path), full_scale=info.full_scale)
        bands = [info.band_of(name) for name in thresholds]
        px = georef.px
        seams = {n: SeamMerger() for n in thresholds if n not in builder.objects}
        networks = {n: CenterlineNetwork(px(options.spur_m), px(options.gap_m),
                                         px(options.min_length_m), px(options.simplify_m),
                                         options.margin)
                    for n in thresholds if n in builder.networks and options.centerlines}
        work = TileWork(tuple(thresholds.items()), builder.objects,
                        frozenset(networks), georef.px2(options.min_area_m2),
                        px(options.simplify_m), px(options.gap_m),
                        georef.px2(CENTERLINE_HOLE_M2), info.full_scale)
        reporter = ProgressReporter("vectorizing", tile_count(
            dataset.width, dataset.height, options.window) + 1, progress)
        workers = worker_count(options.workers, dataset.width * dataset.height)
        with LayerStore(out_path, fmt, builder.schemas(), options.overwrite,
                        (prob_path,)) as store, tile_pool(workers) as pool:
            for strip, seam_row in iter_strips(dataset.width, dataset.height,
                                               options.window, options.margin):
                found = TileResult({n: Pieces() for n in thresholds},
                                   {n: Pieces() for n in seams},
                                   {n: LinePieces() for n in networks})
                for batch in batched(strip, TILES_PER_READ * max(workers, 1)):
                    check(cancel)
                    blocks = read_tiles(dataset, bands, batch)
                    for tile, result in zip(batch, map_tiles(pool, work, batch, blocks),
                                            strict=True):
                        check(cancel)
                        found.extend(result)
                        reporter.advance(pixels=tile.pixels)
                for name in thresholds:
                    builder.polygons(store, name, *found.whole[name].arrays())
                    if name in seams:
                        builder.polygons(store, name, *seams[name].settle(
                            found.cut[name], seam_row is None))
                    if name in networks:
                        networks[name].add(found.lines[name])
                        builder.lines(store, name, *networks[name].settle(seam_row))
            outputs = store.commit(cancel)
            names = store.layer_names()
        reporter.advance()
    return builder.summary(tuple(outputs), names)
