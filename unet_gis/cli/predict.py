"""``unet-gis predict``: run the model over images and write probability rasters."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from unet_gis.cli.common import (
    ProgressBar,
    add_model_arguments,
    non_negative_int,
    positive_int,
)
from unet_gis.cli.vectorize import add_vector_arguments, options_from_args, report_summary
from unet_gis.errors import UserError
from unet_gis.inference.choices import OUTPUT_GRIDS
from unet_gis.raster.io import RasterSource, as_source, source_name, source_stem

if TYPE_CHECKING:
    from unet_gis.inference.engine import EngineOptions, PredictResult
    from unet_gis.model.checkpoint import LoadedModel

#: The loggers that log each plan warning which the engine also returns in its result.
_ENGINE_LOGGERS = ("unet_gis.inference.engine", "unet_gis.distributed.run")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "predict", help="segment images into probability rasters",
        description="Run the U-Net with a sliding window over each IMAGE and write "
                    "OUTDIR/<name>_probabilities.tif (one uint8 band per class: "
                    "probability × 254, band scale 1/254 so GIS tools read 0-1, "
                    "nodata 255 where nothing was predicted).")
    parser.add_argument("images", nargs="+", metavar="IMAGE", type=as_source,
                        help="raster files, or GDAL paths such as /vsis3/bucket/scene.tif")
    parser.add_argument("-o", "--outdir", required=True, type=Path, metavar="OUTDIR")
    add_model_arguments(parser)
    parser.add_argument("--tile", type=positive_int,
                        help="model input size in pixels (default: model's)")
    parser.add_argument("--halo", type=non_negative_int, help="pixels discarded on each tile side")
    parser.add_argument("--batch-size", type=positive_int, help="tiles per forward pass")
    parser.add_argument("--aoi", metavar="BOX|FILE",
                        help="minx,miny,maxx,maxy in the raster's CRS, or a vector file")
    parser.add_argument("--mosaic", nargs="?", const="mosaic", metavar="NAME",
                        help="treat all IMAGEs (tiles) as one map: write OUTDIR/NAME.vrt and "
                             "one NAME_probabilities.tif (default NAME: mosaic), so nothing is "
                             "cut at tile borders; IMAGE may also be a folder, a glob such as "
                             "'tiles/*.tif' or a .txt list of paths")
    parser.add_argument("--output-grid", choices=OUTPUT_GRIDS, default="model",
                        help="pixel grid of the probability raster: the model's (default: "
                             "all the detail the model saw) or the input's (resampled back, "
                             "for raster math against the input); they differ only when the "
                             "input's GSD is not the model's")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--cluster", metavar="ADDRESS|local[:N]",
                        help="compute on a Dask cluster: a scheduler address (tcp://host:8786) "
                             "or local[:N] worker processes; needs unet-gis[cluster], see "
                             "docs/cluster.md")
    parser.add_argument("--vector", type=Path, metavar="OUT.(shp|gpkg|geojson|tif)",
                        help="also vectorize each result (with several images, the image "
                             "name is added to OUT's name)")
    add_vector_arguments(parser)
    parser.set_defaults(func=run)


def _inputs(args: argparse.Namespace, outdir: Path) -> list[RasterSource]:
    """The rasters to run: folders, globs and .txt lists expanded; with --mosaic, the one
    VRT mosaic of them all (written to OUTDIR first)."""
    from unet_gis.fileio import check_output_path
    from unet_gis.raster.mosaic import build_mosaic, expand_inputs

    if args.mosaic is not None:
        name = args.mosaic
        if not name or name in (".", "..") or any(c in name for c in "/\\:"):
            raise UserError(f"--mosaic {name}: give a plain name (no folders); the mosaic "
                            "is written in OUTDIR.")
        vrt = outdir / f"{name}.vrt"
        check_output_path(vrt, args.overwrite)
        return [build_mosaic([str(i) for i in args.images], vrt)]
    images: list[RasterSource] = []
    for image in args.images:
        local = isinstance(image, Path) and (image.is_dir() or image.suffix.lower() == ".txt"
                                             or (not image.exists()
                                                 and any(c in str(image) for c in "*?[")))
        images.extend(expand_inputs([image]) if local else [image])
    return images


def run(args: argparse.Namespace) -> int:
    from unet_gis.inference.aoi import Aoi
    from unet_gis.inference.engine import EngineOptions, predict
    from unet_gis.inference.plan import default_output_path
    from unet_gis.model.checkpoint import load_checkpoint
    from unet_gis.model.zoo import resolve_model_path

    outdir: Path = args.outdir
    if outdir.exists() and not outdir.is_dir():
        raise UserError(f"-o {outdir} is a file; -o names the folder the results go to.")
    if not outdir.is_dir():
        raise UserError(f"The output folder {outdir} does not exist; create it first.")
    args.images = _inputs(args, outdir)
    if args.vector is not None:  # before predicting, not after
        from unet_gis.fileio import check_output_path, check_writable_target

        check_writable_target(args.vector, "--vector")
        for image in args.images:
            check_output_path(_vector_target(args, image), args.overwrite)
    model = load_checkpoint(resolve_model_path(args.model))
    options = EngineOptions(device=args.device, precision=args.precision, tta=args.tta,
                            backend=args.backend,
                            tile=args.tile,
                            halo=args.halo,
                            batch_size=args.batch_size, bands=args.bands,
                            aoi=Aoi.parse(args.aoi) if args.aoi else None,
                            overwrite=args.overwrite, output_grid=args.output_grid)
    if args.cluster and args.output_grid != "model":
        raise UserError("--output-grid input is not available with --cluster yet; run "
                        "without --cluster, or resample the result with gdalwarp.")
    with _held_warnings() as held:
        cluster_results = _predict_on_cluster(args, model, options) if args.cluster else None
    others = [m for m in held if not any(m in r.warnings for r in cluster_results or ())]
    for index, image in enumerate(args.images):
        output = default_output_path(image, outdir)
        if cluster_results is not None:
            result = cluster_results[index]
        else:
            bar = None if args.quiet else ProgressBar(source_name(image))
            with _held_warnings() as others:
                result = predict(image, output, model, options, progress=bar)
        for warning in dict.fromkeys((*result.warnings, *others)):
            print(f"unet-gis: warning: {warning}", file=sys.stderr)
        others = []
        print(f"{source_name(image)}: {result.width}x{result.height} px "
              f"({result.pixels / 1e6:.1f} Mpx) in {result.seconds:.1f} s = "
              f"{result.megapixels_per_s:.2f} Mpx/s on "
              f"{result.device}; {result.bands}; wrote {result.output}"
              + (" on the input's grid" if result.resampled and args.output_grid == "input"
                 else ""))
        if args.vector is not None:
            _vectorize(args, image, output)
    return 0


@contextmanager
def _held_warnings() -> Iterator[list[str]]:
    """Keep the engine's logged warnings off stderr while it runs: each one is also in
    its result, and is printed once from there (with any others held here)."""
    held: list[str] = []

    def hold(record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        held.append(record.getMessage())
        return False

    loggers = [logging.getLogger(name) for name in _ENGINE_LOGGERS]
    for logger in loggers:
        logger.addFilter(hold)
    try:
        yield held
    finally:
        for logger in loggers:
            logger.removeFilter(hold)


def _predict_on_cluster(args: argparse.Namespace, model: LoadedModel,
                        options: EngineOptions) -> list[PredictResult]:
    """All images in one Dask run (their tasks share the cluster), one progress bar."""
    from unet_gis.distributed import predict_scenes_on_cluster
    from unet_gis.inference.plan import default_output_path

    scenes = [(image, default_output_path(image, args.outdir)) for image in args.images]
    label = source_name(args.images[0]) if len(scenes) == 1 else f"{len(scenes)} images"
    bar = None if args.quiet else ProgressBar(label)
    return predict_scenes_on_cluster(scenes, model, options, progress=bar, cluster=args.cluster)


def _vector_target(args: argparse.Namespace, image: RasterSource) -> Path:
    target: Path = args.vector
    if len(args.images) > 1:
        target = target.with_name(f"{target.stem}_{source_stem(image)}{target.suffix}")
    return target


def _vectorize(args: argparse.Namespace, image: RasterSource, probabilities: Path) -> None:
    from unet_gis.vector.vectorize import vectorize

    target = _vector_target(args, image)
    bar = None if args.quiet else ProgressBar(f"{source_name(image)} vectors")
    report_summary(vectorize(probabilities, target, options_from_args(args), progress=bar))
