"""The "unet-gis" Processing provider: three algorithms over the unet-gis engine."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

PROVIDER_ID = "unet-gis"
ICON_FILE = "unet-gis-64.png"


def icon_path() -> Path | None:
    """``icon.png`` beside the plugin (the zip carries one), else the package's own."""
    beside = Path(__file__).with_name("icon.png")
    if beside.is_file():
        return beside
    from unet_gis.resources import resource_path

    packaged = resource_path("icons", ICON_FILE)
    return packaged if packaged.is_file() else None


def provider_icon() -> QIcon:
    path = icon_path()
    return QIcon(str(path)) if path is not None else QIcon()


class UnetGisProvider(QgsProcessingProvider):
    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return "unet-gis"

    def longName(self) -> str:  # noqa: N802 - QGIS's name
        return f"unet-gis {self.versionInfo()}"

    def versionInfo(self) -> str:  # noqa: N802 - QGIS's name
        from unet_gis import __version__

        return __version__

    def icon(self) -> QIcon:
        return provider_icon()

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS's name
        return ["tif"]  # probability rasters are tiled GeoTIFFs

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS's name
        from .algorithms import ALGORITHMS

        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
