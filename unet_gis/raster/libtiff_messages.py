"""Route libtiff's stray stderr messages to the log.

GDAL gives libtiff an error handler per open file, but a few messages of its I/O layer
(e.g. ``_tiffWriteProc: No space left on device.`` when the disk fills) go to libtiff's
global default handler, which prints straight to stderr, ahead of the one-line error the
CLI gives for the same failure.  GDAL still reports the failure itself (as an exception
through rasterio), so here the global handlers only log.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
from typing import Any

log = logging.getLogger("unet_gis.libtiff")

# void (*)(const char *module, const char *fmt, va_list ap); va_list is passed as a pointer
_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_installed: list[Any] = []  # keeps the callbacks alive for the life of the process


def _log_message(module: bytes | None, fmt: bytes | None, _args: int | None) -> None:
    text = (fmt or b"").decode("utf-8", "replace")
    log.debug("libtiff: %s: %s", (module or b"").decode("utf-8", "replace"), text)


def _loaded_libtiff() -> str | None:
    """Path of the libtiff that rasterio's GDAL loaded (wheels bundle their own copy)."""
    import rasterio  # noqa: F401 - loads GDAL and its libtiff

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                if "libtiff" in path and ".so" in path:
                    return path
    except OSError:
        pass
    return None


def log_libtiff_messages() -> bool:
    """Install logging handlers for libtiff's global errors and warnings; True if done.

    Only on systems with ``/proc`` (Linux); elsewhere the messages stay on stderr.
    """
    if _installed:
        return True
    path = _loaded_libtiff()
    if path is None:
        return False
    try:
        library = ctypes.CDLL(path)
        handler = _HANDLER_TYPE(_log_message)
        setters = [getattr(library, name) for name in ("TIFFSetErrorHandler",
                                                        "TIFFSetWarningHandler")]
    except (OSError, AttributeError):
        return False
    previous = []
    for function in setters:
        function.restype = ctypes.c_void_p
        function.argtypes = [ctypes.c_void_p]
        previous.append(function(ctypes.cast(handler, ctypes.c_void_p)))
    _installed.append(handler)

    def restore() -> None:
        # GDAL closes what is still open after Python's own exit handlers have run: a
        # message then must not call back into a finalizing interpreter (it crashed with
        # SIGSEGV or hung on SIGTERM / Ctrl-C)
        for function, old in zip(setters, previous, strict=True):
            function(old)

    atexit.register(restore)
    return True
