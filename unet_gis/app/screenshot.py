"""Headless screenshot mode: open files, run the model, wait, save the window as PNG."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication

from unet_gis.app import messages
from unet_gis.app.main_window import MainWindow


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Process events until ``condition()`` holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.01)
    return True


def take_screenshot(window: MainWindow, files: list[Path], out: Path, run_model: bool,
                    timeout_s: float = 3600.0) -> int:
    messages.HEADLESS = True
    window.runs.interactive = False
    window.exports.interactive = False
    window.resize(1400, 860)
    window.show()
    wait_until(lambda: False, 0.2)
    opened = window.open_files(files, remember=False)
    if files and not opened:
        return 1
    window.canvas.full_extent()
    outcome: list[str] = []
    if run_model:
        if not window.isVisible():  # closed meanwhile (SIGTERM/SIGINT): start nothing
            return 1
        window.runs.runEnded.connect(outcome.append)
        window.start_run()
        if not window.runs.busy and not outcome:
            return 1
        if not wait_until(lambda: bool(outcome), timeout_s):
            print("unet-gis: the run did not finish in time", file=sys.stderr)
            window.runs.shutdown()
            return 1
        if outcome[0] != "finished":
            return 1
        print(window.run_panel.detail.text(), file=sys.stderr)
        summary = window.summary  # counted on a worker after the run: shown in the shot
        wait_until(lambda: summary.last is not None and not summary.runner.running, 60.0)
    if not wait_until(window.canvas.frame_ready, 60.0):
        print("unet-gis: some tiles were still loading after 60 s", file=sys.stderr)
    wait_until(lambda: False, 0.2)
    window.canvas.repaint()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"unet-gis: could not write {out}", file=sys.stderr)
        return 1
    print(f"unet-gis: wrote {out}", file=sys.stderr)
    window.close()
    return 0
