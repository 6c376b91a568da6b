"""unet-gis: label every pixel of satellite and aerial imagery with a U-Net."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unet-gis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
