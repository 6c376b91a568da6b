"""Finding the unet-gis package from the Python QGIS runs, or saying how to install it.

unet-gis (with PyTorch) is either installed into QGIS's own Python, or lives in a separate
environment whose ``site-packages`` is named by the ``UNET_GIS_PYTHONPATH`` environment
variable or the ``unet_gis/pythonpath`` QGIS setting (several folders: separated by
``os.pathsep``).  Those folders go to the *front* of ``sys.path`` through
``site.addsitedir`` (so ``.pth`` files, editable installs included, work): the
environment's numpy must win over any copy QGIS ships, as its compiled packages (pandas,
rasterio, torch) were built against it.  Pure Python: only :func:`report` imports qgis.
"""

from __future__ import annotations

import importlib
import os
import site
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ENV_VAR = "UNET_GIS_PYTHONPATH"
SETTING = "unet_gis/pythonpath"
#: The module the plugin needs; a unet-gis too old to have it is "missing" too.
PROBE = "unet_gis.integrations.processing"
LOG_TAG = "unet-gis"
DOCS = "docs/qgis_plugin.md"


def configured_paths(environ: Mapping[str, str], setting: str | None = None) -> list[str]:
    """The folders named by ``UNET_GIS_PYTHONPATH`` and then the setting, without repeats."""
    found: list[str] = []
    for text in (environ.get(ENV_VAR, ""), setting or ""):
        for part in text.split(os.pathsep):
            part = part.strip()
            if part and part not in found:
                found.append(part)
    return found


def add_site_dirs(paths: Iterable[str]) -> list[str]:
    """Put each existing folder (and what its ``.pth`` files add) at the front of
    ``sys.path``; return the folders that do not exist."""
    missing = []
    for path in paths:
        if not Path(path).is_dir():
            missing.append(path)
            continue
        before = list(sys.path)
        site.addsitedir(path)
        added = [entry for entry in sys.path if entry not in before] or [path]
        sys.path[:] = added + [entry for entry in sys.path if entry not in added]
    importlib.invalidate_caches()
    return missing


def qgis_python() -> str:
    """The interpreter that shares QGIS's Python (QGIS itself is ``sys.executable``)."""
    executable = Path(sys.executable)
    if executable.name.lower().startswith("python"):
        return str(executable)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefix = Path(sys.exec_prefix)
    for candidate in (prefix / "bin" / f"python{version}", prefix / "bin" / "python3",
                      prefix / "python.exe", prefix / "apps" / "Python" / "python.exe"):
        if candidate.is_file():
            return str(candidate)
    return "python3"


def missing_message(error: BaseException, paths: list[str], missing: list[str]) -> str:
    """One line: what is missing, the command to run, and where else it may come from."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if paths:
        where = (f"{ENV_VAR} / the {SETTING} setting ({os.pathsep.join(paths)})"
                 + (f", of which {', '.join(missing)} does not exist" if missing else ""))
        tried = f"not importable from QGIS's Python {version} nor from {where}"
    else:
        tried = f"not installed in QGIS's Python {version}"
    return (f"unet-gis plugin: the unet-gis package is {tried} ({error}). Install it with "
            f"`{qgis_python()} -m pip install unet-gis`, or set {ENV_VAR} to the "
            f"site-packages folder of a Python {version} environment that has it, and "
            f"restart QGIS (see {DOCS}).")


def ensure_unet_gis(environ: Mapping[str, str] | None = None,
                    setting: str | None = None) -> str | None:
    """Make unet-gis importable; ``None`` when it is, else the message for the user."""
    try:
        importlib.import_module(PROBE)
        return None
    except ImportError:
        _forget("unet_gis")
    paths = configured_paths(os.environ if environ is None else environ, setting)
    missing = add_site_dirs(paths)
    try:
        importlib.import_module(PROBE)
    except ImportError as exc:
        _forget("unet_gis")
        return missing_message(exc, paths, missing)
    return None


def numpy_clash(paths: Iterable[str]) -> str | None:
    """A warning when QGIS had loaded its own numpy before the environment's was added:
    that numpy stays, and packages compiled against another one may fail to import."""
    module = sys.modules.get("numpy")
    origin = getattr(module, "__file__", None)
    if module is None or origin is None:
        return None
    folders = [Path(p).resolve() for p in paths if Path(p, "numpy").is_dir()]
    here = Path(origin).resolve()
    if not folders or any(folder in here.parents for folder in folders):
        return None
    return (f"unet-gis plugin: numpy {getattr(module, '__version__', '?')} from {here.parent} "
            f"was loaded before {ENV_VAR}'s; if unet-gis fails to import, install it into "
            "QGIS's Python instead, or an environment with the same numpy.")


def _forget(prefix: str) -> None:
    """Drop half-imported modules, so that a second attempt starts clean."""
    for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[name]


def report(message: str, iface: Any | None = None, warning: bool = True) -> None:
    """To the QGIS message log, and to the message bar when there is a main window."""
    from qgis.core import Qgis, QgsMessageLog

    level = Qgis.Warning if warning else Qgis.Info
    QgsMessageLog.logMessage(message, LOG_TAG, level)
    if iface is not None:
        iface.messageBar().pushMessage(LOG_TAG, message, level=level, duration=0)
