"""About: version, the bundled model's card, data attributions."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from unet_gis import __version__
from unet_gis.resources import resource_path

ATTRIBUTIONS = (
    "Sample scene: SpaceNet Las Vegas (SpaceNet 3 roads), imagery courtesy of Maxar, "
    "licensed CC BY-SA 4.0 (https://spacenet.ai).",
    "Bundled model (CC BY-SA 4.0) trained on SpaceNet 3 Las Vegas (CC BY-SA 4.0), "
    "Massachusetts Roads (Mnih 2013; MassGIS imagery, OpenStreetMap labels), the Dubai "
    "aerial imagery set of Humans in the Loop, MBRSC and the Roia Foundation (CC0), Minsk "
    "drone cars (Y. Kharuzhy and Minsk OSM community, CC BY-SA) and KIT AIS (KIT IPF, "
    "CC BY 3.0); see the model card below.",
    "Built with Qt for Python (PySide6, LGPL), PyTorch, GDAL via rasterio, PROJ via pyproj, "
    "GEOS via shapely, pyogrio and geopandas.",
)


def about_html() -> str:
    card = resource_path("models", "MODEL_CARD.md")
    card_text = (card.read_text(encoding="utf-8") if card.is_file()
                 else "No model card is installed with this build.")
    items = "".join(f"<li>{html.escape(a)}</li>" for a in ATTRIBUTIONS)
    return (f"<h2>unet-gis {html.escape(__version__)}</h2>"
            "<p>Label every pixel of satellite and aerial imagery with a U-Net: roads and "
            "vehicles as GIS layers.</p>"
            f"<h3>Data and software</h3><ul>{items}</ul>"
            f"<h3>Model card</h3><pre style='white-space: pre-wrap'>"
            f"{html.escape(card_text)}</pre>")


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About unet-gis")
        self.resize(640, 520)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
