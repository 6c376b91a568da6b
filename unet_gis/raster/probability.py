"""The probability raster: the canonical output of a run, and the contract between steps.

A probability raster is a tiled GeoTIFF with one ``uint8`` band per class holding
``round(probability * FULL_SCALE)`` (0-254; band scale ``1/FULL_SCALE``, offset 0, so GIS
tools that honour them read 0-1).  Band descriptions are the class names; the dataset tags
carry the classes (name, colour, default threshold) and the model spec's essentials as JSON.
Pixels that were not predicted (input nodata, outside the area of interest) hold
:data:`NODATA` (255), the raster's nodata value, so ``read_masks() == 0`` there.  A nodata
value rather than an internal mask band, because QGIS shows a GeoTIFF's per-dataset mask
as an extra alpha band (a 2-class raster opened as 3 bands).  Masks and vectors are
derived from it; the app re-thresholds it live.

Rasters written before nodata (band scale 1/255, values 0-255, invalid pixels in an
internal mask) still read correctly: readers take the full scale from the file's band
scale (:func:`full_scale_of`) and the invalid pixels from ``read_masks``, which covers
both nodata and masks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import rasterio
from rasterio.io import DatasetReader, DatasetWriter

from unet_gis.errors import UserError
from unet_gis.model.spec import ClassSpec, ModelSpec

if TYPE_CHECKING:
    import torch

CLASSES_TAG = "UNET_GIS_CLASSES"
SPEC_TAG = "UNET_GIS_SPEC"
KIND_TAG = "UNET_GIS_KIND"
KIND_VALUE = "probability"
PIXEL_SPACE_TAG = "UNET_GIS_PIXEL_SPACE"
SOURCE_TAG = "UNET_GIS_SOURCE"
DEVICE_TAG = "UNET_GIS_DEVICE"  # where and in which precision the model ran
MODEL_TAG = "UNET_GIS_MODEL"  # the model's name and the SHA-256 of its checkpoint file

#: The stored value of probability 1: probabilities are stored as round(p * FULL_SCALE).
FULL_SCALE = 254
#: The nodata value of a probability raster: above every stored probability.
NODATA = 255
#: The full scale of rasters written before :data:`NODATA` (band scale 1/255 or none).
LEGACY_FULL_SCALE = 255

_Probabilities = TypeVar("_Probabilities", np.ndarray, "torch.Tensor")


def to_stored(probabilities: _Probabilities) -> _Probabilities:
    """``probabilities`` (0-1, floating point) scaled so that truncating them to ``uint8``
    (``.astype(np.uint8)``, ``.to(torch.uint8)``) gives ``round(p * FULL_SCALE)``: the one
    rule every backend stores probabilities by.  Never :data:`NODATA`, even at p = 1."""
    return probabilities * float(FULL_SCALE) + 0.5


def to_probability(stored: np.ndarray, full_scale: int) -> np.ndarray:
    """Stored values (or sums of them) back to probabilities, for a raster whose
    probability 1 is stored as ``full_scale`` (:attr:`ProbabilityInfo.full_scale`)."""
    return np.asarray(stored, np.float64) / full_scale


def full_scale_of(dataset: DatasetReader) -> int:
    """The stored value of probability 1 in ``dataset``, from its band scale: 254 for
    today's rasters (scale 1/254), 255 for older ones (scale 1/255, or none at all)."""
    scale = dataset.scales[0] if dataset.scales else 1.0
    if scale and 0.0 < scale < 1.0 and 1 <= round(1.0 / scale) <= LEGACY_FULL_SCALE:
        return int(round(1.0 / scale))
    return LEGACY_FULL_SCALE


@dataclass(frozen=True)
class ProbabilityInfo:
    """What a probability raster says about itself."""

    classes: tuple[ClassSpec, ...]
    spec_json: str | None
    pixel_space: bool
    source: str | None
    full_scale: int = FULL_SCALE  # the stored value of probability 1 (255 in old rasters)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def band_of(self, name: str) -> int:
        """1-based band index of class ``name``."""
        try:
            return self.class_names.index(name) + 1
        except ValueError:
            raise UserError(f"Unknown class {name!r}; this raster has "
                            f"{', '.join(self.class_names)}.") from None


def probability_profile(spec: ModelSpec, block: int) -> dict[str, Any]:
    """GeoTIFF creation options for a probability raster (CRS/transform/size added later)."""
    return {
        "driver": "GTiff", "dtype": "uint8", "count": len(spec.classes), "tiled": True,
        "nodata": NODATA,  # not an internal mask: QGIS would show it as an extra band
        # deflate level 1: ~7x faster than the default level 6 for ~15 % more bytes, so the
        # single writer keeps up with a GPU (benchmarks/bench_cluster.py measures both)
        "blockxsize": block, "blockysize": block, "compress": "deflate", "zlevel": 1,
        "predictor": 2,
        "interleave": "pixel", "BIGTIFF": "IF_SAFER",
    }


def tag_probability_raster(dst: DatasetWriter, spec: ModelSpec, source: str | None,
                           pixel_space: bool, device: str | None = None,
                           model_sha256: str | None = None) -> None:
    """Write class names, colours, thresholds, the spec's essentials, the input's file name,
    the model (name and checkpoint hash) and the device line (device, threads, precision)
    into ``dst``'s metadata.

    Metadata stays small and portable: the spec without its training record (that stays
    in the model file), the input's name without the machine's folders.  Bands get scale
    ``1/FULL_SCALE`` and offset 0, so GIS tools that honour them show probabilities 0-1.
    """
    classes = [{"name": c.name, "color": list(c.color), "threshold": c.threshold,
                "role": c.kind} for c in spec.classes]
    essentials = json.loads(spec.to_json())
    essentials.pop("training", None)
    tags = {KIND_TAG: KIND_VALUE, CLASSES_TAG: json.dumps(classes),
            SPEC_TAG: json.dumps(essentials, sort_keys=True)}
    if source:
        tags[SOURCE_TAG] = source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    dst.scales = tuple(1 / FULL_SCALE for _ in spec.classes)
    dst.offsets = tuple(0.0 for _ in spec.classes)
    if device:
        tags[DEVICE_TAG] = device
    if model_sha256:
        tags[MODEL_TAG] = f"{spec.name or 'model'} sha256:{model_sha256}"
    if pixel_space:
        tags[PIXEL_SPACE_TAG] = "yes: the input had no CRS; coordinates are pixels"
    dst.update_tags(**tags)
    for band, cls in enumerate(spec.classes, start=1):
        dst.set_band_description(band, cls.name)


def read_probability_info(dataset: DatasetReader) -> ProbabilityInfo:
    """Check that ``dataset`` is a probability raster from this tool and read its classes."""
    tags = dataset.tags()
    name = Path(dataset.name).name
    if CLASSES_TAG not in tags:
        raise UserError(
            f"{name} is not a probability raster from unet-gis (no {CLASSES_TAG} metadata). "
            "Run `unet-gis predict` on your image first and use its *_probabilities.tif.")
    try:
        raw = json.loads(tags[CLASSES_TAG])
        classes = tuple(ClassSpec(c["name"], tuple(c["color"]), float(c["threshold"]),
                                  str(c.get("role", ""))) for c in raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{name} has damaged class metadata ({exc}).") from exc
    if len(classes) != dataset.count or any(dt != "uint8" for dt in dataset.dtypes):
        raise UserError(f"{name} should have one uint8 band per class "
                        f"({len(classes)}), found {dataset.count} {dataset.dtypes[0]} bands.")
    return ProbabilityInfo(classes, tags.get(SPEC_TAG), PIXEL_SPACE_TAG in tags,
                           tags.get(SOURCE_TAG), full_scale_of(dataset))


def open_probability_raster(path: str | Path) -> tuple[DatasetReader, ProbabilityInfo]:
    """Open ``path`` and read its :class:`ProbabilityInfo`; the caller closes the dataset."""
    try:
        dataset = rasterio.open(path)
    except rasterio.RasterioIOError as exc:
        raise UserError(f"Cannot open {path} as a raster ({exc}).") from exc
    try:
        return dataset, read_probability_info(dataset)
    except UserError:
        dataset.close()
        raise


def threshold_to_byte(threshold: float, full_scale: int = FULL_SCALE) -> int:
    """The smallest stored value that counts as "at or above" ``threshold``: the one rule
    the app's overlay, the vectorizer, the mask writer and ``evaluate`` all use.
    ``full_scale`` is the raster's (:attr:`ProbabilityInfo.full_scale`; old rasters 255).

    A stored 0 is never "above" a threshold, not even a threshold of 0, so that a class
    mask at 0 is "any probability at all" and not the whole raster.  Stored
    :data:`NODATA` is above every threshold of today's rasters: callers drop it with
    ``read_masks`` (as they must for old rasters' masks).
    """
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"Thresholds are probabilities between 0 and 1, got {threshold}.")
    return max(1, int(round(threshold * full_scale)))
