"""The probability raster: the canonical output of a run, and the contract between steps.

A probability raster is a tiled GeoTIFF with one ``uint8`` band per class holding
``round(probability * 255)``.  Band descriptions are the class names; the dataset tags
carry the classes (name, colour, default threshold) and the full model spec as JSON.
Pixels that were not predicted (input nodata, outside the area of interest) are marked in
the dataset's internal mask band (``read_masks() == 0``), so every value 0-255 remains a
valid probability.  Masks and vectors are derived from it; the app re-thresholds it live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from rasterio.io import DatasetReader, DatasetWriter

from unet_gis.errors import UserError
from unet_gis.model.spec import ClassSpec, ModelSpec

CLASSES_TAG = "UNET_GIS_CLASSES"
SPEC_TAG = "UNET_GIS_SPEC"
KIND_TAG = "UNET_GIS_KIND"
KIND_VALUE = "probability"
PIXEL_SPACE_TAG = "UNET_GIS_PIXEL_SPACE"
SOURCE_TAG = "UNET_GIS_SOURCE"
DEVICE_TAG = "UNET_GIS_DEVICE"  # where and in which precision the model ran
MODEL_TAG = "UNET_GIS_MODEL"  # the model's name and the SHA-256 of its checkpoint file


@dataclass(frozen=True)
class ProbabilityInfo:
    """What a probability raster says about itself."""

    classes: tuple[ClassSpec, ...]
    spec_json: str | None
    pixel_space: bool
    source: str | None

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
    1/255 and offset 0, so GIS tools that honour them show probabilities 0-1.
    """
    classes = [{"name": c.name, "color": list(c.color), "threshold": c.threshold,
                "role": c.kind} for c in spec.classes]
    essentials = json.loads(spec.to_json())
    essentials.pop("training", None)
    tags = {KIND_TAG: KIND_VALUE, CLASSES_TAG: json.dumps(classes),
            SPEC_TAG: json.dumps(essentials, sort_keys=True)}
    if source:
        tags[SOURCE_TAG] = source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    dst.scales = tuple(1 / 255 for _ in spec.classes)
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
                           tags.get(SOURCE_TAG))


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


def threshold_to_byte(threshold: float) -> int:
    """The smallest stored value that counts as "at or above" ``threshold``: the one rule
    the app's overlay, the vectorizer, the mask writer and ``evaluate`` all use.

    A stored 0 is never "above" a threshold, not even a threshold of 0, so that a class
    mask at 0 is "any probability at all" and not the whole raster.
    """
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"Thresholds are probabilities between 0 and 1, got {threshold}.")
    return max(1, int(round(threshold * 255)))
