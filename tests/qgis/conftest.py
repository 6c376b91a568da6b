"""The plugin's package (packaging/qgis/unet_gis_qgis) is importable in these tests.

Its ``__init__`` and ``bootstrap`` import no qgis, so the plain tests run in any Python;
the PyQGIS tests (test_plugin_qgis.py) skip themselves where qgis is not importable.
"""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_PARENT = Path(__file__).resolve().parents[2] / "packaging" / "qgis"
if str(PLUGIN_PARENT) not in sys.path:
    sys.path.insert(0, str(PLUGIN_PARENT))
