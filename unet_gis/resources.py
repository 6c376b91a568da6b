"""Where the shipped resources (models, sample scene, icons) live.

Installed wheels carry them as package data under ``unet_gis/resources``; a source
checkout has them in the top-level ``resources/`` folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_root() -> Path:
    packaged = Path(str(resources.files("unet_gis"))) / "resources"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    return resource_root().joinpath(*parts)


def sample_scene() -> Path:
    """The bundled real sample scene (SpaceNet Las Vegas, CC BY-SA 4.0)."""
    return resource_path("samples", "spacenet_vegas_img0.tif")
