"""Only unet_gis.app imports PySide6; only the app and the QGIS plugin import qgis; the app
module imports no torch/geopandas at start."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import unet_gis

PACKAGE = Path(unet_gis.__file__).parent
ROOT = Path(__file__).resolve().parents[2]  # the checkout: packaging/, scripts/, ...
QT_IMPORT = re.compile(r"^\s*(?:from|import)\s+(?:PySide6|PyQt[56]|shiboken6)\b", re.MULTILINE)
#: PyQGIS, and QGIS's own ``processing`` package (not unet_gis.integrations.processing)
QGIS_IMPORT = re.compile(r"^\s*(?:from|import)\s+(?:qgis|processing)\b", re.MULTILINE)
#: Where qgis may be imported: the app, the QGIS plugin with its tools (packaging/qgis:
#: the plugin that runs inside QGIS, its screenshot script), and the docs' renderer that
#: runs with QGIS's Python
QGIS_ALLOWED = (PACKAGE / "app", ROOT / "packaging" / "qgis", ROOT / "scripts" / "qgis_render.py")
#: The project's Python outside tests/ (tests/qgis imports qgis to test the plugin)
SOURCE_FOLDERS = (PACKAGE, ROOT / "packaging", ROOT / "scripts", ROOT / "benchmarks")


def non_app_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="unet_gis."):
        if info.name == "unet_gis.app" or info.name.startswith("unet_gis.app."):
            continue
        if info.name == "unet_gis.__main__":
            continue  # runs the CLI when imported
        names.append(info.name)
    return names


def test_no_qt_import_outside_app_in_sources() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "app") in path.parents:
            continue
        if QT_IMPORT.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, f"PySide6 imported outside unet_gis/app: {offenders}"


def test_no_qgis_import_outside_the_app_and_the_plugin() -> None:
    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in folder.rglob("*.py"):
            if any(allowed == path or allowed in path.parents for allowed in QGIS_ALLOWED):
                continue
            if QGIS_IMPORT.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"qgis imported outside unet_gis/app and the QGIS tools: {offenders}"
    plugin = ROOT / "packaging" / "qgis" / "unet_gis_qgis" / "plugin.py"
    assert QGIS_IMPORT.search(plugin.read_text(encoding="utf-8"))  # the scan sees the plugin


def test_scanner_catches_a_qt_import() -> None:
    assert QT_IMPORT.search("import os\nfrom PySide6.QtCore import QObject\n")
    assert not QT_IMPORT.search("# PySide6 is only used in app/\n")


def test_scanner_catches_a_qgis_import() -> None:
    for line in ("from qgis.core import QgsApplication", "import qgis", "  from qgis import "
                 "processing", "import processing", "from processing.core import Processing"):
        assert QGIS_IMPORT.search(f"import os\n{line}\n"), line
    for line in ("from unet_gis.integrations.processing import engine_options",
                 "# qgis is only used by the plugin", "import qgis_tools"):
        assert not QGIS_IMPORT.search(line), line


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)


def test_importing_every_non_app_module_loads_no_qt_nor_qgis() -> None:
    modules = non_app_modules()
    assert "unet_gis.inference.engine" in modules and "unet_gis.cli.gui" in modules
    assert "unet_gis.integrations.processing" in modules  # the QGIS plugin's adapter
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:  # an optional extra (dask, ...) not installed\n"
        "        if (exc.name or '').startswith('unet_gis'):\n"
        "            raise\n"
        "from unet_gis.cli.main import build_parser\n"
        "build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'qgis', 'processing'))\n"
        "assert not bad, bad\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]


def test_main_window_module_does_not_import_torch_or_geopandas() -> None:
    code = (
        "import sys\n"
        "import unet_gis.app.main_window, unet_gis.app.application, unet_gis.app.screenshot\n"
        "heavy = sorted(m for m in ('torch', 'geopandas', 'pandas') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
