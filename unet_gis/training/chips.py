"""Class-balanced chip sampling and augmentation from cached :class:`Scene` arrays.

A chip is centred on a pixel of a class (with probability ``class_balance[class]``) or taken
at random.  Scale jitter crops a slightly larger or smaller window and resizes it to the
chip size; then flips, 90° rotations and brightness/contrast/hue jitter (and, sometimes,
conversion to grey, as panchromatic inputs are fed to all three bands).  Inputs are
scaled by :class:`unet_gis.raster.io.InputScaler`, exactly as the engine scales them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from unet_gis.model.spec import ModelSpec
from unet_gis.raster.io import InputScaler
from unet_gis.training.rasterize import IGNORE, POSITIVE
from unet_gis.training.sources import Scene

MAX_POSITIVES = 50_000


def engine_scaler(spec: ModelSpec) -> InputScaler:
    """The scaler the engine builds for a uint8 raster (``dtype_range``: /255)."""
    n = spec.num_bands
    return InputScaler(np.zeros(n), np.full(n, 255.0), np.asarray(spec.scaling.mean),
                       np.asarray(spec.scaling.std), "uint8 / 255")


@dataclass(frozen=True)
class ChipSettings:
    crop: int = 256
    class_balance: tuple[float, ...] = ()
    scale_jitter: float = 0.2
    color_jitter: float = 0.2
    grey_probability: float = 0.1
    augment: bool = True
    # probability of each degradation a new sensor brings: blur or sharpening, sensor
    # noise, JPEG artefacts (and a saturation change with the colour jitter)
    degrade_probability: float = 0.0


class ChipSampler:
    """Draws augmented ``(image, labels)`` batches from scenes."""

    def __init__(self, scenes: list[Scene], spec: ModelSpec, settings: ChipSettings,
                 source_weights: dict[str, float] | None = None, seed: int = 0) -> None:
        if not scenes:
            raise ValueError("no scenes to sample from")
        self.scenes, self.spec, self.settings = scenes, spec, settings
        self.scaler = engine_scaler(spec)
        self.rng = np.random.default_rng(seed)
        num_classes = len(spec.classes)
        weights = source_weights or {}
        areas = np.array([s.shape[0] * s.shape[1] for s in scenes], np.float64)
        per_source: dict[str, float] = {}
        for scene, area in zip(scenes, areas, strict=True):
            per_source[scene.source] = per_source.get(scene.source, 0.0) + area
        self.scene_weight = np.array([
            weights.get(s.source, s.weight) * a / per_source[s.source]
            for s, a in zip(scenes, areas, strict=True)])
        self.positives: list[list[np.ndarray]] = []
        for scene in scenes:
            per_class = []
            for c in range(num_classes):
                rows, cols = np.nonzero(np.asarray(scene.labels[c]) == POSITIVE)
                if rows.size > MAX_POSITIVES:
                    pick = self.rng.choice(rows.size, MAX_POSITIVES, replace=False)
                    rows, cols = rows[pick], cols[pick]
                per_class.append(np.stack([rows, cols], 1).astype(np.int32))
            self.positives.append(per_class)

    def state(self) -> dict[str, object]:
        return dict(self.rng.bit_generator.state)

    def set_state(self, state: dict[str, object]) -> None:
        self.rng.bit_generator.state = state

    def _pick_scene(self, cls: int | None) -> int:
        weight = self.scene_weight.copy()
        if cls is not None:
            weight *= np.array([p[cls].shape[0] > 0 for p in self.positives], np.float64)
        if weight.sum() <= 0:
            weight = self.scene_weight.copy()
        return int(self.rng.choice(len(weight), p=weight / weight.sum()))

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One chip: float32 (bands, crop, crop) input and uint8 (classes, crop, crop)."""
        s = self.settings
        balance = list(s.class_balance) + [0.0] * (len(self.spec.classes) - len(s.class_balance))
        draw = self.rng.random()
        cls: int | None = None
        for index, share in enumerate(balance):
            if draw < share:
                cls = index
                break
            draw -= share
        index = self._pick_scene(cls)
        scene = self.scenes[index]
        scale = 1.0
        if s.augment and s.scale_jitter > 0:
            scale = math.exp(self.rng.uniform(math.log(1 - s.scale_jitter),
                                              math.log(1 + s.scale_jitter)))
        size = max(8, int(round(s.crop * scale)))
        h, w = scene.shape
        for _attempt in range(6):
            if cls is not None and self.positives[index][cls].shape[0]:
                pos = self.positives[index][cls]
                r, c = pos[self.rng.integers(pos.shape[0])]
                r0 = int(r) - size // 2 + int(self.rng.integers(-size // 4, size // 4 + 1))
                c0 = int(c) - size // 2 + int(self.rng.integers(-size // 4, size // 4 + 1))
            else:
                r0 = int(self.rng.integers(min(0, h - size), max(1, h - size + 1)))
                c0 = int(self.rng.integers(min(0, w - size), max(1, w - size + 1)))
            image, labels = crop_scene(scene, r0, c0, size)
            if (labels != IGNORE).mean() > 0.2:
                break
        return self._finish(image, labels)

    def _finish(self, image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.settings
        crop = s.crop
        unit = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255.0)
        lab = torch.from_numpy(labels)
        if unit.shape[-1] != crop:
            unit = F.interpolate(unit[None], size=(crop, crop), mode="bilinear",
                                 align_corners=False, antialias=True)[0]
            lab = F.interpolate(lab[None].float(), size=(crop, crop), mode="nearest")[0].to(
                torch.uint8)
        if s.augment:
            k = int(self.rng.integers(4))
            if k:
                unit, lab = torch.rot90(unit, k, (1, 2)), torch.rot90(lab, k, (1, 2))
            if self.rng.random() < 0.5:
                unit, lab = unit.flip(2), lab.flip(2)
            unit = self._colour(unit)
        raw = (unit.clamp(0, 1) * 255.0).numpy()
        return self.scaler(raw), lab.contiguous().numpy()

    def _colour(self, unit: torch.Tensor) -> torch.Tensor:
        s = self.settings
        j = s.color_jitter
        if j > 0:
            unit = unit * float(self.rng.uniform(1 - j, 1 + j))
            mean = unit.mean()
            unit = (unit - mean) * float(self.rng.uniform(1 - j, 1 + j)) + mean
            angle = float(self.rng.uniform(-j, j)) * 0.5  # hue rotation around the grey axis
            unit = torch.einsum("ij,jhw->ihw", _hue_matrix(angle), unit)
            unit = unit * torch.tensor(self.rng.uniform(1 - j / 4, 1 + j / 4, 3),
                                       dtype=torch.float32)[:, None, None]
            if self.rng.random() < 0.5:
                grey = (0.299 * unit[0] + 0.587 * unit[1] + 0.114 * unit[2])[None]
                unit = grey + (unit - grey) * float(self.rng.uniform(1 - j * 2, 1 + j * 2))
        if self.rng.random() < s.grey_probability:
            unit = self._panchromatic(unit)
        if s.degrade_probability > 0:
            unit = self._degrade(unit.clamp(0, 1))
        return unit

    def _panchromatic(self, unit: torch.Tensor) -> torch.Tensor:
        """One grey band fed to all three, as the engine does with a panchromatic raster.

        A panchromatic sensor is not the eye: its band reaches into the near infrared, so
        vegetation and some roofs come out brighter than in a luminance conversion, and its
        11/12-bit values are stretched differently.  The band weights are drawn around the
        luminance weights (Dirichlet, mean 0.3/0.5/0.2) and a gamma of 0.75-1.33 follows.
        """
        weights = self.rng.dirichlet((3.0, 5.0, 2.0))
        grey = float(weights[0]) * unit[0] + float(weights[1]) * unit[1] + \
            float(weights[2]) * unit[2]
        gamma = float(np.exp(self.rng.uniform(math.log(0.75), math.log(4 / 3))))
        grey = grey.clamp(0, 1) ** gamma
        return grey.expand(3, -1, -1).clone()

    def _degrade(self, unit: torch.Tensor) -> torch.Tensor:
        """Blur or sharpen, noise and JPEG artefacts, each with ``degrade_probability``."""
        p = self.settings.degrade_probability
        if self.rng.random() < p:
            blurred = _gaussian_blur(unit, float(self.rng.uniform(0.5, 1.5)))
            if self.rng.random() < 0.6:
                unit = blurred
            else:  # unsharp mask, as many orthophoto pipelines apply
                unit = unit + float(self.rng.uniform(0.3, 1.5)) * (unit - blurred)
        if self.rng.random() < p:
            unit = unit + torch.from_numpy(self.rng.normal(
                0, self.rng.uniform(0.005, 0.04), unit.shape).astype(np.float32))
        if self.rng.random() < p:
            unit = _jpeg(unit.clamp(0, 1), int(self.rng.integers(25, 80)))
        return unit

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        chips = [self.sample() for _ in range(size)]
        images = torch.from_numpy(np.stack([c[0] for c in chips]))
        labels = torch.from_numpy(np.stack([c[1] for c in chips]))
        return images, labels


def _gaussian_blur(unit: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(2.5 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-x * x / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    bands = unit.shape[0]
    image = F.pad(unit[None], (radius, radius, radius, radius), mode="reflect")
    image = F.conv2d(image, kernel.view(1, 1, 1, -1).expand(bands, 1, 1, -1), groups=bands)
    image = F.conv2d(image, kernel.view(1, 1, -1, 1).expand(bands, 1, -1, 1), groups=bands)
    return image[0]


def _jpeg(unit: torch.Tensor, quality: int) -> torch.Tensor:
    import io

    from PIL import Image

    array = (unit.numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        back = np.asarray(decoded.convert("RGB"), np.float32) / 255.0
    return torch.from_numpy(back.transpose(2, 0, 1).copy())


def _hue_matrix(angle: float) -> torch.Tensor:
    cos, sin = math.cos(angle), math.sin(angle)
    third, root = 1.0 / 3.0, math.sqrt(1.0 / 3.0)
    a = cos + (1 - cos) * third
    b = third * (1 - cos) - root * sin
    c = third * (1 - cos) + root * sin
    return torch.tensor([[a, b, c], [c, a, b], [b, c, a]], dtype=torch.float32)


def crop_scene(scene: Scene, r0: int, c0: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``size``² window at (r0, c0); outside the scene the image is mirrored and the
    labels are ignore."""
    h, w = scene.shape
    rs, re = max(0, r0), min(h, r0 + size)
    cs, ce = max(0, c0), min(w, c0 + size)
    image = np.asarray(scene.image[rs:re, cs:ce])
    labels = np.asarray(scene.labels[:, rs:re, cs:ce])
    pad = ((rs - r0, r0 + size - re), (cs - c0, c0 + size - ce))
    if any(p for pair in pad for p in pair):
        if min(image.shape[:2]) > max(max(pair) for pair in pad):
            image = np.pad(image, (*pad, (0, 0)), mode="reflect")
        else:
            image = np.pad(image, (*pad, (0, 0)), mode="edge")
        labels = np.pad(labels, ((0, 0), *pad), constant_values=IGNORE)
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def fixed_chips(scenes: list[Scene], spec: ModelSpec, count: int, crop: int,
                seed: int = 12345) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic, unaugmented set of validation chips (half centred on objects)."""
    n = len(spec.classes)
    settings = ChipSettings(crop=crop, class_balance=tuple([0.5 / n] * n), augment=False)
    sampler = ChipSampler(scenes, spec, settings, seed=seed)
    return sampler.batch(count)
