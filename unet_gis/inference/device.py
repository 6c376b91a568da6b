"""Choosing where the model runs, and saying why in words the user understands."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from unet_gis.errors import UserError
from unet_gis.inference.choices import DEVICE_CHOICES
from unet_gis.inference.precision import (
    Precision,
    check_precision,
    resolve_cpu_precision,
    resolve_gpu_precision,
)


@dataclass(frozen=True)
class DeviceChoice:
    """A torch device with its mixed-precision dtype and a one-line description."""

    device: torch.device
    amp_dtype: torch.dtype | None
    description: str
    precision: str = "fp32"
    threads: int | None = None

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> torch.autocast:
        """The autocast context for this choice (disabled for fp32)."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                              enabled=self.amp_dtype is not None)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _cpu_reason() -> str:
    if torch.version.cuda is None:
        return "no CUDA build of torch"
    return "no CUDA device found"


def check_device(name: str) -> str:
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise UserError(f"Unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}.")
    return name


def all_cores() -> int:
    """Every core this process may run on (its affinity mask where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def select_device(name: str = "auto", threads: int | None = None,
                  precision: str = "auto") -> DeviceChoice:
    """Resolve ``auto``/``cpu``/``cuda``/``mps`` (CUDA first, then MPS, then CPU) and the
    precision (``auto``/``fp32``/``bf16``/``fp16``, see :mod:`.precision`)."""
    check_device(name)
    check_precision(precision)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"CUDA was requested but is not available ({_cpu_reason()}); "
                            "use --device cpu.")
        device = torch.device(name)
        chosen = resolve_gpu_precision(precision, device)
        return _choice(device, chosen,
                       f"CUDA: {torch.cuda.get_device_name(device)}, {chosen.name}, "
                       "channels_last")
    if name == "mps":
        if not _mps_available():
            raise UserError("Apple MPS was requested but is not available; use --device cpu.")
        device = torch.device("mps")
        chosen = resolve_gpu_precision(precision, device)
        return _choice(device, chosen, f"MPS: Apple GPU, {chosen.name}")
    count = threads or all_cores()
    torch.set_num_threads(count)
    chosen = resolve_cpu_precision(precision, count)
    return _choice(torch.device("cpu"), chosen,
                   f"CPU: {count} threads, {chosen.label}, channels_last",
                   count)


def _choice(device: torch.device, chosen: Precision, description: str,
            threads: int | None = None) -> DeviceChoice:
    return DeviceChoice(device, chosen.amp_dtype, description, chosen.name, threads)
