"""The inference backend: tiles in, probabilities out.

The pipeline (:mod:`unet_gis.inference.engine`, the Dask tasks) only ever calls
:meth:`Backend.infer`, so another runtime (ONNX Runtime, OpenVINO, Core ML…) can be added
as one more class without touching the pipeline.  Torch is the default; ONNX
Runtime is the optional second (:mod:`unet_gis.inference.onnx_backend`, fp32 on the CPU).
"""

from __future__ import annotations

import copy
from typing import Protocol

import numpy as np
import torch

from unet_gis.inference.choices import BACKEND_CHOICES
from unet_gis.inference.device import DeviceChoice, select_device
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.probability import to_stored


class Backend(Protocol):
    """Runs the model on a batch of equally sized tiles."""

    device: DeviceChoice
    streams: int  # how many calls of infer may run at once, each on its own thread

    def infer(self, tiles: np.ndarray, pad_to: int | None = None) -> np.ndarray:
        """``(N, bands, H, W)`` float32 model inputs to ``(N, classes, H, W)`` uint8
        probabilities (``round(p * FULL_SCALE)``, 0-254).  ``pad_to`` asks for a constant
        batch size (fast GPU kernels are tuned per shape); padding tiles are dropped from
        the result."""
        ...


class TorchBackend:
    """PyTorch on CPU, CUDA or MPS, channels_last, with the device's autocast precision.

    Runs a copy of the network with every BatchNorm folded into the convolution before it
    (inference only: the same function, one pass less over each activation map; ~10 %
    faster on a CPU, where the U-Net is memory-bound).
    """

    def __init__(self, network: torch.nn.Module, device: DeviceChoice,
                 tta: bool = False) -> None:
        self.device = device
        self.tta = tta
        self.streams = 1
        if device.device.type == "cpu" and (device.threads or 1) >= 2:
            # two forward passes at once, each with half the threads: measured 1.2-1.3x
            # the throughput of one pass with all threads on 2 cores (smaller working set
            # per core); more streams would only multiply the memory of tiles in flight
            self.streams = 2
            torch.set_num_threads(max(1, (device.threads or 2) // 2))
        network = inference_network(network).to(device.device)
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
            if self.tta:
                mean = self._augmented_mean(stacked[:count])
            else:
                # sigmoid in fp32: bf16 has too few mantissa bits for 0-254 steps
                mean = torch.sigmoid(self.network(stacked)[:count].float())
            probabilities = to_stored(mean).to(torch.uint8)
        return probabilities.cpu().numpy()

    def _augmented_mean(self, tiles: torch.Tensor) -> torch.Tensor:
        """Test-time augmentation: the mean probability over the 8 flips and 90° rotations
        of each (square) tile, each mapped back before averaging."""
        total: torch.Tensor | None = None
        for flip in (False, True):
            for quarter in range(4):
                x = tiles.flip(-1) if flip else tiles
                x = torch.rot90(x, quarter, (-2, -1)).contiguous(
                    memory_format=torch.channels_last)
                p = torch.sigmoid(self.network(x).float())
                p = torch.rot90(p, -quarter, (-2, -1))
                p = p.flip(-1) if flip else p
                total = p if total is None else total + p
        assert total is not None
        return total / 8


def inference_network(network: torch.nn.Module) -> torch.nn.Module:
    """The network every backend and precision runs: BatchNorm folded, then every
    convolution's weights rounded to bf16 (except the first, which always runs in fp32).

    Why round: the model is trained under bf16 autocast, so its forward pass always saw
    bf16 weights; and it is sensitive to them: rounding the folded weights alone moved
    0.2 % of v3's probabilities by more than 2/254, as much as all of bf16 did.  With the
    weights bf16-exact, fp32, bf16 and fp16 run one and the same network and differ only
    by the rounding of activations (bf16 vs fp32 on the sample: 99.77 % -> 99.92 % of
    probabilities within 2/254), and a laptop without bf16 units gives what a server with
    them gives.  Biases stay fp32.
    """
    from torch import nn

    folded = fold_batch_norm(network)
    first = _first_convolution(folded)
    with torch.no_grad():
        for module in folded.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d) and module is not first:
                module.weight.copy_(module.weight.to(torch.bfloat16).float())
    return folded


def _first_convolution(network: torch.nn.Module) -> torch.nn.Module | None:
    from torch import nn

    return next((m for m in network.modules() if isinstance(m, nn.Conv2d)), None)


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
                   threads: int | None = None, backend: str = "torch",
                   tta: bool = False) -> Backend:
    """The backend for ``model`` on ``device`` at ``precision`` (see :func:`select_device`).

    ``backend="onnx"`` runs fp32 (``precision="auto"`` means fp32 there) on the CPU."""
    from unet_gis.errors import UserError

    if backend not in BACKEND_CHOICES:
        raise UserError(f"Unknown backend {backend!r}; choose one of "
                        f"{', '.join(BACKEND_CHOICES)}.")
    if backend == "onnx":
        from unet_gis.inference.onnx_backend import OnnxBackend

        if tta:
            raise UserError("--tta runs with the torch backend only; leave out --backend onnx.")
        fp32 = "fp32" if precision == "auto" else precision
        return OnnxBackend(model, select_device("cpu" if device == "auto" else device,
                                                threads, fp32))
    return TorchBackend(model.network, select_device(device, threads, precision), tta)
