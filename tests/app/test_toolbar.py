"""The toolbar (icons, shortcuts in tooltips, Draw area) and the status bar's map scale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence

from tests.app.test_main_window import open_image
from tests.conftest import random_rgb
from unet_gis.app.main_window import MainWindow

COMMON = ("open", "run", "cancel", "export", "zoom_in", "zoom_out", "full_extent", "draw_area")


def test_toolbar_has_the_common_actions_with_icons_and_shortcuts(window: MainWindow) -> None:
    shown = window.toolbar.actions()
    for name in COMMON:
        action = window.commands[name]
        assert action in shown, name
        assert not action.icon().isNull(), name
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys and f"({keys})" in action.toolTip(), (name, action.toolTip())
    assert window.commands["zoom_in"].toolTip() == "Zoom in (+)"
    assert not window.commands["cancel"].isEnabled()  # nothing is running
    assert window.commands["cancel"] is window.cancel_action  # the menu's own action


def test_toolbar_zoom_and_draw_area(qtbot: Any, window: MainWindow,
                                    make_geotiff: Callable[..., Path]) -> None:
    open_image(window, make_geotiff(random_rgb(400, 400, seed=2)))
    canvas = window.canvas
    res = canvas.view.res
    window.commands["zoom_in"].trigger()
    assert canvas.view.res == pytest.approx(res / 1.5)
    window.commands["zoom_out"].trigger()
    window.commands["full_extent"].trigger()
    assert canvas.view.res == pytest.approx(res, rel=0.01)

    draw = window.commands["draw_area"]
    draw.trigger()
    assert draw.isChecked() and canvas.draw_mode
    centre = canvas.view
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(220, 180))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(220, 180))
    assert canvas.selection is not None  # a plain drag drew the extent, it did not pan
    assert canvas.view == centre
    x0, y0 = canvas.view.to_screen(canvas.selection[0], canvas.selection[3])
    assert (round(x0), round(y0)) == (100, 100)
    assert not draw.isChecked() and not canvas.draw_mode  # one extent per click


def test_status_bar_shows_the_map_scale(qtbot: Any, window: MainWindow,
                                        make_geotiff: Callable[..., Path]) -> None:
    assert window.scale_label.text() == ""
    open_image(window, make_geotiff(random_rgb(300, 300)))  # 0.3 m pixels in UTM
    canvas = window.canvas
    dpi = canvas.logicalDpiX()

    def scale() -> float:
        text = window.scale_label.text()
        assert text.startswith("Scale 1:"), text
        return float(text.removeprefix("Scale 1:").replace(",", ""))

    expected = canvas.view.res * dpi / 0.0254  # UTM near its central meridian: ~true metres
    assert scale() == pytest.approx(expected, rel=0.01)
    window.commands["zoom_in"].trigger()
    assert scale() == pytest.approx(expected / 1.5, rel=0.01)
    qtbot.mouseMove(canvas, QPoint(50, 60))
    qtbot.waitUntil(lambda: "lat 36." in window.position.text(), timeout=5000)
    assert "EPSG:32611" in window.position.text()


def test_status_messages_have_room(qtbot: Any, window: MainWindow,
                                   make_geotiff: Callable[..., Path]) -> None:
    """Messages (where a mosaic or the results went) show over the cursor position; as a
    permanent widget with stretch the position left them no room at all."""
    bar = window.statusBar()
    assert "Open an image" in bar.currentMessage()
    open_image(window, make_geotiff(random_rgb(40, 40)))
    assert bar.currentMessage() == ""  # the start hint gives way to the position
    bar.showMessage("Results go to /data/results/scene: /images is not writable.")
    qtbot.wait(10)
    assert not window.position.isVisible() and window.scale_label.isVisible()
    image = bar.grab().toImage()
    left = image.copy(0, 0, bar.width() // 2, bar.height())
    colours = {left.pixel(x, y) for x in range(0, left.width(), 2)
               for y in range(left.height())}
    assert len(colours) > 2  # text is drawn there
    bar.clearMessage()
    qtbot.wait(10)
    assert window.position.isVisible()
