"""A checkpoint's spec read without torch (the safetensors header is JSON), for dialogs.

``unet_gis.model.checkpoint.load_spec`` would import torch at module import, stalling the
GUI thread for seconds; the header is a little-endian u64 length and a JSON object whose
``__metadata__`` holds the spec, so reading it needs nothing heavy.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from unet_gis.errors import UserError
from unet_gis.model.spec import ModelSpec

SPEC_KEY = "unet_gis.spec"  # as in unet_gis.model.checkpoint
_MAX_HEADER = 100 * 2**20


def read_spec(path: Path) -> ModelSpec:
    """The :class:`ModelSpec` stored in a ``.safetensors`` checkpoint."""
    if not path.is_file():
        raise UserError(f"Model file not found: {path}.")
    if path.suffix.lower() != ".safetensors":
        raise UserError(f"{path.name} is not a .safetensors checkpoint; unet-gis loads only "
                        "safetensors files (pickles can run code when opened).")
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) != 8:
            raise UserError(f"{path.name} is too short to be a safetensors checkpoint.")
        (size,) = struct.unpack("<Q", head)
        if not 0 < size <= _MAX_HEADER:
            raise UserError(f"{path.name} is not a readable safetensors checkpoint.")
        try:
            header = json.loads(handle.read(size))
        except ValueError as exc:
            raise UserError(f"{path.name} has a damaged safetensors header ({exc}).") from exc
    metadata = header.get("__metadata__") or {}
    if SPEC_KEY not in metadata:
        raise UserError(f"{path.name} has no unet-gis model spec in its metadata.")
    return ModelSpec.from_json(metadata[SPEC_KEY])


def describe(spec: ModelSpec) -> str:
    classes = ", ".join(c.name for c in spec.classes)
    return (f"{spec.name}: classes {classes}; bands {', '.join(spec.bands)}; "
            f"GSD {spec.gsd_m:g} m; tile {spec.tile} px, halo {spec.halo} px")
