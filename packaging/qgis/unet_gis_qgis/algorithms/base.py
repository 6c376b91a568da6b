"""What the three algorithms share: ids, icon, help, a fresh instance per run."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtGui import QIcon

from ..provider import provider_icon


class UnetGisAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set ``NAME``, ``LABEL`` and ``HELP``."""

    NAME = ""
    LABEL = ""
    HELP = ""

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS's name
        return self.LABEL

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS's name
        return self.HELP

    def icon(self) -> QIcon:
        return provider_icon()

    def createInstance(self) -> Any:  # noqa: N802 - QGIS's name
        return type(self)()
