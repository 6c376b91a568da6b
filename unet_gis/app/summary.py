"""Results at a glance (no Qt): objects counted, surface areas and network lengths of a
probability raster at the current thresholds.

What each class is comes from its role in the raster's metadata, never its name:
``objects`` are counted (8-connected pieces at least the export's minimum area),
``network`` gets its area and an approximate centreline length (skeleton pixels times the
pixel side), ``surface`` its area.  Areas are in m² from the pixel's ground size at the
raster's centre (right for geographic CRSs too, see :func:`georef_of`); a raster without
a CRS is measured in pixels.

The raster is read once (decimated to at most :data:`MAX_PIXELS`, through its overviews)
and kept; a threshold change only re-thresholds the arrays.  Both run off the GUI thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unet_gis.inference.progress import CancelToken
from unet_gis.model.spec import ClassSpec

MAX_PIXELS = 4096 * 4096  # larger rasters are read decimated: counts become estimates
SKELETON_PIXELS = 2048 * 2048  # network masks are max-pooled to this before thinning


@dataclass(frozen=True)
class SummaryData:
    """A probability raster read for summaries (kept between threshold changes)."""

    path: Path
    classes: tuple[ClassSpec, ...]
    probabilities: np.ndarray  # (bands, h, w) uint8
    valid: np.ndarray  # (h, w) bool
    pixel_side: float  # metres (or pixels) of one pixel of these arrays
    metric: bool
    decimation: int  # 1: every pixel
    full_scale: int  # the stored value of probability 1 (ProbabilityInfo.full_scale)


@dataclass(frozen=True)
class ClassSummary:
    name: str
    role: str
    area: float  # m², or px² without a CRS
    objects: int | None = None  # role "objects"
    length: float | None = None  # role "network": metres (or pixels)


@dataclass(frozen=True)
class Summary:
    path: Path
    classes: tuple[ClassSummary, ...]
    metric: bool
    decimation: int

    def lines(self) -> list[str]:
        about = "about " if self.decimation > 1 else ""
        out = []
        for c in self.classes:
            if c.role == "objects":
                out.append(f"{c.name}: {about}{c.objects:,} objects")
            else:
                text = f"{c.name}: {about}{_area(c.area, self.metric)}"
                if c.length is not None:
                    text += f", about {_length(c.length, self.metric)} long"
                out.append(text)
        return out


def _area(value: float, metric: bool) -> str:
    if not metric:
        return f"{value:,.0f} px²"
    if value >= 1e6:
        return f"{value / 1e6:,.2f} km²"
    return f"{value:,.0f} m²"


def _length(value: float, metric: bool) -> str:
    return f"{value / 1000:,.2f} km" if metric else f"{value:,.0f} px"


def read_summary_data(path: Path, cancel: CancelToken | None = None) -> SummaryData:
    """Read the probability bands of ``path`` (decimated when large) and its pixel size."""
    import rasterio

    from unet_gis.raster.probability import read_probability_info
    from unet_gis.vector.measure import georef_of

    with rasterio.open(path) as dataset:
        info = read_probability_info(dataset)
        georef = georef_of(dataset, info.pixel_space)
        width, height = dataset.width, dataset.height
        factor = max(1, math.ceil(math.sqrt(width * height / MAX_PIXELS)))
        shape = (max(1, height // factor), max(1, width // factor))
        if cancel is not None:
            cancel.raise_if_cancelled()
        probabilities = dataset.read(out_shape=(dataset.count, *shape))
        valid = dataset.read_masks(1, out_shape=shape) > 0
    # the ground side of one pixel of the arrays (a decimated pixel covers factor² pixels)
    side = georef.pixel_m * math.sqrt(width / shape[1] * height / shape[0])
    return SummaryData(Path(path), info.classes, probabilities, valid, side,
                       not georef.pixel_space, factor, info.full_scale)


def summarize(data: SummaryData, thresholds: dict[str, float], min_area_m2: float = 0.0,
              cancel: CancelToken | None = None) -> Summary:
    """Counts, areas and lengths of ``data`` at ``thresholds`` (class defaults otherwise)."""
    from unet_gis.raster.probability import threshold_to_byte

    pixel_area = data.pixel_side**2
    found = []
    for band, cls in enumerate(data.classes):
        if cancel is not None:
            cancel.raise_if_cancelled()
        threshold = threshold_to_byte(thresholds.get(cls.name, cls.threshold),
                                      data.full_scale)
        mask = (data.probabilities[band] >= threshold) & data.valid
        role = cls.kind
        if role == "objects":
            min_pixels = min_area_m2 / pixel_area if data.metric else 0.0
            found.append(ClassSummary(cls.name, role, float(mask.sum()) * pixel_area,
                                      objects=count_objects(mask, min_pixels)))
        elif role == "network":
            found.append(ClassSummary(cls.name, role, float(mask.sum()) * pixel_area,
                                      length=skeleton_length(mask, data.pixel_side)))
        else:
            found.append(ClassSummary(cls.name, role, float(mask.sum()) * pixel_area))
    return Summary(data.path, tuple(found), data.metric, data.decimation)


def count_objects(mask: np.ndarray, min_pixels: float = 0.0) -> int:
    """8-connected pieces of ``mask`` with at least ``min_pixels`` pixels."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if not count or min_pixels <= 1:
        return int(count)
    sizes = np.bincount(labels.ravel())[1:]
    return int((sizes >= min_pixels).sum())


def skeleton_length(mask: np.ndarray, pixel_side: float) -> float:
    """Centreline length of ``mask`` estimated as skeleton pixels x pixel side (diagonal
    steps count 1, so it errs a little short)."""
    from skimage import morphology

    thin: Callable[[np.ndarray], np.ndarray] = morphology.skeletonize  # an untyped API
    factor = max(1, math.ceil(math.sqrt(mask.size / SKELETON_PIXELS)))
    if factor > 1:  # max-pool: thin roads stay connected
        h, w = (mask.shape[0] // factor) * factor, (mask.shape[1] // factor) * factor
        mask = np.asarray(mask[:h, :w].reshape(h // factor, factor, w // factor, factor)
                          .any(axis=(1, 3)))
    return float(thin(mask).sum()) * pixel_side * factor


def summary_job(path: Path, thresholds: dict[str, float], min_area_m2: float,
                cached: SummaryData | None, cancel: CancelToken) -> tuple[SummaryData, Any]:
    """Read (unless ``cached`` is this raster's) and summarise; for a worker thread."""
    data = cached if cached is not None and cached.path == path else \
        read_summary_data(path, cancel)
    return data, summarize(data, thresholds, min_area_m2, cancel)
