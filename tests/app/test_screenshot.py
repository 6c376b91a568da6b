"""``unet-gis gui FILE --run --screenshot OUT.png`` works headless and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.conftest import random_rgb


@pytest.mark.slow
def test_screenshot_mode_writes_a_png(tmp_path: Path, make_geotiff: Callable[..., Path],
                                      tiny_checkpoint: Path) -> None:
    image = make_geotiff(random_rgb(200, 260, seed=7))
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "UNET_GIS_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "unet_gis", "gui", str(image), "--run", "--model",
         str(tiny_checkpoint), "--device", "cpu", "--screenshot", str(out)],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shot = QImage(str(out))
    assert shot.width() >= 800 and shot.height() >= 500
    assert (image.parent / f"{image.stem}_unet_gis" / f"{image.stem}_probabilities.tif").is_file()
    log = tmp_path / "home" / "data" / "logs" / "unet-gis.log"
    assert log.is_file() and "starting" in log.read_text()


def test_screenshot_mode_fails_cleanly_on_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_text("nope")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "UNET_GIS_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "unet_gis", "gui", str(bad), "--screenshot",
         str(tmp_path / "x.png")], capture_output=True, text=True, timeout=300, env=env,
        check=False)
    assert result.returncode == 1
    assert "bad.tif" in result.stderr and "Traceback" not in result.stderr
