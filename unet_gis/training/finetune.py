"""Fine-tune a model on a user's own labels, and show what it gained.

The loop behind the app's "Fine-tune on my labels…" and ``unet-gis finetune``:

1. each image is read at the model's GSD; its labels (:mod:`unet_gis.training.labels`)
   become per-class planes: inside checked areas unlabelled pixels are background (0),
   labelled ones positive (1); outside checked areas only labelled pixels count, the rest
   is unknown (255) and the loss ignores it;
2. about :attr:`FinetuneSettings.holdout` of the checked area (whole areas, or the right
   end of the only one) is kept aside and never trained on;
3. the model is scored on the kept-aside part (relaxed F1 for network classes such as
   roads, object F1 for object classes such as vehicles), trained from its own weights for
   a time budget (bf16 where the CPU has native units), and scored again;
4. the new model is saved with the whole record (source model, labels and their checksums,
   steps, time, before/after scores) in its metadata.  It is written only when training
   ends normally: a cancel leaves no model behind.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from unet_gis.errors import UserError
from unet_gis.inference.progress import CancelToken
from unet_gis.model.checkpoint import LoadedModel, file_sha256, load_checkpoint, save_checkpoint
from unet_gis.model.spec import ModelSpec
from unet_gis.training.evaluate import ClassResult, score_class
from unet_gis.training.labels import LabelSet, burnable, load_labels
from unet_gis.training.rasterize import IGNORE, POSITIVE, burn_geometries
from unet_gis.training.sources import Scene, read_geo_image
from unet_gis.training.train import RECORD_KEY, StepCallback, train_model

LogFn = Callable[[str], None]
#: pixels of context around the kept-aside areas when scoring them
SCORE_CONTEXT_PX = 64


@dataclass(frozen=True)
class FinetuneSettings:
    minutes: float = 3.0
    device: str = "auto"
    precision: str = "auto"
    holdout: float = 0.2
    lr: float = 1e-4  # 5e-4 moved a good model off its features (bench_finetune)
    batch_size: int = 8
    crop: int = 256
    seed: int = 0
    tolerance_m: float = 2.0
    max_steps: int | None = None  # also stop after this many steps (tests, benchmarks)


@dataclass
class FinetuneResult:
    output: Path
    steps: int
    seconds: float
    before: dict[str, float] = field(default_factory=dict)  # class -> F1 on kept-aside
    after: dict[str, float] = field(default_factory=dict)

    relaxed_classes: tuple[str, ...] = ()
    thresholds: dict[str, float] = field(default_factory=dict)  # the tuned model's

    def table(self) -> str:
        """Before/after scores on the kept-aside areas and the tuned model's threshold
        (chosen on the training part), one line per class."""
        rows = [f"{'class':<12} {'metric':<12} {'before':>7} {'after':>7} {'threshold':>9}"]
        for name in self.before:
            metric = "relaxed F1" if name in self.relaxed_classes else "object F1"
            rows.append(f"{name:<12} {metric:<12} {self.before[name]:7.3f} "
                        f"{self.after.get(name, math.nan):7.3f} "
                        f"{self.thresholds.get(name, math.nan):9.2f}")
        return "\n".join(rows)


@dataclass(frozen=True)
class LabelledImage:
    train: Scene
    holdout: Scene  # labels only inside the kept-aside areas
    window: tuple[int, int, int, int]  # row0, row1, col0, col1 of the kept-aside part
    where: str = ""  # the kept-aside part in words (image, bounds in its CRS)


def split_checked(checked: Sequence[Any], share: float) -> tuple[list[Any], list[Any]]:
    """(train, kept-aside) checked areas: whole areas, smallest-first until ``share`` of the
    total area; a single area gives up its east end."""
    import shapely

    if not checked:
        return [], []
    total = sum(g.area for g in checked)
    if len(checked) == 1:
        minx, miny, maxx, maxy = checked[0].bounds
        cut = maxx - (maxx - minx) * share
        area = checked[0]
        return ([area.intersection(shapely.box(minx, miny, cut, maxy))],
                [area.intersection(shapely.box(cut, miny, maxx, maxy))])
    order = sorted(range(len(checked)), key=lambda i: (checked[i].area, checked[i].bounds))
    kept: list[int] = []
    for index in order:
        if sum(checked[i].area for i in kept) >= share * total or len(kept) == len(checked) - 1:
            break
        kept.append(index)
    return ([g for i, g in enumerate(checked) if i not in kept], [checked[i] for i in kept])


def labelled_image(image: Path, labels: LabelSet, spec: ModelSpec,
                   share: float) -> LabelledImage:
    """The training scene and the kept-aside scene of one labelled image."""
    import shapely

    geo = read_geo_image(image, spec)
    grid = geo.grid
    height, width = geo.rgb.shape[:2]
    bounds = shapely.box(*_grid_bounds(grid.transform, width, height))
    areas = burnable(labels, crs=grid.crs)
    if not labels.checked and not any(areas.values()):
        raise UserError(f"No labels for {image.name}: draw some roads or vehicles and at least "
                        "one checked area.")
    if not labels.checked:
        raise UserError(f"No checked areas for {image.name}: draw at least one rectangle "
                        "inside which everything that is not labelled is background.")
    everything = [*labels.checked, *(g for gs in areas.values() for g in gs)]
    if not any(g.intersects(bounds) for g in everything):
        raise UserError(f"The labels lie outside {image.name} (check that they are in its "
                        f"CRS, {grid.crs}).")
    checked = [g.intersection(bounds) for g in labels.checked if g.intersects(bounds)]
    checked = [g for g in checked if g.area > 0]
    if not checked:
        raise UserError(f"The checked areas of {image.name} all lie outside it: draw at least "
                        "one checked rectangle over the image.")
    train_checked, kept_checked = split_checked(checked, share)
    burn = _burner(grid.transform, height, width)
    planes = np.full((len(spec.classes), height, width), IGNORE, np.uint8)
    planes[:, burn(checked) > 0] = 0
    for index, name in enumerate(spec.class_names):
        planes[index][burn(areas.get(name, [])) > 0] = POSITIVE
    planes[:, ~geo.valid] = IGNORE
    kept = burn(kept_checked) > 0
    train_labels = planes.copy()
    train_labels[:, kept] = IGNORE  # never trained on, not even as "unknown nearby"
    holdout_labels = np.full_like(planes, IGNORE)
    holdout_labels[:, kept] = planes[:, kept]
    rows, cols = np.nonzero(kept)
    window = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1) \
        if rows.size else (0, 0, 0, 0)
    name = image.stem
    minx, miny, maxx, maxy = shapely.union_all(kept_checked).bounds
    where = f"{image.name}, x {minx:.10g} to {maxx:.10g}, y {miny:.10g} to {maxy:.10g}"
    return LabelledImage(Scene(name, "labels", "train", geo.rgb, train_labels, spec.gsd_m),
                         Scene(name, "labels", "val", geo.rgb, holdout_labels, spec.gsd_m),
                         window, where)


def _grid_bounds(transform: Any, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0 = transform * (0, 0)
    x1, y1 = transform * (width, height)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _burner(transform: Any, height: int, width: int) -> Callable[[Sequence[Any]], np.ndarray]:
    def burn(shapes: Sequence[Any]) -> np.ndarray:
        return burn_geometries(list(shapes), height, width, transform)
    return burn


def check_labelled(images: Sequence[LabelledImage], class_names: Sequence[str]) -> list[str]:
    """The classes labelled both in the training part and in the kept-aside part (whose
    scores are measured); a one-line :class:`UserError` says which part lacks what."""
    def has(part: str, index: int) -> bool:
        return any((getattr(im, part).labels[index] == POSITIVE).any() for im in images)

    where = "; ".join(im.where for im in images)
    labelled: list[str] = []
    for index, name in enumerate(class_names):
        in_train, in_holdout = has("train", index), has("holdout", index)
        if in_train and not in_holdout:
            raise UserError(f"The kept-aside checked area ({where}) has no {name} labels, so "
                            f"the {name} score cannot be measured: label the {name} inside "
                            "it, or draw checked areas over more of your labels.")
        if in_holdout and not in_train:
            raise UserError(f"Every {name} label lies in the kept-aside checked area "
                            f"({where}): label some {name} in the other checked areas too.")
        if in_train:
            labelled.append(name)
    if not labelled:
        raise UserError(f"No {' or '.join(class_names)} labels over the checked areas: the "
                        "model would learn nothing but background.")
    return labelled


def calibrated(model: LoadedModel, images: Sequence[LabelledImage],
               settings: FinetuneSettings, classes: Sequence[str]) -> LoadedModel:
    """``model`` with the threshold of every class it was fine-tuned on chosen on the
    *training* part of the user's checked areas: the step of the evaluation sweep
    (:data:`~unet_gis.training.thresholds.SWEEP_THRESHOLDS`) with the best headline score
    there, ties going to the step nearest 0.5.

    The source model's thresholds belong to its own calibration (the bundled model's road
    0.9 trims a band it paints beyond the carriageway); training on the user's labels moves
    it, by how much depends on the steps and the labels.  A fixed 0.5 was wrong both ways:
    on the panchromatic Vegas scene a barely moved model (lr 3e-5) fell from 0.630 to 0.548
    at 0.5, while on a KIT frame 0.9 cut the roads a tuned model found (0.835 at 0.5, 0.711
    at 0.9).  The kept-aside areas only score; they never choose.
    """
    from unet_gis.training.thresholds import SWEEP_THRESHOLDS, headline

    parts = [(im.train, _labelled_window(im.train.labels)) for im in images]
    sweep = _scores(model, parts, settings, classes, SWEEP_THRESHOLDS)
    chosen: dict[str, float] = {}
    for name, per_threshold in sweep.items():
        scored = {t: headline(r) for t, r in per_threshold.items() if t is not None}
        scored = {t: v for t, v in scored.items() if not math.isnan(v)}
        if scored:
            chosen[name] = max(scored, key=lambda t: (scored[t], -abs(t - 0.5)))
    spec = model.spec
    classes_out = tuple(replace(c, threshold=chosen[c.name]) if c.name in chosen else c
                        for c in spec.classes)
    return LoadedModel(model.network, replace(spec, classes=classes_out))


def _labelled_window(labels: np.ndarray) -> tuple[int, int, int, int]:
    """Row/column bounds of the pixels any class labels (0 or 1, not unknown)."""
    rows, cols = np.nonzero((labels != IGNORE).any(axis=0))
    if not rows.size:
        return 0, 0, 0, 0
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def score_holdout(model: LoadedModel, images: Sequence[LabelledImage],
                  settings: FinetuneSettings,
                  classes: Sequence[str] | None = None) -> dict[str, float]:
    """Per-class F1 on the kept-aside areas at the model's thresholds: relaxed for
    networks, objects for objects (only ``classes``, default all)."""
    from unet_gis.training.thresholds import headline

    scores = _scores(model, [(im.holdout, im.window) for im in images], settings, classes)
    return {name: headline(per[None]) for name, per in scores.items()}


def _scores(model: LoadedModel, parts: Sequence[tuple[Scene, tuple[int, int, int, int]]],
            settings: FinetuneSettings, classes: Sequence[str] | None,
            thresholds: Sequence[float] = ()) -> dict[str, dict[float | None, ClassResult]]:
    """class -> threshold -> scores summed over ``parts`` (a scene and the window of it to
    predict, with :data:`SCORE_CONTEXT_PX` of context); ``None`` is the class's own
    threshold, used when no ``thresholds`` are given."""
    steps: Sequence[float | None] = tuple(thresholds) or (None,)
    totals: dict[str, dict[float | None, ClassResult]] = {}
    with tempfile.TemporaryDirectory(prefix="unet-gis-score-") as tmp:
        for number, (scene, window) in enumerate(parts):
            r0, r1, c0, c1 = window
            if r1 <= r0 or c1 <= c0:
                continue
            m = SCORE_CONTEXT_PX
            r0, c0 = max(0, r0 - m), max(0, c0 - m)
            r1, c1 = min(scene.image.shape[0], r1 + m), min(scene.image.shape[1], c1 + m)
            prob = _predict_crop(model, scene.image[r0:r1, c0:c1], model.spec.gsd_m,
                                 Path(tmp) / f"crop{number}.tif", settings)
            for index, cls in enumerate(model.spec.classes):
                if classes is not None and cls.name not in classes:
                    continue
                for step in steps:
                    result = score_class(prob[index], scene.labels[index, r0:r1, c0:c1],
                                         cls.threshold if step is None else step,
                                         model.spec.gsd_m, relaxed=cls.kind == "network",
                                         objects=cls.kind == "objects",
                                         tolerance_m=settings.tolerance_m)
                    if result is not None:
                        totals.setdefault(cls.name, {}).setdefault(
                            step, ClassResult()).add(result)
    return totals


def _predict_crop(model: LoadedModel, rgb: np.ndarray, gsd_m: float, path: Path,
                  settings: FinetuneSettings) -> np.ndarray:
    """The engine's probabilities (C, H, W) of an RGB crop already at the model's GSD."""
    import rasterio
    from rasterio.transform import from_origin

    from unet_gis.inference.engine import EngineOptions, predict
    from unet_gis.training.evaluate import SYNTHETIC_CRS

    height, width = rgb.shape[:2]
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3,
                       dtype="uint8", crs=SYNTHETIC_CRS,
                       transform=from_origin(0.0, height * gsd_m, gsd_m, gsd_m)) as dst:
        dst.write(rgb.transpose(2, 0, 1))
    out = path.with_name(path.stem + "_p.tif")
    predict(path, out, model, EngineOptions(device=settings.device,
                                            precision=settings.precision, overviews=False,
                                            overwrite=True))
    with rasterio.open(out) as src:
        return np.asarray(src.read())


def finetune(pairs: Sequence[tuple[Path, Path]], init: Path, output: Path,
             settings: FinetuneSettings = FinetuneSettings(), *,
             cancel: CancelToken | None = None, on_step: StepCallback | None = None,
             log: LogFn | None = None) -> FinetuneResult:
    """Fine-tune ``init`` on (image, labels GeoPackage) ``pairs``; write ``output``."""
    say = log or (lambda _m: None)
    if output.resolve() == init.resolve():
        raise UserError(f"-o {output.name} would overwrite the model it starts from.")
    model = load_checkpoint(init)
    spec = model.spec
    images = [labelled_image(image, load_labels(labels, spec.class_names), spec,
                             settings.holdout) for image, labels in pairs]
    labelled = check_labelled(images, spec.class_names)
    before = score_holdout(model, images, settings, labelled)
    say("before: " + ", ".join(f"{k} {v:.3f}" for k, v in before.items()))
    from unet_gis.training.config import TrainSettings

    train_settings = TrainSettings(
        epochs=math.ceil(settings.max_steps / 20) if settings.max_steps else 10_000,
        steps_per_epoch=20, batch_size=settings.batch_size, crop=settings.crop,
        lr=settings.lr, warmup_fraction=0.05, seed=settings.seed, threads=0,
        class_balance={n: 0.6 / max(1, len(labelled)) for n in labelled},
        scale_jitter=0.15, color_jitter=0.15, grey_probability=0.0, val_chips=0)
    record = {"kind": "finetune", "source_model": init.name,
              "source_model_sha256": file_sha256(init),
              "labels": [{"image": image.name, "labels": labels.name,
                          "sha256": file_sha256(labels)} for image, labels in pairs]}
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unet-gis-finetune-", dir=output.parent) as tmp:
        trained = Path(tmp) / output.name
        result = train_model([im.train for im in images], [], spec, train_settings, trained,
                             device=settings.device, init=init, record=record, log=say,
                             keep_epochs=False, time_budget_s=settings.minutes * 60,
                             precision=settings.precision, cancel=cancel, on_step=on_step)
        tuned = calibrated(load_checkpoint(trained), images, settings, labelled)
        after = score_holdout(tuned, images, settings, labelled)
        say("after: " + ", ".join(f"{k} {v:.3f}" for k, v in after.items()))
        full: dict[str, Any] = dict(tuned.spec.training or {})
        full.update(before=before, after=after)
        final_spec = replace(tuned.spec, training=full,
                             name=f"{spec.name or 'model'}_finetuned")
        save_checkpoint(output, tuned.network, final_spec, {RECORD_KEY: json.dumps(full)})
    relaxed = tuple(c.name for c in spec.classes if c.kind == "network")
    thresholds = {c.name: c.threshold for c in tuned.spec.classes if c.name in labelled}
    return FinetuneResult(output, result.steps, result.seconds, before, after,
                          relaxed_classes=relaxed, thresholds=thresholds)
