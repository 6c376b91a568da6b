"""Checkpoints: safetensors weights plus the :class:`ModelSpec` as JSON metadata.

Loading never unpickles.  A pickle file (``.pt``/``.pth``/``.ckpt``) can run arbitrary code
when opened, so it is refused with a message that says how to convert it
(:mod:`unet_gis.model.metadata`, which also reads specs without torch).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from unet_gis.errors import UserError
from unet_gis.model.metadata import FORMAT_KEY, FORMAT_VERSION, SPEC_KEY, load_spec, read_metadata
from unet_gis.model.spec import ModelSpec
from unet_gis.model.unet import UNet, build_unet

__all__ = ["LoadedModel", "load_checkpoint", "load_spec", "read_metadata", "save_checkpoint"]


@dataclass
class LoadedModel:
    """A network in eval mode with the spec it was saved with."""

    network: torch.nn.Module
    spec: ModelSpec
    path: Path | None = None


def model_sha256(model: LoadedModel) -> str | None:
    """SHA-256 of the checkpoint file ``model`` was loaded from (``None`` if from memory):
    what an output records so that anyone can tell which model made it."""
    if model.path is None:
        return None
    return file_sha256(model.path)


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a file (cached per path, size and modification time)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, _size: int, _mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(path: str | Path, network: torch.nn.Module, spec: ModelSpec,
                    extra_metadata: dict[str, Any] | None = None) -> Path:
    """Write ``network``'s weights and ``spec`` atomically to a ``.safetensors`` file."""
    path = Path(path)
    metadata = {SPEC_KEY: spec.to_json(), FORMAT_KEY: FORMAT_VERSION}
    for key, value in (extra_metadata or {}).items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the network from a checkpoint and check its weights match the spec."""
    spec = load_spec(path)
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise UserError(f"Could not read the weights in {path.name} ({exc}).") from exc
    network = build_unet(spec.num_bands, len(spec.classes), spec.architecture)
    _check_state(network, state, spec, path)
    network.load_state_dict(state)
    network.to(device).eval()
    return LoadedModel(network, spec, path)


def _check_state(network: UNet, state: dict[str, torch.Tensor], spec: ModelSpec,
                 path: Path) -> None:
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise UserError(
            f"{path.name} does not match its spec ({spec.architecture}): "
            f"{len(missing)} missing weights (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}).")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise UserError(
                f"{path.name}: weight {key} has shape {tuple(state[key].shape)}, the spec "
                f"({spec.num_bands} bands, {len(spec.classes)} classes) needs "
                f"{tuple(tensor.shape)}.")
