"""Remake the app's documentation screenshots offscreen, 256 colours.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [finetune] [toolbar] [statusbar]
        [--folder ~/unet-gis-demo] [--minutes 1] [--keep]

- ``finetune``: docs/finetune/finetune_dialog.png, the fine-tune dialog after a finished
  fine-tune of the bundled model (the time budget, 1 minute by default) on a generated
  256×256 px scene, ``town.tif`` (bright roads, a dozen cars, everything labelled, four
  checked quarters: one of them is kept aside for the before/after scores).
- ``toolbar``: docs/app/toolbar.png, the menu bar and the toolbar.
- ``statusbar``: docs/app/statusbar.png, the status bar with the cursor over the sample
  (a UTM copy of it fixes the map's CRS, the selected sample is in EPSG:4326, so the
  position shows both CRSs and latitude/longitude) and the map scale.

Everything is written in ``--folder`` (a plain name, since the dialog shows its paths),
with the app's settings and data in its ``.app`` folder, and the folder is removed
afterwards unless ``--keep``.  No setting of the user's is read or changed.  The committed
images: ``--folder /home/me/survey``.  Not part of the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import rasterio
import shapely
from PIL import Image
from PySide6.QtCore import QPoint, QRect
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from rasterio.crs import CRS
from rasterio.transform import from_origin

from unet_gis.app import messages, qtcompat
from unet_gis.app.application import make_application
from unet_gis.app.main_window import MainWindow
from unet_gis.app.settings import AppPaths

ROOT = Path(__file__).resolve().parent.parent
UTM = CRS.from_epsg(32611)
X0, Y0, GSD, SIDE = 600000.0, 4000000.0, 0.3, 256
ROADS = (60, 190)  # rows/cols of the roads' middles, 24 px wide
# (row, col, height, width, RGB) of cars, 15×7 px (4.5 m × 2.1 m), three per quarter
CARS = [(52, 10, 7, 15, (200, 30, 30)), (64, 90, 7, 15, (240, 240, 240)),
        (100, 52, 15, 7, (30, 50, 140)), (52, 140, 7, 15, (235, 235, 235)),
        (20, 182, 15, 7, (190, 25, 25)), (64, 220, 7, 15, (40, 40, 45)),
        (182, 20, 7, 15, (35, 55, 150)), (150, 64, 15, 7, (245, 245, 245)),
        (194, 100, 7, 15, (210, 40, 30)), (182, 150, 7, 15, (150, 150, 155)),
        (230, 190, 15, 7, (200, 30, 30)), (194, 230, 7, 15, (240, 240, 240))]


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.01)
    return True


def settle(seconds: float = 0.3) -> None:
    wait_until(lambda: False, seconds)


def save(widget: QWidget, out: Path, rect: QRect | None = None) -> None:
    """Grab ``widget`` (or ``rect`` of it) and write it quantised to 256 colours."""
    pixmap = widget.grab(rect) if rect is not None else widget.grab()
    raw = out.with_suffix(".raw.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not pixmap.save(str(raw)):
        raise SystemExit(f"could not write {raw}")
    with Image.open(raw) as image:
        rgb = image.convert("RGB")
    raw.unlink()
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE,
                 dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"wrote {out} ({rgb.width}×{rgb.height}, {out.stat().st_size // 1024} kB)")


def new_window(folder: Path) -> MainWindow:
    """A main window whose settings and data live in ``folder/.app`` (not the user's)."""
    app = folder / ".app"
    window = MainWindow(paths=AppPaths(app / "settings.ini", app / "data"))
    window.runs.interactive = False
    window.exports.interactive = False
    window.resize(1400, 860)
    window.show()
    settle()
    return window


def close(window: MainWindow) -> None:
    window.finetuning.shutdown(60)
    window.runs.shutdown(30)
    window.exports.shutdown(30)
    window.canvas.loader.shutdown()
    window.close()
    settle(0.1)


# --- the generated scene -----------------------------------------------------------------
def _box(r0: int, r1: int, c0: int, c1: int) -> shapely.Polygon:
    return shapely.box(X0 + c0 * GSD, Y0 - r1 * GSD, X0 + c1 * GSD, Y0 - r0 * GSD)


def town(folder: Path) -> Path:
    """Bright roads with cars on dark ground, all labelled, four checked quarters."""
    from unet_gis.training.labels import LabelSet, labels_path, save_labels

    rng = np.random.default_rng(3)
    image = rng.integers(20, 90, (3, SIDE, SIDE)).astype(np.uint8)
    for m in ROADS:
        image[:, m - 12:m + 12, :] = rng.integers(170, 230, (3, 24, SIDE))
        image[:, :, m - 12:m + 12] = rng.integers(170, 230, (3, SIDE, 24))
    for r, c, h, w, rgb in CARS:
        body = np.array(rgb, np.int16)[:, None, None] + rng.integers(-12, 12, (3, h, w))
        image[:, r:r + h, c:c + w] = np.clip(body, 0, 255).astype(np.uint8)
        glass = (slice(r + 2, r + h - 2), slice(c + w // 3, c + w // 3 + 2)) if w > h else \
            (slice(r + h // 3, r + h // 3 + 2), slice(c + 2, c + w - 2))
        image[:, glass[0], glass[1]] = 25  # a dark windscreen across the car
    path = folder / "town.tif"
    profile = {"driver": "GTiff", "width": SIDE, "height": SIDE, "count": 3,
               "dtype": "uint8", "crs": UTM, "transform": from_origin(X0, Y0, GSD, GSD)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(image)
    roads = [_box(m - 12, m + 12, 0, SIDE) for m in ROADS] + \
        [_box(0, SIDE, m - 12, m + 12) for m in ROADS]
    cars = [_box(r, r + h, c, c + w) for r, c, h, w, _ in CARS]
    h = SIDE // 2
    areas = [_box(0, h, 0, h), _box(0, h, h, SIDE), _box(h, SIDE, 0, h), _box(h, SIDE, h, SIDE)]
    save_labels(labels_path(path), LabelSet(UTM, {"road": roads, "vehicle": cars}, areas))
    return path


def finetune_dialog(folder: Path, out: Path, minutes: float) -> None:
    window = new_window(folder)
    try:
        image = town(folder)
        if window.open_files([image], remember=False) != [image]:
            raise SystemExit(f"could not open {image}")
        dialog = window.finetuning.open_dialog()
        if dialog is None:
            raise SystemExit("the fine-tune dialog did not open")
        dialog.minutes.setValue(minutes)
        dialog.start_button.click()
        if not wait_until(lambda: bool(window.finetuning.outcome), minutes * 60 + 600):
            raise SystemExit("the fine-tune did not end in time")
        if window.finetuning.outcome != "finished":
            raise SystemExit(f"fine-tune {window.finetuning.outcome}: {dialog.status.text()}")
        print(dialog.table.toPlainText())
        dialog.use_button.setFocus()  # not the time budget's selected text
        dialog.resize(dialog.sizeHint())  # adjustSize() caps at 2/3 of the (offscreen) screen
        settle()
        save(dialog, out)
    finally:
        close(window)


# --- the main window's bars --------------------------------------------------------------
def toolbar(folder: Path, out: Path) -> None:
    from unet_gis.resources import sample_scene

    window = new_window(folder)
    try:
        window.open_files([sample_scene()], remember=False)  # enabled actions, as in use
        settle()
        bar = window.toolbar
        actions = [a for a in bar.actions() if a.isVisible()]
        right = max(bar.widgetForAction(a).geometry().right() for a in actions)
        bottom = bar.geometry().bottom()
        top_left = bar.mapTo(window, QPoint(0, 0))
        save(window, out, QRect(0, 0, top_left.x() + right + 6, bottom + 2))
    finally:
        close(window)


def statusbar(folder: Path, out: Path) -> None:
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    from unet_gis.resources import sample_scene

    sample = sample_scene()
    utm = folder / "vegas_utm.tif"
    with rasterio.open(sample) as src:
        transform, width, height = calculate_default_transform(
            src.crs, UTM, src.width, src.height, *src.bounds)
        profile = {**src.profile, "crs": UTM, "transform": transform, "width": width,
                   "height": height}
        with rasterio.open(utm, "w", **profile) as dst:
            for band in range(1, src.count + 1):
                reproject(rasterio.band(src, band), rasterio.band(dst, band),
                          resampling=Resampling.bilinear)
    window = new_window(folder)
    try:
        window.resize(1000, 700)
        # the first layer fixes the map's CRS (UTM); the sample keeps EPSG:4326
        if window.open_files([utm, sample], remember=False) != [utm, sample]:
            raise SystemExit("could not open the sample")
        window.canvas.full_extent()
        wait_until(window.canvas.frame_ready, 60)
        select_layer(window, sample.name)
        canvas = window.canvas
        QTest.mouseMove(canvas, QPoint(canvas.width() // 2 + 40, canvas.height() // 2 - 30))
        settle()
        if not window.map_status.position.text():
            raise SystemExit("the status bar shows no cursor position")
        print(window.map_status.position.text(), "|", window.map_status.scale.text())
        bar = window.statusBar()
        save(bar, out)
    finally:
        close(window)


def select_layer(window: MainWindow, name: str) -> None:
    from PySide6.QtCore import Qt

    ids = {layer.id for layer in window.stack if layer.name == name}
    rows = window.layers_panel.list
    for row in range(rows.count()):
        if rows.item(row).data(Qt.ItemDataRole.UserRole) in ids:
            rows.setCurrentRow(row)
            return
    raise SystemExit(f"no layer {name}")


TARGETS = {"finetune": ROOT / "docs" / "finetune" / "finetune_dialog.png",
           "toolbar": ROOT / "docs" / "app" / "toolbar.png",
           "statusbar": ROOT / "docs" / "app" / "statusbar.png"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--folder", type=Path, default=Path("~/unet-gis-demo"),
                        help="where the scene, labels, model and settings go")
    parser.add_argument("--minutes", type=float, default=1.0, help="fine-tune budget")
    parser.add_argument("--keep", action="store_true", help="keep --folder afterwards")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    folder = args.folder.expanduser().absolute()
    if folder.exists():
        sys.exit(f"{folder} exists: give another --folder")
    folder.mkdir(parents=True)
    qtcompat.ensure()
    make_application()
    messages.HEADLESS = True
    try:
        for target in args.targets or list(TARGETS):
            shutil.rmtree(folder / ".app", ignore_errors=True)  # a fresh window each time
            if target == "finetune":
                finetune_dialog(folder, TARGETS[target], args.minutes)
            elif target == "toolbar":
                toolbar(folder, TARGETS[target])
            else:
                statusbar(folder, TARGETS[target])
    finally:
        if not args.keep:
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
