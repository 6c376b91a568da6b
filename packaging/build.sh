#!/usr/bin/env bash
# Build the standalone one-folder bundle (dist/unet-gis/) with PyInstaller and smoke-test it.
#
#   packaging/build.sh               # build + smoke tests
#   packaging/build.sh --smoke-only  # smoke-test an existing dist/unet-gis/
#   TARBALL=1 packaging/build.sh     # also pack dist/unet-gis-<version>-linux-<arch>.tar.gz
#
# Uses the project's virtual environment (PYTHON=... to pick another); it needs the
# `bundle` extra: pip install -e '.[bundle]'. The torch in that environment is the one
# bundled: the CPU wheel by default (see packaging/README.md for a CUDA build).
# Smoke tests run the bundled executable from a temporary folder with a minimal
# environment (and hostile GDAL_DATA/PROJ_DATA values): --version, info, predict,
# vectorize (with worker processes) and `gui SAMPLE --run --screenshot` offscreen. The bundled trained model is
# used when resources/models/ has it; otherwise a small random model is made for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DIST=${DIST:-$ROOT/dist}
WORK=${WORK:-$ROOT/build/pyinstaller}
APP=$DIST/unet-gis
EXE=$APP/unet-gis
MODEL_NAME=unet_gis_roads_vehicles_0.3m.safetensors

say() { printf '== %s\n' "$*"; }

if [[ "${1:-}" != "--smoke-only" ]]; then
    "$PYTHON" -c "import PyInstaller" 2>/dev/null || {
        echo "PyInstaller is missing: $PYTHON -m pip install -e '.[bundle]'" >&2; exit 2; }
    say "building $APP with $("$PYTHON" -c 'import torch; print("torch", torch.__version__)')"
    start=$(date +%s)
    "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$DIST" --workpath "$WORK" packaging/unet-gis.spec
    # the desktop launcher, metainfo and their installer travel with the bundle
    mkdir -p "$APP/linux"
    cp packaging/linux/install.sh packaging/linux/unet-gis.desktop \
       packaging/linux/io.github.unet_gis.metainfo.xml "$APP/linux/"
    say "build time: $(( $(date +%s) - start )) s"
fi
[[ -x "$EXE" ]] || { echo "no bundle at $APP" >&2; exit 1; }
say "bundle size: $(du -sm "$APP" | cut -f1) MB ($(find "$APP" -type f | wc -l) files)"
# the pieces the issue asks for
for piece in _internal/PySide6/Qt/plugins/platforms/libqoffscreen.so \
             _internal/PySide6/Qt/plugins/platforms/libqxcb.so \
             _internal/rasterio/gdal_data/gdalvrt.xsd _internal/rasterio/proj_data/proj.db \
             _internal/pyogrio/gdal_data/gdalvrt.xsd _internal/pyogrio/proj_data/proj.db \
             _internal/unet_gis/resources/samples/spacenet_vegas_img0.tif \
             _internal/unet_gis/resources/icons/unet-gis.svg; do
    [[ -e "$APP/$piece" || "$OSTYPE" != linux* ]] || { echo "missing in bundle: $piece" >&2; exit 1; }
done

SMOKE=$(mktemp -d "${TMPDIR:-/tmp}/unet-gis-smoke.XXXXXX")
trap 'rm -rf "$SMOKE"' EXIT
cd "$SMOKE"
# a copy of the bundled sample, as a user's own file: the app writes results beside it
cp "$APP/_internal/unet_gis/resources/samples/spacenet_vegas_img0.tif" "$SMOKE/"
SAMPLE=$SMOKE/spacenet_vegas_img0.tif
# a user's shell, minus the developer's: no venv, no PYTHONPATH, stale GIS variables
bundled() {
    env -i HOME="$SMOKE/home" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        UNET_GIS_HOME="$SMOKE/home/unet-gis" GDAL_DATA=/nonexistent/gdal \
        PROJ_DATA=/nonexistent/proj PROJ_LIB=/nonexistent/proj \
        timeout 900 "$EXE" "$@"
}
mkdir -p home
model_args=()
if [[ -f "$APP/_internal/unet_gis/resources/models/$MODEL_NAME" ]]; then
    say "using the bundled model"
else
    say "no bundled model; making a small random one (the model's skill is not the point)"
    "$PYTHON" - <<'PY'
import torch
from unet_gis.model.checkpoint import save_checkpoint
from unet_gis.model.spec import Architecture, default_spec
from unet_gis.model.unet import build_unet
torch.manual_seed(0)
spec = default_spec(architecture=Architecture(8, 3, True), tile=256, halo=32)
save_checkpoint("random.safetensors", build_unet(3, 2, spec.architecture).eval(), spec)
PY
    model_args=(--model "$SMOKE/random.safetensors")
fi

say "version"; bundled --version
say "info"; bundled info "$SAMPLE" | tee info.txt
grep -q "EPSG:4326" info.txt && grep -q "GSD 0.2" info.txt

say "predict"
mkdir out
start=$(date +%s)
bundled predict "$SAMPLE" -o out --quiet ${model_args[@]+"${model_args[@]}"}
say "predict took $(( $(date +%s) - start )) s"
PROB=out/spacenet_vegas_img0_probabilities.tif
"$PYTHON" - "$PROB" <<'PY'
import sys, rasterio
with rasterio.open(sys.argv[1]) as ds:
    assert ds.count == 2 and set(ds.dtypes) == {"uint8"}, (ds.count, ds.dtypes)
    assert (ds.width, ds.height) == (1300, 1300) and ds.crs is not None
    print(f"predict OK: {sys.argv[1]}: {ds.count} x {ds.dtypes[0]}, {ds.width}x{ds.height}, {ds.crs}")
PY

say "vectorize (pyogrio's GDAL/PROJ; two worker processes re-entering the executable)"
bundled vectorize "$PROB" -o out/vectors.gpkg --format gpkg --quiet --workers 2
"$PYTHON" - out/vectors.gpkg <<'PY'
import sys, pyogrio
layers = pyogrio.list_layers(sys.argv[1])
assert len(layers), "no layers"
for name, _ in layers:
    info = pyogrio.read_info(sys.argv[1], layer=name)
    assert info["crs"], f"{name}: no CRS"
    print(f"vectorize OK: layer {name}: {info['features']} features, {info['crs']}")
PY

if bundled gui --help >/dev/null 2>&1; then
    say "gui --run --screenshot (offscreen)"
    start=$(date +%s)
    bundled gui "$SAMPLE" --run --screenshot "$SMOKE/shot.png" ${model_args[@]+"${model_args[@]}"}
    say "gui took $(( $(date +%s) - start )) s"
    "$PYTHON" - "$SMOKE/shot.png" <<'PY'
import sys
import numpy as np
from PIL import Image
image = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
assert image.shape[0] >= 300 and image.shape[1] >= 400, image.shape
assert image.std() > 10, "the screenshot is blank"
print(f"gui OK: {sys.argv[1]}: {image.shape[1]}x{image.shape[0]}, std {image.std():.1f}")
PY
    if [[ -n "${KEEP_SCREENSHOT:-}" ]]; then cp "$SMOKE/shot.png" "$KEEP_SCREENSHOT"; fi
else
    say "SKIPPED: this build has no gui command"
fi
if [[ "$OSTYPE" == linux* ]]; then
    say "desktop integration from the bundle"
    env -i HOME="$SMOKE/home" PATH=/usr/bin:/bin XDG_DATA_HOME="$SMOKE/xdg" \
        bash "$APP/linux/install.sh"
    grep -q "^Exec=$APP/linux/../unet-gis gui %F$\|^Exec=$APP/unet-gis gui %F$" \
        "$SMOKE/xdg/applications/unet-gis.desktop"
    [[ -f "$SMOKE/xdg/icons/hicolor/256x256/apps/unet-gis.png" ]]
fi
say "all smoke tests passed"
if [[ -n "${TARBALL:-}" ]]; then
    tarball=$DIST/unet-gis-$(bundled --version | cut -d" " -f2)-linux-$(uname -m).tar.gz
    tar czf "$tarball" -C "$DIST" unet-gis
    say "packed $tarball ($(du -sm "$tarball" | cut -f1) MB)"
fi
