"""Choosing where the model runs, and saying why in words the user understands."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from unet_gis.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    """A torch device with its mixed-precision dtype and a one-line description."""

    device: torch.device
    amp_dtype: torch.dtype | None
    description: str

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _cpu_reason() -> str:
    if torch.version.cuda is None:
        return "no CUDA build of torch"
    return "no CUDA device found"


def select_device(name: str = "auto", threads: int | None = None) -> DeviceChoice:
    """Resolve ``auto``/``cpu``/``cuda``/``mps`` (CUDA first, then MPS, then CPU)."""
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise UserError(f"Unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"CUDA was requested but is not available ({_cpu_reason()}); "
                            "use --device cpu.")
        device = torch.device(name)
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        label = "bf16" if amp == torch.bfloat16 else "fp16"
        return DeviceChoice(device, amp,
                            f"CUDA: {torch.cuda.get_device_name(device)}, {label}, channels_last")
    if name == "mps":
        if not _mps_available():
            raise UserError("Apple MPS was requested but is not available; use --device cpu.")
        return DeviceChoice(torch.device("mps"), torch.float16, "MPS: Apple GPU, fp16")
    count = threads or os.cpu_count() or 1
    torch.set_num_threads(count)
    return DeviceChoice(torch.device("cpu"), None,
                        f"CPU: {count} threads, {_cpu_reason()}")
