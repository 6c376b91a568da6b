"""Render resources/icons/unet-gis.svg to the PNG sizes desktops ask for.

    QT_QPA_PLATFORM=offscreen python packaging/linux/render_icons.py

Writes ``resources/icons/unet-gis-<N>.png`` for every size in
``unet_gis.resources.ICON_SIZES``. Uses PySide6's QtSvg, which PySide6-Essentials ships.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from unet_gis.resources import ICON_NAME, ICON_SIZES  # noqa: E402


def render(svg: Path, outdir: Path, sizes: tuple[int, ...] = ICON_SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = outdir / f"{ICON_NAME}-{size}.png"
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"could not write {path}")
        written.append(path)
    return written


def main() -> int:
    icons = ROOT / "resources" / "icons"
    for path in render(icons / f"{ICON_NAME}.svg", icons):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
