"""``unet-gis train``: train (or fine-tune) a model from a TOML config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from unet_gis.cli.common import add_device_arguments, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train", help="train or fine-tune a model from a config file",
        description="Train a U-Net on the sources listed in CONFIG (TOML) and write "
                    "MODEL.safetensors after every epoch (with MODEL.state.safetensors for "
                    "--resume and MODEL.epochNNN.safetensors snapshots).")
    parser.add_argument("config", type=Path, metavar="CONFIG")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="MODEL")
    parser.add_argument("--epochs", type=positive_int, help="number of epochs (default: config's)")
    add_device_arguments(parser, inference=False)
    parser.add_argument("--resume", type=Path, metavar="CKPT",
                        help="continue an interrupted run from its checkpoint")
    parser.add_argument("--init", type=Path, metavar="CKPT",
                        help="start from these weights (fine-tuning), e.g. the bundled model")
    parser.add_argument("--data-root", type=Path, help="folder the config's paths are under")
    parser.add_argument("--steps-per-epoch", type=positive_int, help="override the config's")
    parser.add_argument("--time-budget", type=positive_float, metavar="MIN",
                        help="stop after MIN minutes of training; the learning-rate schedule "
                             "follows steps or time, whichever is further along")
    parser.add_argument("--log", type=Path, help="also append progress lines to this file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from unet_gis.errors import UserError
    from unet_gis.training.config import load_config
    from unet_gis.training.runner import run_training

    if args.resume and args.init:
        raise UserError("Use either --resume (continue a run) or --init (fine-tune), not both.")
    from unet_gis.fileio import check_writable_target

    check_writable_target(args.output, "-o")  # before the training, not after its epoch
    overrides = {"steps_per_epoch": args.steps_per_epoch} if args.steps_per_epoch else None
    config = load_config(args.config, args.data_root, overrides)
    log_file = _open_log(args.log) if args.log else None

    def say(message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, file=sys.stderr, flush=True)
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()

    command = "unet-gis " + " ".join(sys.argv[1:]) if sys.argv else ""
    try:
        result = run_training(config, args.output, epochs=args.epochs, device=args.device,
                              precision=args.precision,
                              resume=args.resume, init=args.init, command=command, log=say,
                              time_budget_s=args.time_budget * 60 if args.time_budget else None)
    finally:
        if log_file:
            log_file.close()
    last = result.history[-1] if result.history else {}
    print(f"trained {result.epochs} epochs ({result.steps} steps) in {result.seconds / 60:.1f} "
          f"min; last val IoU {last.get('val_iou')}; wrote {result.output}")
    return 0


def _open_log(path: Path) -> TextIO:
    """The log file opened for appending; its folder is created (a one-line error if not)."""
    from unet_gis.errors import UserError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("a", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot write the log file {path}: {exc.strerror or exc}.") from None
