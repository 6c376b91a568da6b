"""Guard against a reference-counting bug of PySide6 6.12 on Python < 3.12.

With PySide6-Essentials 6.12.0 on CPython 3.11, every call of a Qt method that returns
``void`` releases one reference to ``None`` it never took, and every signal ``emit()``
does the same to ``True`` (measured: 200 calls of ``QPainter.setOpacity`` -> refcount of
``None`` down by 200).  On Python 3.12+ those singletons are immortal and nothing happens;
on 3.11 the process aborts with "Fatal Python error: none_dealloc" (or ``bool_dealloc``)
once a few thousand calls have drained the count: minutes of panning, or one long run.

:func:`ensure` detects the bug at start-up (a few harmless calls, counting references)
and, only where it is present, gives ``None``, ``True`` and ``False`` a reference count
so large that it cannot reach zero -- what CPython 3.12 does for every singleton.  The
proper fix is a PySide6 without the bug, or Python >= 3.12.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys

log = logging.getLogger(__name__)
_IMMORTAL = 1 << 60
_checked = False


def leaks_singletons(calls: int = 64) -> bool:
    """True when void Qt calls or signal emits drop references to None/True."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QImage

    class _Probe(QObject):
        ping = Signal()

    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        image.fill(0)
        probe.ping.emit()
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    return lost_none >= calls // 2 or lost_true >= calls // 2


def _immortalize(obj: object) -> None:
    ctypes.c_ssize_t.from_address(id(obj)).value = _IMMORTAL  # ob_refcnt is at offset 0


def ensure() -> bool:
    """Apply the guard when needed (once per process); return whether it was applied."""
    global _checked
    if _checked:
        return False
    _checked = True
    if sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return False
    if not leaks_singletons():
        return False
    for singleton in (None, True, False):
        _immortalize(singleton)
    from PySide6 import __version__ as pyside_version

    log.info("PySide6 %s loses references to None/True on Python %d.%d; guarded "
                "(see unet_gis.app.qtcompat)", pyside_version, *sys.version_info[:2])
    return True
