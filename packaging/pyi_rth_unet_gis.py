"""PyInstaller runtime hook: make the bundle use its own GDAL and PROJ data.

The bundle carries three independently built copies of the geospatial C libraries, each
with the data of its own version, next to the package that loads it:

- ``rasterio/gdal_data`` and ``rasterio/proj_data`` (rasterio's GDAL and PROJ),
- ``pyogrio/gdal_data`` and ``pyogrio/proj_data`` (pyogrio's newer GDAL and PROJ),
- ``pyproj/proj_dir/share/proj`` (pyproj's PROJ).

Each package finds its own copy at import time, relative to its module file, unless
``GDAL_DATA``, ``PROJ_DATA`` or ``PROJ_LIB`` are set. Those variables, when inherited from
the user's shell (a QGIS, conda or OSGeo4W install), point at data of another version and
break the bundle ("DATABASE.LAYOUT.VERSION.MINOR = 2 whereas a number >= 6 is expected").
So the bundle drops inherited values, records them in ``UNET_GIS_INHERITED_<NAME>`` for
debugging, and sets ``GDAL_DATA`` and ``PROJ_DATA`` to rasterio's copies only where the
per-package lookup would find nothing. ``UNET_GIS_KEEP_GEO_ENV=1`` keeps the user's values.
"""

import os
import sys

_NAMES = ("GDAL_DATA", "PROJ_DATA", "PROJ_LIB")


def _bundle_geo_env() -> None:
    if os.environ.get("UNET_GIS_KEEP_GEO_ENV") == "1":
        return
    for name in _NAMES:
        value = os.environ.pop(name, None)
        if value is not None:
            os.environ[f"UNET_GIS_INHERITED_{name}"] = value
    base = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
    fallbacks = {"GDAL_DATA": ("gdal_data", "gdalvrt.xsd"),
                 "PROJ_DATA": ("proj_data", "proj.db")}
    for name, (folder, marker) in fallbacks.items():
        own = [os.path.join(base, package, folder) for package in ("rasterio", "pyogrio")]
        if all(os.path.isfile(os.path.join(path, marker)) for path in own):
            continue  # every package will find its own, version-matched copy
        found = next((p for p in own if os.path.isfile(os.path.join(p, marker))), None)
        if found:
            os.environ[name] = found


_bundle_geo_env()
