"""The training configuration: a small TOML file that lists data sources and settings.

Example (see ``configs/default.toml`` for the bundled model's)::

    data_root = "../../shared/data"      # relative to this file; --data-root overrides

    [model]
    classes = ["road", "vehicle"]
    gsd_m = 0.3

    [training]
    epochs = 20

    [[sources]]
    name = "vegas"
    kind = "vector"                      # georeferenced raster + vector labels
    images = ["spacenet/img0.tif"]
    labels = { road = "spacenet/img0.geojson" }
    buffer_m = { road = 2.0 }
    split = "train"

Paths are relative to ``data_root``; ``images`` entries may be glob patterns.
"""

from __future__ import annotations

import glob
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from unet_gis.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

SourceKind = Literal["vector", "mask", "yolo"]
_KINDS = ("vector", "mask", "yolo")


@dataclass(frozen=True)
class SourceConfig:
    """One data source: a set of images with one kind of labels."""

    name: str
    kind: SourceKind
    images: tuple[Path, ...]
    split: str = "train"
    classes: tuple[str, ...] = ()
    # vector: class -> label file (GeoJSON/Shapefile/GeoPackage); mask/yolo: a folder
    labels: dict[str, Path] = field(default_factory=dict)
    label_dir: Path | None = None  # relative (starts with . or ..): beside each image
    buffer_m: dict[str, float] = field(default_factory=dict)
    gsd_m: float | None = None
    values: dict[str, tuple[int, ...]] = field(default_factory=dict)
    ignore_values: tuple[int, ...] = ()
    yolo_classes: dict[int, str] = field(default_factory=dict)
    ellipse_scale: float = 1.0
    nodata_rgb: tuple[int, int, int] | None = None
    ignore_rows_from: int | None = None  # source-pixel row from which everything is ignored
    val_patterns: tuple[str, ...] = ()   # image names (globs) that go to the val split
    # a class this source does not label is background farther than this many metres from
    # the source's own labels (e.g. no vehicles in forests far from any road), ignore nearer
    background_beyond_m: dict[str, float] = field(default_factory=dict)
    weight: float = 1.0
    max_images: int | None = None
    # mask: RGB colours of each class in colour masks, and colours that mean "ignore"
    colors: dict[str, tuple[tuple[int, int, int], ...]] = field(default_factory=dict)
    ignore_colors: tuple[tuple[int, int, int], ...] = ()
    # class -> folder of extra 0/1/255 masks (by image stem) that label a class on some of
    # this source's images (e.g. hand-drawn road surfaces on vehicle frames)
    extra_masks: dict[str, Path] = field(default_factory=dict)
    # class -> (inside, outside) metres around the label edge that are ignored: fixed-width
    # bands and buffered centerlines say little about where the carriageway really ends
    edge_ignore_m: dict[str, tuple[float, float]] = field(default_factory=dict)

    def split_of(self, image: Path) -> str:
        from fnmatch import fnmatch

        if any(fnmatch(image.name, pattern) for pattern in self.val_patterns):
            return "val"
        return self.split


#: input scalings a config may train with (``fixed`` needs per-sensor numbers a config
#: spanning several sensors cannot give)
TRAINABLE_SCALINGS = ("dtype_range", "percentile")


@dataclass(frozen=True)
class ModelConfig:
    classes: tuple[str, ...] = ("road", "vehicle")
    gsd_m: float = 0.3
    base_width: int = 16
    depth: int = 4
    # how raw values become [0, 1] before the fixed mean/std: "dtype_range" (uint8 / 255)
    # or "percentile" (each image stretched between its own 2nd and 98th percentiles per
    # band, in training and in the engine alike)
    input_scaling: str = "dtype_range"
    tile: int = 1024
    halo: int = 64
    name: str = "unet_gis_roads_vehicles_0.3m"
    description: str = ""
    license: str = ""


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 20
    steps_per_epoch: int = 100
    batch_size: int = 8
    crop: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    seed: int = 0
    threads: int = 2
    class_balance: dict[str, float] = field(default_factory=dict)
    pos_weight: dict[str, float] = field(default_factory=dict)
    dice_weight: float = 1.0
    # weight of the soft clDice term per class (0: off); for classes that form networks
    cldice_weight: dict[str, float] = field(default_factory=dict)
    scale_jitter: float = 0.2
    color_jitter: float = 0.2
    grey_probability: float = 0.1
    degrade_probability: float = 0.0
    # relative std of the rounding noise put on activations while training (0: off), meant
    # to keep bf16 inference near fp32 (unet_gis.training.noise; 0.03 did not: model card,
    # leg 7)
    activation_noise: float = 0.0
    val_chips: int = 32
    val_crop: int = 256
    cache_dir: str = "runs/cache"
    source_weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    path: Path | None
    data_root: Path
    model: ModelConfig
    training: TrainSettings
    sources: tuple[SourceConfig, ...]
    raw: dict[str, Any]

    def checksum(self) -> str:
        text = repr(self.raw).encode()
        return hashlib.sha256(text).hexdigest()[:16]


def load_config(path: str | Path, data_root: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read and check a training config; raises :class:`UserError` on any problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"Training config {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path.name} is not valid TOML ({exc}).") from exc
    return parse_config(raw, path.parent, path, data_root, overrides)


def parse_config(raw: dict[str, Any], base: Path, path: Path | None = None,
                 data_root: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    unknown = sorted(set(raw) - {"data_root", "model", "training", "sources"})
    if unknown:
        raise UserError(f"Unknown section(s) or key(s) in the config: {', '.join(unknown)} "
                        "(expected data_root, [model], [training] and [[sources]]).")
    root = Path(data_root) if data_root is not None else base / raw.get("data_root", ".")
    root = root.resolve()
    model = _dataclass(ModelConfig, raw.get("model", {}), "model")
    if "classes" in raw.get("model", {}):
        model = _replace(model, classes=tuple(raw["model"]["classes"]))
    if model.input_scaling not in TRAINABLE_SCALINGS:
        raise UserError(f"[model] input_scaling must be one of {', '.join(TRAINABLE_SCALINGS)}, "
                        f"got {model.input_scaling!r}.")
    settings_raw = dict(raw.get("training", {}))
    settings_raw.update(overrides or {})
    settings = _dataclass(TrainSettings, settings_raw, "training")
    sources = tuple(_source(s, root, model.classes) for s in raw.get("sources", []))
    if not sources:
        raise UserError("The training config lists no [[sources]].")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise UserError(f"Source names must be unique, got {names}.")
    return TrainConfig(path, root, model, settings, sources, raw)


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


def _dataclass(cls: Any, values: dict[str, Any], section: str) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"Unknown setting(s) in [{section}]: {', '.join(unknown)}.")
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**clean)
    except TypeError as exc:
        raise UserError(f"Bad [{section}] settings ({exc}).") from exc


def _source(raw: dict[str, Any], root: Path, model_classes: tuple[str, ...]) -> SourceConfig:
    name = str(raw.get("name", "")) or "unnamed"
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise UserError(f"Source {name}: kind must be one of {', '.join(_KINDS)}, got {kind!r}.")
    patterns = raw.get("images", [])
    if isinstance(patterns, str):
        patterns = [patterns]
    images: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(root / pattern)))
        if not matches:
            raise UserError(f"Source {name}: no image matches {root / pattern}.")
        images.extend(Path(m) for m in matches)
    if raw.get("max_images"):
        images = images[: int(raw["max_images"])]
    labels_raw = raw.get("labels", {})
    labels: dict[str, Path] = {}
    label_dir = None
    if isinstance(labels_raw, str):
        # "./x" or "../x": relative to each image's folder (data sets in several folders)
        beside = labels_raw.startswith(("./", "../"))
        label_dir = Path(labels_raw) if beside else root / labels_raw
    else:
        labels = {k: root / v for k, v in labels_raw.items()}
    classes = tuple(raw.get("classes", ()))
    unknown = [c for c in classes if c not in model_classes]
    if unknown or not classes:
        raise UserError(f"Source {name}: classes must be a non-empty subset of the model's "
                        f"{list(model_classes)}, got {list(classes)}.")
    if kind != "vector" and not raw.get("gsd_m"):
        raise UserError(f"Source {name}: plain images need gsd_m (metres per pixel).")
    if kind != "vector" and label_dir is None:
        raise UserError(f"Source {name}: labels must name the folder of masks or YOLO files.")
    yolo = {int(k): str(v) for k, v in raw.get("yolo_classes", {}).items()}
    nodata = raw.get("nodata_rgb")
    known = {"name", "kind", "images", "labels", "classes", "split", "buffer_m", "gsd_m",
             "values", "ignore_values", "yolo_classes", "ellipse_scale", "nodata_rgb",
             "ignore_rows_from", "val_patterns", "weight", "max_images",
             "background_beyond_m", "colors", "ignore_colors", "extra_masks",
             "edge_ignore_m"}
    extra = sorted(set(raw) - known)
    if extra:
        raise UserError(f"Source {name}: unknown setting(s) {', '.join(extra)}.")
    return SourceConfig(
        name=name, kind=kind, images=tuple(images), split=str(raw.get("split", "train")),
        classes=classes, labels=labels, label_dir=label_dir,
        buffer_m={k: float(v) for k, v in raw.get("buffer_m", {}).items()},
        gsd_m=float(raw["gsd_m"]) if raw.get("gsd_m") else None,
        values={k: tuple(int(x) for x in v) for k, v in raw.get("values", {}).items()},
        ignore_values=tuple(int(v) for v in raw.get("ignore_values", ())),
        yolo_classes=yolo, ellipse_scale=float(raw.get("ellipse_scale", 1.0)),
        nodata_rgb=(int(nodata[0]), int(nodata[1]), int(nodata[2])) if nodata else None,
        ignore_rows_from=raw.get("ignore_rows_from"),
        val_patterns=tuple(raw.get("val_patterns", ())),
        background_beyond_m={k: float(v) for k, v in raw.get("background_beyond_m", {}).items()},
        weight=float(raw.get("weight", 1.0)), max_images=raw.get("max_images"),
        colors={k: tuple(_rgb(c, name) for c in v) for k, v in raw.get("colors", {}).items()},
        ignore_colors=tuple(_rgb(c, name) for c in raw.get("ignore_colors", ())),
        extra_masks={k: root / v for k, v in raw.get("extra_masks", {}).items()},
        edge_ignore_m={k: _margins(v, name) for k, v in raw.get("edge_ignore_m", {}).items()})


def _rgb(value: Any, source: str) -> tuple[int, int, int]:
    if not (isinstance(value, (list, tuple)) and len(value) == 3):
        raise UserError(f"Source {source}: colours are [r, g, b] lists, got {value!r}.")
    return int(value[0]), int(value[1]), int(value[2])


def _margins(value: Any, source: str) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return float(value), float(value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]), float(value[1])
    raise UserError(f"Source {source}: edge_ignore_m values are metres or [inside, outside], "
                    f"got {value!r}.")


def file_checksum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
