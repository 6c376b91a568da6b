"""``unet-gis vectorize``: probability raster -> vehicles, roads and road centerlines.

``add_vector_arguments`` and ``options_from_args`` are shared with ``predict --vector``
so both commands take the same flags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unet_gis.cli.common import (
    ProgressBar,
    non_negative_float,
    non_negative_int,
    positive_int,
)
from unet_gis.vector.options import OUTPUT_FORMATS, VectorizeOptions, VectorSummary

_DEFAULTS = VectorizeOptions()


def parse_thresholds(text: str) -> tuple[tuple[str, float], ...]:
    """``road=0.5,vehicle=0.4`` -> ``(("road", 0.5), ("vehicle", 0.4))``."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or not name.strip() or not 0.0 <= number <= 1.0:
            raise argparse.ArgumentTypeError(
                f"expected CLASS=PROBABILITY pairs like road=0.5,vehicle=0.4, got {part!r}")
        pairs.append((name.strip(), number))
    return tuple(pairs)


def parse_classes(text: str) -> tuple[str, ...]:
    return tuple(filter(None, (p.strip() for p in text.split(","))))


def add_vector_arguments(parser: argparse.ArgumentParser) -> None:
    """The vectorizing flags (no output or --overwrite: each command has its own)."""
    group = parser.add_argument_group("vector layers")
    group.add_argument("--format", choices=tuple(OUTPUT_FORMATS),
                       help="output format (default: from the extension)")
    group.add_argument("--classes", type=parse_classes, metavar="NAME,NAME",
                       help="classes to extract (default: all classes of the raster)")
    group.add_argument("--centerlines", action=argparse.BooleanOptionalAction,
                       default=_DEFAULTS.centerlines, help="write road centerlines")
    group.add_argument("--points", action="store_true",
                       help="also write vehicle centroids as a point layer")
    group.add_argument("--threshold", type=parse_thresholds, default=(),
                       metavar="CLASS=P,...",
                       help="probability thresholds (default: the model's, from the raster)")
    group.add_argument("--min-area", type=non_negative_float, default=_DEFAULTS.min_area_m2,
                       metavar="M2",
                       help="drop polygons and fill holes smaller than this "
                            "(default %(default)s m²)")
    group.add_argument("--simplify", type=non_negative_float, default=_DEFAULTS.simplify_m,
                       metavar="M",
                       help="simplification tolerance (default %(default)s m; 0: none)")
    group.add_argument("--spur", type=non_negative_float, default=_DEFAULTS.spur_m, metavar="M",
                       help="prune centerline spurs shorter than this (default %(default)s m)")
    group.add_argument("--gap", type=non_negative_float, default=_DEFAULTS.gap_m, metavar="M",
                       help="close road gaps narrower than this (default %(default)s m)")
    group.add_argument("--min-length", type=non_negative_float, default=_DEFAULTS.min_length_m,
                       metavar="M", help="drop centerline pieces shorter than this "
                                         "(default %(default)s m)")
    group.add_argument("--window", type=positive_int, default=_DEFAULTS.window, metavar="PX",
                       help="processing window in pixels (default %(default)s)")
    group.add_argument("--workers", type=non_negative_int, default=0, metavar="N",
                       help="processes working on windows (default 0: one per core for "
                            "rasters of 16 Mpx or more, else 1)")


def options_from_args(args: argparse.Namespace) -> VectorizeOptions:
    """A :class:`VectorizeOptions` from flags added by :func:`add_vector_arguments`."""
    return VectorizeOptions(
        classes=args.classes, thresholds=args.threshold, centerlines=args.centerlines,
        points=args.points, min_area_m2=args.min_area, simplify_m=args.simplify,
        spur_m=args.spur, gap_m=args.gap, min_length_m=args.min_length, format=args.format,
        overwrite=bool(getattr(args, "overwrite", False)), window=args.window,
        workers=args.workers)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "vectorize", help="turn a probability raster into GIS layers",
        description="Extract vehicles (polygons, optionally points), road surfaces and road "
                    "centerlines from a probability raster written by `unet-gis predict`. "
                    "Shapefile and GeoJSON write one file per layer (OUT_vehicles.shp, "
                    "OUT_roads.shp, OUT_road_centerlines.shp); a GeoPackage holds all "
                    "layers; a .tif output writes a class-id mask instead.")
    parser.add_argument("probabilities", type=Path, metavar="PROBABILITIES.tif")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        metavar="OUT.(shp|gpkg|geojson|tif)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_vector_arguments(parser)
    parser.set_defaults(func=run)


def report_summary(summary: VectorSummary) -> None:
    """Print a run's warnings (stderr) and its summary line (stdout)."""
    for message in summary.messages:
        print(f"unet-gis: warning: {message}", file=sys.stderr)
    written = ", ".join(str(path) for path in summary.outputs)
    if summary.outputs and summary.outputs[0].suffix.lower() in (".tif", ".tiff"):
        print(f"wrote class mask {written}")
    else:
        print(f"{summary.line()}; wrote {written}")


def run(args: argparse.Namespace) -> int:
    from unet_gis.vector.vectorize import vectorize

    bar = None if args.quiet else ProgressBar(args.probabilities.name)
    report_summary(vectorize(args.probabilities, args.output, options_from_args(args),
                             progress=bar))
    return 0
