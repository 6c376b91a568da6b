"""The guard against PySide6 6.12 losing references to None/True on Python 3.11."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HAMMER = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage
from unet_gis.app import qtcompat
leaky = qtcompat.leaks_singletons()
calls = max(100_000, 2 * sys.getrefcount(None))  # enough to drain None without the guard
emits = max(20_000, 2 * sys.getrefcount(True))
if {guard}:
    qtcompat.ensure()
class P(QObject):
    ping = Signal(object)
image, probe = QImage(1, 1, QImage.Format.Format_ARGB32), P()
for _ in range(calls):
    image.fill(0)
for _ in range(emits):
    probe.ping.emit(1)
print("survived", leaky)
"""


def hammer(guard: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", HAMMER.format(guard=guard)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)


def test_many_qt_calls_do_not_crash_the_app() -> None:
    result = hammer(guard=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout


def test_without_the_guard_the_bug_would_abort_the_process() -> None:
    result = hammer(guard=False)
    if result.returncode == 0:
        assert "survived False" in result.stdout
        pytest.skip("this PySide6/Python combination does not have the bug")
    assert "dealloc" in result.stderr  # Fatal Python error: none_dealloc / bool_dealloc
