"""Chip augmentation: the panchromatic conversion a PAN raster's look needs."""

from __future__ import annotations

import numpy as np
import torch

from unet_gis.model.spec import default_spec
from unet_gis.training.chips import ChipSampler, ChipSettings
from unet_gis.training.sources import Scene


def colour_scene() -> Scene:
    """Left half pure red, right half pure green: a grey conversion's weights show directly."""
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32, 0] = 200
    image[:, 32:, 1] = 200
    labels = np.zeros((2, 64, 64), np.uint8)
    return Scene("colours", "test", "train", image, labels, 0.3)


def test_panchromatic_chips_are_grey_with_varied_band_weights() -> None:
    sampler = ChipSampler([colour_scene()], default_spec(), ChipSettings(), seed=1)
    unit = torch.zeros(3, 64, 64)
    unit[0, :, :32] = 200 / 255
    unit[1, :, 32:] = 200 / 255
    red_to_green = []
    for _ in range(40):
        grey = sampler._panchromatic(unit)
        assert grey.shape == unit.shape
        assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
        assert float(grey.min()) >= 0.0 and float(grey.max()) <= 1.0
        red_to_green.append(float(grey[0, 0, 0]) / float(grey[0, 0, 63]))
    ratios = np.array(red_to_green)
    # luminance alone gives red/green 0.299/0.587 = 0.51 every time; a sensor's band
    # reaches further: the ratios must spread on both sides of it
    assert ratios.min() < 0.4 and ratios.max() > 0.65
    assert 0.35 < float(np.median(ratios)) < 0.9
