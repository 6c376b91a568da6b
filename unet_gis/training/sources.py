"""Load every source of a config as scenes at the model's GSD, cached as uint8 arrays.

A :class:`Scene` holds an RGB image already mapped to ``[0, 255]`` exactly as the engine
maps it to ``[0, 1]`` (uint8 as is; other dtypes by the model spec's percentile stretch),
and one label plane per model class (0 background, 1 class, 255 ignore).  Classes a source
does not label are 255 everywhere, so they contribute no loss.  The cache lives in
``training.cache_dir`` as ``.npy`` files opened memory-mapped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unet_gis.errors import UserError
from unet_gis.model.spec import ModelSpec
from unet_gis.raster.grid import Grid
from unet_gis.training.config import SourceConfig, TrainConfig, file_checksum
from unet_gis.training.rasterize import (
    IGNORE,
    POSITIVE,
    burn_boxes,
    burn_geometries,
    read_label_geometries,
    read_yolo,
    yolo_to_pixel_boxes,
)

log = logging.getLogger(__name__)
CACHE_VERSION = "5"


@dataclass
class Scene:
    """One image at the model's GSD with its per-class labels."""

    name: str
    source: str
    split: str
    image: np.ndarray   # (H, W, 3) uint8
    labels: np.ndarray  # (C, H, W) uint8: 0, 1 or 255
    gsd_m: float
    weight: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    def labelled(self, index: int) -> bool:
        return bool((self.labels[index] != IGNORE).any())


def scene_files(source: SourceConfig) -> list[tuple[Path, list[Path]]]:
    """Each image with the label files it depends on."""
    out = []
    for image in source.images:
        if source.kind == "vector":
            deps = list(source.labels.values())
        elif source.kind == "mask":
            assert source.label_dir is not None
            deps = [_find_mask(source.label_dir, image)]
        else:
            assert source.label_dir is not None
            deps = [_yolo_file(source, image)]
        deps += [m for m in (_extra_mask(folder, image) for folder in source.extra_masks.values())
                 if m is not None]
        out.append((image, deps))
    return out


def _yolo_file(source: SourceConfig, image: Path) -> Path:
    assert source.label_dir is not None
    folder = source.label_dir
    return (folder if folder.is_absolute() else image.parent / folder) / f"{image.stem}.txt"


def _extra_mask(folder: Path, image: Path) -> Path | None:
    for suffix in (".png", ".tif", ".tiff"):
        candidate = folder / f"{image.stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _find_mask(folder: Path, image: Path) -> Path:
    if not folder.is_absolute():
        folder = image.parent / folder
    for suffix in (image.suffix, ".png", ".tif", ".tiff"):
        candidate = folder / f"{image.stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise UserError(f"No mask for {image.name} in {folder}.")


def load_scenes(config: TrainConfig, spec: ModelSpec, splits: tuple[str, ...] = ("train", "val"),
                log_fn: Callable[[str], None] | None = None) -> list[Scene]:
    """Every scene of the wanted splits, from the cache or built (and cached) now."""
    cache = Path(config.training.cache_dir)
    if not cache.is_absolute() and config.path is not None:
        cache = Path.cwd() / cache
    cache.mkdir(parents=True, exist_ok=True)
    scenes = []
    for source in config.sources:
        for image, deps in scene_files(source):
            split = source.split_of(image)
            if split not in splits:
                continue
            scenes.append(_cached_scene(source, image, deps, split, spec, cache, log_fn))
    return scenes


def data_checksums(config: TrainConfig) -> dict[str, str]:
    """sha256 (first 16 hex digits) of every image and label file the config uses."""
    sums: dict[str, str] = {}
    for source in config.sources:
        for image, deps in scene_files(source):
            for path in (image, *deps):
                if path.is_file():
                    key = str(path.relative_to(config.data_root)) if path.is_relative_to(
                        config.data_root) else str(path)
                    sums[key] = file_checksum(path)[:16]
    return sums


def _cached_scene(source: SourceConfig, image: Path, deps: list[Path], split: str,
                  spec: ModelSpec, cache: Path, log_fn: Callable[[str], None] | None) -> Scene:
    key_parts = [CACHE_VERSION, repr(source.__dict__ | {"images": None}), str(image),
                 str(spec.gsd_m), repr(spec.class_names)]
    if spec.scaling.mode != "dtype_range":  # earlier caches (dtype_range) keep their keys
        key_parts.append(spec.scaling.mode)
    for path in (image, *deps):
        stat = path.stat() if path.exists() else None
        key_parts.append(f"{path}:{stat.st_size if stat else 0}:{stat.st_mtime if stat else 0}")
    key = hashlib.sha256("|".join(key_parts).encode()).hexdigest()[:20]
    image_file, label_file = cache / f"{key}.image.npy", cache / f"{key}.labels.npy"
    if not (image_file.is_file() and label_file.is_file()):
        if log_fn:
            log_fn(f"caching {source.name}/{image.name} at {spec.gsd_m} m")
        rgb, labels = build_scene_arrays(source, image, spec)
        np.save(image_file, rgb)
        np.save(label_file, labels)
        (cache / f"{key}.json").write_text(json.dumps({"image": str(image), "source": source.name}))
    rgb = np.load(image_file, mmap_mode="r")
    labels = np.load(label_file, mmap_mode="r")
    return Scene(f"{source.name}/{image_label(source, image)}", source.name, split, rgb, labels,
                 spec.gsd_m, source.weight)


def image_label(source: SourceConfig, image: Path) -> str:
    """The image's name within its source: its stem, or its path below the source's common
    folder where stems repeat (the 9 ``image_part_001..009`` of every Dubai tile)."""
    stems = [p.stem for p in source.images]
    if stems.count(image.stem) <= 1:
        return image.stem
    import os

    common = Path(os.path.commonpath([str(p.parent) for p in source.images]))
    return image.relative_to(common).with_suffix("").as_posix()


def build_scene_arrays(source: SourceConfig, image: Path,
                       spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """The (H, W, 3) uint8 image and (C, H, W) labels of one image at the model GSD."""
    if source.kind == "vector":
        return _vector_scene(source, image, spec)
    return _plain_scene(source, image, spec)


@dataclass(frozen=True)
class GeoImage:
    """An image read at the model's GSD: RGB, validity, and its grid."""

    rgb: np.ndarray  # (H, W, 3) uint8, scaled as the engine scales it
    valid: np.ndarray  # (H, W) bool
    grid: Grid  # the model-GSD grid (same bounds and CRS as the file)
    source_height: int  # rows of the file itself


def read_geo_image(image: Path, spec: ModelSpec, hint: str = "") -> GeoImage:
    """Read a georeferenced image at the model's GSD (bilinear), as training chips see it."""
    from rasterio.enums import Resampling

    from unet_gis.raster.grid import plan_grid
    from unet_gis.raster.io import build_scaler, choose_bands, open_raster

    with open_raster(image) as dataset:
        if dataset.crs is None:
            raise UserError(f"{image.name} has no CRS{hint}.")
        bands = choose_bands(dataset, spec)
        plan = plan_grid(dataset, spec.gsd_m)
        scaler = build_scaler(dataset, bands, spec)
        grid = plan.working
        raw = dataset.read(list(bands.indexes), out_shape=(len(bands.indexes), grid.height,
                                                           grid.width),
                           resampling=Resampling.bilinear)
        valid = dataset.read_masks(1, out_shape=(grid.height, grid.width),
                                   resampling=Resampling.nearest) > 0
    unit = np.clip((raw.astype(np.float32) - scaler.low) / scaler.span, 0, 1)
    rgb = np.ascontiguousarray((unit * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0))
    return GeoImage(rgb, valid, grid, plan.source.height)


def _vector_scene(source: SourceConfig, image: Path,
                  spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    geo = read_geo_image(image, spec, "; use kind = \"mask\" with gsd_m for plain images")
    rgb, valid, grid, crs = geo.rgb, geo.valid, geo.grid, geo.grid.crs
    labels = np.full((len(spec.classes), grid.height, grid.width), IGNORE, np.uint8)
    for index, name in enumerate(spec.class_names):
        if name not in source.classes:
            continue
        if name not in source.labels:
            raise UserError(f"Source {source.name} labels {name} but names no file for it.")
        shapes = read_label_geometries(source.labels[name], None, source.buffer_m.get(name, 0.0),
                                       crs)
        labels[index] = burn_geometries(shapes, grid.height, grid.width, grid.transform)
    ignore_label_edges(source, labels, spec)
    ignore = ~valid
    if source.ignore_rows_from is not None:
        row = int(source.ignore_rows_from * grid.height / geo.source_height)
        ignore[row:] = True
    background_far_away(source, labels, spec)
    labels[:, ignore] = IGNORE
    return rgb, labels


def background_far_away(source: SourceConfig, labels: np.ndarray, spec: ModelSpec) -> None:
    """Apply ``source.background_beyond_m``: an unlabelled class becomes background farther
    than the given distance from every positive pixel of the source's labelled classes."""
    from scipy.ndimage import distance_transform_edt

    names = spec.class_names
    own = [names.index(c) for c in source.classes if c in names]
    for name, metres in source.background_beyond_m.items():
        if name not in names or name in source.classes:
            continue
        near = np.zeros(labels.shape[1:], bool)
        for index in own:
            near |= labels[index] == POSITIVE
        if not near.any():
            labels[names.index(name)] = 0
            continue
        # measured at a quarter of the resolution: plenty for a margin of metres
        step = 4
        coarse = near[::step, ::step]
        distance = distance_transform_edt(~coarse, sampling=spec.gsd_m * step)
        far = np.repeat(np.repeat(distance > metres, step, 0), step, 1)
        far = far[: labels.shape[1], : labels.shape[2]]
        labels[names.index(name)] = np.where(far, 0, IGNORE).astype(np.uint8)


def target_size(width: int, height: int, gsd_m: float, model_gsd_m: float) -> tuple[int, int]:
    return max(1, round(width * gsd_m / model_gsd_m)), max(1, round(height * gsd_m / model_gsd_m))


def _resize_fraction(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a boolean mask to ``size`` (w, h); returns the covered fraction 0..1."""
    from PIL import Image

    img = Image.fromarray(mask.astype(np.float32))
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR))


def _plain_scene(source: SourceConfig, image: Path,
                 spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    assert source.gsd_m is not None and source.label_dir is not None
    with Image.open(image) as handle:
        pil = handle.convert("RGB")
    width, height = pil.size
    size = target_size(width, height, source.gsd_m, spec.gsd_m)
    array = np.asarray(pil)
    ignore_src = np.zeros((height, width), bool)
    if source.nodata_rgb is not None:
        ignore_src |= np.all(array == np.asarray(source.nodata_rgb, np.uint8), axis=2)
    if source.ignore_rows_from is not None:
        ignore_src[source.ignore_rows_from:] = True
    rgb = np.asarray(pil.resize(size, Image.Resampling.BILINEAR), np.uint8).copy()
    out = np.full((len(spec.classes), size[1], size[0]), IGNORE, np.uint8)
    if source.kind == "mask":
        with Image.open(_find_mask(source.label_dir, image)) as handle:
            mask = np.asarray(handle.convert("RGB" if source.colors else "L"))
        if mask.shape[:2] != (height, width):
            raise UserError(f"Mask of {image.name} is {mask.shape[1::-1]}, image "
                            f"{width}x{height}.")
        if source.colors:
            ignore_src |= _colour_match(mask, source.ignore_colors)
        else:
            ignore_src |= np.isin(mask, source.ignore_values)
        for index, name in enumerate(spec.class_names):
            if name not in source.classes:
                continue
            if source.colors:
                hit = _colour_match(mask, source.colors.get(name, ()))
            else:
                hit = np.isin(mask, source.values.get(name, ()))
            if not (source.colors.get(name) or source.values.get(name)):
                raise UserError(f"Source {source.name}: no mask values for class {name}.")
            out[index] = (_resize_fraction(hit, size) >= 0.5).astype(np.uint8)
    else:
        records = read_yolo(_yolo_file(source, image))
        for index, name in enumerate(spec.class_names):
            if name not in source.classes:
                continue
            ids = {i for i, c in source.yolo_classes.items() if c == name}
            boxes = yolo_to_pixel_boxes(records, ids, size[0], size[1])
            out[index] = burn_boxes(boxes, size[1], size[0], source.ellipse_scale)
    ignore_label_edges(source, out, spec)
    background_far_away(source, out, spec)
    if ignore_src.any():
        ignore = _resize_fraction(ignore_src, size) > 0.25
        out[:, ignore] = IGNORE
    if spec.scaling.mode == "percentile":
        # over every pixel, no-data colours too: the engine has no mask for a plain image
        rgb = stretch_to_percentiles(rgb, array, spec)
    _apply_extra_masks(source, image, out, spec, size)
    return rgb, out


def stretch_to_percentiles(rgb: np.ndarray, original: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Stretch each band of an (H, W, 3) uint8 image between the percentiles of the
    ``original`` file's pixels (sampled on a grid of at most ~1024², as the engine's
    decimated read), as the engine scales it when the model's scaling is ``percentile``."""
    from unet_gis.raster.io import percentile_limits

    step = max(1, int(np.ceil(max(original.shape[:2]) / 1024)))
    sample = original[::step, ::step]
    out = np.empty_like(rgb)
    for band in range(rgb.shape[2]):
        low, high = percentile_limits(sample[..., band].ravel(), spec.scaling.percentile_low,
                                      spec.scaling.percentile_high)
        unit = np.clip((rgb[..., band].astype(np.float32) - low) / (high - low), 0, 1)
        out[..., band] = (unit * 255 + 0.5).astype(np.uint8)
    return out


def _colour_match(mask: np.ndarray, colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    hit = np.zeros(mask.shape[:2], bool)
    for colour in colours:
        hit |= np.all(mask == np.asarray(colour, np.uint8), axis=2)
    return hit


def _apply_extra_masks(source: SourceConfig, image: Path, labels: np.ndarray, spec: ModelSpec,
                       size: tuple[int, int]) -> None:
    """Overwrite a class plane with an extra 0/1/255 mask of this image, where one exists."""
    from PIL import Image

    for name, folder in source.extra_masks.items():
        if name not in spec.class_names:
            continue
        path = _extra_mask(folder, image)
        if path is None:
            continue
        with Image.open(path) as handle:
            mask = np.asarray(handle.convert("L"))
        plane = (_resize_fraction(mask == POSITIVE, size) >= 0.5).astype(np.uint8)
        plane[_resize_fraction(mask == IGNORE, size) > 0.25] = IGNORE
        labels[spec.class_names.index(name)] = plane


def ignore_label_edges(source: SourceConfig, labels: np.ndarray, spec: ModelSpec) -> None:
    """Apply ``source.edge_ignore_m``: pixels within (inside, outside) metres of a class's
    label edge become ignore, so a fixed-width band does not teach where a road ends."""
    from scipy.ndimage import distance_transform_edt

    for name, (inside, outside) in source.edge_ignore_m.items():
        if name not in spec.class_names or name not in source.classes:
            continue
        plane = labels[spec.class_names.index(name)]
        positive = plane == POSITIVE
        if not positive.any() or positive.all():
            continue
        band = np.zeros(plane.shape, bool)
        if inside > 0:
            band |= positive & (distance_transform_edt(positive, sampling=spec.gsd_m) <= inside)
        if outside > 0:
            band |= ~positive & (distance_transform_edt(~positive,
                                                        sampling=spec.gsd_m) <= outside)
        plane[band & (plane != IGNORE)] = IGNORE


def band_statistics(scenes: list[Scene], samples: int = 200_000,
                    seed: int = 0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band mean and std of the ``[0, 1]`` values over labelled pixels of ``scenes``."""
    rng = np.random.default_rng(seed)
    values = []
    for scene in scenes:
        h, w = scene.shape
        rows = rng.integers(0, h, samples // max(1, len(scenes)))
        cols = rng.integers(0, w, rows.size)
        keep = (np.asarray(scene.labels)[:, rows, cols] != IGNORE).any(axis=0)
        values.append(np.asarray(scene.image)[rows[keep], cols[keep]].astype(np.float64) / 255)
    stacked = np.concatenate(values)
    if stacked.size == 0:
        return (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    mean = tuple(round(float(v), 4) for v in stacked.mean(axis=0))
    std = tuple(round(max(float(v), 1e-3), 4) for v in stacked.std(axis=0))
    return mean, std


__all__ = ["Scene", "load_scenes", "data_checksums", "band_statistics", "build_scene_arrays",
           "POSITIVE", "IGNORE", "target_size"]
