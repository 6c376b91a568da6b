"""Finding the unet-gis package from the Python QGIS runs, or saying how to install it.

unet-gis (with PyTorch) is either installed into QGIS's own Python, or lives in a separate
environment whose ``site-packages`` is named by the ``UNET_GIS_PYTHONPATH`` environment
variable or the ``unet_gis/pythonpath`` QGIS setting (several folders: separated by
``os.pathsep``).  Those folders go to the *front* of ``sys.path`` through
``site.addsitedir`` (so ``.pth`` files, editable installs included, work): the
environment's numpy must win over any copy QGIS ships, as its compiled packages (pandas,
rasterio, torch) were built against it.  In QGIS's process the plugin imports only
unet-gis's light modules (choices, defaults, the parameter mapping: no numpy, GDAL or
GEOS); the engine runs in a worker process (:mod:`unet_gis.integrations.worker`) started
with :func:`worker_python`.  Pure Python: only :func:`report` imports qgis.
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
#: The interpreter that runs the engine (the worker), when discovery would pick another.
PYTHON_ENV_VAR = "UNET_GIS_PYTHON"
PYTHON_SETTING = "unet_gis/python"
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


def environment_python(site_dir: str) -> str | None:
    """The interpreter of the environment whose ``site-packages`` is ``site_dir``: a venv
    or conda environment (``lib/pythonX.Y/site-packages``, on Windows
    ``Lib/site-packages``), if it has one."""
    folder = Path(site_dir)
    if folder.name != "site-packages":
        return None
    posix, windows = folder.parents[2] if len(folder.parents) > 2 else None, folder.parents[1]
    candidates = [windows / "Scripts" / "python.exe", windows / "python.exe"]
    if posix is not None:
        version = folder.parent.name  # pythonX.Y
        candidates[:0] = [posix / "bin" / version, posix / "bin" / "python3",
                          posix / "bin" / "python"]
    return next((str(c) for c in candidates if c.is_file()), None)


def worker_python(environ: Mapping[str, str], setting: str | None = None,
                  paths: Iterable[str] = ()) -> str:
    """The Python that runs the engine's worker: ``UNET_GIS_PYTHON``, else the
    ``unet_gis/python`` setting, else the interpreter of the first environment named by
    ``UNET_GIS_PYTHONPATH`` (or its setting) that has one, else QGIS's own Python."""
    for chosen in (environ.get(PYTHON_ENV_VAR, "").strip(), (setting or "").strip()):
        if chosen:
            return chosen
    for path in paths:
        found = environment_python(path)
        if found is not None:
            return found
    return qgis_python()


#: Run by the worker's Python: the configured folders (argv[1]) go to the front of
#: ``sys.path`` as :func:`add_site_dirs` puts them (``.pth`` files count), then the worker.
WORKER_START = (
    "import os, site, sys\n"
    "paths = [p for p in sys.argv[1].split(os.pathsep) if os.path.isdir(p)]\n"
    "for path in paths:\n"
    "    before = list(sys.path); site.addsitedir(path)\n"
    "    added = [e for e in sys.path if e not in before] or [path]\n"
    "    sys.path[:] = added + [e for e in sys.path if e not in added]\n"
    "from unet_gis.integrations.worker import main\n"
    "sys.exit(main(sys.argv[2:]))\n")

#: Variables of QGIS's own Python and GDAL that would mislead another interpreter and
#: the GDAL/PROJ the unet-gis wheels bring (they find their own data).
FOREIGN_VARIABLES = ("PYTHONHOME", "PYTHONPATH", "GDAL_DRIVER_PATH", "GDAL_DATA", "PROJ_LIB",
                     "PROJ_DATA")


def worker_command(python: str, paths: Iterable[str], request: str) -> list[str]:
    """The command line that runs ``request`` (JSON) in the worker, stdin watched."""
    return [python, "-c", WORKER_START, os.pathsep.join(paths), "--watch-stdin", request]


def worker_environment(environ: Mapping[str, str], python: str) -> dict[str, str]:
    """The worker's variables: QGIS's own, without :data:`FOREIGN_VARIABLES` when the
    worker is another interpreter than QGIS's; QGIS's Python keeps them (its
    ``PYTHONPATH`` may be how it finds unet-gis) but ``GDAL_DRIVER_PATH`` (plugins built
    for QGIS's GDAL would crash the wheels')."""
    env = dict(environ)
    ours = qgis_python()
    same = (Path(python).resolve() == Path(ours).resolve()
            if Path(python).exists() and Path(ours).exists() else python == ours)
    for name in FOREIGN_VARIABLES if not same else ("GDAL_DRIVER_PATH",):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


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
