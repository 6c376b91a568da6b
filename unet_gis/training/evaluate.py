"""Evaluate a model the way users run it: the engine writes a probability raster for each
validation image, which is then compared with the labels at the model's GSD.

Plain (non-georeferenced) images are first written as temporary GeoTIFFs with a synthetic
metric grid at their GSD (Web Mercator at the equator, where its metres are true metres),
so the engine resamples them to the model's GSD exactly as it would a georeferenced image.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.probability import threshold_to_byte
from unet_gis.training.config import SourceConfig, TrainConfig
from unet_gis.training.metrics import (
    ObjectScores,
    PixelScores,
    RelaxedScores,
    object_scores,
    pixel_scores,
    relaxed_scores,
)
from unet_gis.training.rasterize import IGNORE, POSITIVE
from unet_gis.training.sources import build_scene_arrays, image_label, scene_files
from unet_gis.training.thresholds import ThresholdSweep

SYNTHETIC_CRS = "EPSG:3857"
logger = logging.getLogger(__name__)


@dataclass
class ClassResult:
    pixel: PixelScores = field(default_factory=lambda: PixelScores(0, 0, 0))
    relaxed: RelaxedScores | None = None
    objects: ObjectScores | None = None

    def add(self, other: ClassResult) -> None:
        self.pixel = self.pixel + other.pixel
        if other.relaxed is not None:
            self.relaxed = other.relaxed if self.relaxed is None else self.relaxed + other.relaxed
        if other.objects is not None:
            self.objects = other.objects if self.objects is None else self.objects + other.objects

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pixel": self.pixel.as_dict()}
        if self.relaxed is not None:
            out["relaxed"] = self.relaxed.as_dict()
        if self.objects is not None:
            out["objects"] = self.objects.as_dict()
        return out


@dataclass(frozen=True)
class EvalSettings:
    tolerance_m: float = 2.0
    relaxed_classes: tuple[str, ...] = ("road",)
    object_classes: tuple[str, ...] = ("vehicle",)
    device: str = "auto"
    precision: str = "auto"
    tta: bool = False
    backend: str = "torch"
    tile: int | None = None
    keep_probabilities: Path | None = None
    sweep: tuple[float, ...] = ()  # also score each class at these thresholds


@dataclass
class EvalReport:
    model: str
    gsd_m: float
    tolerance_m: float
    classes: dict[str, ClassResult]
    by_source: dict[str, dict[str, ClassResult]]
    scenes: list[dict[str, Any]]
    seconds: float = 0.0
    megapixels: float = 0.0
    sweep: ThresholdSweep | None = None

    def as_dict(self) -> dict[str, Any]:
        extra = {"threshold_sweep": self.sweep.as_dict()} if self.sweep else {}
        return extra | {
            "model": self.model, "gsd_m": self.gsd_m, "tolerance_m": self.tolerance_m,
            "seconds": round(self.seconds, 1), "megapixels": round(self.megapixels, 2),
            "classes": {k: v.as_dict() for k, v in self.classes.items()},
            "by_source": {s: {k: v.as_dict() for k, v in r.items()}
                          for s, r in self.by_source.items()},
            "scenes": self.scenes,
        }


def score_class(prob: np.ndarray, labels: np.ndarray, threshold: float, gsd_m: float,
                relaxed: bool, objects: bool, tolerance_m: float,
                valid: np.ndarray | None = None) -> ClassResult | None:
    """Scores of one class plane (``prob`` stored probabilities as ``predict`` writes them,
    0-254; ``labels`` 0/1/255); None if unlabelled."""
    ok = labels != IGNORE
    if valid is not None:
        ok &= valid
    if not ok.any():
        return None
    pred = prob >= threshold_to_byte(threshold)
    truth = labels == POSITIVE
    result = ClassResult(pixel_scores(pred, truth, ok))
    if relaxed:
        result.relaxed = relaxed_scores(pred, truth, tolerance_m, gsd_m, ok)
    if objects:
        result.objects = object_scores(pred, truth, gsd_m, ok)
    return result


def write_synthetic_geotiff(image: Path, gsd_m: float, out: Path) -> Path:
    """Copy a plain image into a GeoTIFF on a synthetic metric grid at ``gsd_m``."""
    import rasterio
    from PIL import Image
    from rasterio.transform import from_origin

    with Image.open(image) as handle:
        rgb = np.asarray(handle.convert("RGB"))
    profile = {"driver": "GTiff", "width": rgb.shape[1], "height": rgb.shape[0], "count": 3,
               "dtype": "uint8", "crs": SYNTHETIC_CRS,
               "transform": from_origin(0.0, rgb.shape[0] * gsd_m, gsd_m, gsd_m),
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(rgb.transpose(2, 0, 1))
        dst.colorinterp = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green,
                           rasterio.enums.ColorInterp.blue]
    return out


def predict_probabilities(model: LoadedModel, image: Path, workdir: Path,
                          settings: EvalSettings) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Run the engine; return (probabilities (C,H,W) uint8, valid mask, seconds, pixels)."""
    import rasterio

    from unet_gis.inference.engine import EngineOptions, predict

    output = workdir / f"{image.stem}_probabilities.tif"
    options = EngineOptions(device=settings.device, precision=settings.precision,
                            tta=settings.tta, backend=settings.backend,
                            tile=settings.tile, overwrite=True,
                            overviews=False)
    result = predict(image, output, model, options)
    with rasterio.open(output) as src:
        prob = src.read()
        valid = src.read_masks(1) > 0
    if settings.keep_probabilities is not None:
        settings.keep_probabilities.mkdir(parents=True, exist_ok=True)
        shutil.move(output, settings.keep_probabilities / output.name)  # maybe another disk
    return prob, valid, result.seconds, result.pixels


def _match(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Labels resized (nearest) to the probability raster's grid when sizes differ by
    rounding."""
    if labels.shape[1:] == shape:
        return labels
    from PIL import Image

    planes = [np.asarray(Image.fromarray(p).resize((shape[1], shape[0]),
                                                   Image.Resampling.NEAREST)) for p in labels]
    return np.stack(planes)


def evaluate_items(model: LoadedModel, items: list[tuple[str, SourceConfig, Path]],
                   settings: EvalSettings, log: Callable[[str], None] | None = None,
                   model_name: str = "") -> EvalReport:
    """Evaluate ``model`` on (source name, source, image) items."""
    import time

    spec = model.spec
    names = spec.class_names
    totals = {n: ClassResult() for n in names}
    by_source: dict[str, dict[str, ClassResult]] = {}
    scenes: list[dict[str, Any]] = []
    seconds, pixels = 0.0, 0
    sweep = ThresholdSweep(settings.sweep) if settings.sweep else None
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unet-gis-eval-") as tmp:
        workdir = Path(tmp)
        for source_name, source, image in items:
            engine_input = image
            if source.kind != "vector":
                assert source.gsd_m is not None
                engine_input = write_synthetic_geotiff(image, source.gsd_m,
                                                       workdir / f"{image.stem}.tif")
            prob, valid, secs, px = predict_probabilities(model, engine_input, workdir, settings)
            seconds += secs
            pixels += px
            _, labels = build_scene_arrays(source, image, spec)
            labels = _match(labels, prob.shape[1:])
            for name in source.classes:
                if name in names and not (labels[names.index(name)] == POSITIVE).any():
                    warning = (f"{image.name}: the labels mark no {name} inside the image "
                               "(empty labels, or labels outside its extent or in another "
                               "CRS?); its scores say nothing.")
                    if log:
                        log(f"warning: {warning}")
                    else:
                        logger.warning(warning)
            entry: dict[str, Any] = {"source": source_name,
                                     "image": image_label(source, image) + image.suffix,
                                     "size": list(prob.shape[1:]), "classes": {}}
            for index, name in enumerate(names):
                result = score_class(prob[index], labels[index], spec.classes[index].threshold,
                                     spec.gsd_m, name in settings.relaxed_classes,
                                     name in settings.object_classes, settings.tolerance_m,
                                     valid)
                if result is None:
                    continue
                totals[name].add(result)
                by_source.setdefault(source_name, {}).setdefault(name, ClassResult()).add(result)
                entry["classes"][name] = result.as_dict()
                for threshold in settings.sweep:
                    swept = score_class(prob[index], labels[index], threshold, spec.gsd_m,
                                        name in settings.relaxed_classes,
                                        name in settings.object_classes,
                                        settings.tolerance_m, valid)
                    if swept is not None and sweep is not None:
                        sweep.add(name, source_name, threshold, swept)
            scenes.append(entry)
            if log:
                log(f"{source_name}/{entry['image']}: " + _short(entry["classes"]))
    labelled = {n: r for n, r in totals.items() if r.pixel.tp + r.pixel.fn + r.pixel.fp > 0
                or r.relaxed is not None}
    report = EvalReport(model_name, spec.gsd_m, settings.tolerance_m, labelled, by_source,
                        scenes, time.perf_counter() - began, pixels / 1e6, sweep)
    report.seconds = max(report.seconds, seconds)
    return report


def _short(classes: dict[str, Any]) -> str:
    parts = []
    for name, d in classes.items():
        text = f"{name} IoU {d['pixel']['iou']:.3f}"
        if "relaxed" in d:
            text += f" relaxedF1 {d['relaxed']['f1']:.3f}"
        if "objects" in d:
            text += f" objF1 {d['objects']['f1']:.3f}"
        parts.append(text)
    return "; ".join(parts)


def config_items(config: TrainConfig, split: str = "val",
                 sources: tuple[str, ...] = ()) -> list[tuple[str, SourceConfig, Path]]:
    items = []
    for source in config.sources:
        if sources and source.name not in sources:
            continue
        for image, _deps in scene_files(source):
            if source.split_of(image) == split:
                items.append((source.name, source, image))
    return items


def format_table(report: EvalReport) -> str:
    """A per-class text table (and one line per source)."""
    lines = [f"{'class':<10} {'IoU':>6} {'prec':>6} {'recall':>6} {'F1':>6}   extra"]

    def row(label: str, name: str, r: ClassResult) -> str:
        p = r.pixel
        extra = ""
        if r.relaxed is not None:
            extra += (f"relaxed@{report.tolerance_m:g}m P {_f(r.relaxed.precision)} "
                      f"R {_f(r.relaxed.recall)} F1 {_f(r.relaxed.f1)}  ")
        if r.objects is not None:
            o = r.objects
            extra += (f"objects P {_f(o.precision)} R {_f(o.recall)} F1 {_f(o.f1)} "
                      f"count {o.predicted}/{o.true} ({o.count_error:+.1%})")
        return (f"{label:<10} {_f(p.iou)} {_f(p.precision)} {_f(p.recall)} {_f(p.f1)}   "
                f"{extra}").rstrip()

    for name, result in report.classes.items():
        lines.append(row(name, name, result))
    if len(report.by_source) > 1:
        lines.append("by source:")
        for source, results in report.by_source.items():
            for name, result in results.items():
                lines.append("  " + source + ": " + row(name, name, result).lstrip())
    return "\n".join(lines)


def _f(value: float) -> str:
    return "   nan" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:6.3f}"
