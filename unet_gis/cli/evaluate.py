"""``unet-gis evaluate``: score a model on labelled scenes with the prediction engine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from unet_gis.cli.common import (
    add_device_arguments,
    non_negative_float,
    positive_float,
    positive_int,
)
from unet_gis.training.thresholds import SWEEP_THRESHOLDS

if TYPE_CHECKING:
    from unet_gis.training.config import SourceConfig

VECTOR_SUFFIXES = {".geojson", ".json", ".shp", ".gpkg", ".fgb"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a model against labelled scenes",
        description="Run MODEL with the same engine as `predict` on the validation scenes of a "
                    "training CONFIG, or on one IMAGE with its LABELS (vector file, mask image "
                    "or YOLO .txt), and print pixel IoU/precision/recall/F1 per class, relaxed "
                    "P/R/F1 for roads and object P/R/F1 and count error for vehicles.")
    parser.add_argument("model", metavar="MODEL",
                        help="a .safetensors checkpoint, or 'default' for the bundled model")
    parser.add_argument("inputs", nargs="+", metavar="CONFIG|IMAGE LABELS")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the scores as JSON")
    parser.add_argument("--split", default="val", help="config split to evaluate (default val)")
    parser.add_argument("--sources", help="comma-separated config source names to evaluate")
    parser.add_argument("--data-root", type=Path, help="folder the config's paths are under")
    parser.add_argument("--tolerance", type=positive_float, default=2.0, metavar="M",
                        help="relaxed-metric tolerance in metres (default 2)")
    parser.add_argument("--class", dest="label_class", default=None,
                        help="IMAGE LABELS mode: the class the labels mark (default: road for "
                             "vectors and masks, vehicle for YOLO files)")
    parser.add_argument("--buffer", type=non_negative_float, default=2.0, metavar="M",
                        help="IMAGE LABELS mode: buffer for lines/points in metres, each side")
    parser.add_argument("--gsd", type=positive_float, metavar="M",
                        help="IMAGE LABELS mode: metres per pixel of a plain (no CRS) image")
    parser.add_argument("--values", default="255",
                        help="IMAGE LABELS mode: mask values of the class (default 255)")
    parser.add_argument("--ignore-values", default="",
                        help="IMAGE LABELS mode: mask values to leave out (e.g. 0 for ISPRS "
                             "boundaries)")
    add_device_arguments(parser)
    parser.add_argument("--tile", type=positive_int, help="model input size in pixels")
    parser.add_argument("--sweep", action="store_true",
                        help=f"also score each class at thresholds {SWEEP_THRESHOLDS[0]:g}-"
                             f"{SWEEP_THRESHOLDS[-1]:g} and print the one that maximises its "
                             "mean score over the validation sets")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the probability rasters in DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unet_gis.errors import UserError
    from unet_gis.fileio import check_writable_target
    from unet_gis.model.checkpoint import load_checkpoint
    from unet_gis.model.zoo import resolve_model_path
    from unet_gis.training.config import load_config
    from unet_gis.training.evaluate import (
        EvalSettings,
        config_items,
        evaluate_items,
        format_table,
    )

    if args.json is not None:  # before the long work
        if not args.json.parent.exists():
            raise UserError(f"The folder of --json {args.json} does not exist; create it "
                            "first.")
        check_writable_target(args.json, "--json")
    if args.keep is not None:
        check_writable_target(args.keep, "--keep", folder=True)
    model_path = resolve_model_path(None if args.model == "default" else args.model)
    model = load_checkpoint(model_path)
    settings = EvalSettings(tolerance_m=args.tolerance, device=args.device,
                            precision=args.precision, tta=args.tta, backend=args.backend,
                            tile=args.tile,
                            keep_probabilities=args.keep,
                            sweep=SWEEP_THRESHOLDS if args.sweep else ())
    if len(args.inputs) == 1:
        config = load_config(args.inputs[0], args.data_root)
        wanted = tuple(s for s in (args.sources or "").split(",") if s)
        items = config_items(config, args.split, wanted)
        if not items:
            raise UserError(f"The config has no {args.split!r} scenes to evaluate.")
    elif len(args.inputs) == 2:
        items = [_single_item(Path(args.inputs[0]), Path(args.inputs[1]), args)]
    else:
        raise UserError("Give either CONFIG, or IMAGE and LABELS.")

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = evaluate_items(model, items, settings, say, str(model_path))
    print(format_table(report))
    if report.sweep is not None:
        print(report.sweep.format())
    print(f"{len(report.scenes)} scene(s), {report.megapixels:.1f} Mpx at {model.spec.gsd_m} m "
          f"in {report.seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2, default=_nan_safe))
    return 0


def _nan_safe(value: object) -> object:
    return str(value)


def _mask_values(text: str, option: str) -> tuple[int, ...]:
    """Comma-separated mask values 0-255 (a one-line error for anything else)."""
    from unet_gis.errors import UserError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = (-1,)
    if any(not 0 <= v <= 255 for v in values):
        raise UserError(f"{option} {text}: expected mask values 0-255 separated by commas.")
    return values


def _single_item(image: Path, labels: Path,
                 args: argparse.Namespace) -> tuple[str, SourceConfig, Path]:
    from unet_gis.errors import UserError

    if not image.is_file() or not labels.is_file():
        raise UserError(f"{image if not image.is_file() else labels} does not exist.")
    # the label folder is found beside the image when relative: give it whole
    image, labels = image.absolute(), labels.absolute()
    from unet_gis.training.config import SourceConfig

    suffix = labels.suffix.lower()
    if suffix in VECTOR_SUFFIXES:
        cls = args.label_class or "road"
        source = SourceConfig(name=image.stem, kind="vector", images=(image,), classes=(cls,),
                              labels={cls: labels}, buffer_m={cls: args.buffer}, split="val")
    else:
        if args.gsd is None:
            raise UserError("A plain image with a mask or YOLO labels needs --gsd METRES.")
        if suffix == ".txt":
            cls = args.label_class or "vehicle"
            source = SourceConfig(name=image.stem, kind="yolo", images=(image,), classes=(cls,),
                                  label_dir=labels.parent, gsd_m=args.gsd, split="val",
                                  yolo_classes={i: cls for i in range(4)})
            if labels.stem != image.stem:
                raise UserError("YOLO labels must be named like the image (IMAGE.txt).")
        else:
            cls = args.label_class or "road"
            values = _mask_values(args.values, "--values")
            source = SourceConfig(name=image.stem, kind="mask", images=(image,), classes=(cls,),
                                  label_dir=labels.parent, gsd_m=args.gsd, split="val",
                                  values={cls: values}, ignore_values=_mask_values(
                                      args.ignore_values, "--ignore-values"))
            if labels.stem != image.stem:
                raise UserError("The mask must have the image's name in another folder.")
    return (source.name, source, image)
