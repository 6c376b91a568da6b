"""The inference backend: tiles in, probabilities out.

The pipeline (:mod:`unet_gis.inference.engine`, the Dask tasks) only ever calls
:meth:`Backend.infer`, so another runtime (ONNX Runtime, OpenVINO, Core ML…) can be added
as one more class here without touching the pipeline.  Only torch ships today: ONNX
Runtime was measured and not faster (see ``benchmarks/bench_cpu_precision.py`` and the
model card).
"""

from __future__ import annotations

import copy
from typing import Protocol

import numpy as np
import torch

from unet_gis.inference.device import DeviceChoice, select_device
from unet_gis.model.checkpoint import LoadedModel

BACKEND_CHOICES = ("torch",)


class Backend(Protocol):
    """Runs the model on a batch of equally sized tiles."""

    device: DeviceChoice
    streams: int  # how many calls of infer may run at once, each on its own thread

    def infer(self, tiles: np.ndarray, pad_to: int | None = None) -> np.ndarray:
        """``(N, bands, H, W)`` float32 model inputs to ``(N, classes, H, W)`` uint8
        probabilities (0-255).  ``pad_to`` asks for a constant batch size (fast GPU
        kernels are tuned per shape); padding tiles are dropped from the result."""
        ...


class TorchBackend:
    """PyTorch on CPU, CUDA or MPS, channels_last, with the device's autocast precision.

    Runs a copy of the network with every BatchNorm folded into the convolution before it
    (inference only: the same function, one pass less over each activation map; ~10 %
    faster on a CPU, where the U-Net is memory-bound).
    """

    def __init__(self, network: torch.nn.Module, device: DeviceChoice) -> None:
        self.device = device
        self.streams = 1
        if device.device.type == "cpu" and (device.threads or 1) >= 2:
            # two forward passes at once, each with half the threads: measured 1.2-1.3x
            # the throughput of one pass with all threads on 2 cores (smaller working set
            # per core); more streams would only multiply the memory of tiles in flight
            self.streams = 2
            torch.set_num_threads(max(1, (device.threads or 2) // 2))
        network = fold_batch_norm(network).to(device.device)
        self.network = network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def infer(self, tiles: np.ndarray, pad_to: int | None = None) -> np.ndarray:
        count = tiles.shape[0]
        stacked = torch.from_numpy(tiles)
        if self.device.is_cuda:
            if pad_to and count < pad_to:
                padding = stacked.new_zeros((pad_to - count, *stacked.shape[1:]))
                stacked = torch.cat([stacked, padding])
            stacked = stacked.pin_memory().to(self.device.device, non_blocking=True)
        else:
            stacked = stacked.to(self.device.device)
        stacked = stacked.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self.device.autocast():
            logits = self.network(stacked)
            # sigmoid and scaling in fp32: bf16 has too few mantissa bits for 0-255 steps
            probabilities = (torch.sigmoid(logits[:count].float()) * 255.0 + 0.5).to(
                torch.uint8)
        return probabilities.cpu().numpy()


def fold_batch_norm(network: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode copy of ``network`` with each Conv2d -> BatchNorm2d pair inside an
    ``nn.Sequential`` fused into one Conv2d (the BatchNorm becomes an identity)."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(network).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for previous, name in zip(names, names[1:], strict=False):
            conv, norm = module._modules[previous], module._modules[name]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) \
                    and norm.track_running_stats:
                module._modules[previous] = fuse_conv_bn_eval(conv, norm)
                module._modules[name] = nn.Identity()
    return folded


def create_backend(model: LoadedModel, device: str = "auto", precision: str = "auto",
                   threads: int | None = None, backend: str = "torch") -> Backend:
    """The backend for ``model`` on ``device`` at ``precision`` (see :func:`select_device`)."""
    if backend not in BACKEND_CHOICES:
        from unet_gis.errors import UserError

        raise UserError(f"Unknown backend {backend!r}; choose one of "
                        f"{', '.join(BACKEND_CHOICES)}.")
    return TorchBackend(model.network, select_device(device, threads, precision))
