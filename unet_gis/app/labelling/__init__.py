"""Labelling mode (draw labels over an image) and fine-tuning on those labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unet_gis.app.labelling.controller import Labelling
    from unet_gis.app.labelling.finetuning import FinetuneController
    from unet_gis.app.main_window import MainWindow


def attach(window: MainWindow) -> tuple[Labelling, FinetuneController]:
    """Labelling mode and the fine-tune controller of ``window`` (before its menus)."""
    from unet_gis.app.labelling.controller import Labelling
    from unet_gis.app.labelling.finetuning import FinetuneController

    labelling = Labelling(window)
    return labelling, FinetuneController(window, labelling)
