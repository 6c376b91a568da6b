#!/usr/bin/env bash
# Run tests/qgis with QGIS's Python (the system python3 that has PyQGIS), borrowing the
# unet-gis environment's packages: `bash packaging/qgis/test.sh [pytest options]`.
#
# QGIS's Python is not the venv's, so the venv's site-packages (torch, rasterio, pandas,
# pytest...) goes on PYTHONPATH *before* the system's, as the plugin's UNET_GIS_PYTHONPATH
# does: its compiled packages need its own numpy 2, not Debian's numpy 1 (pandas 3 will
# not import on numpy 1). The plugin runs the engine in a worker process, never in QGIS's:
# rasterio/shapely bring their own GDAL/GEOS, which crash beside the system's that
# QGIS's executables link. PyQGIS under python3 loads those privately and hides that, so
# after the tests qgis_process_check.sh runs the three algorithms in qgis_process.bin.
# pytest-qt is not loaded: it would pick the venv's PySide6 (Qt 6) inside a process that
# runs QGIS on PyQt5 (Qt 5).
#
#   VENV=path/to/venv     the environment with unet-gis (default: .venv)
#   PYTHON=path/to/python QGIS's Python (default: /usr/bin/python3)
#   TESTS="paths"         what to run (default: tests/qgis; never the whole suite)
#   INSTALL_QGIS=1        apt-get install qgis python3-qgis when PyQGIS is missing
#   QGIS_PROCESS_CHECK=0  skip the qgis_process.bin check (default: run it after the tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-/usr/bin/python3}

if ! "$PYTHON" -c "import qgis.core" 2>/dev/null; then
    if [[ "${INSTALL_QGIS:-0}" == 1 ]]; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qgis python3-qgis
    else
        echo "test.sh: $PYTHON cannot import qgis.core; install QGIS (apt-get install qgis" \
             "python3-qgis) or rerun with INSTALL_QGIS=1" >&2
        exit 1
    fi
fi

[[ -x "$VENV/bin/python" ]] || { echo "test.sh: no environment at $VENV (make install)" >&2; exit 1; }
SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
VENV_VERSION=$("$VENV/bin/python" -c "import sys; print('%d.%d' % sys.version_info[:2])")
QGIS_VERSION=$("$PYTHON" -c "import sys; print('%d.%d' % sys.version_info[:2])")
if [[ "$VENV_VERSION" != "$QGIS_VERSION" ]]; then
    echo "test.sh: $VENV is Python $VENV_VERSION but QGIS's Python is $QGIS_VERSION; their" \
         "compiled packages cannot be shared (make a $QGIS_VERSION environment)" >&2
    exit 1
fi

export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export QT_QPA_PLATFORM=offscreen
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
# shellcheck disable=SC2086  # TESTS may name several paths
"$PYTHON" -m pytest -p no:pytest-qt -p no:cacheprovider ${TESTS:-tests/qgis} "$@"
if [[ "${QGIS_PROCESS_CHECK:-1}" != 0 ]]; then
    env -u PYTHONPATH VENV="$VENV" PYTHON="$PYTHON" bash packaging/qgis/qgis_process_check.sh
fi
