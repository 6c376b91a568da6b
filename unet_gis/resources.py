"""Where the shipped resources (models, sample scene, icons) live.

Installed wheels carry them as package data under ``unet_gis/resources`` (``setup.py``
copies the top-level folder there at build time), and so does the PyInstaller bundle;
a source checkout or an editable install has them in the top-level ``resources/`` folder.
Nothing here imports Qt: the app turns :func:`icon_path` into a ``QIcon`` itself.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ICON_NAME = "unet-gis"
"""Base name of the application icon files, and the freedesktop icon name."""

ICON_SIZES: tuple[int, ...] = (16, 32, 48, 64, 128, 256, 512)
"""The PNG sizes rendered from the SVG icon (``resources/icons/unet-gis-<N>.png``)."""


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


def is_resource(path: str | Path) -> bool:
    """Whether ``path`` lies inside the shipped resources.

    Those are read-only once installed (site-packages, the bundle's folder): write
    results for, say, the bundled sample scene to a user folder instead of beside it.
    """
    try:
        Path(path).resolve().relative_to(resource_root().resolve())
    except ValueError:
        return False
    return True


def icon_path(size: int | None = None) -> Path:
    """The application icon: the scalable SVG, or the PNG closest to ``size`` pixels.

    With a size, returns the smallest rendered PNG at least that large (the largest
    one if ``size`` exceeds them all), so a caller never gets an upscaled bitmap. For a
    window icon, add every size to one ``QIcon``::

        icon = QIcon(str(icon_path()))
        for size in ICON_SIZES:
            icon.addFile(str(icon_path(size)), QSize(size, size))
    """
    if size is None:
        return resource_path("icons", f"{ICON_NAME}.svg")
    if size <= 0:
        raise ValueError(f"icon size must be positive, not {size}")
    chosen = next((s for s in ICON_SIZES if s >= size), ICON_SIZES[-1])
    return resource_path("icons", f"{ICON_NAME}-{chosen}.png")
