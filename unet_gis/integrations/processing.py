"""What a processing framework (QGIS Processing) needs from the engine, without importing it.

The QGIS plugin (``packaging/qgis/unet_gis_qgis``) is a thin shell over this module: it
reads its parameters, passes them here to become :class:`EngineOptions` and
:class:`VectorizeOptions`, and hands its ``QgsProcessingFeedback`` to
:class:`FeedbackProgress` (progress bar) and :class:`FeedbackCancelToken` (the engine's
cancel token, polling ``isCanceled()``).  Nothing here imports qgis, torch or rasterio at
module level, so it is tested without QGIS and loads fast when QGIS starts.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.choices import DEVICE_CHOICES, PRECISION_CHOICES
from unet_gis.inference.progress import CancelToken, Progress

if TYPE_CHECKING:
    from unet_gis.inference.engine import EngineOptions
    from unet_gis.vector.options import VectorizeOptions

#: Share of the progress bar the segmentation takes in "segment and vectorize": on the
#: whole bundled sample (1300x1300) on 2 CPU cores, predict took 5.4 s and vectorize 1.5 s.
SEGMENT_SHARE = 80.0
#: What the CLI says when a run is cancelled (``unet-gis: cancelled; nothing was written.``).
CANCELLED_MESSAGE = "Cancelled; nothing was written."

Bounds = tuple[float, float, float, float]


class Feedback(Protocol):
    """The part of ``QgsProcessingFeedback`` the adapters use (QGIS spells it camelCase)."""

    def setProgress(self, progress: float) -> None: ...  # noqa: N802

    def isCanceled(self) -> bool: ...  # noqa: N802


class FeedbackCancelToken(CancelToken):
    """A :class:`CancelToken` that is also set when the user cancels in the host.

    The engine checks its token between tiles (from its own threads too); each check polls
    ``feedback.isCanceled()``, which is a plain flag read in QGIS and safe from any thread.
    """

    def __init__(self, feedback: Feedback) -> None:
        super().__init__()
        self._feedback = feedback

    @property
    def cancelled(self) -> bool:
        if not self._event.is_set() and self._feedback.isCanceled():
            self._event.set()
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()


class FeedbackProgress:
    """A progress callback that moves the host's bar from ``start`` to ``end`` percent.

    Percentages are rounded to a tenth and only changes are passed on, so a run of many
    small tiles does not flood the host's event loop with signals.
    """

    def __init__(self, feedback: Feedback, start: float = 0.0, end: float = 100.0) -> None:
        self._feedback, self.start, self.end = feedback, start, end
        self._last: float | None = None

    def __call__(self, progress: Progress) -> None:
        fraction = min(max(progress.fraction, 0.0), 1.0)
        percent = round(self.start + (self.end - self.start) * fraction, 1)
        if percent != self._last:
            self._last = percent
            self._feedback.setProgress(percent)


def choice(choices: Sequence[str], index: int, label: str) -> str:
    """The name behind an enum parameter's ``index`` (the dialog shows ``choices``)."""
    if not 0 <= index < len(choices):
        raise UserError(f"{label} must be one of {', '.join(choices)} (got choice {index}).")
    return choices[index]


def aoi_bounds(bounds: Bounds | None) -> Bounds | None:
    """An extent (minx, miny, maxx, maxy) in the raster's CRS, or ``None`` for all of it.

    An empty or null extent (what QGIS passes when the optional parameter is left blank,
    all zeros or NaN) means the whole raster.
    """
    if bounds is None:
        return None
    if not all(math.isfinite(v) for v in bounds) or bounds[0] >= bounds[2] \
            or bounds[1] >= bounds[3]:
        return None
    return bounds


def engine_options(device: int = 0, precision: int = 0, extent: Bounds | None = None,
                   tile: int = 0, aoi: str | Path | None = None) -> EngineOptions:
    """:class:`EngineOptions` from the dialog: device and precision as indices into
    :data:`DEVICE_CHOICES` / :data:`PRECISION_CHOICES`, an optional extent, a tile size
    (0: the model's) and an optional AOI vector file (its polygons; the host clips them
    to the extent when there is one, so the file wins).  Outputs are replaced, as
    Processing's save dialog promised."""
    from unet_gis.inference.aoi import Aoi
    from unet_gis.inference.engine import EngineOptions

    bounds = aoi_bounds(extent)
    area = (Aoi(path=Path(aoi)) if aoi else
            Aoi(bounds=bounds) if bounds is not None else None)
    return EngineOptions(device=choice(DEVICE_CHOICES, device, "The device"),
                         precision=choice(PRECISION_CHOICES, precision, "The precision"),
                         aoi=area, tile=tile or None, overwrite=True)


def parse_threshold_text(text: str) -> tuple[tuple[str, float], ...]:
    """``road=0.5,vehicle=0.4`` as the CLI's ``--threshold`` reads it; blank: none."""
    from unet_gis.cli.vectorize import parse_thresholds

    try:
        return parse_thresholds(text or "")
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"Thresholds: {exc}.") from None


def parse_class_text(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``vehicle,road`` (or the names) as the CLI's ``--classes`` reads it; blank or
    ``None``: every class of the raster."""
    if text is None:
        return None
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
    return names or None


def vectorize_options(thresholds: str = "", min_area_m2: float | None = None,
                      simplify_m: float | None = None, centerlines: bool = True,
                      classes: str | Sequence[str] | None = None) -> VectorizeOptions:
    """:class:`VectorizeOptions` for a GeoPackage; ``None`` keeps the library's default,
    blank thresholds keep the model's (stored in the probability raster), blank classes
    take every class of the raster."""
    from unet_gis.vector.options import VectorizeOptions

    defaults = VectorizeOptions()
    return VectorizeOptions(
        classes=parse_class_text(classes),
        thresholds=parse_threshold_text(thresholds), centerlines=centerlines,
        min_area_m2=defaults.min_area_m2 if min_area_m2 is None else min_area_m2,
        simplify_m=defaults.simplify_m if simplify_m is None else simplify_m,
        format="gpkg", overwrite=True)


def thresholds_in_use(prob_path: str | Path,
                      options: VectorizeOptions) -> tuple[tuple[str, float, bool], ...]:
    """(class, threshold, whether the user set it) for every class of the raster (or
    those ``options.classes`` picks): the model's thresholds from its metadata unless
    ``options`` overrides them."""
    from unet_gis.raster.probability import open_probability_raster

    dataset, info = open_probability_raster(prob_path)
    with dataset:
        overrides = dict(options.thresholds)
        for name in (*overrides, *(options.classes or ())):
            info.band_of(name)  # an unknown class: the same message as the vectorizer's
        return tuple((c.name, overrides.get(c.name, c.threshold), c.name in overrides)
                     for c in info.classes
                     if options.classes is None or c.name in options.classes)


def describe_thresholds(used: Sequence[tuple[str, float, bool]]) -> str:
    """``road 0.70 (model), vehicle 0.40 (set)`` for the log."""
    return ", ".join(f"{name} {value:.2f} ({'set' if own else 'model'})"
                     for name, value, own in used)


def user_message(exc: BaseException, target: Path | None = None) -> str | None:
    """The one line the CLI would print for ``exc``, or ``None`` for a bug (a traceback).

    :class:`UserError` keeps its text; a cancel says nothing was written; a full disk is
    named the way the CLI names it.
    """
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, Cancelled):
        return CANCELLED_MESSAGE
    from unet_gis.fileio import DiskFullError, disk_full

    if isinstance(exc, Exception) and disk_full(exc, target):
        return str(DiskFullError(target))
    return None
