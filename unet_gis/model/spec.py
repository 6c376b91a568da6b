"""``ModelSpec``: everything needed to use a model correctly, stored with its weights.

A checkpoint without its spec would be a bag of numbers: which bands does it expect, how
are raw values scaled, at what ground sample distance was it trained, which class is which
output?  The spec answers all of that and is serialised as JSON into the checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from unet_gis.errors import UserError

ScalingMode = Literal["dtype_range", "percentile", "fixed"]


CORE_MULTIPLE = 16  # a core is whole output blocks; block edges are multiples of 16


#: What a class is, which decides its vector layers: ``objects`` are counted one by one
#: (touching ones split; vehicles), a ``network`` is a surface with centerlines (roads), a
#: ``surface`` is polygons only (e.g. buildings, water).
CLASS_ROLES = ("objects", "network", "surface")
_DEFAULT_ROLES = {"vehicle": "objects", "road": "network"}


@dataclass(frozen=True)
class ClassSpec:
    """One output class: an independent sigmoid channel.

    ``role`` is one of :data:`CLASS_ROLES`; empty (specs written before roles existed)
    means ``objects`` for ``vehicle``, ``network`` for ``road`` and ``surface`` otherwise.
    """

    name: str
    color: tuple[int, int, int]
    threshold: float = 0.5
    role: str = ""

    def __post_init__(self) -> None:
        if self.role and self.role not in CLASS_ROLES:
            raise UserError(f"Class {self.name}: role must be one of {', '.join(CLASS_ROLES)}, "
                            f"got {self.role!r}.")

    @property
    def kind(self) -> str:
        """The role in effect (see the class docstring)."""
        return self.role or _DEFAULT_ROLES.get(self.name, "surface")


@dataclass(frozen=True)
class Scaling:
    """How raw raster values become the model's input.

    Raw values are first mapped to roughly ``[0, 1]``:

    - ``dtype_range``: uint8 divided by 255; any other dtype falls back to ``percentile``
      (a 16-bit sensor rarely uses its full range, so a bare division would leave the
      image nearly black);
    - ``percentile``: per-band ``low``/``high`` percentiles, measured once per raster on a
      decimated read, are clipped to 0 and 1;
    - ``fixed``: ``(raw - offsets[b]) / scales[b]``.

    Then ``(x - mean[b]) / std[b]`` standardises each band as in training.
    """

    mode: ScalingMode = "dtype_range"
    offsets: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    percentile_low: float = 2.0
    percentile_high: float = 98.0
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class Architecture:
    """Hyper-parameters that rebuild :class:`unet_gis.model.unet.UNet`."""

    base_width: int = 16
    depth: int = 4
    batch_norm: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """What a model predicts and how to feed it."""

    classes: tuple[ClassSpec, ...]
    bands: tuple[str, ...] = ("red", "green", "blue")
    scaling: Scaling = field(default_factory=Scaling)
    gsd_m: float = 0.3
    tile: int = 1024
    halo: int = 64
    architecture: Architecture = field(default_factory=Architecture)
    name: str = "unnamed"
    description: str = ""
    license: str = ""
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.classes:
            raise UserError("A model needs at least one class.")
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise UserError(f"Class names must be unique, got {names}.")
        if self.gsd_m <= 0:
            raise UserError(f"The model's ground sample distance must be positive, got "
                            f"{self.gsd_m}.")
        multiple = 2**self.architecture.depth
        if self.tile % multiple:
            raise UserError(f"Tile size {self.tile} must be a multiple of {multiple} for depth "
                            f"{self.architecture.depth}.")
        if self.halo < 0 or self.tile - 2 * self.halo < 16:
            raise UserError(f"Halo {self.halo} leaves no core in a {self.tile}-pixel tile.")
        core = self.tile - 2 * self.halo
        if core % CORE_MULTIPLE:
            # cores are written as whole GeoTIFF blocks, whose edges are multiples of 16
            low = self.halo - (CORE_MULTIPLE - core % CORE_MULTIPLE) // 2
            high = self.halo + (core % CORE_MULTIPLE) // 2
            options = " or ".join(str(h) for h in (low, high) if h >= 0 and h != self.halo)
            raise UserError(f"Halo {self.halo} gives a {core}-pixel core in a {self.tile}-pixel "
                            f"tile; the core (tile - 2 x halo) must be a multiple of "
                            f"{CORE_MULTIPLE}: use a halo of {options}.")
        n = len(self.bands)
        for label, values in (("mean", self.scaling.mean), ("std", self.scaling.std)):
            if len(values) != n:
                raise UserError(f"Scaling {label} has {len(values)} values for {n} bands.")

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def num_bands(self) -> int:
        return len(self.bands)

    def with_tiling(self, tile: int | None = None, halo: int | None = None) -> ModelSpec:
        """A copy with another tile/halo (checked like the original)."""
        return replace(self, tile=tile or self.tile, halo=self.halo if halo is None else halo)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        try:
            raw = json.loads(text)
            classes = tuple(
                ClassSpec(name=c["name"], color=tuple(c["color"]), threshold=float(c["threshold"]),
                          role=str(c.get("role", "")))
                for c in raw.pop("classes")
            )
            scaling_raw = raw.pop("scaling")
            scaling_args: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                            for k, v in scaling_raw.items()}
            scaling = Scaling(**scaling_args)
            architecture = Architecture(**raw.pop("architecture"))
            raw["bands"] = tuple(raw["bands"])
            return cls(classes=classes, scaling=scaling, architecture=architecture, **raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"The model's metadata is not a valid unet-gis spec ({exc}).") from exc


ROAD = ClassSpec("road", (255, 170, 0), 0.5)
VEHICLE = ClassSpec("vehicle", (230, 30, 200), 0.5)


def default_spec(**overrides: Any) -> ModelSpec:
    """The road + vehicle RGB spec at 0.3 m that the bundled model uses."""
    params: dict[str, Any] = {"classes": (ROAD, VEHICLE)}
    params.update(overrides)
    return ModelSpec(**params)
