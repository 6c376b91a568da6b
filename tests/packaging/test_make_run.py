"""``make run``: launches the app on the bundled sample; when the launch fails it says how to
get Qt's xcb platform plugin going (the fresh-desktop failure) and keeps the exit status."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HINTS = ("libxcb-cursor0", "xcb-util-cursor", "QT_QPA_PLATFORM=offscreen")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make_run(tmp_path: Path, exit_code: int) -> subprocess.CompletedProcess[str]:
    """``make run`` with a stand-in virtualenv whose ``unet-gis`` records its arguments and
    exits with ``exit_code`` (already installed: newer than pyproject.toml)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    app = venv / "bin" / "unet-gis"
    app.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\nexit {exit_code}\n')
    app.chmod(0o755)
    installed = venv / ".installed"
    installed.touch()
    later = (ROOT / "pyproject.toml").stat().st_mtime + 60
    os.utime(installed, (later, later))
    return subprocess.run(["make", "-s", "-C", str(ROOT), "run", f"VENV={venv}"],
                          capture_output=True, text=True, timeout=60, check=False)


def test_make_run_launches_the_app_on_the_sample(tmp_path: Path) -> None:
    done = make_run(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "args").read_text().split() == [
        "gui", "resources/samples/spacenet_vegas_img0.tif", "--run"]
    assert not any(hint in done.stderr for hint in HINTS)


def test_a_failed_launch_names_the_xcb_packages_and_the_offscreen_platform(
        tmp_path: Path) -> None:
    done = make_run(tmp_path, 134)  # Qt's abort without libxcb-cursor.so.0
    assert done.returncode != 0
    assert "exit 134" in done.stderr
    for hint in HINTS:
        assert hint in done.stderr
