"""Text that fits: long paths lose their middle (full text in the tooltip), panels keep a
sensible minimum width and are not widened by what they show."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from unet_gis.app.layers.model import LayerStack, ResultLayer
from unet_gis.app.layers.panel import ThresholdRow
from unet_gis.app.main_window import MainWindow

LONG_FOLDER = "/data/" + "/".join(f"survey_{i:02d}_orthophotos_2024" for i in range(12))


def test_run_panel_elides_paths_in_the_middle(qtbot: Any, window: MainWindow) -> None:
    label = window.run_panel.detail
    dock = window.docks[1]
    width_before = dock.width()
    text = (f"Done: 420×300 px in 2 s (0.05 Mpx/s) on CPU.\n"
            f"Wrote scene_probabilities.tif in {LONG_FOLDER}/scene_unet_gis")
    window.run_panel.end(text, True)
    QApplication.processEvents()
    assert label.text() == text and label.toolTip() == text
    shown = label.shown()
    assert "…" in shown
    metrics, width = label.fontMetrics(), label.contentsRect().width()
    for word in shown.split():
        assert metrics.horizontalAdvance(word) <= width, word
    path = next(w for w in shown.split() if "…" in w)
    assert path.startswith("/data/survey_00") and path.endswith("scene_unet_gis")
    assert "Done: 420×300 px in 2 s" in shown  # prose wraps, it is not elided
    assert dock.width() == width_before  # the dock did not grow
    window.resize(900, 700)
    QApplication.processEvents()
    assert all(metrics.horizontalAdvance(w) <= label.contentsRect().width()
               for w in label.shown().split())


def test_threshold_rows_elide_long_layer_names(qtbot: Any) -> None:
    stack = LayerStack()
    name = "road — " + "very_long_scene_name_from_the_survey_" * 4 + "end"
    layer = ResultLayer(name=name, class_name="road", band=1, color=(255, 170, 0))
    row = ThresholdRow(stack, layer)
    qtbot.addWidget(row)
    row.resize(280, 30)
    row.show()
    qtbot.waitExposed(row)
    shown = row.name.shown()
    assert shown != name and "…" in shown and "\n" not in shown
    assert shown.startswith("road — v") and shown.endswith("survey_end")
    assert row.name.toolTip() == name
    assert row.name.fontMetrics().horizontalAdvance(shown) <= row.name.width()


def test_run_panel_has_a_sensible_minimum_width(window: MainWindow) -> None:
    assert window.run_panel.minimumWidth() >= 220
    assert window.docks[1].widget().minimumWidth() >= window.run_panel.minimumWidth()
    window.run_panel.detail.setText("x" * 2000)
    assert window.run_panel.sizeHint().width() < 600
