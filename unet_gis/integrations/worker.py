"""The engine in a process of its own, for hosts that must not load it into themselves.

``python -m unet_gis.integrations.worker [--watch-stdin] REQUEST`` runs the request (JSON, see
:class:`Request`) and reports on stdout, one JSON object a line:

- ``{"progress": 42.5}`` percent of the whole request;
- ``{"text": "..."}`` what it is doing now; ``{"info": "..."}`` and ``{"warning": "..."}``
  log lines;
- last, ``{"result": {...}}`` (exit status 0) or ``{"error": "one line", "cancelled":
  bool}`` (exit status 130 when cancelled, else 1; a bug also gets ``"traceback"``).

SIGINT (on Windows CTRL_BREAK_EVENT, which needs the worker in a process group of its
own) and, with ``--watch-stdin``, the end of stdin (the host died) set the engine's
cancel token, so a cancelled run leaves nothing written, as the CLI's cancel does.
Anything else that writes to stdout (libraries, C code) is sent to stderr, so the
protocol lines stay clean.

Why: QGIS's executables link the system's GDAL and GEOS into their own process, and the
rasterio/shapely wheels' copies loaded beside them crash there; the QGIS plugin
(``packaging/qgis/unet_gis_qgis``) therefore starts this worker with the unet-gis
environment's Python.  No Qt, no qgis.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from unet_gis.errors import Cancelled, UserError, first_line
from unet_gis.inference.progress import CancelToken
from unet_gis.integrations.processing import (
    CANCELLED_MESSAGE,
    SEGMENT_SHARE,
    FeedbackProgress,
    describe_thresholds,
    engine_options,
    thresholds_in_use,
    user_message,
    vectorize_options,
)

#: Exit statuses: done, failed, cancelled (as the CLI's Ctrl-C).
OK, FAILED, CANCELLED = 0, 1, 130
#: The flag that makes the end of stdin cancel the run (the host keeps stdin open).
WATCH_STDIN = "--watch-stdin"


@dataclass(frozen=True)
class SegmentJob:
    """``device``/``precision`` are indices into the shared choice lists (the dialog's)."""

    image: str
    output: str
    model: str | None = None
    device: int = 0
    precision: int = 0
    extent: tuple[float, float, float, float] | None = None
    aoi: str | None = None  # a vector file (its features' union), in any CRS
    tile: int = 0


@dataclass(frozen=True)
class VectorizeJob:
    """``probabilities`` may be left out after a segment job: its output is used."""

    output: str
    probabilities: str | None = None
    classes: tuple[str, ...] | None = None
    thresholds: str = ""
    min_area_m2: float | None = None
    simplify_m: float | None = None
    centerlines: bool = True


@dataclass(frozen=True)
class Request:
    segment: SegmentJob | None = None
    vectorize: VectorizeJob | None = None

    @classmethod
    def from_json(cls, text: str) -> Request:
        try:
            data = json.loads(text)
            segment, vectorize = data.get("segment"), data.get("vectorize")
            if segment is not None and segment.get("extent") is not None:
                segment = segment | {"extent": tuple(segment["extent"])}
            if vectorize is not None and vectorize.get("classes") is not None:
                vectorize = vectorize | {"classes": tuple(vectorize["classes"])}
            request = cls(SegmentJob(**segment) if segment is not None else None,
                          VectorizeJob(**vectorize) if vectorize is not None else None)
        except (ValueError, TypeError, AttributeError) as exc:
            raise UserError(f"unet-gis worker: bad request ({exc}).") from None
        if request.segment is None and request.vectorize is None:
            raise UserError("unet-gis worker: the request has neither segment nor vectorize.")
        if request.vectorize is not None and request.segment is None \
                and request.vectorize.probabilities is None:
            raise UserError("unet-gis worker: vectorize needs a probability raster.")
        return request


class Reporter:
    """Writes the protocol's lines; also the ``feedback`` :class:`FeedbackProgress` drives."""

    def __init__(self, stream: IO[str], cancel: CancelToken) -> None:
        self._stream, self._cancel = stream, cancel
        self._lock = threading.Lock()

    def send(self, **message: Any) -> None:
        with self._lock:
            self._stream.write(json.dumps(message) + "\n")
            self._stream.flush()

    def setProgress(self, progress: float) -> None:  # noqa: N802 - the Feedback protocol
        self.send(progress=progress)

    def isCanceled(self) -> bool:  # noqa: N802 - the Feedback protocol
        return self._cancel.cancelled


def segment(job: SegmentJob, report: Reporter, cancel: CancelToken, start: float,
            end: float) -> dict[str, Any]:
    from unet_gis.inference.engine import predict
    from unet_gis.model.checkpoint import load_checkpoint
    from unet_gis.model.zoo import resolve_model_path

    options = engine_options(job.device, job.precision, job.extent, job.tile, job.aoi)
    report.send(text="Loading the model")
    model = load_checkpoint(resolve_model_path(Path(job.model) if job.model else None))
    cancel.raise_if_cancelled()
    report.send(text=f"Segmenting {Path(job.image).name}")
    result = predict(job.image, Path(job.output), model, options,
                     progress=FeedbackProgress(report, start, end), cancel=cancel)
    for warning in result.warnings:
        report.send(warning=warning)
    report.send(info=f"{result.width}x{result.height} px in {result.seconds:.1f} s = "
                     f"{result.megapixels_per_s:.2f} Mpx/s on {result.device}; "
                     f"{result.bands}; wrote {result.output}")
    return {"output": str(result.output)}


def vectorize(job: VectorizeJob, probabilities: str, report: Reporter, cancel: CancelToken,
              start: float, end: float) -> dict[str, Any]:
    from unet_gis.vector.vectorize import vectorize as run_vectorize

    options = vectorize_options(job.thresholds, job.min_area_m2, job.simplify_m,
                                job.centerlines, job.classes)
    report.send(info="Thresholds: " + describe_thresholds(
        thresholds_in_use(probabilities, options)))
    report.send(text=f"Vectorizing {Path(probabilities).name}")
    summary = run_vectorize(probabilities, job.output, options,
                            progress=FeedbackProgress(report, start, end), cancel=cancel)
    for message in summary.messages:
        report.send(warning=message)
    report.send(info=f"{summary.line()}; wrote {job.output}")
    return {"output": job.output, "summary": summary.line(), "layers": summary.layers,
            "features": summary.features}


def run(request: Request, report: Reporter, cancel: CancelToken) -> dict[str, Any]:
    """Both jobs in turn (the segmentation takes :data:`SEGMENT_SHARE` % of the bar)."""
    result: dict[str, Any] = {}
    share = SEGMENT_SHARE if request.vectorize is not None else 100.0
    if request.segment is not None:
        result["segment"] = segment(request.segment, report, cancel, 0.0, share)
    if request.vectorize is not None:
        source = request.vectorize.probabilities or result["segment"]["output"]
        start = share if request.segment is not None else 0.0
        result["vectorize"] = vectorize(request.vectorize, source, report, cancel, start,
                                        100.0)
    return result


def _protocol_stream() -> IO[str]:
    """A private copy of stdout for the protocol; fd 1 then points at stderr."""
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def _cancel_on_signals(cancel: CancelToken, watch_stdin: bool) -> None:
    def handler(signum: int, frame: Any) -> None:
        cancel.cancel()

    signal.signal(signal.SIGINT, handler)
    if sys.platform == "win32":
        signal.signal(signal.SIGBREAK, handler)

    def watch() -> None:  # the host closes stdin when it goes (or dies)
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        cancel.cancel()

    if watch_stdin and sys.stdin is not None:
        threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    watch_stdin = WATCH_STDIN in argv
    argv = [arg for arg in argv if arg != WATCH_STDIN]
    cancel = CancelToken()
    report = Reporter(_protocol_stream(), cancel)
    _cancel_on_signals(cancel, watch_stdin)
    os.environ.setdefault("CPL_LOG", os.devnull)  # GDAL warnings: not before our lines
    target: Path | None = None
    try:
        if len(argv) != 1:
            raise UserError("usage: python -m unet_gis.integrations.worker [--watch-stdin] "
                            "REQUEST_JSON")
        request = Request.from_json(argv[0])
        target = Path(request.segment.output if request.segment is not None
                      else request.vectorize.output if request.vectorize is not None else ".")
        report.send(result=run(request, report, cancel))
        return OK
    except KeyboardInterrupt:
        report.send(error=CANCELLED_MESSAGE, cancelled=True)
        return CANCELLED
    except Exception as exc:
        message = user_message(exc, target)
        cancelled = isinstance(exc, Cancelled)
        if message is None:
            message = f"unet-gis worker failed: {type(exc).__name__}: {first_line(exc)}"
            report.send(error=message, cancelled=False, traceback=traceback.format_exc())
            return FAILED
        report.send(error=message, cancelled=cancelled)
        return CANCELLED if cancelled else FAILED


if __name__ == "__main__":
    sys.exit(main())
