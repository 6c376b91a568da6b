"""ONNX Runtime on the CPU (optional: ``pip install 'unet-gis[onnx]'``, ``--backend onnx``).

Measured on this project's 2-core AMD EPYC (AVX-512, see ``benchmarks/bench_engine.py``):
ONNX Runtime's fp32 kernels ran the bundled U-Net 1.37x faster than torch's fp32, but
slower than torch's bf16, which ``--precision auto`` picks on CPUs with native bf16.  So
it is for fp32 runs only, and never chosen automatically.

The model is exported from the loaded checkpoint (its BatchNorms folded) to an ``.onnx``
file in the user cache folder on first use, keyed by a hash of the weights and spec; ONNX
files are plain protobuf graphs, nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unet_gis.errors import UserError
from unet_gis.inference.device import DeviceChoice
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.probability import to_stored

log = logging.getLogger(__name__)
OPSET = 17
MISSING = ("--backend onnx needs ONNX Runtime, which is not installed: "
           "pip install 'unet-gis[onnx]' (or: pip install onnxruntime onnx).")


def model_key(model: LoadedModel) -> str:
    """A hash of the weights and spec: the cache file's name."""
    digest = hashlib.sha256(model.spec.to_json().encode())
    for name, tensor in sorted(model.network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    # "bf16-exact": the exported weights are rounded (inference_network); older exports
    # in the cache were not, so the key changes with the rule
    digest.update(f"torch {torch.__version__} opset {OPSET} bf16-exact".encode())
    return digest.hexdigest()[:24]


def exported_model(model: LoadedModel) -> Path:
    """The model as ONNX in the cache folder (exported now if it is not there yet)."""
    from unet_gis.inference.backend import inference_network
    from unet_gis.inference.precision import cache_folder

    path = cache_folder() / "onnx" / f"{model.spec.name or 'model'}-{model_key(model)}.onnx"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    network = inference_network(model.network).cpu()
    side = 2**model.spec.architecture.depth * 4
    example = torch.zeros(1, model.spec.num_bands, side, side)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the shape check
            torch.onnx.export(network, (example,), str(tmp), dynamo=False,
                              input_names=["tiles"], output_names=["logits"],
                              dynamic_axes={"tiles": {0: "n", 2: "h", 3: "w"},
                                            "logits": {0: "n", 2: "h", 3: "w"}},
                              opset_version=OPSET)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("exported %s to %s", model.spec.name, path)
    return path


class OnnxBackend:
    """fp32 inference with ONNX Runtime's CPU execution provider, two tiles at once."""

    def __init__(self, model: LoadedModel, device: DeviceChoice) -> None:
        if device.device.type != "cpu" or device.precision != "fp32":
            raise UserError("--backend onnx runs fp32 on the CPU: use it with --device cpu "
                            "and --precision fp32 (or auto).")
        try:
            import onnxruntime
        except ImportError:
            raise UserError(MISSING) from None
        threads = device.threads or 1
        self.streams = 2 if threads >= 2 else 1
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads // self.streams)
        self.session: Any = onnxruntime.InferenceSession(
            str(exported_model(model)), options, providers=["CPUExecutionProvider"])
        self.device = DeviceChoice(device.device, None,
                                   f"CPU: {threads} threads, fp32, ONNX Runtime "
                                   f"{onnxruntime.__version__}", "fp32", threads)

    def infer(self, tiles: np.ndarray, pad_to: int | None = None) -> np.ndarray:
        logits = self.session.run(None, {"tiles": np.ascontiguousarray(tiles, np.float32)})[0]
        probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float32)))
        return np.asarray(to_stored(probabilities), dtype=np.uint8)
