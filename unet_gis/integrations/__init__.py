"""Adapters for hosts that run unet-gis inside themselves (the QGIS plugin in packaging/qgis)."""
