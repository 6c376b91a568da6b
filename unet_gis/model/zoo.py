"""Bundled models and how to find the one to use."""

from __future__ import annotations

from pathlib import Path

from unet_gis.errors import UserError
from unet_gis.resources import resource_path

DEFAULT_MODEL_NAME = "unet_gis_roads_vehicles_0.3m.safetensors"


def default_model_path() -> Path:
    return resource_path("models", DEFAULT_MODEL_NAME)


def resolve_model_path(path: str | Path | None) -> Path:
    """The model the user named, or the bundled default."""
    if path is not None:
        return Path(path)
    default = default_model_path()
    if not default.is_file():
        raise UserError("No bundled model is installed; pass --model FILE.safetensors.")
    return default
