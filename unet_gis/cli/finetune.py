"""``unet-gis finetune``: fine-tune a model on your own labels (the app calls the same)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from unet_gis.cli.common import add_device_arguments, positive_float


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "finetune", help="fine-tune a model on labels you drew for your imagery",
        description="Fine-tune MODEL on each IMAGE with its labels (a GeoPackage with one "
                    "layer per class and 'checked_areas'; default IMAGE_labels.gpkg beside "
                    "the image), keep 20 % of the checked area aside, and print the scores "
                    "there before and after.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument("--labels", type=Path, action="append", metavar="LABELS.gpkg",
                        help="labels of each IMAGE, in order (repeat once per image)")
    parser.add_argument("--init", type=Path, metavar="MODEL",
                        help="the model to start from (default: the bundled model)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="NEW.safetensors")
    parser.add_argument("--minutes", type=positive_float, default=3.0,
                        help="training time budget (default 3)")
    add_device_arguments(parser, inference=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unet_gis.errors import UserError
    from unet_gis.fileio import check_output_path
    from unet_gis.model.zoo import resolve_model_path
    from unet_gis.training.finetune import FinetuneSettings, finetune
    from unet_gis.training.labels import labels_path

    labels = args.labels or [labels_path(image) for image in args.images]
    if len(labels) != len(args.images):
        raise UserError(f"{len(args.images)} images but {len(labels)} --labels: give one "
                        "--labels per image, in the same order.")
    for path in (*args.images, *labels):
        if not path.is_file():
            raise UserError(f"{path} does not exist.")
    if args.output.suffix != ".safetensors":
        raise UserError(f"-o {args.output.name}: models are .safetensors files.")
    check_output_path(args.output, overwrite=False, inputs=tuple(args.images))
    init = Path(resolve_model_path(args.init))

    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    settings = FinetuneSettings(minutes=args.minutes, device=args.device,
                                precision=args.precision)
    result = finetune(list(zip(args.images, labels, strict=True)), init, args.output,
                      settings, log=say)
    print(result.table())
    print(f"{result.steps} steps in {result.seconds / 60:.1f} min; wrote {result.output}")
    return 0
