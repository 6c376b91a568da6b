"""QGIS plugin: the unet-gis Processing provider (segment rasters, vectorize probabilities).

QGIS imports this package and calls :func:`classFactory`.  Nothing here imports qgis or
unet-gis at module level, so the path set-up (``bootstrap``) is testable without QGIS.
"""

from __future__ import annotations

from typing import Any


def classFactory(iface: Any) -> Any:  # noqa: N802 - the name QGIS calls
    from .plugin import UnetGisPlugin

    return UnetGisPlugin(iface)
