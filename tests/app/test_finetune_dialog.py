"""Fine-tune on my labels: runs off the GUI thread with progress, shows before/after,
makes the new model current; Cancel leaves no model file; bad labels give one message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.app.conftest import Boxes
from tests.conftest import write_geotiff
from unet_gis.app.dialogs.finetune import FinetuneDialog
from unet_gis.app.main_window import MainWindow
from unet_gis.training.labels import LabelSet, labels_path, save_labels

UTM = CRS.from_epsg(32611)
X0, Y0, GSD, SIDE = 600000.0, 4000000.0, 0.3, 256
ROADS = (60, 190)  # rows/cols of the roads' middles, 24 px wide
TIMEOUT_MS = 180_000


def _box(r0: int, r1: int, c0: int, c1: int) -> shapely.Polygon:
    return shapely.box(X0 + c0 * GSD, Y0 - r1 * GSD, X0 + c1 * GSD, Y0 - r0 * GSD)


def scene(folder: Path, checked: bool = True) -> Path:
    """Bright roads on dark ground, labelled, with four checked quarters."""
    rng = np.random.default_rng(3)
    image = rng.integers(20, 90, (3, SIDE, SIDE)).astype(np.uint8)
    for m in ROADS:
        image[:, m - 12:m + 12, :] = rng.integers(170, 230, (3, 24, SIDE))
        image[:, :, m - 12:m + 12] = rng.integers(170, 230, (3, SIDE, 24))
    path = write_geotiff(folder / "town.tif", image, crs=UTM,
                         transform=from_origin(X0, Y0, GSD, GSD))
    roads = [_box(m - 12, m + 12, 0, SIDE) for m in ROADS] + \
        [_box(0, SIDE, m - 12, m + 12) for m in ROADS]
    h = SIDE // 2
    areas = [_box(0, h, 0, h), _box(0, h, h, SIDE), _box(h, SIDE, 0, h),
             _box(h, SIDE, h, SIDE)] if checked else []
    save_labels(labels_path(path), LabelSet(UTM, {"road": roads, "vehicle": []}, areas))
    return path


def prepare(window: MainWindow, image: Path, model: Path, **overrides: Any) -> FinetuneDialog:
    window.settings.model_path = str(model)
    assert window.open_files([image]) == [image]
    assert window.labelling.documents[image].count("road") == 4  # reloaded on open
    window.finetuning.overrides = {"batch_size": 2, "crop": 64, "lr": 3e-3, "device": "cpu",
                                   **overrides}
    dialog = window.finetuning.open_dialog()
    assert dialog is not None and dialog.isVisible()
    assert dialog.minutes.value() == 3.0
    return dialog


def test_finetune_shows_before_after_and_uses_the_new_model(
        qtbot: Any, window: MainWindow, boxes: Boxes, tmp_path: Path,
        tiny_checkpoint: Path) -> None:
    image = scene(tmp_path)
    dialog = prepare(window, image, tiny_checkpoint, max_steps=12)
    steps: list[tuple[Any, ...]] = []
    shown = dialog.progress
    dialog.progress = lambda *a: (steps.append(a), shown(*a))  # type: ignore[method-assign]
    dialog.start_button.click()
    assert window.finetuning.busy and not dialog.start_button.isEnabled()

    qtbot.waitUntil(lambda: bool(window.finetuning.outcome), timeout=TIMEOUT_MS)
    result = window.finetuning.result
    assert result is not None, (dialog.status.text(), boxes.shown)
    assert result.output == tmp_path / "town_finetuned.safetensors"
    assert result.output.is_file() and 0 < result.steps <= 20  # whole epochs of 20
    assert set(result.after) == set(result.before) and "road" in result.after
    table = dialog.table.toPlainText()
    assert dialog.table.isVisible() and "after" in table
    assert f"{result.after['road']:.3f}" in table
    assert steps and steps[-1][0] == result.steps and steps[-1][2] > 0  # step, loss, fraction
    assert "Done" in dialog.status.text()
    assert dialog.use_button.isVisible()
    dialog.use_button.click()
    assert window.settings.model_path == str(result.output)
    assert window.store.load().model_path == str(result.output)  # the saved choice too
    assert not boxes.shown


def test_cancel_leaves_no_model(qtbot: Any, window: MainWindow, boxes: Boxes,
                                tmp_path: Path, tiny_checkpoint: Path) -> None:
    image = scene(tmp_path)
    dialog = prepare(window, image, tiny_checkpoint)  # 3 minutes: it is still running
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "step" in dialog.status.text() or not window.finetuning.busy,
                    timeout=TIMEOUT_MS)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: bool(window.finetuning.outcome), timeout=TIMEOUT_MS)
    assert window.finetuning.outcome == "cancelled"
    assert "Cancelled" in dialog.status.text()
    assert window.finetuning.result is None
    assert not (tmp_path / "town_finetuned.safetensors").exists()
    assert not list(tmp_path.glob(".unet-gis-finetune-*"))
    assert window.settings.model_path == str(tiny_checkpoint)
    assert not boxes.shown


def test_labels_without_checked_areas_give_one_message(
        qtbot: Any, window: MainWindow, boxes: Boxes, tmp_path: Path,
        tiny_checkpoint: Path) -> None:
    image = scene(tmp_path, checked=False)
    dialog = prepare(window, image, tiny_checkpoint, max_steps=2)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: bool(window.finetuning.outcome), timeout=TIMEOUT_MS)
    assert window.finetuning.outcome == "failed"
    warnings = boxes.of("warning")
    assert len(warnings) == 1 and "checked area" in warnings[0][2]
    assert "\n" not in warnings[0][2]
    assert dialog.start_button.isEnabled()
    assert not (tmp_path / "town_finetuned.safetensors").exists()


def test_finetune_without_labels_says_how(window: MainWindow, boxes: Boxes, tmp_path: Path,
                                          tiny_checkpoint: Path) -> None:
    image = write_geotiff(tmp_path / "plain.tif", np.zeros((3, 64, 64), np.uint8), crs=UTM,
                          transform=from_origin(X0, Y0, GSD, GSD))
    window.settings.model_path = str(tiny_checkpoint)
    window.open_files([image])
    assert window.finetuning.open_dialog() is None
    assert "no labels" in boxes.of("information")[0][2]
