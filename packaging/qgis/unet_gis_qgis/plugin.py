"""The plugin object QGIS holds: registers the Processing provider, or says what is missing."""

from __future__ import annotations

import os
from typing import Any

from qgis.core import QgsApplication, QgsSettings

from . import bootstrap


class UnetGisPlugin:
    """``initProcessing`` (also called by ``qgis_process``) and ``initGui`` register the
    provider once; when unet-gis cannot be imported, one message says how to install it
    and the plugin stays loaded without a provider."""

    def __init__(self, iface: Any | None) -> None:
        self.iface = iface
        self.provider: Any | None = None
        self.problem: str | None = None
        self._tried = False

    def initProcessing(self) -> None:  # noqa: N802 - QGIS's name
        if self._tried:
            return
        self._tried = True
        setting = QgsSettings().value(bootstrap.SETTING, "", type=str)
        self.problem = bootstrap.ensure_unet_gis(setting=setting)
        if self.problem is not None:
            bootstrap.report(self.problem, self.iface)
            return
        clash = bootstrap.numpy_clash(bootstrap.configured_paths(os.environ, setting))
        if clash is not None:
            bootstrap.report(clash)
        from .provider import UnetGisProvider

        self.provider = UnetGisProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS's name
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        self._tried = False

