"""The plugin's dialog as QGIS shows it, for docs/qgis_plugin.md; headless (offscreen).

Run with QGIS's Python and the environment test.sh sets up::

    PYTHONPATH=$PWD:.venv/lib/python3.11/site-packages QT_QPA_PLATFORM=offscreen \\
        /usr/bin/python3 packaging/qgis/screenshot.py docs/qgis_plugin.png

The dialog is tall enough to show every parameter down to the last output; the PNG is
quantised to 256 colours (with Pillow, when QGIS's Python has it) to keep it small.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

HERE = Path(__file__).resolve().parent
ALGORITHM = "unet-gis:segmentandvectorize"


def quantise(path: Path) -> None:
    """256 colours, no dithering (flat widgets), like the app's screenshots."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE,
                 dither=Image.Dither.NONE).save(path, optimize=True)


def main(output: Path) -> None:
    app = QgsApplication([], True)
    app.initQgis()
    sys.path[:0] = [str(HERE), os.path.join(QgsApplication.pkgDataPath(), "python", "plugins")]
    from processing.core.Processing import Processing
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from unet_gis_qgis import classFactory

    from unet_gis.resources import sample_scene

    Processing.initialize()
    plugin = classFactory(None)
    plugin.initProcessing()
    QgsProject.instance().addMapLayer(QgsRasterLayer(str(sample_scene()), "spacenet_vegas_img0"))
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
    dialog = AlgorithmDialog(algorithm, False, None)
    dialog.show()
    dialog.resize(1000, 1350)  # after show(): QGIS restores the dialog's saved geometry
    for _ in range(20):
        app.processEvents()
    dialog.grab().save(str(output))
    quantise(output)
    sys.stdout.write(f"wrote {output}\n")
    dialog.close()
    plugin.unload()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
