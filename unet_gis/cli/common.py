"""Argument helpers and a terminal progress bar shared by the sub-commands."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TextIO

from unet_gis.errors import UserError
from unet_gis.inference.progress import Progress, format_duration


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="FILE",
                        help="a .safetensors checkpoint (default: the bundled model)")
    add_device_arguments(parser)
    parser.add_argument("--bands", type=parse_bands, metavar="B,B,B",
                        help="1-based raster bands to feed the model (default: by colour "
                             "interpretation, alpha skipped)")


def add_device_arguments(parser: argparse.ArgumentParser, inference: bool = True) -> None:
    """``--device`` and ``--precision`` (predict, evaluate, train) and, for inference,
    ``--tta``."""
    from unet_gis.inference.choices import (
        BACKEND_CHOICES,
        DEVICE_CHOICES,
        PRECISION_CHOICES,
        TTA_HELP,
    )

    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                        help="where the model runs (default: CUDA, then MPS, then CPU)")
    parser.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                        help="numeric precision (default auto: bf16 on CPUs with native "
                             "bf16 units where measured faster, else fp32; bf16/fp16 on GPUs)")
    if not inference:
        return
    parser.add_argument("--tta", action="store_true", help=f"test-time augmentation: {TTA_HELP}")
    parser.add_argument("--backend", default="torch", choices=BACKEND_CHOICES,
                        help="inference runtime: torch (default) or onnx (ONNX Runtime, fp32 "
                             "on the CPU; pip install 'unet-gis[onnx]')")


def _number(text: str, kind: type, low: float, strict: bool) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < low or (strict and value == low):
        relation = "above" if strict else "at least"
        raise argparse.ArgumentTypeError(f"expected a finite number {relation} {low:g}, "
                                         f"got {text!r}")
    return float(value)


def positive_int(text: str) -> int:
    return int(_number(text, int, 0, True))


def non_negative_int(text: str) -> int:
    return int(_number(text, int, 0, False))


def positive_float(text: str) -> float:
    return float(_number(text, float, 0, True))


def non_negative_float(text: str) -> float:
    return float(_number(text, float, 0, False))


def parse_bands(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected band numbers like 1,2,3, got {text!r}") \
            from None


class ProgressBar:
    """A one-line terminal progress bar (redrawn in place on a TTY, sparse otherwise)."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 28) -> None:
        self.label, self.width = label, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_percent = -10

    def __call__(self, progress: Progress) -> None:
        percent = int(progress.fraction * 100)
        if not self.tty and percent - self._last_percent < 10 and progress.done < progress.total:
            return
        self._last_percent = percent
        filled = int(self.width * progress.fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = f"{progress.pixels_per_s / 1e6:.2f} Mpx/s" if progress.pixels else ""
        line = (f"{self.label} [{bar}] {progress.done}/{progress.total} {rate} "
                f"ETA {format_duration(progress.eta_s)}")
        self.stream.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        if self.tty and progress.done >= progress.total:
            self.stream.write("\n")
        self.stream.flush()


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)
