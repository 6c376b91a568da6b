"""Start the app: QApplication, log file, crash handler, main window, screenshot mode."""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QCoreApplication, QSize, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from unet_gis import __version__
from unet_gis.app import qtcompat
from unet_gis.app.settings import AppPaths

log = logging.getLogger("unet_gis")
LOG_NAME = "unet-gis.log"


def setup_logging(paths: AppPaths, verbose: bool = False) -> Path:
    """Log to a rotating file in the user's data folder; return its path."""
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    path = paths.log_dir / LOG_NAME
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger()
    for other in root.handlers:  # the terminal keeps showing warnings only
        if other.level == logging.NOTSET:
            other.setLevel(logging.DEBUG if verbose else logging.WARNING)
        # what the user is told in a box (or, headless, in one printed line) is logged to
        # the file only: otherwise the terminal showed every error twice
        other.addFilter(lambda record: record.name != "unet_gis.app.messages")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.info("unet-gis %s starting (Python %s)", __version__, sys.version.split()[0])
    return path


def install_excepthook() -> None:
    """Unexpected errors in slots: log the traceback, show a message box, keep running."""
    def hook(kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        from unet_gis.app import messages
        from unet_gis.errors import UserError

        if isinstance(value, UserError):
            messages.error(QApplication.activeWindow(), "unet-gis", str(value))
        else:
            messages.unexpected(QApplication.activeWindow(), "Unexpected error",
                                f"{kind.__name__}: {value}")
    sys.excepthook = hook


def configure_gdal() -> None:
    """Bound GDAL's block cache (default 5 % of RAM) before the first dataset is read."""
    os.environ.setdefault("GDAL_CACHEMAX", "256")  # MB


def app_icon() -> QIcon:
    from unet_gis.resources import ICON_SIZES, icon_path

    icon = QIcon(str(icon_path()))
    for size in ICON_SIZES:
        icon.addFile(str(icon_path(size)), QSize(size, size))
    return icon


_QT_LEVELS = {"QtDebugMsg": logging.DEBUG, "QtInfoMsg": logging.INFO,
              "QtWarningMsg": logging.WARNING, "QtCriticalMsg": logging.ERROR,
              "QtFatalMsg": logging.CRITICAL}
# platform-plugin notes that say nothing to a user (e.g. the offscreen plugin's
# "This plugin does not support propagateSizeHints()")
_QT_NOISE = ("does not support propagateSizeHints",)


def _qt_message(kind: Any, _context: Any, message: str) -> None:
    level = _QT_LEVELS.get(getattr(kind, "name", str(kind)), logging.WARNING)
    if any(noise in message for noise in _QT_NOISE):
        level = logging.DEBUG
    logging.getLogger("unet_gis.qt").log(level, "%s", message)


def _xcb_cursor_found() -> bool:
    """Whether the dynamic loader finds libxcb-cursor.so.0 (Qt >= 6.5 needs it for xcb)."""
    import ctypes
    import ctypes.util

    if ctypes.util.find_library("xcb-cursor"):
        return True
    try:
        ctypes.CDLL("libxcb-cursor.so.0")
    except OSError:
        return False
    return True


def missing_platform_library(env: Mapping[str, str] | None = None,
                             platform: str | None = None) -> str | None:
    """The one line to print when Qt would abort with "could not load the Qt platform plugin
    xcb" (a fresh Linux desktop without libxcb-cursor0), else ``None``."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or not env.get("DISPLAY"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen not in ("", "xcb"):
        return None  # offscreen, wayland, vnc, …
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return None  # Qt picks its Wayland plugin first
    if _xcb_cursor_found():
        return None
    return ("unet-gis: the Qt xcb platform plugin needs libxcb-cursor.so.0, which is not "
            "installed: install libxcb-cursor0 (Debian/Ubuntu: sudo apt install "
            "libxcb-cursor0; Fedora: sudo dnf install xcb-util-cursor), or run without a "
            "display with QT_QPA_PLATFORM=offscreen.")


def make_application(argv: Sequence[str] = ()) -> QApplication:
    configure_gdal()
    qInstallMessageHandler(_qt_message)  # Qt's messages go to our log, not raw to stderr
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QCoreApplication.setOrganizationName("unet-gis")
        QCoreApplication.setApplicationName("unet-gis")
        app = QApplication(["unet-gis", *argv])
        app.setApplicationVersion(__version__)
        app.setWindowIcon(app_icon())
        # matches packaging/linux/unet-gis.desktop, so Wayland taskbars show its icon
        QApplication.setDesktopFileName("unet-gis")
    qtcompat.ensure()
    return app


def run(files: Sequence[str] = (), run_model: bool = False, screenshot: str | None = None,
        model: str | None = None, device: str | None = None, verbose: bool = False) -> int:
    """Show the main window (or take a screenshot headlessly); return the exit status."""
    missing = missing_platform_library()
    if missing:  # Qt would abort the process with a message that names no package
        sys.stderr.write(f"{missing}\n")
        return 1
    app = make_application()
    paths = AppPaths.default()
    setup_logging(paths, verbose)
    from unet_gis.app.main_window import MainWindow

    window = MainWindow(paths=paths, model=model, device=device)
    install_excepthook()
    stopped = stop_on_signals(app, window)
    if screenshot:
        from unet_gis.app.screenshot import take_screenshot

        code = take_screenshot(window, [Path(f) for f in files], Path(screenshot), run_model)
    else:
        window.show()
        window.open_files([Path(f) for f in files])
        if run_model:
            window.start_run(ask=False)  # --run: no dialog, the saved/--model choices
        code = int(app.exec())
    if stopped:
        what = "terminated" if stopped[0] == 128 + signal.SIGTERM else "interrupted"
        sys.stderr.write(f"unet-gis: {what}; any running job was cancelled and left "
                         "nothing behind.\n")
        return stopped[0]
    return code


def stop_on_signals(app: QApplication, window: Any) -> list[int]:
    """SIGTERM (logout, ``kill``) and SIGINT (Ctrl-C in the terminal) close the window as
    the user would, so a running job is cancelled and its temporary file removed (the
    default SIGTERM left ``.NAME_probabilities.pidN.….tmp.tif`` behind).  Returns the list
    that receives the exit status (128 + the signal).  A timer lets Python's handlers run
    while Qt's event loop waits in C."""
    import signal as signals

    from PySide6.QtCore import QTimer

    stopped: list[int] = []

    def close() -> None:
        window.close()
        app.exit(stopped[0])

    def handler(signum: int, _frame: object) -> None:
        if not stopped:
            stopped.append(128 + signum)
            QTimer.singleShot(0, close)

    for signum in (signals.SIGTERM, signals.SIGINT):
        signals.signal(signum, handler)
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    return stopped
