"""Where results go: beside the image, else the data folder (said), or a folder chosen in
the Run dialog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog

from tests.app.test_main_window import RUN_TIMEOUT_MS, open_image
from tests.conftest import random_rgb
from unet_gis.app import jobs
from unet_gis.app.dialogs.run import RunDialog
from unet_gis.app.main_window import MainWindow
from unet_gis.app.settings import AppPaths


def read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Tests run as root, where os.access says yes to everything: refuse ``folder``."""
    real = jobs.writable
    monkeypatch.setattr(jobs, "writable", lambda p: p != folder and real(p))


def dialog_for(qtbot: Any, window: MainWindow, model: Path) -> RunDialog:
    images = window.stack.of_kind("image")
    dialog = RunDialog(images, window.current_image(), model, "cpu", window,
                       output_for=window.output_for)
    qtbot.addWidget(dialog)
    return dialog


def run_and_wait(qtbot: Any, window: MainWindow) -> Path:
    ended: list[str] = []
    window.runs.runEnded.connect(ended.append)
    qtbot.waitUntil(lambda: bool(ended), timeout=RUN_TIMEOUT_MS)
    assert ended == ["finished"], window.run_panel.detail.text()
    return Path(window.runs.last_result.output)


def test_the_dialog_shows_the_folder_and_a_chosen_one_is_used(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = make_geotiff(random_rgb(64, 64), name="field.tif")
    open_image(window, image)
    dialog = dialog_for(qtbot, window, tiny_checkpoint)
    assert dialog.output_edit.text() == str(image.parent / "field_unet_gis")
    assert dialog.output_note.isHidden()
    assert dialog.choice().output_dir is None

    chosen = tmp_path / "deliveries"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *args, **kwargs: str(chosen))
    dialog._choose_output()
    assert dialog.output_edit.text() == str(chosen)
    choice = dialog.choice()
    assert choice.output_dir == chosen
    window.runs.submit(window.run_request(choice))
    output = run_and_wait(qtbot, window)
    assert output == chosen / "field_probabilities.tif" and output.is_file()
    assert not (image.parent / "field_unet_gis").exists()


def test_a_read_only_folder_falls_back_to_the_data_folder_and_says_so(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    image = make_geotiff(random_rgb(64, 64), name="archive.tif")
    read_only(monkeypatch, image.parent)
    open_image(window, image)
    fallback = app_paths.data_dir / "results" / "archive"
    dialog = dialog_for(qtbot, window, tiny_checkpoint)
    assert dialog.output_edit.text() == str(fallback)
    assert not dialog.output_note.isHidden()
    assert f"{image.parent} is not writable" in dialog.output_note.text()

    window.settings.model_path = str(tiny_checkpoint)
    window.start_run(ask=False)
    message = window.statusBar().currentMessage()
    assert str(fallback) in message and "not writable" in message
    assert run_and_wait(qtbot, window) == fallback / "archive_probabilities.tif"


def test_an_unwritable_chosen_folder_is_refused(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = open_image(window, make_geotiff(random_rgb(64, 64)))
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only(monkeypatch, locked)
    from unet_gis.app.dialogs.run import RunChoice
    from unet_gis.errors import UserError

    with pytest.raises(UserError, match="not writable"):
        window.run_request(RunChoice(layer.id, tiny_checkpoint, "cpu", "layer", None, None,
                                     None, output_dir=locked))


def test_the_model_field_shows_the_full_path_in_its_tooltip(
        qtbot: Any, window: MainWindow, make_geotiff: Callable[..., Path],
        tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_image(window, make_geotiff(random_rgb(64, 64), name="field.tif"))
    dialog = dialog_for(qtbot, window, tiny_checkpoint)
    assert dialog.model_edit.toolTip() == str(tiny_checkpoint)
    assert dialog.output_edit.toolTip() == dialog.output_edit.text()
    bundled = tmp_path / "models" / "bundled.safetensors"  # the bundled model: its file
    monkeypatch.setattr("unet_gis.app.dialogs.run.bundled_model", lambda: bundled)
    dialog._set_model(None)
    assert dialog.model_edit.text() == "Bundled: bundled.safetensors"
    assert dialog.model_edit.toolTip() == str(bundled)
