"""Only unet_gis.app imports PySide6; the app module imports no torch/geopandas at start."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import unet_gis

PACKAGE = Path(unet_gis.__file__).parent
QT_IMPORT = re.compile(r"^\s*(?:from|import)\s+(?:PySide6|PyQt[56]|shiboken6)\b", re.MULTILINE)


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


def test_scanner_catches_a_qt_import() -> None:
    assert QT_IMPORT.search("import os\nfrom PySide6.QtCore import QObject\n")
    assert not QT_IMPORT.search("# PySide6 is only used in app/\n")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)


def test_importing_every_non_app_module_loads_no_qt() -> None:
    modules = non_app_modules()
    assert "unet_gis.inference.engine" in modules and "unet_gis.cli.gui" in modules
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
        "('PySide6', 'shiboken6', 'PyQt5', 'PyQt6'))\n"
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
