"""GUI test fixtures: an offscreen main window with private settings and no blocking boxes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from unet_gis.app import messages, qtcompat
from unet_gis.app.main_window import MainWindow
from unet_gis.app.settings import AppPaths

qtcompat.ensure()  # before pytest-qt and the tests make thousands of Qt calls


class Boxes:
    """Records every message box instead of showing it; ``answer`` for questions."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.Yes

    def record(self, kind: str) -> Callable[..., Any]:
        def box(parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
            self.shown.append((kind, title, text))
            return self.answer if kind == "question" else QMessageBox.StandardButton.Ok
        return box

    def of(self, kind: str) -> list[tuple[str, str, str]]:
        return [b for b in self.shown if b[0] == kind]


@pytest.fixture
def boxes(monkeypatch: pytest.MonkeyPatch) -> Boxes:
    recorder = Boxes()
    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, recorder.record(kind))
    monkeypatch.setattr(messages, "HEADLESS", False)
    return recorder


@pytest.fixture
def app_paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "config" / "settings.ini", tmp_path / "data")


@pytest.fixture
def window(qtbot: Any, app_paths: AppPaths, boxes: Boxes) -> Iterator[MainWindow]:
    win = MainWindow(paths=app_paths)
    win.runs.interactive = False
    win.exports.interactive = False
    qtbot.addWidget(win)
    win.resize(1400, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.runs.shutdown(30)
    win.exports.shutdown(30)
    win.canvas.loader.shutdown()


def qimage_rgb(image: QImage) -> np.ndarray:
    """(h, w, 3) uint8 copy of a QImage."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return buffer[:, :w * 3].reshape(h, w, 3).copy()


def background_rgb() -> tuple[int, int, int]:
    from unet_gis.app.canvas.view import BACKGROUND

    return BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue()
