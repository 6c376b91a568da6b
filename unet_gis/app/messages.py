"""Every dialog box the app shows goes through here (tests patch QMessageBox)."""

from __future__ import annotations

import logging
import sys

from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)
HEADLESS = False  # screenshot mode: print instead of showing a box nobody can click


def _headless(kind: str, title: str, text: str) -> bool:
    if HEADLESS:
        print(f"unet-gis: {kind}: {title}: {text}", file=sys.stderr)
    return HEADLESS


def error(parent: QWidget | None, title: str, text: str) -> None:
    log.warning("%s: %s", title, text)
    if not _headless("error", title, text):
        QMessageBox.warning(parent, title, text)


def unexpected(parent: QWidget | None, title: str, text: str) -> None:
    log.error("%s: %s", title, text)
    if not _headless("error", title, text):
        QMessageBox.critical(parent, title, f"{text}\n\nDetails are in the log file "
                                        "(Help → Open log folder).")


def info(parent: QWidget | None, title: str, text: str) -> None:
    if not _headless("note", title, text):
        QMessageBox.information(parent, title, text)


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    if _headless("question (answered no)", title, text):
        return False
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    return bool(answer == QMessageBox.StandardButton.Yes)
