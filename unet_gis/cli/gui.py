"""``unet-gis gui [FILE…]``: the desktop app (also what ``unet-gis`` alone opens)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gui", help="open the desktop app (the default without a command)",
        description="Open the desktop app, optionally with FILEs (imagery, probability "
                    "rasters, vector layers) on the map.")
    parser.add_argument("files", nargs="*", metavar="FILE", help="files to open")
    parser.add_argument("--run", action="store_true",
                        help="run the model over the (last) opened image at once")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="headless: open FILEs, (with --run) run the model and wait, "
                             "save the window as OUT.png and exit (use "
                             "QT_QPA_PLATFORM=offscreen without a display)")
    parser.add_argument("--model", metavar="FILE",
                        help="a .safetensors checkpoint (default: the bundled model)")
    from unet_gis.inference.choices import DEVICE_CHOICES

    parser.add_argument("--device", choices=DEVICE_CHOICES,
                        help="where the model runs (default: the saved choice, else auto)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unet_gis.app.application import run as run_app

    return run_app(args.files, run_model=args.run, screenshot=args.screenshot,
                   model=args.model, device=args.device,
                   verbose=bool(getattr(args, "verbose", False)))
