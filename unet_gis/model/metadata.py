"""Reading a checkpoint's metadata and spec without torch (cheap enough for a GUI thread).

The safetensors header is JSON; ``safe_open`` with the numpy framework reads it without
importing torch.  Pickle files are refused here, before anything else looks at them.
"""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError, safe_open

from unet_gis.errors import UserError
from unet_gis.model.spec import ModelSpec

SPEC_KEY = "unet_gis.spec"
FORMAT_KEY = "unet_gis.format"
FORMAT_VERSION = "1"
_PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin"}


def checked_path(path: str | Path) -> Path:
    """``path`` if it exists and is not a pickle; a :class:`UserError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Model file not found: {path}.")
    if path.suffix.lower() in _PICKLE_SUFFIXES or (not _looks_like_safetensors(path)
                                                   and _looks_like_pickle(path)):
        raise UserError(
            f"{path.name} is a PyTorch pickle file. Pickles can run arbitrary code when opened, so "
            "unet-gis only loads .safetensors checkpoints; convert it with safetensors' "
            "save_file() in a trusted environment.")
    return path


def _looks_like_safetensors(path: Path) -> bool:
    """A little-endian u64 header length that fits the file, then a JSON object."""
    with path.open("rb") as handle:
        head = handle.read(9)
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return 0 < length <= path.stat().st_size - 8 and head[8:9] == b"{"


def _looks_like_pickle(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4)
    # zip archives (torch.save's default) and raw pickle protocol headers
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def read_metadata(path: str | Path) -> dict[str, str]:
    """The raw metadata of a checkpoint (string keys and values)."""
    path = checked_path(path)
    try:
        with safe_open(str(path), framework="numpy") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path.name} is not a readable safetensors checkpoint ({exc}).") from exc


def load_spec(path: str | Path) -> ModelSpec:
    """Read only the spec (no tensors, no torch)."""
    metadata = read_metadata(path)
    if SPEC_KEY not in metadata:
        raise UserError(f"{Path(path).name} is a safetensors file but has no unet-gis model spec "
                        "in its metadata; save models with `unet-gis train` or save_checkpoint().")
    return ModelSpec.from_json(metadata[SPEC_KEY])
