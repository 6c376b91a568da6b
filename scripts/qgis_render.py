"""Render unet-gis outputs as QGIS draws them, with the styles they carry (docs figures).

Run with the Python that has PyQGIS (Debian: ``apt install qgis python3-qgis``)::

    /usr/bin/python3 scripts/qgis_render.py OUT.png IMAGE [LAYER ...]

Each LAYER is a raster (its sidecar ``.qml`` is loaded as QGIS does) or a GeoPackage (every
layer, with the default style from its ``layer_styles`` table).  Prints what QGIS loaded.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def layers_of(path: str) -> list:
    if path.endswith(".gpkg"):
        from osgeo import ogr

        source = ogr.Open(path)
        names = [source.GetLayer(i).GetName() for i in range(source.GetLayerCount())]
        out = []
        for name in names:
            layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
            if layer.isValid() and layer.isSpatial():
                out.append(layer)
        return out
    layer = QgsRasterLayer(path, os.path.basename(path))
    return [layer] if layer.isValid() else []


def main() -> None:
    out, image, *others = sys.argv[1:]
    app = QgsApplication([], False)
    app.initQgis()
    base = QgsRasterLayer(image, "image")
    stack = [layer for path in others for layer in layers_of(path)]
    for layer in stack:
        renderer = layer.renderer()
        kind = renderer.type() if renderer else "?"
        print(f"{layer.name()}: {kind}")
    settings = QgsMapSettings()
    settings.setLayers([*reversed(stack), base])  # first drawn last
    settings.setDestinationCrs(base.crs())
    settings.setExtent(base.extent())
    settings.setOutputSize(QSize(900, 900))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(out)
    print(f"wrote {out}")
    app.exitQgis()


if __name__ == "__main__":
    main()
