#!/usr/bin/env bash
# Run the three algorithms in a real QGIS executable, as a user's QGIS runs them:
# `bash packaging/qgis/qgis_process_check.sh [image.tif]` (packaging/qgis/test.sh runs it).
#
# qgis_process.bin (not Debian's /usr/bin/qgis_process wrapper, whose --noversioncheck flag
# the binary rejects) links the system's GDAL and GEOS into the process itself, unlike
# PyQGIS under python3, which loads them privately: code that loads the rasterio/shapely
# wheels' own GDAL/GEOS into QGIS's process crashes there and nowhere else.  The plugin is
# the zip `make qgis-plugin` builds, unpacked into a folder on QGIS_PLUGINPATH and enabled
# in a fresh profile; unet-gis comes from $VENV through UNET_GIS_PYTHONPATH (and the
# worker runs with that environment's python, found from it).  Checks each exit status and
# that the outputs are valid (read back with QGIS's own Python).
#
#   VENV=path/to/venv       the environment with unet-gis (default: .venv)
#   QGIS_PROCESS=path       the executable (default: /usr/bin/qgis_process.bin)
#   PYTHON=path/to/python   QGIS's Python, to read the outputs (default: /usr/bin/python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=$(cd "${VENV:-.venv}" && pwd)
QGIS_PROCESS=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
PYTHON=${PYTHON:-/usr/bin/python3}
IMAGE=$(realpath "${1:-resources/samples/spacenet_vegas_img0.tif}")
[[ -x "$QGIS_PROCESS" ]] || { echo "qgis_process_check: no $QGIS_PROCESS" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/plugins" "$WORK/out" "$WORK/home/.local/share/QGIS/QGIS3/profiles/default/QGIS"
"$PYTHON" packaging/qgis/build.py "$WORK/unet_gis_qgis.zip" >/dev/null
"$PYTHON" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
    "$WORK/unet_gis_qgis.zip" "$WORK/plugins"
printf '[PythonPlugins]\nunet_gis_qgis=true\n' \
    > "$WORK/home/.local/share/QGIS/QGIS3/profiles/default/QGIS/QGIS3.ini"
SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")

qgis_run() {  # ALGORITHM PARAMETERS...: run it; fail with its output unless it exits 0
    local name=$1 rc=0
    shift
    echo "qgis_process_check: $name"
    env -u PYTHONPATH -u UNET_GIS_PYTHON HOME="$WORK/home" QT_QPA_PLATFORM=offscreen \
        XDG_RUNTIME_DIR="$WORK" QGIS_PLUGINPATH="$WORK/plugins" UNET_GIS_PYTHONPATH="$SITE" \
        "$QGIS_PROCESS" run "unet-gis:$name" -- "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    if [[ $rc != 0 ]]; then
        tail -n 40 "$WORK/$name.log" >&2
        echo "qgis_process_check: $name exited with $rc" >&2
        exit 1
    fi
}

OUT=$WORK/out
qgis_run segmentraster "INPUT=$IMAGE" DEVICE=1 "OUTPUT=$OUT/scene_probabilities.tif"
qgis_run vectorizeprobabilities "INPUT=$OUT/scene_probabilities.tif" \
    "VEHICLES=$OUT/vehicles.gpkg" "ROADS=$OUT/roads.gpkg" "ROAD_CENTERLINES=$OUT/centerlines.gpkg"
qgis_run segmentandvectorize "INPUT=$IMAGE" DEVICE=1 CLASSES=vehicle \
    "PROBABILITIES=$OUT/both_probabilities.tif" "VEHICLES=$OUT/both_vehicles.gpkg" \
    "ROADS=$OUT/both_roads.gpkg" "ROAD_CENTERLINES=$OUT/both_centerlines.gpkg"

QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$WORK" HOME="$WORK/home" "$PYTHON" - "$OUT" "$IMAGE" <<'EOF'
import os
import sys
from pathlib import Path

from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer, QgsWkbTypes

app = QgsApplication([], False)
app.initQgis()
out, image = Path(sys.argv[1]), sys.argv[2]
crs = QgsRasterLayer(image, "image").crs().authid()
for name in ("scene_probabilities.tif", "both_probabilities.tif"):
    raster = QgsRasterLayer(str(out / name), name)
    assert raster.isValid() and raster.crs().authid() == crs, name
    assert raster.renderer().type() == "singlebandpseudocolor", (name, "no .qml style")
counts = {}
for name, kind in (("vehicles", QgsWkbTypes.PolygonGeometry),
                   ("roads", QgsWkbTypes.PolygonGeometry),
                   ("centerlines", QgsWkbTypes.LineGeometry),
                   ("both_vehicles", QgsWkbTypes.PolygonGeometry),
                   ("both_roads", QgsWkbTypes.PolygonGeometry)):
    layer = QgsVectorLayer(str(out / f"{name}.gpkg"), name, "ogr")
    assert layer.isValid(), name
    assert layer.crs().authid() == crs and layer.geometryType() == kind, name
    assert {"class", "score"} <= set(layer.fields().names()), name
    counts[name] = layer.featureCount()
# all three layers have features; with CLASSES=vehicle the road sinks stay empty
assert all(counts[n] > 0 for n in ("vehicles", "roads", "centerlines", "both_vehicles")), counts
assert counts["both_roads"] == 0 and counts["both_vehicles"] == counts["vehicles"], counts
print("qgis_process_check: ok,", ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
os._exit(0)  # PyQGIS's exitQgis crashes with layers still alive; the check is done
EOF
