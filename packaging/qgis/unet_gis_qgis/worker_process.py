"""Running the engine's worker (``unet_gis.integrations.worker``) from QGIS.

QGIS's executables link the system's GDAL and GEOS into their process; the rasterio and
shapely wheels' own copies, loaded beside them, crash (a segfault at exit after Segment
raster, a double free in Vectorize).  So the engine runs in a process of its own, started
with the unet-gis environment's Python (:func:`bootstrap.worker_python`), and this module
relays what it reports: progress to the bar, its log lines, Cancel as SIGINT (Windows:
CTRL_BREAK_EVENT) so that the engine's cancel path leaves nothing written, and its
one-line error as the exception the host raises.  No qgis import: ``feedback`` is any
object with QgsProcessingFeedback's methods, so this is tested without QGIS.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from . import bootstrap

#: How long a cancelled worker gets to clean up before it is killed (seconds).
CANCEL_GRACE_S = 60.0
POLL_S = 0.1


class WorkerError(Exception):
    """The worker's one-line message; ``cancelled`` when the run was cancelled."""

    def __init__(self, message: str, cancelled: bool = False, details: str = "") -> None:
        super().__init__(message)
        self.cancelled, self.details = cancelled, details


def _pump(stream: IO[str], sink: Callable[[str], None]) -> None:
    for line in stream:
        sink(line.rstrip("\r\n"))


def _interrupt(process: subprocess.Popen[str]) -> None:
    if sys.platform == "win32":
        process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
    else:
        process.send_signal(signal.SIGINT)


def run_worker(command: Sequence[str], env: Mapping[str, str], feedback: Any) -> Any:
    """Run the worker ``command`` to its end; its result, or :class:`WorkerError`."""
    flags = 0
    if sys.platform == "win32":  # its own group (for CTRL_BREAK_EVENT), no console window
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | 0x08000000  # CREATE_NO_WINDOW
    try:
        process = subprocess.Popen(list(command), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=dict(env), text=True, encoding="utf-8",
                                   errors="replace", creationflags=flags)
    except OSError as exc:
        raise WorkerError(
            f"unet-gis could not start its worker with {command[0]} ({exc}); set "
            f"{bootstrap.PYTHON_ENV_VAR} to the Python of the environment that has unet-gis "
            f"(see {bootstrap.DOCS}).") from None
    lines: queue.Queue[str | None] = queue.Queue()
    errors: deque[str] = deque(maxlen=40)
    assert process.stdout is not None and process.stderr is not None
    def read_out(stream: IO[str]) -> None:
        _pump(stream, lines.put)
        lines.put(None)  # the end

    out = threading.Thread(target=read_out, args=(process.stdout,), daemon=True)
    err = threading.Thread(target=_pump, args=(process.stderr, errors.append), daemon=True)
    out.start()
    err.start()
    outcome: dict[str, Any] = {}
    interrupted_at: float | None = None
    while True:
        try:
            line = lines.get(timeout=POLL_S)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            _relay(line, feedback, outcome, errors)
        if interrupted_at is None and feedback.isCanceled() and process.poll() is None:
            interrupted_at = time.monotonic()
            with contextlib.suppress(OSError):  # it has just ended
                _interrupt(process)
        elif interrupted_at is not None and time.monotonic() - interrupted_at > CANCEL_GRACE_S:
            process.kill()
    rc = process.wait()
    err.join(timeout=5)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    if "result" in outcome:
        return outcome["result"]
    if "error" in outcome:
        raise WorkerError(outcome["error"], bool(outcome.get("cancelled")),
                          outcome.get("traceback", ""))
    if interrupted_at is not None:
        from unet_gis.integrations.processing import CANCELLED_MESSAGE

        raise WorkerError(CANCELLED_MESSAGE, cancelled=True)
    last = next((e for e in reversed(errors) if e.strip()), "no message")
    raise WorkerError(f"unet-gis worker ({command[0]}) stopped with exit status {rc}: "
                      f"{last}", details="\n".join(errors))


def _relay(line: str, feedback: Any, outcome: dict[str, Any], errors: deque[str]) -> None:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        errors.append(line)  # not ours: kept for the error message
        return
    if "progress" in message:
        feedback.setProgress(float(message["progress"]))
    elif "text" in message:
        feedback.setProgressText(str(message["text"]))
    elif "info" in message:
        feedback.pushInfo(str(message["info"]))
    elif "warning" in message:
        feedback.pushWarning(str(message["warning"]))
    else:
        outcome.update(message)


def worker_setup(setting_python: str | None = None,
                 setting_paths: str | None = None) -> tuple[str, list[str]]:
    """(the worker's Python, the folders it adds) from the variables and settings."""
    paths = bootstrap.configured_paths(os.environ, setting_paths)
    return bootstrap.worker_python(os.environ, setting_python, paths), paths


def run_request(request: Mapping[str, Any], feedback: Any,
                setting_python: str | None = None,
                setting_paths: str | None = None) -> Any:
    """Run ``request`` (the worker's JSON request, as a mapping) in a worker."""
    python, paths = worker_setup(setting_python, setting_paths)
    command = bootstrap.worker_command(python, paths, json.dumps(request))
    return run_worker(command, bootstrap.worker_environment(os.environ, python), feedback)
