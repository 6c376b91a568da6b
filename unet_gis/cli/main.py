"""Entry point: parse the command line and dispatch to a sub-command module.

Each sub-command lives in its own module ``unet_gis.cli.<name>`` exposing
``register(subparsers)``; heavy libraries are imported inside the command, so
``unet-gis --help`` and the app's window appear quickly.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from unet_gis import __version__
from unet_gis.errors import Cancelled, UserError
from unet_gis.fileio import WRITTEN, DiskFullError, disk_full, written_summary

COMMANDS = ("predict", "info", "vectorize", "train", "finetune", "evaluate", "gui")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that everything unwinds as for Ctrl-C."""


class OneLineParser(argparse.ArgumentParser):
    """Argument errors in one line (and where to look), not the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"unet-gis: error: {message} (see `{self.prog} --help`)\n")


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="unet-gis",
        description="Segment roads and vehicles in satellite and aerial imagery with a U-Net. "
                    "Without a command, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"unet-gis {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"unet_gis.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"unet_gis.cli.{name}":
                raise
            continue  # a command whose module is not part of this build
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from unet_gis.inference.memory import reuse_freed_memory

    reuse_freed_memory()  # before any thread allocates (see the module)
    parser = build_parser()
    if not argv:
        argv = ["gui"]
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    logging.captureWarnings(True)  # library warnings go to the log, not raw to stderr
    if not args.verbose:  # GDAL's warnings (via rasterio) would come before our error line
        for name in ("rasterio", "fiona", "pyogrio", "py.warnings", "distributed"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # GDAL's own handler prints "Warning 1: ..." from threads rasterio does not cover;
        # errors still reach us as exceptions (rasterio reads GDAL's last error)
        os.environ.setdefault("CPL_LOG", os.devnull)
        from unet_gis.raster.libtiff_messages import log_libtiff_messages

        log_libtiff_messages()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command != "gui" and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
        if hasattr(signal, "pthread_sigmask"):  # a mask inherited from whoever started us
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    WRITTEN.clear()  # main() may run more than once in a process (tests, the worker)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"unet-gis: error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print(f"unet-gis: terminated; {written_summary()}.", file=sys.stderr)
        return 143
    except Cancelled:
        print(f"unet-gis: cancelled; {written_summary()}.", file=sys.stderr)
        return 130
    except Exception as exc:
        target = next((getattr(args, n) for n in ("outdir", "output", "vector", "json")
                       if getattr(args, n, None)), None)
        if not disk_full(exc, target):
            raise
        print(f"unet-gis: error: {DiskFullError(target)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"unet-gis: interrupted; {written_summary()}.", file=sys.stderr)
        return 130
